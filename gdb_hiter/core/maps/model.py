"""What every map decoder produces, whatever the map implementation.

Commands, printers, snapshots and diffs consume these objects only, so a
classic map and a Swiss map look the same to everything above the decoders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union


@dataclass
class Entry:
    """One live map entry, with its raw bytes and where it sits in memory."""

    key_address: int          # address of the key bytes (after following an indirect slot)
    value_address: int        # address of the element bytes (likewise)
    key: bytes                # raw key bytes (key type size)
    value: bytes              # raw element bytes (element type size)
    location: Dict[str, Any]  # implementation-specific position, JSON-ready

    def to_json(self, render_key=None, render_value=None) -> dict:
        return {
            "key": render_key(self) if render_key else raw_text(self.key),
            "value": render_value(self) if render_value else raw_text(self.value),
            "location": self.location,  # each entry owns its location dict: no copy needed
        }


class EntryColumns(Sequence):
    """A map's live entries stored column by column, in memory order.

    A big map has millions of entries: one ``Entry`` object and one location
    dict per entry cost more than decoding them, so decoders append to plain
    lists and ``Entry`` objects are made only for the entries someone asks
    for (``columns[i]``, iteration). Bulk consumers (``hmap-show --json``)
    read the columns directly.

    Locations are columns too: one list per field of ``place_fields``
    (declared by the decoder with each value's JSON kind: ``str`` for a
    decoder-chosen identifier, ``int``, or ``list`` of ints), so that a run
    of entries in one table repeats its table ordinal as ``[ordinal] * n``.
    ``Entry.location`` is the dict of the entry's value in each column.
    """

    def __init__(self, place_fields: Tuple[Tuple[str, type], ...]):
        self.place_fields = tuple(place_fields)
        self.keys: List[bytes] = []
        self.values: List[bytes] = []
        self.place_columns: List[list] = [[] for _ in self.place_fields]
        # Addresses are seldom needed (not by hmap-show --json), so the walk
        # keeps the offsets it sliced at, per buffer, and the address lists
        # are made on first use: [(buffer address, key offsets, value offsets)].
        self._address_runs: List[Tuple[int, List[int], List[int]]] = []
        self._addresses: Optional[Tuple[List[int], List[int]]] = None

    @property
    def place_names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self.place_fields)

    def append(self, key_address: int, value_address: int, key: bytes, value: bytes, place: tuple) -> None:
        self.add_run(0, [key_address], [value_address], [key], [value], [[field] for field in place])

    def add_run(self, base: int, key_offsets: List[int], value_offsets: List[int], keys: List[bytes],
                values: List[bytes], place_columns: Sequence[list]) -> None:
        """Entries whose key / value addresses are ``base`` plus the given offsets,
        with one list per place field."""
        self.keys += keys
        self.values += values
        for column, part in zip(self.place_columns, place_columns):
            column += part
        self._address_runs.append((base, key_offsets, value_offsets))
        self._addresses = None

    def _address_columns(self) -> Tuple[List[int], List[int]]:
        if self._addresses is None:
            key_addresses: List[int] = []
            value_addresses: List[int] = []
            for base, key_offsets, value_offsets in self._address_runs:
                key_addresses += [base + offset for offset in key_offsets]
                value_addresses += [base + offset for offset in value_offsets]
            self._addresses = (key_addresses, value_addresses)
        return self._addresses

    def _address_runs_between(self, start: int, stop: int) -> List[Tuple[int, List[int], List[int]]]:
        """The address runs of entries start..stop-1: list slices, no address made."""
        runs = []
        first = 0
        for base, key_offsets, value_offsets in self._address_runs:
            if first >= stop:
                break
            last = first + len(key_offsets)
            if last > start:
                low, high = max(start - first, 0), min(stop, last) - first
                runs.append((base, key_offsets[low:high], value_offsets[low:high]))
            first = last
        return runs

    @property
    def key_addresses(self) -> List[int]:
        return self._address_columns()[0]

    @property
    def value_addresses(self) -> List[int]:
        return self._address_columns()[1]

    def location(self, index: int) -> Dict[str, Any]:
        return {name: column[index] for name, column in zip(self.place_names, self.place_columns)}

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: Union[int, slice]):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if (start, stop, step) == (0, len(self), 1):
                return self
            part = EntryColumns(self.place_fields)
            if step == 1:
                part._address_runs = self._address_runs_between(start, stop)
            else:
                part._address_runs = [(0, self.key_addresses[index], self.value_addresses[index])]
            part.keys, part.values = self.keys[index], self.values[index]
            part.place_columns = [column[index] for column in self.place_columns]
            return part
        return Entry(self.key_addresses[index], self.value_addresses[index], self.keys[index],
                     self.values[index], self.location(index))

    def __iter__(self) -> Iterator[Entry]:
        names = self.place_names
        for key_address, value_address, key, value, *place in zip(
                self.key_addresses, self.value_addresses, self.keys, self.values, *self.place_columns):
            yield Entry(key_address, value_address, key, value, dict(zip(names, place)))

    def __eq__(self, other) -> bool:
        if isinstance(other, (list, tuple, EntryColumns)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"EntryColumns({len(self)} entries, places {self.place_names})"


@dataclass
class Problem:
    """Something that stopped or contradicts a walk; always shown to the user."""

    what: str                 # short machine-readable kind, e.g. "count-mismatch", "overflow-cycle"
    why: str                  # one readable sentence
    address: Optional[int] = None

    def to_json(self) -> dict:
        data = {"what": self.what, "why": self.why}
        if self.address is not None:
            data["address"] = self.address
        return data


@dataclass
class DecodedMap:
    """A whole map walk: header, implementation details, entries and problems."""

    address: int                    # address of the hmap / maps.Map
    impl: str                       # "classic" | "swiss" | "swiss-split"
    count: int                      # hmap.count / Map.used as the runtime records it
    header: Dict[str, Any]          # decoded header fields by their runtime names
    entries: Sequence = field(default_factory=list)   # EntryColumns from the decoders
    problems: List[Problem] = field(default_factory=list)
    # buckets / directory / tables: JSON-ready, except that a classic map's bucket
    # records are a sequence of dicts (classic.BucketRecords), listed by maptext.map_document
    detail: Dict[str, Any] = field(default_factory=dict)
    complete: bool = True           # False when a limit or a problem cut the walk short


def raw_text(data: bytes) -> str:
    """How a key or value is shown when no type is known: its bytes in hex with the size."""
    return f"0x{data.hex()} ({len(data)} bytes)" if data else "(0 bytes)"
