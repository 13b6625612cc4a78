"""Helpers for layouts written as construct Structs.

Layouts are data: one Struct per layout family. ``field_offsets`` turns a
Struct into ``{name: (offset, size)}`` so tests can compare our layouts with
the DWARF of each toolchain (the drift check), and so code that needs only
one field can read it at its offset.
"""

from __future__ import annotations

from typing import Dict, Tuple

from construct import Construct, Struct


def field_offsets(layout: Struct) -> Dict[str, Tuple[int, int]]:
    """Offset and size of every named field; padding is unnamed and skipped."""
    offsets: Dict[str, Tuple[int, int]] = {}
    position = 0
    for sub in layout.subcons:
        size = sub.sizeof()
        if sub.name:
            offsets[sub.name] = (position, size)
        position += size
    return offsets


def sizeof(layout: Construct) -> int:
    return layout.sizeof()
