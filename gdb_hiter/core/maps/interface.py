"""What every map implementation offers: ``MapImplementation``, one object per implementation.

Commands, printers, snapshots and capture hold a ``MapImplementation``
(``implementations.for_layout`` picks it once from the program's Go
version) and call its methods; they never ask which implementation it is.
Classic maps are ``classic.ClassicMaps``, Swiss maps (flat or split groups,
which differ only in layout data) ``swiss.SwissMaps``. A new capability
(``predict``: the rest of an iteration; decoding only what changed) is one
more method here and one per implementation.

Errors are ``ValueError`` subclasses with a one-line message:

* ``decode_map`` raises ``NilMap`` for a nil map (address 0) and the
  decoder's own ``ValueError`` for a header or type descriptor that cannot
  be used at all;
* ``decode_iterator``, ``check_iterator`` raise ``IteratorError`` for an
  iterator that cannot be read (or, for ``check_iterator``, is not one).

Iterators, from either decoder, have the same API (``classic.DecodedIterator``,
``swiss.SwissIterator``): ``address``, ``map_address`` (int, or None when
the iterator has no map), ``state`` (one of ``ITER_STATES``), ``impl``,
``fields``, ``problems`` and ``to_json()``, whose common keys are listed in
docs/iterators.md ("The iterator JSON").
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, List, Optional

from ..memory import MemoryReader, UnreadableMemory
from ..program.versioninfo import VersionReport
from ..render.gotypes import GoType
from .keyequality import KeyIdentity
from .model import DecodedMap
from .prediction import LiveIndex, Prediction, continued

# ``state`` of every decoded iterator:
#   not-started: the compiler's zeroed temporary, or inside mapiterinit before its first step
#   in-progress: the loop holds a current entry (key/elem set)
#   finished:    the last entry was returned, or the map was nil or empty when the loop started
ITER_STATES = ("not-started", "in-progress", "finished")


class NilMap(ValueError):
    """decode_map of a nil map (address 0)."""


class IteratorError(ValueError):
    """No usable iterator at an address: unreadable, or (check_iterator) implausible. One line.

    ``implausible`` is True when the memory was readable but is not an iterator.
    """

    def __init__(self, message: str, *, implausible: bool = False):
        super().__init__(message)
        self.implausible = implausible


@dataclass(frozen=True)
class MapLayout:
    """How this program's maps are laid out (from its Go version)."""

    map_impl: str     # "classic" | "swiss" | "swiss-split"
    layout: str       # layout family, e.g. "swiss-go1.27"
    go_minor: int

    @classmethod
    def from_report(cls, report: VersionReport) -> "MapLayout":
        return cls(report.map_impl, report.layout, report.version.minor)


