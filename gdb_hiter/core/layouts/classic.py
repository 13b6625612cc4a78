"""Byte layouts and constants of classic (bucket) Go maps, as data.

Classic maps are Go 1.18 – 1.23 (``runtime/map.go``) and Go 1.24 – 1.25
built with ``GOEXPERIMENT=noswissmap`` (``runtime/map_noswiss.go``). One row
of ``CLASSIC_LAYOUTS`` per layout family named in ``goversion.LAYOUT_RULES``;
the decoders look everything up in that table and never test a version.

Field names equal the runtime's Go field names, so a drift test can compare
``layouts.fields.field_offsets`` with the DWARF of ``runtime.hmap`` /
``runtime.hiter`` / ``runtime.mapextra`` by name. The map type descriptor
is named differently in DWARF from release to release; see
``MAPTYPE_DWARF_NAMES``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict

from construct import Bytes, Int8ul, Int16ul, Int32ul, Int64ul, Padding, Struct

from . import abitype
from .fields import field_offsets

# --- constants (runtime/map.go, identical in every classic release) --------

BUCKET_SLOTS = 8          # bucketCnt
DATA_OFFSET = 8           # dataOffset: keys start right after the tophash array
MAX_INLINE_KEY = 128      # maxKeySize: larger keys are stored behind a pointer
MAX_INLINE_ELEM = 128     # maxElemSize
POINTER_SIZE = 8

# tophash values below MIN_TOP_HASH are markers, not hashes
EMPTY_REST = 0
EMPTY_ONE = 1
EVACUATED_X = 2
EVACUATED_Y = 3
EVACUATED_EMPTY = 4
MIN_TOP_HASH = 5

TOPHASH_NAMES = {
    EMPTY_REST: "emptyRest",
    EMPTY_ONE: "emptyOne",
    EVACUATED_X: "evacuatedX",
    EVACUATED_Y: "evacuatedY",
    EVACUATED_EMPTY: "evacuatedEmpty",
}
FULL = "full"

# One character per slot in bucket records: the marker value itself, or F
# for a full slot (tophash >= minTopHash). A string is what keeps the
# records of a 260k-bucket map cheap to build (see maps.classic.walk._Walk).
SLOT_CODES = {
    "0": TOPHASH_NAMES[EMPTY_REST],
    "1": TOPHASH_NAMES[EMPTY_ONE],
    "2": TOPHASH_NAMES[EVACUATED_X],
    "3": TOPHASH_NAMES[EVACUATED_Y],
    "4": TOPHASH_NAMES[EVACUATED_EMPTY],
    "F": FULL,
}
SLOT_CODE_TABLE = bytes.maketrans(bytes(range(256)), b"01234" + b"F" * 251)


def slot_codes(tophash: bytes) -> str:
    """``b"\x00\x01\xa7..."`` -> ``"01F..."``: each tophash byte classified."""
    return tophash.translate(SLOT_CODE_TABLE).decode("ascii")


def slot_names(codes: str) -> list:
    """The class names behind a ``slots`` string of a bucket record."""
    return [SLOT_CODES[code] for code in codes]

# hmap.flags
FLAG_ITERATOR = 1
FLAG_OLD_ITERATOR = 2
FLAG_HASH_WRITING = 4
FLAG_SAME_SIZE_GROW = 8
HMAP_FLAG_NAMES = {
    FLAG_ITERATOR: "iterator",
    FLAG_OLD_ITERATOR: "oldIterator",
    FLAG_HASH_WRITING: "hashWriting",
    FLAG_SAME_SIZE_GROW: "sameSizeGrow",
}

# maptype.flags
MAPTYPE_INDIRECT_KEY = 1
MAPTYPE_INDIRECT_ELEM = 2
MAPTYPE_REFLEXIVE_KEY = 4
MAPTYPE_NEED_KEY_UPDATE = 8
MAPTYPE_HASH_MIGHT_PANIC = 16
MAPTYPE_FLAG_NAMES = {
    MAPTYPE_INDIRECT_KEY: "IndirectKey",
    MAPTYPE_INDIRECT_ELEM: "IndirectElem",
    MAPTYPE_REFLEXIVE_KEY: "ReflexiveKey",
    MAPTYPE_NEED_KEY_UPDATE: "NeedKeyUpdate",
    MAPTYPE_HASH_MIGHT_PANIC: "HashMightPanic",
}

NO_CHECK = (1 << 64) - 1  # hiter.checkBucket sentinel: 1<<(8*PtrSize) - 1


def flag_names(value: int, names: Dict[int, str]) -> list:
    """Names of the set bits of ``value``, plus ``0x..`` for unknown bits."""
    result = [name for bit, name in names.items() if value & bit]
    unknown = value & ~sum(names)
    if unknown:
        result.append(hex(unknown))
    return result


# --- Structs ---------------------------------------------------------------

_HMAP_COMMON = (
    "count" / Int64ul,
    "flags" / Int8ul,
    "B" / Int8ul,
    "noverflow" / Int16ul,
    "hash0" / Int32ul,
    "buckets" / Int64ul,
    "oldbuckets" / Int64ul,
    "nevacuate" / Int64ul,
)

HMAP_GO118 = Struct(*_HMAP_COMMON, "extra" / Int64ul)
HMAP_GO124 = Struct(*_HMAP_COMMON, "clearSeq" / Int64ul, "extra" / Int64ul)

MAPEXTRA = Struct(
    "overflow" / Int64ul,       # *[]*bmap
    "oldoverflow" / Int64ul,    # *[]*bmap
    "nextOverflow" / Int64ul,   # *bmap: next free preallocated overflow bucket
)

_HITER_COMMON = (
    "key" / Int64ul,            # nil once the iteration is over
    "elem" / Int64ul,
    "t" / Int64ul,              # *maptype
    "h" / Int64ul,              # *hmap
    "buckets" / Int64ul,        # bucket array when the iteration started
    "bptr" / Int64ul,           # current bucket
    "overflow" / Int64ul,
    "oldoverflow" / Int64ul,
    "startBucket" / Int64ul,
    "offset" / Int8ul,
    "wrapped" / Int8ul,
    "B" / Int8ul,
    "i" / Int8ul,
    Padding(4),
    "bucket" / Int64ul,
    "checkBucket" / Int64ul,
)

HITER_GO118 = Struct(*_HITER_COMMON)
HITER_GO124 = Struct(*_HITER_COMMON, "clearSeq" / Int64ul)

# The 88-byte classic map type descriptor: runtime.maptype (1.18–1.20),
# internal/abi.MapType (1.21–1.23), internal/abi.OldMapType (1.24–1.25).
# Our names are the 1.18–1.20 runtime names.
MAPTYPE = Struct(
    "typ" / abitype.ABI_TYPE,
    "key" / Int64ul,            # *_type of K
    "elem" / Int64ul,           # *_type of V
    "bucket" / Int64ul,         # *_type of the bucket struct
    "hasher" / Int64ul,         # func(unsafe.Pointer, uintptr) uintptr
    "keysize" / Int8ul,         # key slot size (8 when indirect)
    "elemsize" / Int8ul,        # elem slot size (8 when indirect)
    "bucketsize" / Int16ul,
    "flags" / Int32ul,
)

# Our MAPTYPE field name -> DWARF member name, for each DWARF type name the
# descriptor has had.
_MAPTYPE_EXPORTED_NAMES = {
    "typ": "Type", "key": "Key", "elem": "Elem", "bucket": "Bucket", "hasher": "Hasher",
    "keysize": "KeySize", "elemsize": "ValueSize", "bucketsize": "BucketSize", "flags": "Flags",
}
MAPTYPE_DWARF_NAMES: Dict[str, Dict[str, str]] = {
    "runtime.maptype": {name: name for name in _MAPTYPE_EXPORTED_NAMES},   # 1.18–1.20
    "internal/abi.MapType": dict(_MAPTYPE_EXPORTED_NAMES),                  # 1.21–1.23
    "internal/abi.OldMapType": dict(_MAPTYPE_EXPORTED_NAMES),               # 1.24–1.25 noswiss
}


def bucket_struct(keysize: int, elemsize: int) -> Struct:
    """The compiler-built bucket (``noalg.map.bucket[K]V``) for given slot sizes.

    Keys and elements are kept as raw bytes: their Go types are for the
    caller to render. No padding exists on amd64: 8·keysize and 8·elemsize
    are multiples of 8, so every part starts aligned (the compiler checks
    that ``overflow`` is the last 8 bytes).
    """
    return Struct(
        "tophash" / Bytes(BUCKET_SLOTS),
        "keys" / Bytes(BUCKET_SLOTS * keysize),
        "elems" / Bytes(BUCKET_SLOTS * elemsize),
        "overflow" / Int64ul,
    )


def bucket_size(keysize: int, elemsize: int) -> int:
    return DATA_OFFSET + BUCKET_SLOTS * (keysize + elemsize) + POINTER_SIZE


@dataclass(frozen=True)
class ClassicLayout:
    name: str
    hmap: Struct
    mapextra: Struct
    hiter: Struct
    maptype: Struct

    @property
    def has_clear_seq(self) -> bool:
        """hmap and hiter carry clearSeq (1.24–1.25 noswiss only)."""
        return "clearSeq" in field_offsets(self.hmap)


CLASSIC_LAYOUTS: Dict[str, ClassicLayout] = {
    "classic-go1.18": ClassicLayout("classic-go1.18", HMAP_GO118, MAPEXTRA, HITER_GO118, MAPTYPE),
    "classic-go1.24": ClassicLayout("classic-go1.24", HMAP_GO124, MAPEXTRA, HITER_GO124, MAPTYPE),
}

assert HMAP_GO118.sizeof() == 48 and HMAP_GO124.sizeof() == 56
assert HITER_GO118.sizeof() == 96 and HITER_GO124.sizeof() == 104
assert MAPEXTRA.sizeof() == 24 and MAPTYPE.sizeof() == 88


class UnknownLayout(ValueError):
    """The layout family name is not a classic one."""


def classic_layout(name: str) -> ClassicLayout:
    try:
        return CLASSIC_LAYOUTS[name]
    except KeyError:
        raise UnknownLayout(
            f"{name!r} is not a classic map layout (known: {', '.join(sorted(CLASSIC_LAYOUTS))})"
        ) from None
