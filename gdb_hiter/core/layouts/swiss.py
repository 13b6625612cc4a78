"""Swiss-table map layouts (Go 1.24+) as data.

One ``SwissLayout`` per layout family of ``goversion.LAYOUT_RULES``. Field
names are the Go runtime's own, so ``layouts.fields.field_offsets`` of each
Struct can be compared with the DWARF of ``internal/runtime/maps.Map``,
``.table``, ``.Iter`` and ``internal/abi.SwissMapType`` / ``.MapType``.

Sources: ``$GOROOT/src/internal/runtime/maps/{map.go,table.go,group.go}``
and ``$GOROOT/src/internal/abi/map_swiss.go`` (1.24–1.25) / ``map.go``
(1.26+) of go1.24.11, go1.25.5, go1.26.6 and go1.27.3.

A minor version can add a field without moving the others: Go 1.25 puts
``tombstonePossible`` in what was a padding byte of ``Map``. Such fields are
listed with the first minor that has them (``MAP_FIELDS``), and a layout is
built for one minor, so decoders never branch on versions.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Sequence, Tuple

from construct import Array, Bytes, Construct, Int8ul, Int16ul, Int32ul, Int64sl, Int64ul, Padding, Struct

from .abitype import ABI_TYPE
from ..program.goversion import LAYOUT_RULES

# --- constants of internal/abi and internal/runtime/maps (identical 1.24 – 1.27)

GROUP_SLOTS = 8                  # abi.SwissMapGroupSlots / abi.MapGroupSlots
GROUP_SLOTS_BITS = 3
CTRL_WORD_SIZE = 8               # the ctrl word opens every group: groupSlotsOffset
CTRL_EMPTY = 0x80                # maps.ctrlEmpty
CTRL_DELETED = 0xFE              # maps.ctrlDeleted (a tombstone)
CTRL_WORD_EMPTY = 0x8080808080808080
MAX_INLINE_KEY = 128             # abi.MapMaxKeyBytes: larger keys are stored indirectly
MAX_INLINE_ELEM = 128            # abi.MapMaxElemBytes
MAX_TABLE_CAPACITY = 1024        # maps.maxTableCapacity: a fuller table splits instead of growing
MAX_AVG_GROUP_LOAD = 7           # maps.maxAvgGroupLoad (7/8)
POINTER_SIZE = 8

# abi.MapType Flags (SwissMap* names in 1.24 – 1.25)
FLAG_NEED_KEY_UPDATE = 1
FLAG_HASH_MIGHT_PANIC = 2
FLAG_INDIRECT_KEY = 4
FLAG_INDIRECT_ELEM = 8

GROUPS_REFERENCE = Struct(
    "data" / Int64ul,            # array of lengthMask+1 groups
    "lengthMask" / Int64ul,      # number of groups - 1
)

TABLE = Struct(
    "used" / Int16ul,
    "capacity" / Int16ul,        # (lengthMask+1) * 8, a power of two
    "growthLeft" / Int16ul,
    "localDepth" / Int8ul,
    Padding(1),
    "index" / Int64sl,           # first directory index; -1 when stale
    "groups" / GROUPS_REFERENCE,
)

ITER = Struct(
    "key" / Int64ul,             # nil means the iteration is over
    "elem" / Int64ul,
    "typ" / Int64ul,             # *abi.SwissMapType / *abi.MapType
    "m" / Int64ul,               # *Map; nil when the map was empty at Init
    "entryOffset" / Int64ul,     # random start slot
    "dirOffset" / Int64ul,       # random start directory index
    "clearSeq" / Int64ul,        # Map.clearSeq at Init
    "globalDepth" / Int8ul,      # Map.globalDepth at the last Next
    Padding(7),
    "dirIdx" / Int64sl,          # -1: the map was small at Init
    "tab" / Int64ul,             # table of the previous Next
    "group" / Int64ul,           # groupReference.data of the previous Next
    "entryIdx" / Int64ul,        # before adding entryOffset: low 3 bits slot, the rest group
)

# Map header fields: (name, construct, first minor that has the field). A field
# absent in a minor is padding there, so no other offset moves.
MAP_FIELDS: Tuple[Tuple[str, Construct, int], ...] = (
    ("used", Int64ul, 24),
    ("seed", Int64ul, 24),
    ("dirPtr", Int64ul, 24),
    ("dirLen", Int64sl, 24),
    ("globalDepth", Int8ul, 24),
    ("globalShift", Int8ul, 24),
    ("writing", Int8ul, 24),
    ("tombstonePossible", Int8ul, 25),
    (None, Padding(4), 24),
    ("clearSeq", Int64ul, 24),
)


def map_header_struct(go_minor: int) -> Struct:
    """``internal/runtime/maps.Map`` as it is in Go 1.``go_minor``."""
    members = []
    for name, sub, first_minor in MAP_FIELDS:
        if name is None:
            members.append(sub)
        elif go_minor >= first_minor:
            members.append(name / sub)
        else:
            members.append(Padding(sub.sizeof()))
    return Struct(*members)


_MAP_TYPE_HEAD = (
    "Type" / ABI_TYPE,
    "Key" / Int64ul,             # *abi.Type
    "Elem" / Int64ul,
    "Group" / Int64ul,           # the group type; Group.Size_ == GroupSize
    "Hasher" / Int64ul,          # func value
    "GroupSize" / Int64ul,
)

# abi.SwissMapType (1.24 – 1.25) / abi.MapType (1.26): one slot struct {key; elem} per slot
MAP_TYPE_V1 = Struct(
    *_MAP_TYPE_HEAD,
    "SlotSize" / Int64ul,
    "ElemOff" / Int64ul,         # element offset inside a slot
    "Flags" / Int32ul,
    Padding(4),
)

# abi.MapType (1.27): key(i) = group + KeysOff + i*KeyStride, elem(i) = group + ElemsOff + i*ElemStride,
# for interleaved and for GOEXPERIMENT=mapsplitgroup groups alike
MAP_TYPE_V2 = Struct(
    *_MAP_TYPE_HEAD,
    "KeysOff" / Int64ul,
    "KeyStride" / Int64ul,
    "ElemsOff" / Int64ul,
    "ElemStride" / Int64ul,
    "ElemOff" / Int64ul,         # interleaved only; 0 with mapsplitgroup
    "Flags" / Int32ul,
    Padding(4),
)

assert TABLE.sizeof() == 32 and ITER.sizeof() == 96 and GROUPS_REFERENCE.sizeof() == 16
assert map_header_struct(24).sizeof() == 48 and map_header_struct(25).sizeof() == 48
assert MAP_TYPE_V1.sizeof() == 112 and MAP_TYPE_V2.sizeof() == 136


@dataclass(frozen=True)
class MapTypeName:
    """Which DWARF type the map type descriptor is, from which minor."""

    first_minor: int
    dwarf_name: str


@dataclass(frozen=True)
class SwissFamily:
    name: str
    map_type: Struct
    map_type_names: Tuple[MapTypeName, ...]


FAMILIES: Dict[str, SwissFamily] = {
    "swiss-go1.24": SwissFamily(
        "swiss-go1.24", MAP_TYPE_V1,
        (MapTypeName(24, "internal/abi.SwissMapType"), MapTypeName(26, "internal/abi.MapType")),
    ),
    "swiss-go1.27": SwissFamily("swiss-go1.27", MAP_TYPE_V2, (MapTypeName(27, "internal/abi.MapType"),)),
}


class UnknownLayout(ValueError):
    """The layout family is not a Swiss one, or the minor is outside it."""


def family_minors(family: str) -> Tuple[int, int]:
    """First and last Go minor of a family, from ``goversion.LAYOUT_RULES``."""
    minors = [minor for rule in LAYOUT_RULES if rule.layout == family
              for minor in (rule.first_minor, rule.last_minor)]
    if not minors:
        raise UnknownLayout(f"{family!r} is not a layout family of goversion.LAYOUT_RULES")
    return min(minors), max(minors)


@dataclass(frozen=True)
class SwissLayout:
    """Every fixed-size Swiss runtime structure of one family at one minor."""

    family: str
    go_minor: int
    map_header: Struct
    table: Struct
    groups_reference: Struct
    iterator: Struct
    map_type: Struct
    map_type_dwarf_name: str

    @property
    def map_type_version(self) -> int:
        return 2 if "KeysOff" in {sub.name for sub in self.map_type.subcons} else 1


@lru_cache(maxsize=None)
def swiss_layout(family: str, go_minor: Optional[int] = None) -> SwissLayout:
    """The layout of ``family`` for Go 1.``go_minor`` (default: the family's newest minor).

    Without a minor the ``Map`` header of the newest minor is used; in an older
    minor a field it added reads as that minor's padding, which Go keeps zero.
    """
    if family not in FAMILIES:
        raise UnknownLayout(f"{family!r} is not a Swiss layout family (known: {', '.join(FAMILIES)})")
    first, last = family_minors(family)
    minor = last if go_minor is None else go_minor
    if not first <= minor <= last:
        raise UnknownLayout(f"go1.{minor} is outside layout family {family} (go1.{first} – go1.{last})")
    spec = FAMILIES[family]
    dwarf_name = [entry.dwarf_name for entry in spec.map_type_names if entry.first_minor <= minor][-1]
    return SwissLayout(
        family=family,
        go_minor=minor,
        map_header=map_header_struct(minor),
        table=TABLE,
        groups_reference=GROUPS_REFERENCE,
        iterator=ITER,
        map_type=spec.map_type,
        map_type_dwarf_name=dwarf_name,
    )


def group_struct(group_size: int, keys_off: int, key_stride: int, elems_off: int, elem_stride: int,
                 key_slot_size: int, elem_slot_size: int) -> Struct:
    """One group as a Struct, built from the map type descriptor's sizes.

    Interleaved groups (``KeyStride == ElemStride``, elements right after
    their keys) get ``ctrl`` + ``slots[8]{key, elem}``, as the compiler's
    ``noalg.map.group[K]V``; split groups (mapsplitgroup) get ``ctrl`` +
    ``keys[8]`` + ``elems[8]``.
    """
    interleaved = not is_split_group(keys_off, key_stride, elems_off, elem_stride)
    elem_in_slot = elems_off - keys_off
    members: List[Construct] = ["ctrl" / Int64ul]
    if keys_off > CTRL_WORD_SIZE:
        members.append(Padding(keys_off - CTRL_WORD_SIZE))
    if interleaved:
        slot = [("key" / Bytes(key_slot_size))]
        if elem_in_slot > key_slot_size:
            slot.append(Padding(elem_in_slot - key_slot_size))
        slot.append("elem" / Bytes(elem_slot_size))
        if key_stride > elem_in_slot + elem_slot_size:
            slot.append(Padding(key_stride - elem_in_slot - elem_slot_size))
        members.append("slots" / Array(GROUP_SLOTS, Struct(*slot)))
        used = keys_off + GROUP_SLOTS * key_stride
    else:
        members.append("keys" / Array(GROUP_SLOTS, _strided(key_slot_size, key_stride)))
        keys_end = keys_off + GROUP_SLOTS * key_stride
        if elems_off > keys_end:
            members.append(Padding(elems_off - keys_end))
        members.append("elems" / Array(GROUP_SLOTS, _strided(elem_slot_size, elem_stride)))
        used = elems_off + GROUP_SLOTS * elem_stride
    if group_size > used:
        members.append(Padding(group_size - used))
    return Struct(*members)


def is_split_group(keys_off: int, key_stride: int, elems_off: int, elem_stride: int) -> bool:
    """True for mapsplitgroup groups (all keys, then all elements).

    In an interleaved group both strides are the slot size and each element
    lies inside its slot, after the key.
    """
    interleaved = key_stride == elem_stride and 0 <= elems_off - keys_off < max(key_stride, 1)
    return not interleaved


def _strided(size: int, stride: int) -> Construct:
    return Bytes(size) if stride == size else Struct("value" / Bytes(size), Padding(stride - size))


# --- fast fixed-size decoding -------------------------------------------------
# construct parses a Struct in tens of microseconds; a map has one header per
# table and the stack scan tries thousands of positions. ``FlatDecoder``
# derives a ``struct.Struct`` from the same construct layout, so the layout
# stays written once, as data.


class FlatDecoder:
    """Decode a Struct of fixed-size integer fields (nested Structs allowed) into a dict."""

    def __init__(self, layout: Struct):
        formats: List[str] = []
        self._paths: List[Tuple[str, ...]] = []
        self._flatten(layout, (), formats)
        self.codec = struct.Struct("<" + "".join(formats))
        self.size = self.codec.size
        assert self.size == layout.sizeof(), "FlatDecoder disagrees with the construct layout"
        self.names = tuple(".".join(path) for path in self._paths)

    def _flatten(self, layout: Struct, prefix: Tuple[str, ...], formats: List[str]) -> None:
        for sub in layout.subcons:
            inner = getattr(sub, "subcon", sub)
            if sub.name is None:
                formats.append(f"{sub.sizeof()}x")
            elif isinstance(inner, Struct):
                self._flatten(inner, prefix + (sub.name,), formats)
            elif hasattr(inner, "fmtstr"):
                formats.append(inner.fmtstr.lstrip("<>=!"))
                self._paths.append(prefix + (sub.name,))
            else:
                raise TypeError(f"FlatDecoder cannot decode field {sub.name!r} ({type(inner).__name__})")

    def values(self, data: bytes, offset: int = 0) -> Tuple[int, ...]:
        """The field values in layout order (fastest)."""
        return self.codec.unpack_from(data, offset)

    def decode(self, data: bytes, offset: int = 0) -> Dict[str, Any]:
        """Field values by Go name; nested Structs become nested dicts."""
        result: Dict[str, Any] = {}
        for path, value in zip(self._paths, self.codec.unpack_from(data, offset)):
            target = result
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
        return result


@lru_cache(maxsize=None)
def flat_decoder(layout: Struct) -> FlatDecoder:
    return FlatDecoder(layout)


def field_offset(layout: Struct, name: str) -> int:
    """Offset of a top-level field (for code that needs a single field)."""
    position = 0
    for sub in layout.subcons:
        if sub.name == name:
            return position
        position += sub.sizeof()
    raise KeyError(name)


def ctrl_state(ctrl: int) -> Tuple[str, Optional[int]]:
    """A control byte as ``("full", h2)``, ``("empty", None)``, ``("deleted", None)`` or ``("invalid", None)``."""
    if ctrl < 0x80:
        return "full", ctrl
    if ctrl == CTRL_EMPTY:
        return "empty", None
    if ctrl == CTRL_DELETED:
        return "deleted", None
    return "invalid", None


def ctrl_states(ctrl_word: Sequence[int]) -> List[Tuple[str, Optional[int]]]:
    """The 8 control bytes of a group (slot 0 first), each classified by ``ctrl_state``."""
    return [ctrl_state(byte) for byte in ctrl_word]