class MapImplementation(ABC):
    """One map implementation of one layout family: the decoders the commands need."""

    #: the runtime's name of the iterator struct
    iterator_name: str
    #: iterator fields set when its loop starts and never changed by the loop's steps
    #: (the map, its type, the random start): equal values mean the same walk over the same memory
    loop_start_fields: tuple = ()

    def __init__(self, layout: MapLayout):
        self.layout = layout

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.layout})"

    @property
    @abstractmethod
    def iterator_size(self) -> int:
        """Bytes of one iterator in this layout."""

    @abstractmethod
    def parse_maptype(self, memory: MemoryReader, address: int) -> Any:
        """The map type descriptor at ``address``, checked (kind 21, consistent sizes)."""

    def decode_map(self, memory: MemoryReader, map_address: int, maptype: Any, *,
                   limit: Optional[int] = None) -> DecodedMap:
        """Every live entry of the map at ``map_address`` (an hmap or a maps.Map).

        Raises ``NilMap`` when ``map_address`` is 0.
        """
        if map_address == 0:
            raise NilMap("nil map")
        return self._decode_map(memory, map_address, maptype, limit)

    def decode_iterator(self, memory: MemoryReader, address: int) -> Any:
        """The iterator at ``address``, interpreted against its live map.

        Decodes whatever is there (no plausibility check: see ``check_iterator``).
        Raises ``IteratorError`` only when the iterator itself cannot be read; an
        unreadable map or type descriptor becomes a problem on the result.
        """
        try:
            return self._decode_iterator(memory, address)
        except (ValueError, UnreadableMemory) as error:
            raise IteratorError(str(error)) from None

    def check_iterator(self, memory: MemoryReader, address: int, map_address: Optional[int] = None) -> Any:
        """The iterator at ``address``, decoded, if it passes the checks of ``scan_for_iterators``.

        Raises ``IteratorError`` ("<name> at ADDR unreadable: ...", or "not a
        live map iterator (<reason>)") otherwise. With ``map_address``, an
        iterator over another map is refused too. Iterators whose map was nil
        or empty when the loop started carry no map and are refused.
        """
        try:
            memory.read(address, self.iterator_size)
        except UnreadableMemory as error:
            raise IteratorError(f"{self.iterator_name} at {address:#x} unreadable: {error}") from None
        verdict = self._iterator_candidate(memory, address, map_address)
        if not verdict.accepted:
            raise IteratorError(f"not a live map iterator ({verdict.reason})", implausible=True)
        return verdict.iterator

    def predict(self, memory: MemoryReader, iterator: Any, live: Optional[DecodedMap],
                key_type: Optional[GoType]) -> Prediction:
        """What the loop of ``iterator`` will still receive, in order, if nothing changes the map.

        ``live`` is the map the iterator walks, decoded whole now (None when it
        cannot be); ``key_type`` gives Go's ``==`` for the runtime's lookups.
        Replays the runtime's own iteration over memory as it is; never raises
        for what memory holds (a stop becomes ``Prediction.inexact``).
        """
        prediction_notes: List[str] = []
        index = LiveIndex(live, KeyIdentity(key_type, memory), prediction_notes.append) if live is not None else None
        prediction = self._predict(memory, iterator, live, index)
        for note in prediction_notes:
            if note not in prediction.inexact:
                prediction.inexact.append(note)
        return prediction

    def loop_start(self, iterator: Any) -> Optional[tuple]:
        """What fixes the walk of ``iterator``'s loop (``loop_start_fields``; None for a field the layout lacks)."""
        fields = iterator.fields or {}
        if not fields:
            return None
        return tuple(fields.get(name) for name in self.loop_start_fields)   # clearSeq: only some layouts

    def continue_prediction(self, previous: Prediction, previous_iterator: Any, iterator: Any,
                            live: Optional[DecodedMap]) -> Optional[Prediction]:
        """``predict`` for a loop that only moved on since ``previous`` (made for ``previous_iterator``),
        when nothing else it reads has changed: ``prediction.continued``; None to replay instead."""
        if live is None or iterator.state != "in-progress":
            return None
        start = self.loop_start(iterator)
        if start is None or start != self.loop_start(previous_iterator):
            return None
        fields = iterator.fields
        return continued(previous, fields.get("key"), fields.get("elem"), live)

    @abstractmethod
    def _predict(self, memory: MemoryReader, iterator: Any, live: Optional[DecodedMap],
                 index: Optional[LiveIndex]) -> Prediction:
        """``predict`` with the live map indexed."""

    @abstractmethod
    def scan_for_iterators(self, memory: MemoryReader, data: bytes, base_address: int, *,
                           map_address: Optional[int] = None) -> List[Any]:
        """The iterators in ``data`` (memory already read from ``base_address``), decoded.

        Exactly those ``check_iterator`` accepts, in address order.
        """

    @abstractmethod
    def _decode_map(self, memory: MemoryReader, map_address: int, maptype: Any,
                    limit: Optional[int]) -> DecodedMap:
        """``decode_map`` of a non-nil map."""

    @abstractmethod
    def _decode_iterator(self, memory: MemoryReader, address: int) -> Any:
        """``decode_iterator``; may raise ``ValueError`` or ``UnreadableMemory``."""

    @abstractmethod
    def _iterator_candidate(self, memory: MemoryReader, address: int, map_address: Optional[int]) -> Any:
        """The verdict (``accepted``, ``reason``, ``iterator``) of the scanner's checks at ``address``."""
