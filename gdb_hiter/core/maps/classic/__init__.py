"""Decode classic (bucket) Go maps and their iterators from raw memory.

Pure core: reads through a ``MemoryReader`` and never imports gdb. Layouts
come from ``layouts.classic.CLASSIC_LAYOUTS`` by family name.

Errors: anything that stops a decode before a single entry can be looked at
(nil map, unreadable or implausible header, a type descriptor that is not a
map type) raises a ``ClassicMapError`` (a ``ValueError``) with a one-line
message. Anything found during the walk (unreadable bucket, overflow cycle,
chain too long, count mismatch) becomes a ``model.Problem`` on the result
and the walk goes on where it can.
"""

from __future__ import annotations

from typing import Optional

from ...layouts.classic import classic_layout
from ..interface import MapImplementation


from .common import ImplausibleMap, NilMap, NotAMapType, UnreadableMap
from .maptype import MapType, maptype_from_sizes, parse_maptype
from .walk import BucketRecords, decode_map
from .iterator import DecodedIterator, STATE_OF_DETAIL, buckets_remaining, decode_iterator
from .scan import iterator_candidate, scan_for_iterators
from .predict import predict as classic_predict

__all__ = [
    "BucketRecords", "ClassicMaps", "DecodedIterator", "ImplausibleMap", "MapType", "NilMap", "NotAMapType",
    "STATE_OF_DETAIL", "UnreadableMap", "buckets_remaining", "decode_iterator", "decode_map",
    "iterator_candidate", "maptype_from_sizes", "parse_maptype", "scan_for_iterators",
]


class ClassicMaps(MapImplementation):
    """Bucket maps (``runtime.hmap``, ``runtime.hiter``), layout families classic-go1.18 and classic-go1.24."""

    iterator_name = "runtime.hiter"

    @property
    def iterator_size(self) -> int:
        return classic_layout(self.layout.layout).hiter.sizeof()

    # mapiterinit: h, t, the bucket array and B at the start, the random start (startBucket, offset),
    # and the map's clearSeq then (go1.24-1.25 noswissmap only)
    loop_start_fields = ("t", "h", "buckets", "B", "startBucket", "offset", "clearSeq")

    def parse_maptype(self, memory, address: int) -> MapType:
        return parse_maptype(memory, address, self.layout.layout)

    def _decode_map(self, memory, map_address: int, maptype, limit: Optional[int]):
        return decode_map(memory, map_address, maptype, self.layout.layout, limit=limit)

    def _decode_iterator(self, memory, address: int) -> DecodedIterator:
        return decode_iterator(memory, address, self.layout.layout)

    def _iterator_candidate(self, memory, address: int, map_address: Optional[int]):
        return iterator_candidate(memory, address, self.layout.layout, map_address=map_address)

    def scan_for_iterators(self, memory, data: bytes, base_address: int, *, map_address: Optional[int] = None):
        return scan_for_iterators(memory, data, base_address, self.layout.layout, map_address=map_address)

    def _predict(self, memory, iterator, live, index):
        return classic_predict(memory, iterator, live, index)
