"""Swiss-table maps (Go 1.24+) and their iterators, decoded from raw memory.

Pure core: reads only through a ``MemoryReader`` and never imports gdb.
Layouts come from ``layouts.swiss`` (one family per ``goversion`` rule);
the group geometry comes from the map type descriptor in memory.

Reads are bulk: the Map header, one read for the directory, one per table
header, one per group array (in chunks of at most ``READ_CHUNK`` bytes),
plus one per indirect key or element. Every walk is bounded.

Semantics follow ``internal/runtime/maps`` of go1.24.11 – go1.27.3
(map.go, table.go, group.go; ``Iter.Init`` / ``Iter.Next`` in table.go).
"""

from __future__ import annotations

from typing import Optional

from ...layouts.swiss import swiss_layout
from ..interface import MapImplementation


from .common import BadMapType, NilMap
from .maptype import SwissMapType, parse_maptype
from .walk import decode_map
from .iterator import STATE_OF_DETAIL, SwissIterator, UnreadableIterator, decode_iterator
from .scan import iterator_candidate, scan_for_iterators
from .predict import predict as swiss_predict

__all__ = [
    "BadMapType", "NilMap", "STATE_OF_DETAIL", "SwissIterator", "SwissMapType", "SwissMaps",
    "UnreadableIterator", "decode_iterator", "decode_map", "iterator_candidate", "parse_maptype",
    "scan_for_iterators",
]


class SwissMaps(MapImplementation):
    """Swiss tables (``internal/runtime/maps``), flat or split groups: layout families swiss-go1.24, swiss-go1.27."""

    iterator_name = "maps.Iter"

    @property
    def iterator_size(self) -> int:
        return swiss_layout(self.layout.layout, self.layout.go_minor).iterator.sizeof()

    # Iter.Init: typ, m, the random start (entryOffset, dirOffset) and the map's clearSeq then
    loop_start_fields = ("typ", "m", "entryOffset", "dirOffset", "clearSeq")

    def parse_maptype(self, memory, address: int) -> SwissMapType:
        return parse_maptype(memory, address, self.layout.layout, go_minor=self.layout.go_minor)

    def _decode_map(self, memory, map_address: int, maptype, limit: Optional[int]):
        return decode_map(memory, map_address, maptype, self.layout.layout, limit=limit, go_minor=self.layout.go_minor)

    def _decode_iterator(self, memory, address: int) -> SwissIterator:
        return decode_iterator(memory, address, self.layout.layout, go_minor=self.layout.go_minor)

    def _iterator_candidate(self, memory, address: int, map_address: Optional[int]):
        return iterator_candidate(memory, address, self.layout.layout, map_address=map_address,
                                  go_minor=self.layout.go_minor)

    def scan_for_iterators(self, memory, data: bytes, base_address: int, *, map_address: Optional[int] = None):
        return scan_for_iterators(memory, data, base_address, self.layout.layout,
                                  map_address=map_address, go_minor=self.layout.go_minor)

    def _predict(self, memory, iterator, live, index):
        return swiss_predict(memory, iterator, live, index, self.layout.go_minor)
