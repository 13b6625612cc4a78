"""Bounds, errors and small helpers shared by the classic decoder's modules."""

from __future__ import annotations

import struct
from typing import Any, Dict

from .. import slotgrid
from ...layouts.classic import BUCKET_SLOTS, EVACUATED_EMPTY, EVACUATED_X, MIN_TOP_HASH


# Walk bounds. A real map never comes near them; a corrupt one must not hang us.
READ_CHUNK_BYTES = 4 << 20      # largest single read of a bucket array
DEFAULT_MAX_CHAIN = 1 << 12     # overflow buckets in one chain
MAX_PLAUSIBLE_B = 40            # 2^40 buckets is far beyond any real heap
# An indirect key or elem is read whole, once per entry (inside gdb one buffer of that size): a
# type descriptor claiming more is corrupt, not a map type (keyequality reads string keys up to the same).
MAX_INDIRECT_SIZE = 1 << 20
MAX_PROBLEMS = 50               # individual problems kept; then one summary
LOWEST_POINTER = 0x1000         # nothing is mapped below this on linux/amd64
HIGHEST_POINTER = 1 << 47       # user-space addresses on linux/amd64

_U64 = struct.Struct("<Q")

# An entry's location: which array, which bucket of it, how deep in its overflow chain, which slot.
PLACE_FIELDS = (("array", str), ("bucket", int), ("overflow", int), ("slot", int))
# tophash byte -> 1 for a full slot, 0 otherwise
_FULL_TOPHASH = bytes(1 if byte >= MIN_TOP_HASH else 0 for byte in range(256))
# tophash byte -> 1 for evacuatedX, evacuatedY, evacuatedEmpty
_EVACUATED_TOPHASH = bytes(1 if EVACUATED_X <= byte <= EVACUATED_EMPTY else 0 for byte in range(256))
_NO_SLOTS = bytes(BUCKET_SLOTS)
assert BUCKET_SLOTS == slotgrid.SLOTS


class ClassicMapError(ValueError):
    """The map cannot be decoded at all; the message is one line."""


class NilMap(ClassicMapError):
    pass


class UnreadableMap(ClassicMapError):
    pass


class NotAMapType(ClassicMapError):
    pass


class ImplausibleMap(ClassicMapError):
    pass


def _plain(container) -> Dict[str, Any]:
    """A construct Container as a plain dict, without construct's private keys."""
    return {name: value for name, value in container.items() if not name.startswith("_")}


def _is_pointer(value: int) -> bool:
    return LOWEST_POINTER <= value < HIGHEST_POINTER
