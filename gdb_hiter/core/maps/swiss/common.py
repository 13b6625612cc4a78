"""Bounds, errors and small helpers shared by the Swiss decoder's modules."""

from __future__ import annotations

from typing import Optional

from .. import slotgrid
from ...layouts.swiss import (
    FLAG_HASH_MIGHT_PANIC, FLAG_INDIRECT_ELEM, FLAG_INDIRECT_KEY, FLAG_NEED_KEY_UPDATE,
    GROUP_SLOTS,
)


MAX_DIRECTORY_LEN = 1 << 20      # more tables than this is corrupt memory, not a map
# An indirect key or element is read whole, once per entry (inside gdb one buffer of that size):
# a type descriptor claiming more is corrupt, not a map type.
MAX_INDIRECT_SIZE = 1 << 20
MAX_GROUP_SIZE = 4096            # 8 + 8 * (two 128-byte inline values + padding) is far below
READ_CHUNK = 4 << 20             # largest single read of a group array
DEFAULT_MAX_GROUPS = 1 << 22     # walk budget: about 29M entries at a 7/8 load
KNOWN_FLAGS = FLAG_NEED_KEY_UPDATE | FLAG_HASH_MIGHT_PANIC | FLAG_INDIRECT_KEY | FLAG_INDIRECT_ELEM
U64 = (1 << 64) - 1

# translate table: 1 for a control byte with the top bit set (empty, deleted
# or invalid), 0 for a full slot; lets bytes.count classify a whole table in C.
_TOP_BIT = bytes(1 if byte & 0x80 else 0 for byte in range(256))
# translate table: 1 for a full slot's control byte (top bit clear), else 0
_FULL_CTRL = bytes(1 - flag for flag in _TOP_BIT)
assert GROUP_SLOTS == slotgrid.SLOTS


class BadMapType(ValueError):
    """The bytes at an address are not a consistent Swiss map type descriptor."""

    def __init__(self, address: Optional[int], why: str):
        self.address = address
        self.why = why
        where = f" at {address:#x}" if address is not None else ""
        super().__init__(f"not a Swiss map type descriptor{where}: {why}")


class NilMap(ValueError):
    """decode_map of a nil map (address 0): there is nothing to walk."""
