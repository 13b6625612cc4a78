"""Is this memory a live ``runtime.hiter``? The checks, and the scan of stack memory for iterators."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ...layouts.classic import (
    CLASSIC_LAYOUTS, BUCKET_SLOTS, EMPTY_ONE, EVACUATED_EMPTY, EVACUATED_X, EVACUATED_Y, NO_CHECK, POINTER_SIZE, ClassicLayout,
    HITER_GO118, bucket_struct, classic_layout,
)
from ...layouts.fields import field_offsets
from ...memory import MemoryReader, UnreadableMemory
from .common import ClassicMapError, HIGHEST_POINTER, LOWEST_POINTER, MAX_PLAUSIBLE_B, _U64, _is_pointer
from .maptype import MapType, parse_maptype
from .walk import old_bucket_count, read_hmap
from .iterator import DecodedIterator, _array_index, _decode_iterator_fields


# ---------------------------------------------------------------------------
# Finding iterators in raw stack memory


@dataclass
class IteratorCandidate:
    """The verdict on one address: an accepted iterator or the reason it is not one."""

    address: int
    iterator: Optional[DecodedIterator] = None
    reason: Optional[str] = None

    @property
    def accepted(self) -> bool:
        return self.iterator is not None


def _cheap_reason(it: Dict[str, int]) -> Optional[str]:
    """Checks on the hiter words alone (after _raw_reason); None when they all pass."""
    if it["B"] > MAX_PLAUSIBLE_B:
        return "B too large"
    for name in ("t", "h", "buckets"):
        value = it[name]
        if not _is_pointer(value) or value % POINTER_SIZE:
            return f"{name} is not a pointer"
    for name in ("bptr", "overflow", "oldoverflow"):
        value = it[name]
        if value and (not _is_pointer(value) or value % POINTER_SIZE):
            return f"{name} is neither nil nor a pointer"
    if (it["key"] == 0) != (it["elem"] == 0):
        return "key and elem disagree on whether the iteration is over"
    if it["key"] and not (_is_pointer(it["key"]) and _is_pointer(it["elem"])):
        return "key/elem are not pointers"
    total = 1 << it["B"]
    if it["startBucket"] >= total or it["bucket"] >= total:
        return "bucket/startBucket outside 2^B"
    if it["checkBucket"] != NO_CHECK and it["checkBucket"] >= total:
        return "checkBucket is neither noCheck nor a bucket index"
    if it["key"] and it["i"] == 0:
        return "an entry is current but i is 0"
    # mapiternext starts a bucket by incrementing ``bucket`` and wraps it to 0
    # setting ``wrapped``: after the first step, bucket > startBucket before
    # the wrap and bucket <= startBucket after it.
    if it["bptr"] or it["key"]:
        if not it["wrapped"] and it["bucket"] <= it["startBucket"]:
            return "not wrapped but bucket <= startBucket"
        if it["wrapped"] and it["bucket"] > it["startBucket"]:
            return "wrapped but bucket > startBucket"
    return None


def _slot_reason(memory: MemoryReader, it: Dict[str, int], header: Dict[str, Any], maptype: MapType,
                 layout: ClassicLayout) -> Optional[str]:
    """key/elem must be the slot (i-1+offset)&7 of bptr, unless the runtime had to look
    the entry up in the current table (map grown or cleared since the iteration began)."""
    try:
        bucket = memory.read(it["bptr"], maptype.bucketsize)
    except UnreadableMemory:
        return "bptr unreadable"
    slot = (it["i"] - 1 + it["offset"]) % BUCKET_SLOTS
    offsets = field_offsets(bucket_struct(maptype.keysize, maptype.elemsize))
    key_slot = it["bptr"] + offsets["keys"][0] + slot * maptype.keysize
    elem_slot = it["bptr"] + offsets["elems"][0] + slot * maptype.elemsize
    expected_key, expected_elem = key_slot, elem_slot
    if maptype.indirect_key:
        expected_key = _U64.unpack_from(bucket, key_slot - it["bptr"])[0]
    if maptype.indirect_elem:
        expected_elem = _U64.unpack_from(bucket, elem_slot - it["bptr"])[0]
    if it["key"] == expected_key and it["elem"] == expected_elem:
        return None
    top = bucket[slot]
    looked_up = top in (EVACUATED_X, EVACUATED_Y) or (
        layout.has_clear_seq and it["clearSeq"] != header["clearSeq"])
    # mapdelete nils an indirect key's or element's pointer in its slot: the
    # entry the loop holds was deleted since it received it (and the slot
    # may have been evacuated empty since)
    deleted = (top <= EMPTY_ONE or top == EVACUATED_EMPTY) and (maptype.indirect_key or maptype.indirect_elem)
    if not (looked_up or deleted):
        return "key/elem do not point at the current slot of bptr"
    try:
        memory.read(it["key"], max(maptype.key_size, 1))
        memory.read(it["elem"], max(maptype.elem_size, 1))
    except UnreadableMemory:
        return "key/elem unreadable"
    return None


def _deep_reason(memory: MemoryReader, it: Dict[str, int], layout: ClassicLayout,
                 map_address: Optional[int]) -> Tuple[Optional[str], Optional[Dict[str, Any]], Optional[MapType]]:
    """Checks that follow t and h; returns (reason, header, maptype)."""
    if map_address is not None and it["h"] != map_address:
        return "h is not the wanted map", None, None
    try:
        maptype = parse_maptype(memory, it["t"], layout.name)
    except ClassicMapError as error:
        return f"t: {error}", None, None
    try:
        header = read_hmap(memory, it["h"], layout)
    except ClassicMapError as error:
        return f"h: {error}", None, None
    if header["B"] < it["B"]:
        return "iterator B larger than the map's B (maps never shrink)", None, None
    if header["count"] and not header["buckets"]:
        return "map has entries but no buckets", None, None
    size = maptype.bucketsize
    if it["buckets"] == header["buckets"]:
        if it["B"] != header["B"]:
            return "iterates the map's buckets with a different B", None, None
    elif it["buckets"] == header["oldbuckets"]:
        if it["B"] != old_bucket_count(header).bit_length() - 1:
            return "iterates the map's oldbuckets with a different B", None, None
    else:
        # The map grew (and finished growing) since the iteration began: the
        # iterator walks a retired array, smaller than or as big as the map's.
        try:
            memory.read(it["buckets"], size)
        except UnreadableMemory:
            return "buckets is neither the map's array nor readable", None, None
    if it["bptr"]:
        in_own = _array_index(it["bptr"], it["buckets"], 1 << it["B"], size) is not None
        in_old = header["oldbuckets"] and _array_index(
            it["bptr"], header["oldbuckets"], old_bucket_count(header), size) is not None
        if not (in_own or in_old):
            try:
                memory.read(it["bptr"], size)   # an overflow bucket somewhere in the heap
            except UnreadableMemory:
                return "bptr unreadable", None, None
    if it["key"]:
        reason = _slot_reason(memory, it, header, maptype, layout)
        if reason:
            return reason, None, None
    return None, header, maptype


def iterator_candidate(memory: MemoryReader, address: int, layout_name: str, *,
                       map_address: Optional[int] = None) -> IteratorCandidate:
    """Is there a live (or finished) classic map iterator at ``address``?

    Accepts only what a real hiter can look like: cheap checks on its own
    words first, then the type descriptor and the map it points to.
    """
    layout = classic_layout(layout_name)
    try:
        raw = memory.read(address, layout.hiter.sizeof())
    except UnreadableMemory as error:
        return IteratorCandidate(address, reason=f"unreadable: {error}")
    reason = _raw_reason(raw, 0)
    if reason:
        return IteratorCandidate(address, reason=reason)
    return _judge(memory, address, layout, _hiter_words(layout, raw, 0), map_address)


def _judge(memory, address, layout, words, map_address) -> IteratorCandidate:
    reason = _cheap_reason(words)
    if reason:
        return IteratorCandidate(address, reason=reason)
    reason, header, maptype = _deep_reason(memory, words, layout, map_address)
    if reason:
        return IteratorCandidate(address, reason=reason)
    return IteratorCandidate(address, iterator=_decode_iterator_fields(memory, address, layout, words, maptype, header))


# The hiter head as one struct.unpack for the scan: 9 words, 4 bytes, 4
# padding, 2 words (clearSeq follows in 1.24+ noswiss). Checked against the
# construct layouts, which stay the source of truth.
_HITER_HEAD = struct.Struct("<9Q4B4x2Q")
_HITER_NAMES = ("key", "elem", "t", "h", "buckets", "bptr", "overflow", "oldoverflow", "startBucket",
                "offset", "wrapped", "B", "i", "bucket", "checkBucket")
_HITER_AT = {name: offset for name, (offset, _) in field_offsets(HITER_GO118).items()}
assert tuple(_HITER_AT) == _HITER_NAMES and _HITER_HEAD.size == _HITER_AT["checkBucket"] + 8
assert all({name: offset for name, (offset, _) in field_offsets(layout.hiter).items() if name in _HITER_AT}
           == _HITER_AT for layout in CLASSIC_LAYOUTS.values())
_OFFSET_AT, _WRAPPED_AT, _I_AT, _T_AT = (_HITER_AT[name] for name in ("offset", "wrapped", "i", "t"))
_PADDING_AT = _I_AT + 1     # 4 bytes the compiler zeroes with the rest of the iterator temporary
_ZERO_PADDING = bytes(_HITER_AT["bucket"] - _PADDING_AT)


def _raw_reason(data: bytes, at: int) -> Optional[str]:
    """Byte checks on a hiter at ``data[at:]``, before any unpacking."""
    if data[at + _OFFSET_AT] >= BUCKET_SLOTS:
        return "offset >= 8"
    if data[at + _WRAPPED_AT] > 1:
        return "wrapped is not a bool"
    if data[at + _I_AT] > BUCKET_SLOTS:
        return "i > 8"
    if data[at + _PADDING_AT:at + _HITER_AT["bucket"]] != _ZERO_PADDING:
        return "padding after i is not zero"
    return None


def _hiter_words(layout: ClassicLayout, data: bytes, at: int) -> Dict[str, int]:
    words = dict(zip(_HITER_NAMES, _HITER_HEAD.unpack_from(data, at)))
    if layout.has_clear_seq:
        words["clearSeq"] = _U64.unpack_from(data, at + _HITER_HEAD.size)[0]
    return words


def scan_for_iterators(memory: MemoryReader, data: bytes, base_address: int, layout_name: str, *,
                       map_address: Optional[int] = None) -> List[DecodedIterator]:
    """The iterators in ``data`` (memory already read from ``base_address``), decoded,
    tried at every 8-byte-aligned address: exactly those ``iterator_candidate``
    accepts. Only survivors of the byte-level checks cost memory reads."""
    layout = classic_layout(layout_name)
    size = layout.hiter.sizeof()
    found = []
    from_bytes = int.from_bytes
    start = (-base_address) % POINTER_SIZE
    for at in range(start, len(data) - size + 1, POINTER_SIZE):
        if _raw_reason(data, at):
            continue
        # t must be an aligned pointer (zeroed memory passes the tests above)
        t = from_bytes(data[at + _T_AT:at + _T_AT + POINTER_SIZE], "little")
        if t < LOWEST_POINTER or t >= HIGHEST_POINTER or t & 7:
            continue
        words = _hiter_words(layout, data, at)
        if _cheap_reason(words):
            continue
        candidate = _judge(memory, base_address + at, layout, words, map_address)
        if candidate.accepted:
            found.append(candidate.iterator)
    return found
