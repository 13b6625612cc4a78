"""What every map decoder produces, whatever the map implementation.

Commands, printers, snapshots and diffs consume these objects only, so a
classic map and a Swiss map look the same to everything above the decoders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional


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
    entries: List[Entry] = field(default_factory=list)
    problems: List[Problem] = field(default_factory=list)
    detail: Dict[str, Any] = field(default_factory=dict)  # buckets / directory / tables, JSON-ready
    complete: bool = True           # False when a limit or a problem cut the walk short


def raw_text(data: bytes) -> str:
    """How a key or value is shown when no type is known: its bytes in hex with the size."""
    return f"0x{data.hex()} ({len(data)} bytes)" if data else "(0 bytes)"
