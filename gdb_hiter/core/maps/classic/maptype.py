"""The classic map type descriptor (``runtime.maptype`` / ``abi.OldMapType``): parsed and checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from ...layouts import abitype
from ...layouts.classic import (
    MAPTYPE_FLAG_NAMES, MAPTYPE_INDIRECT_ELEM, MAPTYPE_INDIRECT_KEY, MAX_INLINE_ELEM,
    MAX_INLINE_KEY, POINTER_SIZE, bucket_size, classic_layout, flag_names,
)
from ...memory import MemoryReader, UnreadableMemory
from .common import MAX_INDIRECT_SIZE, NotAMapType, UnreadableMap, _is_pointer, _plain


# ---------------------------------------------------------------------------
# Map type descriptor


@dataclass(frozen=True)
class MapType:
    """What the decoder needs from a classic map type descriptor."""

    keysize: int            # key slot size in a bucket (8 when the key is indirect)
    elemsize: int           # elem slot size (8 when indirect)
    bucketsize: int
    flags: int
    key_size: int           # size of K itself: the bytes an Entry carries
    elem_size: int          # size of V itself
    address: int = 0        # descriptor address; 0 when built from sizes
    key_type: int = 0       # *_type of K
    elem_type: int = 0      # *_type of V
    bucket_type: int = 0
    hasher: int = 0

    @property
    def indirect_key(self) -> bool:
        return bool(self.flags & MAPTYPE_INDIRECT_KEY)

    @property
    def indirect_elem(self) -> bool:
        return bool(self.flags & MAPTYPE_INDIRECT_ELEM)

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "key_type": self.key_type,
            "elem_type": self.elem_type,
            "keysize": self.keysize,
            "elemsize": self.elemsize,
            "bucketsize": self.bucketsize,
            "flags": self.flags,
            "flag_names": flag_names(self.flags, MAPTYPE_FLAG_NAMES),
            "key_size": self.key_size,
            "elem_size": self.elem_size,
        }


def maptype_from_sizes(key_size: int, elem_size: int, *, address: int = 0, flags: Optional[int] = None) -> MapType:
    """A MapType from the sizes of K and V (e.g. known from DWARF only).

    Keys or elements over 128 bytes sit behind a pointer, as the compiler
    lays them out. ``flags`` defaults to just the indirect bits.
    """
    if key_size < 0 or elem_size < 0:
        raise ValueError(f"negative size: key {key_size}, elem {elem_size}")
    indirect = 0
    keysize, elemsize = key_size, elem_size
    if key_size > MAX_INLINE_KEY:
        keysize, indirect = POINTER_SIZE, indirect | MAPTYPE_INDIRECT_KEY
    if elem_size > MAX_INLINE_ELEM:
        elemsize, indirect = POINTER_SIZE, indirect | MAPTYPE_INDIRECT_ELEM
    if flags is None:
        flags = indirect
    elif (flags & (MAPTYPE_INDIRECT_KEY | MAPTYPE_INDIRECT_ELEM)) != indirect:
        raise ValueError(f"flags {flags:#x} disagree with key size {key_size} / elem size {elem_size}")
    return MapType(keysize, elemsize, bucket_size(keysize, elemsize), flags, key_size, elem_size, address=address)


def maptype_problems(fields: Dict[str, Any]) -> List[str]:
    """Why a parsed 88-byte descriptor is not a consistent classic map type."""
    reasons = []
    typ = fields["typ"]
    if abitype.kind_of(typ["kind"]) != abitype.KIND_MAP:
        reasons.append(f"kind is {abitype.kind_of(typ['kind'])}, not map ({abitype.KIND_MAP})")
        return reasons
    if typ["size"] != POINTER_SIZE:
        reasons.append(f"a map type has size {POINTER_SIZE}, this one {typ['size']}")
    keysize, elemsize, flags = fields["keysize"], fields["elemsize"], fields["flags"]
    if keysize > MAX_INLINE_KEY or elemsize > MAX_INLINE_ELEM:
        reasons.append(f"slot sizes {keysize}/{elemsize} exceed {MAX_INLINE_KEY}")
    if flags & MAPTYPE_INDIRECT_KEY and keysize != POINTER_SIZE:
        reasons.append(f"indirect key but key slot size {keysize}")
    if flags & MAPTYPE_INDIRECT_ELEM and elemsize != POINTER_SIZE:
        reasons.append(f"indirect elem but elem slot size {elemsize}")
    expected = bucket_size(keysize, elemsize)
    if fields["bucketsize"] != expected:
        reasons.append(f"bucketsize {fields['bucketsize']} != 8 + 8*{keysize} + 8*{elemsize} + 8 = {expected}")
    for name in ("key", "elem", "bucket"):
        if not _is_pointer(fields[name]):
            reasons.append(f"{name} type pointer {fields[name]:#x} is not a pointer")
    return reasons


def _type_size(memory: MemoryReader, address: int) -> int:
    return abitype.ABI_TYPE.parse(memory.read(address, abitype.ABI_TYPE.sizeof()))["size"]


def parse_maptype(memory: MemoryReader, address: int, layout_name: str) -> MapType:
    """Read and check the 88-byte map type descriptor at ``address``.

    Also reads the K, V and bucket type headers: their sizes must agree
    with the slot sizes (and give the real K/V size of indirect slots).
    """
    layout = classic_layout(layout_name)
    if address == 0:
        raise NotAMapType("no map type descriptor (address 0)")
    try:
        fields = _plain(layout.maptype.parse(memory.read(address, layout.maptype.sizeof())))
    except UnreadableMemory as error:
        raise UnreadableMap(f"map type descriptor unreadable: {error}") from None
    reasons = maptype_problems(fields)
    if reasons:
        raise NotAMapType(f"not a map type descriptor at {address:#x}: {'; '.join(reasons)}")
    try:
        key_size = _type_size(memory, fields["key"])
        elem_size = _type_size(memory, fields["elem"])
        bucket_type_size = _type_size(memory, fields["bucket"])
    except UnreadableMemory as error:
        raise NotAMapType(f"map type at {address:#x}: key/elem/bucket type unreadable: {error}") from None
    for what, size, slot, indirect_bit, limit in (
        ("key", key_size, fields["keysize"], MAPTYPE_INDIRECT_KEY, MAX_INLINE_KEY),
        ("elem", elem_size, fields["elemsize"], MAPTYPE_INDIRECT_ELEM, MAX_INLINE_ELEM),
    ):
        indirect = bool(fields["flags"] & indirect_bit)
        if indirect != (size > limit) or (not indirect and size != slot):
            raise NotAMapType(
                f"map type at {address:#x}: {what} type size {size} does not fit slot size {slot} "
                f"({'indirect' if indirect else 'direct'})"
            )
        if size > MAX_INDIRECT_SIZE:
            raise NotAMapType(f"map type at {address:#x}: {what} type size {size} exceeds {MAX_INDIRECT_SIZE}: "
                              f"not a real type")
    if bucket_type_size != fields["bucketsize"]:
        raise NotAMapType(
            f"map type at {address:#x}: bucket type size {bucket_type_size} != bucketsize {fields['bucketsize']}"
        )
    return MapType(
        keysize=fields["keysize"],
        elemsize=fields["elemsize"],
        bucketsize=fields["bucketsize"],
        flags=fields["flags"],
        key_size=key_size,
        elem_size=elem_size,
        address=address,
        key_type=fields["key"],
        elem_type=fields["elem"],
        bucket_type=fields["bucket"],
        hasher=fields["hasher"],
    )
