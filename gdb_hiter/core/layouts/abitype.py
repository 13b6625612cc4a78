"""The 48-byte type header every Go type descriptor starts with.

``runtime._type`` up to Go 1.20, ``internal/abi.Type`` from 1.21; the bytes
are the same in every supported version (reference §1.7).
"""

from __future__ import annotations

from construct import Int8ul, Int32sl, Int32ul, Int64ul, Struct

ABI_TYPE = Struct(
    "size" / Int64ul,
    "ptrdata" / Int64ul,
    "hash" / Int32ul,
    "tflag" / Int8ul,
    "align" / Int8ul,
    "field_align" / Int8ul,
    "kind" / Int8ul,
    "equal" / Int64ul,
    "gcdata" / Int64ul,
    "str" / Int32sl,
    "ptr_to_this" / Int32sl,
)
assert ABI_TYPE.sizeof() == 48

KIND_MAP = 21

# Up to Go 1.25 the kind byte also carries DirectIface (0x20) and GCProg
# (0x40, to 1.23); from 1.26 it holds only the kind. Every kind is below 32,
# so one mask reads the kind in every version.
KIND_MASK = 0x1F


def kind_of(kind_byte: int) -> int:
    return kind_byte & KIND_MASK
