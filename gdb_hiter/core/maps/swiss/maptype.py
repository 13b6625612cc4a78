"""The Swiss map type descriptor (``abi.SwissMapType`` / ``abi.MapType``): parsed and checked."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ...layouts.abitype import ABI_TYPE, KIND_MAP, kind_of
from ...memory import MemoryReader, UnreadableMemory
from ...layouts.swiss import (
    CTRL_WORD_SIZE, FLAG_INDIRECT_ELEM, FLAG_INDIRECT_KEY, GROUP_SLOTS, MAX_INLINE_ELEM,
    MAX_INLINE_KEY, POINTER_SIZE, flat_decoder, group_struct, is_split_group, swiss_layout,
)
from .common import BadMapType, KNOWN_FLAGS, MAX_GROUP_SIZE, MAX_INDIRECT_SIZE


# --------------------------------------------------------------------------
# The map type descriptor


@dataclass(frozen=True)
class SwissMapType:
    """Group geometry and flags of one map type, uniform over descriptor v1 and v2.

    For v1 descriptors (1.24 – 1.26, interleaved only) the geometry is
    ``KeysOff = 8``, ``KeyStride = ElemStride = SlotSize``, ``ElemsOff = 8 + ElemOff``,
    which is the formula of ``groupReference.key/elem`` in those versions.
    """

    key_size: int                 # Key.Size_: bytes of one key value
    elem_size: int                # Elem.Size_
    group_size: int
    keys_off: int                 # key(i) = group + keys_off + i * key_stride
    key_stride: int
    elems_off: int                # elem(i) = group + elems_off + i * elem_stride
    elem_stride: int
    flags: int
    address: Optional[int] = None
    descriptor: Dict[str, int] = field(default_factory=dict, compare=False)  # raw fields by Go name

    @property
    def indirect_key(self) -> bool:
        return bool(self.flags & FLAG_INDIRECT_KEY)

    @property
    def indirect_elem(self) -> bool:
        return bool(self.flags & FLAG_INDIRECT_ELEM)

    @property
    def key_slot_size(self) -> int:
        """Bytes the key takes inside the group: a pointer when stored indirectly."""
        return POINTER_SIZE if self.indirect_key else self.key_size

    @property
    def elem_slot_size(self) -> int:
        return POINTER_SIZE if self.indirect_elem else self.elem_size

    @property
    def split(self) -> bool:
        """True for GOEXPERIMENT=mapsplitgroup groups (keys, then elements)."""
        return is_split_group(self.keys_off, self.key_stride, self.elems_off, self.elem_stride)

    def key_offset(self, slot: int) -> int:
        return self.keys_off + slot * self.key_stride

    def elem_offset(self, slot: int) -> int:
        return self.elems_off + slot * self.elem_stride

    def group_struct(self):
        """The group as a construct Struct (``ctrl`` + ``slots`` or ``keys``/``elems``)."""
        return group_struct(self.group_size, self.keys_off, self.key_stride, self.elems_off, self.elem_stride,
                            self.key_slot_size, self.elem_slot_size)

    def problems(self) -> List[str]:
        """Why the geometry is inconsistent (empty when it is consistent)."""
        why: List[str] = []
        if self.flags & ~KNOWN_FLAGS:
            why.append(f"unknown flag bits {self.flags:#x}")
        if self.indirect_key != (self.key_size > MAX_INLINE_KEY):
            why.append(f"IndirectKey flag {self.indirect_key} but key size {self.key_size}")
        if self.indirect_elem != (self.elem_size > MAX_INLINE_ELEM):
            why.append(f"IndirectElem flag {self.indirect_elem} but element size {self.elem_size}")
        for what, size in (("key", self.key_size), ("element", self.elem_size)):
            if size > MAX_INDIRECT_SIZE:
                why.append(f"{what} size {size} exceeds {MAX_INDIRECT_SIZE}: not a real type")
        if not CTRL_WORD_SIZE < self.group_size <= MAX_GROUP_SIZE:
            why.append(f"GroupSize {self.group_size} out of range")
        if self.keys_off != CTRL_WORD_SIZE:
            why.append(f"keys start at {self.keys_off}, not right after the 8-byte ctrl word")
        if self.split:
            keys_end = self.keys_off + GROUP_SLOTS * self.key_stride
            elems_end = self.elems_off + GROUP_SLOTS * self.elem_stride
            if self.key_stride != self.key_slot_size or self.elem_stride != self.elem_slot_size:
                why.append(f"split strides {self.key_stride}/{self.elem_stride} differ from slot sizes "
                           f"{self.key_slot_size}/{self.elem_slot_size}")
            if not keys_end <= self.elems_off < keys_end + 8:
                why.append(f"ElemsOff {self.elems_off} does not follow the keys (end {keys_end})")
            if not elems_end <= self.group_size < elems_end + 9:
                why.append(f"GroupSize {self.group_size} does not fit keys and elements ending at {elems_end}")
        else:
            elem_in_slot = self.elems_off - self.keys_off
            if elem_in_slot < self.key_slot_size or elem_in_slot + self.elem_slot_size > self.key_stride:
                why.append(f"element at {elem_in_slot} does not fit a {self.key_stride}-byte slot after a "
                           f"{self.key_slot_size}-byte key")
            if self.group_size != CTRL_WORD_SIZE + GROUP_SLOTS * self.key_stride:
                why.append(f"GroupSize {self.group_size} != 8 + 8 * slot size {self.key_stride}")
        return why

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {
            "address": self.address,
            "key_size": self.key_size,
            "elem_size": self.elem_size,
            "group_size": self.group_size,
            "keys_off": self.keys_off,
            "key_stride": self.key_stride,
            "elems_off": self.elems_off,
            "elem_stride": self.elem_stride,
            "flags": self.flags,
            "indirect_key": self.indirect_key,
            "indirect_elem": self.indirect_elem,
            "split": self.split,
        }
        if self.descriptor:
            data["descriptor"] = dict(self.descriptor)
        return data

    @classmethod
    def from_sizes(cls, key_size: int, elem_size: int, *, key_align: Optional[int] = None,
                   elem_align: Optional[int] = None, split: bool = False,
                   extra_flags: int = 0) -> "SwissMapType":
        """The geometry the compiler gives ``map[K]V`` (reflectdata ``MapGroupType``).

        Alignments default to the natural alignment of the size (largest power
        of two ≤ 8 dividing it); pass the real ones for structs. Keys or
        elements over 128 bytes are stored as pointers. ``extra_flags`` adds
        NeedKeyUpdate / HashMightPanic, which the sizes cannot tell.
        """
        flags = extra_flags
        if key_size > MAX_INLINE_KEY:
            flags |= FLAG_INDIRECT_KEY
            key_slot, key_align = POINTER_SIZE, POINTER_SIZE
        else:
            key_slot, key_align = key_size, key_align or _natural_align(key_size)
        if elem_size > MAX_INLINE_ELEM:
            flags |= FLAG_INDIRECT_ELEM
            elem_slot, elem_align = POINTER_SIZE, POINTER_SIZE
        else:
            elem_slot, elem_align = elem_size, elem_align or _natural_align(elem_size)
        if split:
            keys_end = CTRL_WORD_SIZE + GROUP_SLOTS * key_slot
            elems_off = _align(keys_end, elem_align)
            end = elems_off + GROUP_SLOTS * elem_slot
            # Go pads a non-empty struct that ends in a zero-sized field by one byte
            group_size = _align(end + (1 if elem_slot == 0 else 0), POINTER_SIZE)
            return cls(key_size, elem_size, group_size, CTRL_WORD_SIZE, key_slot, elems_off, elem_slot, flags)
        elem_in_slot = _align(key_slot, elem_align)
        slot_end = elem_in_slot + elem_slot
        if elem_slot == 0 and slot_end > 0:
            slot_end += 1
        slot_size = _align(slot_end, max(key_align, elem_align))
        group_size = _align(CTRL_WORD_SIZE + GROUP_SLOTS * slot_size, POINTER_SIZE)
        return cls(key_size, elem_size, group_size, CTRL_WORD_SIZE, slot_size,
                   CTRL_WORD_SIZE + elem_in_slot, slot_size, flags)


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment if alignment > 1 else value


def _natural_align(size: int) -> int:
    alignment = 1
    while alignment < 8 and size and size % (alignment * 2) == 0:
        alignment *= 2
    return alignment


_ABI_TYPE_SIZE = ABI_TYPE.sizeof()


def _geometry(descriptor: Dict[str, int]) -> Tuple[int, int, int, int]:
    """(keys_off, key_stride, elems_off, elem_stride) from v1 or v2 descriptor fields."""
    if "KeysOff" in descriptor:  # descriptor v2 carries the geometry itself
        return descriptor["KeysOff"], descriptor["KeyStride"], descriptor["ElemsOff"], descriptor["ElemStride"]
    slot = descriptor["SlotSize"]  # v1: groupReference.key = 8 + i*SlotSize, elem = key + ElemOff
    return CTRL_WORD_SIZE, slot, CTRL_WORD_SIZE + descriptor["ElemOff"], slot


def parse_maptype(memory: MemoryReader, address: int, layout_name: str, *,
                  go_minor: Optional[int] = None) -> SwissMapType:
    """Read and check the map type descriptor at ``address`` (e.g. ``Iter.typ``).

    Reads the descriptor and the Key, Elem and Group type headers (four small
    reads). Raises ``BadMapType`` when it is not a consistent map type.
    """
    layout = swiss_layout(layout_name, go_minor)
    if not address or address % POINTER_SIZE:
        raise BadMapType(address, "null or misaligned address")
    try:
        raw = memory.read(address, layout.map_type.sizeof())
    except UnreadableMemory as error:
        raise BadMapType(address, str(error)) from error
    descriptor = flat_decoder(layout.map_type).decode(raw)
    header = descriptor.pop("Type")
    if kind_of(header["kind"]) != KIND_MAP:
        raise BadMapType(address, f"kind {kind_of(header['kind'])}, not map ({KIND_MAP})")
    if header["size"] != POINTER_SIZE:
        raise BadMapType(address, f"a map value is one pointer, but Size_ is {header['size']}")
    sizes = {}
    for which in ("Key", "Elem", "Group"):
        pointer = descriptor[which]
        if not pointer or pointer % POINTER_SIZE:
            raise BadMapType(address, f"{which} type pointer {pointer:#x} is null or misaligned")
        try:
            sizes[which] = flat_decoder(ABI_TYPE).decode(memory.read(pointer, _ABI_TYPE_SIZE))["size"]
        except UnreadableMemory as error:
            raise BadMapType(address, f"{which} type unreadable: {error}") from error
    if sizes["Group"] != descriptor["GroupSize"]:
        raise BadMapType(address, f"GroupSize {descriptor['GroupSize']} != Group.Size_ {sizes['Group']}")
    keys_off, key_stride, elems_off, elem_stride = _geometry(descriptor)
    maptype = SwissMapType(
        key_size=sizes["Key"], elem_size=sizes["Elem"], group_size=descriptor["GroupSize"],
        keys_off=keys_off, key_stride=key_stride, elems_off=elems_off, elem_stride=elem_stride,
        flags=descriptor["Flags"], address=address, descriptor=descriptor,
    )
    why = maptype.problems()
    if why:
        raise BadMapType(address, "; ".join(why))
    return maptype
