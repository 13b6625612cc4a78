"""One entry point for decoding maps and iterators, whatever the implementation.

Commands, printers and snapshots call these functions with a ``MapLayout``
(taken from the program's Go version) and never choose between the classic
and the Swiss decoder themselves. Both decoders raise ``ValueError``
subclasses for a map or iterator that cannot be decoded at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional

from . import classic, swiss
from .memory import MemoryReader
from .model import DecodedMap
from .versioninfo import VersionReport


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


def parse_maptype(memory: MemoryReader, layout: MapLayout, address: int):
    """The map type descriptor at ``address``, checked (kind 21, consistent sizes)."""
    if layout.is_classic:
        return classic.parse_maptype(memory, address, layout.layout)
    return swiss.parse_maptype(memory, address, layout.layout, go_minor=layout.go_minor)


def decode_map(memory: MemoryReader, layout: MapLayout, map_address: int, maptype, *,
               limit: Optional[int] = None) -> DecodedMap:
    """Every live entry of the map at ``map_address`` (an hmap or a maps.Map)."""
    if layout.is_classic:
        return classic.decode_map(memory, map_address, maptype, layout.layout, limit=limit)
    return swiss.decode_map(memory, map_address, maptype, layout.layout, limit=limit, go_minor=layout.go_minor)


def decode_iterator(memory: MemoryReader, layout: MapLayout, address: int):
    """The hiter / maps.Iter at ``address``, interpreted against its live map."""
    if layout.is_classic:
        return classic.decode_iterator(memory, address, layout.layout)
    return swiss.decode_iterator(memory, address, layout.layout, go_minor=layout.go_minor)


def scan_for_iterators(memory: MemoryReader, layout: MapLayout, data: bytes, base_address: int, *,
                       map_address: Optional[int] = None) -> List:
    """Plausible iterators in ``data`` (memory already read from ``base_address``)."""
    if layout.is_classic:
        return classic.scan_for_iterators(memory, data, base_address, layout.layout, map_address=map_address)
    return swiss.scan_for_iterators(memory, data, base_address, layout.layout,
                                    map_address=map_address, go_minor=layout.go_minor)
