"""Where each slot of a run of buckets or groups is, for the decoders' bulk walks.

A classic bucket and a Swiss group both hold 8 slots. The decoders number
the slots of a buffer of such units ``8 * unit + slot`` (a "position"), find
the full ones with one ``itertools.compress`` over a flag byte per slot,
and look the key and element offsets of those positions up in two tables
made here once per geometry: no per-slot arithmetic in Python.
"""

from __future__ import annotations

from array import array
from typing import Dict, Tuple

SLOTS = 8                                   # slots per bucket (classic) and per group (Swiss)
UNIT_OF_POSITION = (3).__rrshift__          # position >> 3: the bucket / group in the buffer
SLOT_OF_POSITION = (SLOTS - 1).__and__      # position & 7: the slot in it
assert 1 << 3 == SLOTS

Geometry = Tuple[int, Tuple[int, ...], Tuple[int, ...]]
_TABLES: Dict[Geometry, Tuple[array, array]] = {}


def offset_tables(unit_size: int, key_offsets: Tuple[int, ...], elem_offsets: Tuple[int, ...],
                  units: int) -> Tuple[array, array]:
    """(key offset, element offset) from the start of a buffer of ``units`` buckets or
    groups of ``unit_size`` bytes, by position.

    ``key_offsets`` / ``elem_offsets`` are those of slots 0..7 within one unit.
    Only the last geometry is kept, and callers never ask for more units than
    one read chunk holds: at most two arrays of 8 bytes per slot of a chunk.
    """
    geometry = (unit_size, tuple(key_offsets), tuple(elem_offsets))
    if geometry not in _TABLES:
        _TABLES.clear()
        _TABLES[geometry] = (array("q"), array("q"))
    key_at, elem_at = _TABLES[geometry]
    have = len(key_at) // SLOTS
    if have < units:
        starts = range(have * unit_size, units * unit_size, unit_size)
        key_at.extend([start + offset for start in starts for offset in geometry[1]])
        elem_at.extend([start + offset for start in starts for offset in geometry[2]])
    return key_at, elem_at
