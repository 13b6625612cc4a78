"""One entry point for decoding maps and iterators, whatever the implementation.

Commands, printers and snapshots call these functions with a ``MapLayout``
(taken from the program's Go version) and never choose between the classic
and the Swiss decoder themselves.

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

from dataclasses import dataclass
from typing import List, Optional

from . import classic, swiss
from .classic_layouts import classic_layout
from .memory import MemoryReader, UnreadableMemory
from .model import DecodedMap
from .swiss_layouts import swiss_layout
from .versioninfo import VersionReport

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
    """How this program's maps are laid out."""

    map_impl: str     # "classic" | "swiss" | "swiss-split"
    layout: str       # layout family, e.g. "swiss-go1.27"
    go_minor: int

    @classmethod
    def from_report(cls, report: VersionReport) -> "MapLayout":
        return cls(report.map_impl, report.layout, report.version.minor)

    @property
    def is_classic(self) -> bool:
        return self.map_impl == "classic"

    @property
    def iterator_name(self) -> str:
        """The runtime's name of the iterator struct."""
        return "runtime.hiter" if self.is_classic else "maps.Iter"


def parse_maptype(memory: MemoryReader, layout: MapLayout, address: int):
    """The map type descriptor at ``address``, checked (kind 21, consistent sizes)."""
    if layout.is_classic:
        return classic.parse_maptype(memory, address, layout.layout)
    return swiss.parse_maptype(memory, address, layout.layout, go_minor=layout.go_minor)


def decode_map(memory: MemoryReader, layout: MapLayout, map_address: int, maptype, *,
               limit: Optional[int] = None) -> DecodedMap:
    """Every live entry of the map at ``map_address`` (an hmap or a maps.Map).

    Raises ``NilMap`` when ``map_address`` is 0.
    """
    if map_address == 0:
        raise NilMap("nil map")
    if layout.is_classic:
        return classic.decode_map(memory, map_address, maptype, layout.layout, limit=limit)
    return swiss.decode_map(memory, map_address, maptype, layout.layout, limit=limit, go_minor=layout.go_minor)


def iterator_size(layout: MapLayout) -> int:
    """Bytes of one hiter / maps.Iter in this layout."""
    if layout.is_classic:
        return classic_layout(layout.layout).hiter.sizeof()
    return swiss_layout(layout.layout, layout.go_minor).iterator.sizeof()


def decode_iterator(memory: MemoryReader, layout: MapLayout, address: int):
    """The hiter / maps.Iter at ``address``, interpreted against its live map.

    Decodes whatever is there (no plausibility check: see ``check_iterator``).
    Raises ``IteratorError`` only when the iterator itself cannot be read; an
    unreadable map or type descriptor becomes a problem on the result.
    """
    try:
        if layout.is_classic:
            return classic.decode_iterator(memory, address, layout.layout)
        return swiss.decode_iterator(memory, address, layout.layout, go_minor=layout.go_minor)
    except (ValueError, UnreadableMemory) as error:
        raise IteratorError(str(error)) from None


def check_iterator(memory: MemoryReader, layout: MapLayout, address: int, map_address: Optional[int] = None):
    """The iterator at ``address``, decoded, if it passes the checks of ``scan_for_iterators``.

    Raises ``IteratorError`` ("<name> at ADDR unreadable: ...", or "not a
    live map iterator (<reason>)") otherwise. With ``map_address``, an
    iterator over another map is refused too. Iterators whose map was nil
    or empty when the loop started carry no map and are refused.
    """
    try:
        memory.read(address, iterator_size(layout))
    except UnreadableMemory as error:
        raise IteratorError(f"{layout.iterator_name} at {address:#x} unreadable: {error}") from None
    if layout.is_classic:
        verdict = classic.iterator_candidate(memory, address, layout.layout, map_address=map_address)
    else:
        verdict = swiss.iterator_candidate(memory, address, layout.layout, map_address=map_address,
                                           go_minor=layout.go_minor)
    if not verdict.accepted:
        raise IteratorError(f"not a live map iterator ({verdict.reason})", implausible=True)
    return verdict.iterator


def scan_for_iterators(memory: MemoryReader, layout: MapLayout, data: bytes, base_address: int, *,
                       map_address: Optional[int] = None) -> List:
    """The iterators in ``data`` (memory already read from ``base_address``), decoded.

    Exactly those ``check_iterator`` accepts, in address order.
    """
    if layout.is_classic:
        return classic.scan_for_iterators(memory, data, base_address, layout.layout, map_address=map_address)
    return swiss.scan_for_iterators(memory, data, base_address, layout.layout,
                                    map_address=map_address, go_minor=layout.go_minor)
