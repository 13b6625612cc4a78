"""Swiss-table maps (Go 1.24+) and their iterators, decoded from raw memory.

Pure core: reads only through a ``MemoryReader`` and never imports gdb.
Layouts come from ``swiss_layouts`` (one family per ``goversion`` rule);
the group geometry comes from the map type descriptor in memory.

Reads are bulk: the Map header, one read for the directory, one per table
header, one per group array (in chunks of at most ``READ_CHUNK`` bytes),
plus one per indirect key or element. Every walk is bounded.

Semantics follow ``internal/runtime/maps`` of go1.24.11 – go1.27.3
(map.go, table.go, group.go; ``Iter.Init`` / ``Iter.Next`` in table.go).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from itertools import compress, groupby
from typing import Any, Dict, List, Optional, Tuple, Union

from . import slotgrid
from .abitype import ABI_TYPE, KIND_MAP, kind_of
from .gcpause import cyclic_gc_paused
from .memory import MemoryReader, UnreadableMemory
from .model import DecodedMap, EntryColumns, Problem
from .swiss_layouts import (
    CTRL_WORD_SIZE, FLAG_HASH_MIGHT_PANIC, FLAG_INDIRECT_ELEM, FLAG_INDIRECT_KEY,
    FLAG_NEED_KEY_UPDATE, GROUP_SLOTS, MAX_INLINE_ELEM, MAX_INLINE_KEY, MAX_TABLE_CAPACITY, POINTER_SIZE,
    SwissLayout, flat_decoder, group_struct, is_split_group, swiss_layout,
)

MAX_DIRECTORY_LEN = 1 << 20      # more tables than this is corrupt memory, not a map
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


# --------------------------------------------------------------------------
# Map walk


def _signed(value: int) -> int:
    return value - (1 << 64) if value >> 63 else value


# An entry's location: the directory entries and ordinal of its table, its group and slot;
# a small map has one group and no table.
TABLE_PLACE_FIELDS = (("directory", list), ("table", int), ("group", int), ("slot", int))
SMALL_PLACE_FIELDS = (("group", int), ("slot", int))


class _WalkStopped(Exception):
    """Raised inside a walk after its Problem was recorded."""


class _MapWalk:
    """State of one ``decode_map`` call: entries, problems, counters, budget."""

    def __init__(self, memory: MemoryReader, maptype: SwissMapType, layout: SwissLayout,
                 limit: Optional[int], max_groups: int):
        self.memory = memory
        self.maptype = maptype
        self.layout = layout
        self.limit = limit
        self.groups_left = max_groups
        self.entries = EntryColumns(TABLE_PLACE_FIELDS)
        self.problems: List[Problem] = []
        self.limited = False          # stopped by ``limit``
        self.slot_counts = {"full": 0, "deleted": 0, "empty": 0, "invalid": 0}
        mt = maptype
        self.key_offsets = [mt.key_offset(slot) for slot in range(GROUP_SLOTS)]
        self.elem_offsets = [mt.elem_offset(slot) for slot in range(GROUP_SLOTS)]

    def stop(self, what: str, why: str, address: Optional[int] = None) -> None:
        self.problems.append(Problem(what, why, address))
        raise _WalkStopped()

    def read(self, address: int, size: int, what: str) -> bytes:
        try:
            return self.memory.read(address, size)
        except UnreadableMemory as error:
            self.stop("unreadable", f"{what}: {error}", address)
            raise  # not reached

    def count_slots(self, ctrls: bytes) -> Dict[str, int]:
        top_bit = ctrls.translate(_TOP_BIT).count(1)
        deleted = ctrls.count(0xFE)
        empty = ctrls.count(0x80)
        counts = {"full": len(ctrls) - top_bit, "deleted": deleted, "empty": empty,
                  "invalid": top_bit - deleted - empty}
        for name, value in counts.items():
            self.slot_counts[name] += value
        return counts

    def scan_groups(self, first_group_address: int, group_count: int, location: Dict[str, Any],
                    what: str) -> Tuple[bytes, List[str]]:
        """Read ``group_count`` groups and collect their full slots as entries.

        ``location`` is what every entry's location starts with (directory
        span and table ordinal, or nothing for a small map). Returns the
        groups' control bytes (8 per group, concatenated) and the per-group
        hex of those bytes.
        """
        group_size = self.maptype.group_size
        if group_count > self.groups_left:
            self.stop("walk-budget", f"{what}: {group_count} more groups exceed the walk budget "
                      f"(max_groups); raise it to read further", first_group_address)
        self.groups_left -= group_count
        per_chunk = max(1, READ_CHUNK // group_size)
        ctrl_parts: List[bytes] = []
        for chunk_first in range(0, group_count, per_chunk):
            if self.limited:
                break  # the limit was reached: read no further groups
            chunk_count = min(per_chunk, group_count - chunk_first)
            chunk_address = first_group_address + chunk_first * group_size
            data = self.read(chunk_address, chunk_count * group_size, f"{what}, groups {chunk_first}+")
            # the ctrl word opens each group: one strided slice of the chunk as 8-byte words
            chunk_ctrls = memoryview(data).cast("Q")[0::group_size // CTRL_WORD_SIZE].tobytes()
            ctrl_parts.append(chunk_ctrls)
            self._collect(data, chunk_ctrls, chunk_address, chunk_first, location)
        ctrls = b"".join(ctrl_parts)
        hexes = ctrls.hex()
        width = 2 * CTRL_WORD_SIZE
        return ctrls, [hexes[at:at + width] for at in range(0, len(hexes), width)]

    def _collect(self, data: bytes, ctrls: bytes, chunk_address: int, first_group: int,
                 location: Dict[str, Any]) -> None:
        """Entries of the full slots in one chunk of groups (``ctrls``: their control words
        end to end): the hot path, one ``compress`` over a flag per slot."""
        mt = self.maptype
        group_size = mt.group_size
        positions = list(compress(range(len(ctrls)), ctrls.translate(_FULL_CTRL)))
        if not positions:
            return
        directory, table = location.get("directory"), location.get("table")
        entries = self.entries
        if mt.indirect_key or mt.indirect_elem or table is None or (
                self.limit is not None and len(entries) + len(positions) > self.limit):
            for group, slots in groupby(positions, key=slotgrid.UNIT_OF_POSITION):
                self._collect_slow(data, group * group_size, tuple(map(slotgrid.SLOT_OF_POSITION, slots)),
                                   chunk_address + group * group_size, first_group + group, location)
                if self.limited:
                    return
            return
        key_at_of, elem_at_of = slotgrid.offset_tables(group_size, self.key_offsets, self.elem_offsets,
                                                        len(ctrls) // CTRL_WORD_SIZE)
        key_ats = list(map(key_at_of.__getitem__, positions))
        elem_ats = list(map(elem_at_of.__getitem__, positions))
        key_slot, elem_slot = mt.key_slot_size, mt.elem_slot_size
        count = len(positions)
        entries.add_run(chunk_address, key_ats, elem_ats, [data[at:at + key_slot] for at in key_ats],
                        [data[at:at + elem_slot] for at in elem_ats],
                        ([directory] * count, [table] * count,
                         list(map(first_group.__add__, map(slotgrid.UNIT_OF_POSITION, positions))),
                         list(map(slotgrid.SLOT_OF_POSITION, positions))))

    def _collect_slow(self, data: bytes, base: int, slots: Tuple[int, ...], group_address: int, group_index: int,
                      location: Dict[str, Any]) -> None:
        """One group's entries with every case handled: indirect slots, the limit, small maps."""
        mt = self.maptype
        entries = self.entries
        for slot in slots:
            if self.limit is not None and len(entries) >= self.limit:
                self.limited = True
                return
            key_at = base + self.key_offsets[slot]
            elem_at = base + self.elem_offsets[slot]
            key = data[key_at:key_at + mt.key_slot_size]
            value = data[elem_at:elem_at + mt.elem_slot_size]
            key_address = group_address + self.key_offsets[slot]
            value_address = group_address + self.elem_offsets[slot]
            place = tuple(location.values()) + (group_index, slot)
            if mt.indirect_key:
                key_address, key = self._follow(key, mt.key_size, "key", place)
            if mt.indirect_elem:
                value_address, value = self._follow(value, mt.elem_size, "element", place)
            entries.append(key_address, value_address, key, value, place)

    def _follow(self, slot_bytes: bytes, size: int, what: str, place: tuple) -> Tuple[int, bytes]:
        pointer = int.from_bytes(slot_bytes, "little")
        try:
            return pointer, self.memory.read(pointer, size) if size else b""
        except UnreadableMemory as error:
            location = dict(zip(self.entries.place_names, place))
            self.problems.append(Problem("indirect-unreadable", f"indirect {what} of {location}: {error}", pointer))
            return pointer, b""




def _base_detail(layout: SwissLayout, maptype: SwissMapType, shape: str) -> Dict[str, Any]:
    return {"layout": layout.family, "go_minor": layout.go_minor, "shape": shape, "maptype": maptype.to_json()}


def decode_map(memory: MemoryReader, map_address: int, maptype: Union[SwissMapType, int], layout_name: str, *,
               limit: Optional[int] = None, go_minor: Optional[int] = None,
               max_groups: int = DEFAULT_MAX_GROUPS) -> DecodedMap:
    """Decode the ``internal/runtime/maps.Map`` at ``map_address`` (the map variable's value).

    ``maptype`` is a ``SwissMapType`` or the address of the type descriptor
    (then ``BadMapType`` is raised if it is not one); a nil map (address 0)
    raises ``NilMap``, as in the classic decoder. ``limit`` stops after
    that many entries (``complete=False``); ``max_groups`` bounds the groups
    read. Problems in the map never raise: they are recorded and, when the
    walk cannot go on safely, stop it (``complete=False``).

    ``header`` holds the Map fields by Go name. ``detail``::

        layout, go_minor, maptype (SwissMapType.to_json())
        shape: "empty" (dirPtr nil) | "small" (dirLen 0) | "tables" | "unreadable"
        slots: {full, deleted, empty, invalid}            # over every group read
        small_group: {address, ctrl: "<16 hex>", slots}   # shape "small"
        directory: {address, length, global_depth,        # shape "tables"
                    runs: [[first, last, table ordinal], ...]}
        tables: [{used, capacity, growthLeft, localDepth, index, groups: {data, lengthMask},
                  address, directory: [first, last], stale, slots, group_ctrls: ["<16 hex>", ...]}]

    Entry locations: ``{"directory": [first, last], "table": n, "group": g,
    "slot": s}``, or ``{"group": 0, "slot": s}`` in a small map.
    """
    layout = swiss_layout(layout_name, go_minor)
    if not isinstance(maptype, SwissMapType):
        maptype = parse_maptype(memory, maptype, layout_name, go_minor=go_minor)
    impl = "swiss-split" if maptype.split else "swiss"
    if map_address == 0:
        raise NilMap("nil map (Map address 0): it has no entries and no groups")
    with cyclic_gc_paused():
        return _decode_map(memory, map_address, maptype, layout, impl, limit, max_groups)


def _decode_map(memory: MemoryReader, map_address: int, maptype: SwissMapType, layout: SwissLayout, impl: str,
                limit: Optional[int], max_groups: int) -> DecodedMap:
    walk = _MapWalk(memory, maptype, layout, limit, max_groups)
    try:
        raw_header = memory.read(map_address, layout.map_header.sizeof())
    except UnreadableMemory as error:
        return DecodedMap(map_address, impl, 0, {}, problems=[Problem("unreadable", f"Map header: {error}",
                                                                      map_address)],
                          detail=_base_detail(layout, maptype, "unreadable"), complete=False)
    header = flat_decoder(layout.map_header).decode(raw_header)
    used = header["used"]
    if header["writing"]:
        walk.problems.append(Problem("map-writing", "Map.writing is set: a goroutine is in the middle of a "
                                     "write, so the map may be inconsistent", map_address))
    if not header["dirPtr"]:
        shape = "empty"
        detail = _base_detail(layout, maptype, shape)
        walked = True
    elif header["dirLen"] == 0:
        shape = "small"
        detail = _base_detail(layout, maptype, shape)
        walked = _walk_small(walk, header, detail)
    else:
        shape = "tables"
        detail = _base_detail(layout, maptype, shape)
        walked = _walk_directory(walk, header, detail)
    detail["slots"] = dict(walk.slot_counts)
    complete = walked and not walk.limited
    if walked and not walk.limited:
        _check_counts(walk, header, detail, map_address)
    return DecodedMap(map_address, impl, used, header, walk.entries, walk.problems, detail, complete)


def _walk_small(walk: _MapWalk, header: Dict[str, Any], detail: Dict[str, Any]) -> bool:
    """A small map: ``dirPtr`` is one group of at most 8 entries."""
    group_address = header["dirPtr"]
    walk.entries = EntryColumns(SMALL_PLACE_FIELDS)
    try:
        ctrls, ctrl_hex = walk.scan_groups(group_address, 1, {}, "small map group")
    except _WalkStopped:
        return False
    counts = walk.count_slots(ctrls)
    detail["small_group"] = {"address": group_address, "ctrl": ctrl_hex[0], "slots": counts}
    if counts["deleted"]:
        walk.problems.append(Problem("small-tombstone", f"the small-map group holds {counts['deleted']} "
                                     "tombstones, which small maps never have", group_address))
    return True


def _directory_runs(table_pointers: Tuple[int, ...]) -> List[Tuple[int, int, int]]:
    """Consecutive directory entries holding the same table: (pointer, first, last)."""
    runs: List[Tuple[int, int, int]] = []
    first = 0
    for index in range(1, len(table_pointers) + 1):
        if index == len(table_pointers) or table_pointers[index] != table_pointers[first]:
            runs.append((table_pointers[first], first, index - 1))
            first = index
    return runs


def _walk_directory(walk: _MapWalk, header: Dict[str, Any], detail: Dict[str, Any]) -> bool:
    dir_ptr, dir_len = header["dirPtr"], header["dirLen"]
    global_depth = header["globalDepth"]
    try:
        if not 0 < dir_len <= MAX_DIRECTORY_LEN:
            walk.stop("directory-absurd", f"dirLen {dir_len} is outside 1..{MAX_DIRECTORY_LEN}", dir_ptr)
        if global_depth >= 64 or dir_len != 1 << global_depth:
            walk.stop("directory-absurd", f"dirLen {dir_len} != 1 << globalDepth ({global_depth})", dir_ptr)
        if header["globalShift"] != 64 - global_depth:
            walk.problems.append(Problem("directory-inconsistent", f"globalShift {header['globalShift']} != "
                                         f"64 - globalDepth ({global_depth})", dir_ptr))
        pointers = struct.unpack(f"<{dir_len}Q", _read_chunked(walk, dir_ptr, dir_len * POINTER_SIZE, "directory"))
        runs = _directory_runs(pointers)
        detail["directory"] = {"address": dir_ptr, "length": dir_len, "global_depth": global_depth,
                               "runs": [[first, last, ordinal] for ordinal, (_, first, last) in enumerate(runs)]}
        detail["tables"] = tables = []
        seen: Dict[int, int] = {}
        for ordinal, (table_address, first, last) in enumerate(runs):
            if walk.limited:
                break
            if table_address in seen:
                walk.problems.append(Problem(
                    "directory-inconsistent", f"table {table_address:#x} fills directory entries "
                    f"{first}..{last} and also entries of table #{seen[table_address]}: a table's entries "
                    "must be consecutive", dir_ptr + first * POINTER_SIZE))
                detail["directory"]["runs"][ordinal][2] = seen[table_address]
                continue
            seen[table_address] = ordinal
            tables.append(_walk_table(walk, header, table_address, first, last, len(tables)))
        return True
    except _WalkStopped:
        return False


def _read_chunked(walk: _MapWalk, address: int, size: int, what: str) -> bytes:
    return b"".join(walk.read(address + offset, min(READ_CHUNK, size - offset), what)
                    for offset in range(0, size, READ_CHUNK))


def _walk_table(walk: _MapWalk, header: Dict[str, Any], address: int, first: int, last: int,
                ordinal: int) -> Dict[str, Any]:
    where = f"table #{ordinal} at {address:#x} (directory {first}..{last})"
    if not address or address % POINTER_SIZE:
        walk.stop("table-absurd", f"{where}: null or misaligned table pointer", address)
    table = flat_decoder(walk.layout.table).decode(walk.read(address, walk.layout.table.sizeof(), where))
    groups = table["groups"]
    capacity, length_mask = table["capacity"], groups["lengthMask"]
    global_depth = header["globalDepth"]
    if length_mask + 1 > MAX_TABLE_CAPACITY // GROUP_SLOTS or length_mask & (length_mask + 1):
        walk.stop("table-absurd", f"{where}: lengthMask {length_mask:#x} is not 2^n-1 with at most "
                  f"{MAX_TABLE_CAPACITY // GROUP_SLOTS} groups", address)
    if capacity != (length_mask + 1) * GROUP_SLOTS:
        walk.stop("table-absurd", f"{where}: capacity {capacity} != (lengthMask+1)*8 = "
                  f"{(length_mask + 1) * GROUP_SLOTS}", address)
    if table["used"] > capacity or table["growthLeft"] > capacity:
        walk.stop("table-absurd", f"{where}: used {table['used']} / growthLeft {table['growthLeft']} exceed "
                  f"capacity {capacity}", address)
    if not groups["data"] or groups["data"] % POINTER_SIZE:
        walk.stop("table-absurd", f"{where}: groups pointer {groups['data']:#x} is null or misaligned", address)
    if table["localDepth"] > global_depth:
        walk.stop("table-absurd", f"{where}: localDepth {table['localDepth']} > globalDepth {global_depth}",
                  address)
    stale = table["index"] == -1
    if stale:
        walk.problems.append(Problem("stale-table", f"{where} is stale (index -1): grow or split replaced it, "
                                     "but the directory still points at it (write in progress?)", address))
    else:
        span = 1 << (global_depth - table["localDepth"])
        if table["index"] != first or last - first + 1 != span:
            walk.problems.append(Problem(
                "directory-inconsistent", f"{where}: index {table['index']} and localDepth "
                f"{table['localDepth']} say directory {table['index']}..{table['index'] + span - 1}", address))
    location = {"directory": [first, last], "table": ordinal}
    ctrls, ctrl_hex = walk.scan_groups(groups["data"], length_mask + 1, location, where)
    counts = walk.count_slots(ctrls)
    if counts["full"] != table["used"] and not walk.limited:
        walk.problems.append(Problem("table-count-mismatch", f"{where}: table.used is {table['used']} but "
                                     f"{counts['full']} slots are full", address))
    if counts["invalid"]:
        walk.problems.append(Problem("invalid-ctrl", f"{where}: {counts['invalid']} control bytes are neither "
                                     "full, empty (0x80) nor deleted (0xFE)", address))
    result = dict(table)
    result.update({"address": address, "directory": [first, last], "stale": stale, "slots": counts,
                   "group_ctrls": ctrl_hex})
    return result


def _check_counts(walk: _MapWalk, header: Dict[str, Any], detail: Dict[str, Any], map_address: int) -> None:
    used = header["used"]
    table_used = sum(table["used"] for table in detail.get("tables", ()))
    mismatches = []
    full = walk.slot_counts["full"]
    if full != used:
        mismatches.append(f"{full} slots are full ({full - used:+d})")
    if "tables" in detail and table_used != used:
        mismatches.append(f"the tables' used fields add up to {table_used} ({table_used - used:+d})")
    if not mismatches:
        return
    if header["writing"]:
        likely = "a write was in progress (Map.writing is set)"
    elif any(problem.what in ("stale-table", "directory-inconsistent") for problem in walk.problems):
        likely = "the directory is inconsistent (a grow or split in progress, or stale memory)"
    else:
        likely = "the map changed while it was read, or this memory is not a live map"
    walk.problems.append(Problem("count-mismatch", f"Map.used is {used} but " + " and ".join(mismatches)
                                 + f"; likely {likely}", map_address))


# --------------------------------------------------------------------------
# Iterators


ITER_STATES = ("uninitialized", "starting", "empty-map", "finished", "active")   # ``state_detail``

# The three states every decoder reports (``state``), from this decoder's finer names.
STATE_OF_DETAIL = {
    "uninitialized": "not-started",   # typ == 0: Init has not run (the temporary is zeroed)
    "starting": "not-started",        # after Init, before the first Next
    "active": "in-progress",          # key/elem name the current entry
    "empty-map": "finished",          # Init on a nil or empty map: Next yields nothing
    "finished": "finished",           # Next returned the last entry and cleared key
}


class UnreadableIterator(ValueError):
    """The Iter itself cannot be read; the message is one line."""


@dataclass
class SwissIterator:
    """One ``internal/runtime/maps.Iter`` with what its fields mean right now.

    ``to_json()`` has the keys every decoder's iterator has (address, impl,
    layout, map_address, state, stale, map_grew_since_start,
    cleared_since_start, position, current, remaining, fields, map,
    problems: see docs/iterators.md, "The iterator JSON") plus::

        state_detail ("uninitialized" | "starting" | "empty-map" | "finished" | "active"), maptype
        # with a map (state finished or active):
        clear: {iterator_clear_seq, map_clear_seq, cleared_since_start}
        current: {key_address, elem_address, key, elem, group_address, slot, in_iterator_group}
                 | None when finished
        mode: "small" | "tables"
        remaining: {entries, buckets: None, exact, tables_after_current}   # what Next has still to visit
        # mode "small" (dirIdx == -1):
        start: {entry_offset, first_slot}, next: {entry_idx, slot} | None,
        group: {address, is_map_group, map_grown_to_tables}
        # mode "tables":
        start: {entry_offset, dir_offset},
        directory_growth: {iterator_global_depth, map_global_depth, grew},
        directory: {dir_idx, effective_dir_idx, dir_offset, effective_dir_offset, length, index},
        table: {address, header, stale, in_directory: [first, last] | None, is_current,
                current_group, first_entry: {group, slot}, next: {entry_idx, group, slot} | None}
    """

    address: int
    layout: str
    fields: Dict[str, int]                    # Iter fields by Go name, as in memory
    state_detail: str                         # one of ITER_STATES
    maptype: Optional[SwissMapType] = None
    map_header: Optional[Dict[str, Any]] = None
    interpretation: Dict[str, Any] = field(default_factory=dict)
    problems: List[Problem] = field(default_factory=list)

    @property
    def impl(self) -> str:
        return "swiss-split" if self.maptype is not None and self.maptype.split else "swiss"

    @property
    def state(self) -> str:
        """"not-started" | "in-progress" | "finished" (the same three for every decoder)."""
        return STATE_OF_DETAIL[self.state_detail]

    @property
    def map_address(self) -> Optional[int]:
        return self.fields["m"] or None

    @property
    def stale(self) -> bool:
        """It walks a group (small at Init) or a table that is no longer the map's."""
        info = self.interpretation
        if info.get("mode") == "small":
            return not info["group"]["is_map_group"]
        table = info.get("table")
        return bool(table and table["stale"])

    @property
    def map_grew_since_start(self) -> bool:
        """The small map became tables, the directory grew, or the iterator's table was replaced."""
        info = self.interpretation
        if info.get("mode") == "small":
            return bool(info["group"]["map_grown_to_tables"])
        if info.get("mode") == "tables":
            table = info.get("table")
            return bool((info.get("directory_growth") or {}).get("grew") or (table and table["stale"]))
        return False

    @property
    def cleared_since_start(self) -> Optional[bool]:
        clear = self.interpretation.get("clear")
        return clear["cleared_since_start"] if clear else None

    def position(self) -> Dict[str, Any]:
        fields, info = self.fields, self.interpretation
        current = info.get("current")
        if info.get("mode") == "small":
            group = 0
        else:
            group = (info.get("table") or {}).get("current_group")
        return {
            "dir_idx": fields["dirIdx"] if fields["dirIdx"] >= 0 else None,
            "entry_idx": fields["entryIdx"],
            "table": fields["tab"] or None,
            "group": group if current else None,
            "slot": current["slot"] if current else None,
        }

    def remaining(self) -> Dict[str, Any]:
        remaining = self.interpretation.get("remaining")
        if remaining is not None:
            return {"entries": remaining["entries"], "buckets": None, "exact": remaining["exact"],
                    "tables_after_current": remaining["tables_after_current"]}
        if self.state_detail == "empty-map":
            return {"entries": 0, "buckets": None, "exact": True}
        return {"entries": None, "buckets": None, "exact": False}

    def to_json(self) -> Dict[str, Any]:
        current = self.interpretation.get("current")
        if current is None and self.state_detail == "active":   # the map could not be read
            current = {"key_address": self.fields["key"], "elem_address": self.fields["elem"]}
        data: Dict[str, Any] = {
            "address": self.address,
            "impl": self.impl,
            "layout": self.layout,
            "map_address": self.map_address,
            "state": self.state,
            "state_detail": self.state_detail,
            "stale": self.stale,
            "map_grew_since_start": self.map_grew_since_start,
            "cleared_since_start": self.cleared_since_start,
            "position": self.position(),
            "fields": dict(self.fields),
            "map": dict(self.map_header, address=self.fields["m"]) if self.map_header else None,
            "maptype": self.maptype.to_json() if self.maptype else None,
        }
        data.update(self.interpretation)
        data["current"] = dict(current) if current else None
        data["remaining"] = self.remaining()
        data["problems"] = [problem.to_json() for problem in self.problems]
        return data


def _iter_state(fields: Dict[str, int]) -> str:
    if not fields["typ"]:
        return "uninitialized"      # Init has not run (the compiler zeroes the temporary)
    if not fields["m"]:
        return "empty-map"          # the map was nil or empty at Init: Next yields nothing
    if fields["key"]:
        return "active"
    # Next clears key only when it is done: a small map's walk ends with entryIdx 8, a directory
    # walk with dirIdx past the directory (>= 1). Before the first Next, Init left them at 0
    # (and tab nil: between tables Next never returns).
    if fields["dirIdx"] < 0:
        return "starting" if fields["entryIdx"] < GROUP_SLOTS else "finished"
    return "starting" if fields["dirIdx"] == 0 and not fields["tab"] else "finished"


def decode_iterator(memory: MemoryReader, iter_address: int, layout_name: str, *,
                    go_minor: Optional[int] = None, maptype: Optional[SwissMapType] = None) -> SwissIterator:
    """Decode the ``maps.Iter`` at ``iter_address`` and interpret it against the live map.

    Reads the Iter, its map type (``typ``, unless ``maptype`` is given), the
    Map header (``m``), the directory, the table headers still ahead of it
    and the control words of its current table. Raises ``UnreadableIterator``
    (a ``ValueError``) only when the Iter itself cannot be read; other unreadable parts become
    Problems.
    """
    layout = swiss_layout(layout_name, go_minor)
    try:
        raw = memory.read(iter_address, layout.iterator.sizeof())
    except UnreadableMemory as error:
        raise UnreadableIterator(f"maps.Iter at {iter_address:#x} unreadable: {error}") from None
    return _decode_iterator_fields(memory, iter_address, layout, flat_decoder(layout.iterator).decode(raw), maptype)


def _decode_iterator_fields(memory: MemoryReader, iter_address: int, layout: SwissLayout, fields: Dict[str, int],
                            maptype: Optional[SwissMapType]) -> SwissIterator:
    iterator = SwissIterator(iter_address, layout.family, fields, _iter_state(fields))
    if iterator.state_detail == "uninitialized":
        return iterator
    try:
        iterator.maptype = maptype or parse_maptype(memory, fields["typ"], layout.family, go_minor=layout.go_minor)
    except BadMapType as error:
        iterator.problems.append(Problem("bad-map-type", str(error), fields["typ"]))
        return iterator
    if iterator.state_detail == "empty-map":
        return iterator
    try:
        iterator.map_header = flat_decoder(layout.map_header).decode(
            memory.read(fields["m"], layout.map_header.sizeof()))
    except UnreadableMemory as error:
        iterator.problems.append(Problem("unreadable", f"Map header: {error}", fields["m"]))
        return iterator
    _interpret(iterator, _IterReader(memory, layout, iterator))
    return iterator


class _IterReader:
    """Reads for one iterator decode, turning failures into Problems."""

    def __init__(self, memory: MemoryReader, layout: SwissLayout, iterator: SwissIterator):
        self.memory = memory
        self.layout = layout
        self.iterator = iterator
        self.tables: Dict[int, Dict[str, Any]] = {}

    def read(self, address: int, size: int, what: str) -> Optional[bytes]:
        try:
            return self.memory.read(address, size)
        except UnreadableMemory as error:
            self.iterator.problems.append(Problem("unreadable", f"{what}: {error}", address))
            return None

    def table(self, address: int) -> Optional[Dict[str, Any]]:
        if address not in self.tables:
            raw = self.read(address, self.layout.table.sizeof(), "table header")
            if raw is None:
                return None
            table = flat_decoder(self.layout.table).decode(raw)
            capacity, length_mask = table["capacity"], table["groups"]["lengthMask"]
            if capacity > MAX_TABLE_CAPACITY or capacity != (length_mask + 1) * GROUP_SLOTS:
                self.iterator.problems.append(Problem("table-absurd", f"table at {address:#x}: capacity "
                                                      f"{capacity}, lengthMask {length_mask:#x}", address))
                return None
            self.tables[address] = table
        return self.tables[address]

    def ctrl_bytes(self, first_group: int, group_count: int) -> Optional[bytes]:
        """The control bytes of ``group_count`` consecutive groups (one bulk read)."""
        group_size = self.iterator.maptype.group_size
        raw = self.read(first_group, group_count * group_size, "groups")
        if raw is None:
            return None
        return b"".join(raw[index * group_size:index * group_size + CTRL_WORD_SIZE] for index in range(group_count))


def _slot_of(pointer: int, group: int, maptype: SwissMapType,
             key_slots: Optional[List[int]] = None) -> Optional[int]:
    """Which slot of ``group`` a key pointer from ``Iter.key`` names, if it is in that group.

    ``key_slots`` are the pointers stored in the group's key slots when keys
    are indirect: then ``Iter.key`` is one of them.
    """
    if key_slots is not None:
        return key_slots.index(pointer) if pointer and pointer in key_slots else None
    offset = pointer - group - maptype.keys_off
    if group and offset >= 0 and (maptype.key_stride == 0 or offset % maptype.key_stride == 0):
        slot = offset // maptype.key_stride if maptype.key_stride else 0
        return slot if slot < GROUP_SLOTS else None
    return None


def _key_slot_pointers(reader: _IterReader, group: int, maptype: SwissMapType) -> Optional[List[int]]:
    if not maptype.indirect_key or not group:
        return None
    raw = reader.read(group, maptype.group_size, "iterator group")
    if raw is None:
        return None
    return [int.from_bytes(raw[maptype.key_offset(slot):maptype.key_offset(slot) + POINTER_SIZE], "little")
            for slot in range(GROUP_SLOTS)]


def _interpret(iterator: SwissIterator, reader: _IterReader) -> None:
    fields, header, maptype = iterator.fields, iterator.map_header, iterator.maptype
    info = iterator.interpretation
    info["clear"] = {"iterator_clear_seq": fields["clearSeq"], "map_clear_seq": header["clearSeq"],
                     "cleared_since_start": fields["clearSeq"] != header["clearSeq"]}
    if header["writing"]:
        iterator.problems.append(Problem("map-writing", "Map.writing is set: Next would fatal with "
                                         "'concurrent map iteration and map write'", fields["m"]))
    finished = iterator.state_detail == "finished"
    key_slots = _key_slot_pointers(reader, fields["group"], maptype)
    no_current = finished or not fields["key"]   # finished, or before the first Next
    current_slot = None if no_current else _slot_of(fields["key"], fields["group"], maptype, key_slots=key_slots)
    info["current"] = None if no_current else {
        "key_address": fields["key"], "elem_address": fields["elem"],
        "key": fields["key"], "elem": fields["elem"], "group_address": fields["group"] or None,
        "slot": current_slot, "in_iterator_group": current_slot is not None,
    }
    if fields["dirIdx"] < 0:
        _interpret_small(iterator, reader, finished)
    else:
        _interpret_tables(iterator, reader, finished)


def _interpret_small(iterator: SwissIterator, reader: _IterReader, finished: bool) -> None:
    """The map was small at Init: Next walks the 8 slots of ``Iter.group`` from ``entryOffset``."""
    fields, header = iterator.fields, iterator.map_header
    info = iterator.interpretation
    entry_idx, entry_offset = fields["entryIdx"], fields["entryOffset"]
    grown = header["dirLen"] > 0
    info["mode"] = "small"
    info["start"] = {"entry_offset": entry_offset, "first_slot": entry_offset % GROUP_SLOTS}
    info["group"] = {"address": fields["group"], "is_map_group": fields["group"] == header["dirPtr"],
                     "map_grown_to_tables": grown}
    info["next"] = None if finished or entry_idx >= GROUP_SLOTS else {
        "entry_idx": entry_idx, "slot": (entry_idx + entry_offset) % GROUP_SLOTS}
    remaining = 0
    ctrl = reader.ctrl_bytes(fields["group"], 1) if fields["group"] and not finished else None
    if ctrl is not None:
        remaining = sum(1 for index in range(entry_idx, GROUP_SLOTS)
                        if not ctrl[(index + entry_offset) % GROUP_SLOTS] & 0x80)
    # after a grow Next re-looks up every key in the live tables and skips deleted ones
    exact = not grown and not info["clear"]["cleared_since_start"]
    info["remaining"] = {"entries": remaining, "exact": exact and (ctrl is not None or finished),
                         "tables_after_current": 0}


def _interpret_tables(iterator: SwissIterator, reader: _IterReader, finished: bool) -> None:
    """The map had tables at Init: Next walks directory entries, then each table's slots."""
    fields, header = iterator.fields, iterator.map_header
    info = iterator.interpretation
    map_depth, iter_depth = header["globalDepth"], fields["globalDepth"]
    dir_len = header["dirLen"]
    info["mode"] = "tables"
    info["directory_growth"] = {"iterator_global_depth": iter_depth, "map_global_depth": map_depth,
                                "grew": iter_depth != map_depth}
    if not 0 < dir_len <= MAX_DIRECTORY_LEN or map_depth >= 64 or dir_len != 1 << map_depth:
        iterator.problems.append(Problem("directory-absurd", f"dirLen {dir_len}, globalDepth {map_depth}",
                                         fields["m"]))
        return
    if iter_depth > map_depth:
        iterator.problems.append(Problem("iterator-inconsistent", f"Iter.globalDepth {iter_depth} > "
                                         f"Map.globalDepth {map_depth}: a directory never shrinks",
                                         iterator.address))
        return
    # Next first rescales dirIdx and dirOffset when the directory grew (Iter.Next)
    orders = map_depth - iter_depth
    dir_idx = fields["dirIdx"] << orders
    dir_offset = (fields["dirOffset"] << orders) & U64
    dir_mask = dir_len - 1
    raw_directory = reader.read(header["dirPtr"], dir_len * POINTER_SIZE, "directory")
    if raw_directory is None:
        return
    directory = struct.unpack(f"<{dir_len}Q", raw_directory)
    info["directory"] = {"dir_idx": fields["dirIdx"], "effective_dir_idx": dir_idx,
                         "dir_offset": fields["dirOffset"], "effective_dir_offset": dir_offset,
                         "length": dir_len,
                         "index": None if finished or dir_idx >= dir_len else (dir_idx + dir_offset) & dir_mask}
    info["start"] = {"entry_offset": fields["entryOffset"], "dir_offset": fields["dirOffset"]}
    remaining, exact = 0, not info["clear"]["cleared_since_start"]
    next_dir_idx = dir_idx
    tab_address = fields["tab"]
    if tab_address:
        tab = reader.table(tab_address)
        if tab is None:
            return
        in_directory = [index for index, pointer in enumerate(directory) if pointer == tab_address]
        stale = tab["index"] == -1
        at_position = directory[info["directory"]["index"]] if info["directory"]["index"] is not None else None
        info["table"] = {
            "address": tab_address, "header": tab, "stale": stale,
            "in_directory": [in_directory[0], in_directory[-1]] if in_directory else None,
            "is_current": at_position == tab_address,
        }
        if stale:
            exact = False  # Next re-looks up each key of the old table in the live map
        remaining_here, entry_info = _table_remaining(iterator, reader, tab, finished)
        if remaining_here is None:
            exact = False
        else:
            remaining += remaining_here
        info["table"].update(entry_info)
        next_dir_idx = dir_idx + (1 << (map_depth - tab["localDepth"]))
    # later tables, resolved the way Next resolves them (including its dirOffset realignment)
    tables_after = 0
    index = next_dir_idx
    while not finished and index < dir_len:
        position = (index + dir_offset) & dir_mask
        table = reader.table(directory[position])
        if table is None:
            exact = False
            break
        if table["index"] != position and table["index"] >= 0:
            dir_offset = (dir_offset - (position - table["index"])) & U64
        remaining += table["used"]
        tables_after += 1
        index += 1 << max(0, map_depth - table["localDepth"])
    info["remaining"] = {"entries": remaining, "exact": exact, "tables_after_current": tables_after}


def _table_remaining(iterator: SwissIterator, reader: _IterReader, tab: Dict[str, Any],
                     finished: bool) -> Tuple[Optional[int], Dict[str, Any]]:
    """Full slots of the iterator's table that Next has still to visit, and where it stands."""
    fields, maptype = iterator.fields, iterator.maptype
    capacity = tab["capacity"]
    entry_mask = capacity - 1
    entry_idx, entry_offset = fields["entryIdx"], fields["entryOffset"]
    groups_data = tab["groups"]["data"]
    info: Dict[str, Any] = {}
    group_address = fields["group"]
    if group_address and groups_data <= group_address < groups_data + (entry_mask // GROUP_SLOTS + 1) * \
            maptype.group_size and (group_address - groups_data) % maptype.group_size == 0:
        info["current_group"] = (group_address - groups_data) // maptype.group_size
    else:
        info["current_group"] = None
    first_entry = entry_offset & entry_mask
    info["first_entry"] = {"group": first_entry >> 3, "slot": first_entry & 7}
    if finished or entry_idx > entry_mask:
        info["next"] = None
        return 0, info
    next_entry = (entry_idx + entry_offset) & entry_mask
    info["next"] = {"entry_idx": entry_idx, "group": next_entry >> 3, "slot": next_entry & 7}
    ctrls = reader.ctrl_bytes(groups_data, capacity // GROUP_SLOTS)
    if ctrls is None:
        return None, info
    remaining = sum(1 for index in range(entry_idx, capacity) if not ctrls[(index + entry_offset) & entry_mask] & 0x80)
    return remaining, info


# --------------------------------------------------------------------------
# Finding iterators in stack memory


# word indexes of Iter fields (ITER layout, 8-byte words)
_W_KEY, _W_ELEM, _W_TYP, _W_M, _W_GLOBAL_DEPTH, _W_DIR_IDX, _W_TAB, _W_GROUP, _W_ENTRY_IDX = 0, 1, 2, 3, 7, 8, 9, 10, 11
_ITER_WORDS = 12


def scan_for_iterators(memory: MemoryReader, data: bytes, base_address: int, layout_name: str, *,
                       map_address: Optional[int] = None, go_minor: Optional[int] = None) -> List[SwissIterator]:
    """Every plausible ``maps.Iter`` in ``data`` (stack bytes already read from ``base_address``), decoded.

    Cheap checks on the bytes come first (alignment, the zero padding after
    ``globalDepth``, ranges of ``dirIdx`` and ``entryIdx``, null patterns);
    only survivors get their ``typ``, ``m`` and ``tab`` read and checked
    against each other, and only those that pass are decoded. With
    ``map_address`` only iterators over that map are returned. Iterators
    whose map was empty at Init (``m == nil``) carry no map to check against
    and are never returned.
    """
    layout = swiss_layout(layout_name, go_minor)
    skip = (-base_address) % POINTER_SIZE
    word_count = (len(data) - skip) // POINTER_SIZE if len(data) > skip else 0
    if word_count < _ITER_WORDS:
        return []
    words = struct.unpack_from(f"<{word_count}Q", data, skip)
    checker = _IterChecker(memory, layout, layout_name, go_minor)
    found: List[SwissIterator] = []
    for index in range(word_count - _ITER_WORDS + 1):
        if words[index + _W_GLOBAL_DEPTH] > 64:  # globalDepth byte, then 7 zero padding bytes
            continue
        typ, map_pointer = words[index + _W_TYP], words[index + _W_M]
        if not typ or not map_pointer or (typ | map_pointer) & 7 or typ == map_pointer:
            continue
        if map_address is not None and map_pointer != map_address:
            continue
        if not _plausible_words(words, index):
            continue
        address = base_address + skip + index * POINTER_SIZE
        fields = checker.check(words[index:index + _ITER_WORDS])
        if fields is not None:
            found.append(_decode_iterator_fields(memory, address, layout, fields, checker.maptypes[fields["typ"]]))
    return found


@dataclass
class IteratorCandidate:
    """The verdict on one address: an accepted iterator or the reason it is not one."""

    address: int
    iterator: Optional[SwissIterator] = None
    reason: Optional[str] = None

    @property
    def accepted(self) -> bool:
        return self.iterator is not None


def iterator_candidate(memory: MemoryReader, address: int, layout_name: str, *,
                       map_address: Optional[int] = None, go_minor: Optional[int] = None) -> IteratorCandidate:
    """Is there a live (or finished) ``maps.Iter`` at ``address``?

    Exactly the checks of ``scan_for_iterators`` on one address, with the
    reason of a rejection.
    """
    layout = swiss_layout(layout_name, go_minor)
    try:
        raw = memory.read(address, _ITER_WORDS * POINTER_SIZE)
    except UnreadableMemory as error:
        return IteratorCandidate(address, reason=f"unreadable: {error}")
    if address % POINTER_SIZE:
        return IteratorCandidate(address, reason="not 8-byte aligned")
    words = struct.unpack(f"<{_ITER_WORDS}Q", raw)
    typ, map_pointer = words[_W_TYP], words[_W_M]
    reason = None
    if words[_W_GLOBAL_DEPTH] > 64:
        reason = "globalDepth is not a depth followed by zero padding"
    elif not typ:
        reason = "typ is nil (Init has not run)"
    elif not map_pointer:
        reason = "m is nil (the map was nil or empty at Init: no map to check against)"
    elif (typ | map_pointer) & 7 or typ == map_pointer:
        reason = "typ and m are not two aligned pointers"
    elif map_address is not None and map_pointer != map_address:
        reason = "m is not the wanted map"
    elif not _plausible_words(words, 0):
        reason = "key/elem, dirIdx, tab, group and entryIdx are inconsistent"
    if reason:
        return IteratorCandidate(address, reason=reason)
    checker = _IterChecker(memory, layout, layout_name, go_minor)
    fields, reason = checker.verdict(words)
    if fields is None:
        return IteratorCandidate(address, reason=reason)
    return IteratorCandidate(address, iterator=_decode_iterator_fields(memory, address, layout, fields,
                                                                       checker.maptypes[fields["typ"]]))


def _plausible_words(words: Tuple[int, ...], index: int) -> bool:
    key, elem = words[index + _W_KEY], words[index + _W_ELEM]
    if (key == 0) != (elem == 0):
        return False
    dir_idx = _signed(words[index + _W_DIR_IDX])
    tab, group, entry_idx = words[index + _W_TAB], words[index + _W_GROUP], words[index + _W_ENTRY_IDX]
    if (tab | group) & 7:
        return False
    if dir_idx == -1:  # small at Init: no table, the map's one group, at most 8 entries
        return tab == 0 and group != 0 and entry_idx <= GROUP_SLOTS
    if not 0 <= dir_idx <= MAX_DIRECTORY_LEN or entry_idx > MAX_TABLE_CAPACITY + GROUP_SLOTS:
        return False
    if tab == 0:  # between tables only when finished (nextDirIdx cleared tab, group and entryIdx)
        return key == 0 and group == 0 and entry_idx == 0
    return True


class _IterChecker:
    """Pointer-chasing checks for stack-scan survivors, with per-address caches."""

    def __init__(self, memory: MemoryReader, layout: SwissLayout, layout_name: str, go_minor: Optional[int]):
        self.memory = memory
        self.layout = layout
        self.layout_name = layout_name
        self.go_minor = go_minor
        self.maptypes: Dict[int, Optional[SwissMapType]] = {}
        self.headers: Dict[int, Optional[Dict[str, Any]]] = {}

    def _maptype(self, address: int) -> Optional[SwissMapType]:
        if address not in self.maptypes:
            try:
                self.maptypes[address] = parse_maptype(self.memory, address, self.layout_name,
                                                       go_minor=self.go_minor)
            except BadMapType:
                self.maptypes[address] = None
        return self.maptypes[address]

    def _map_header(self, address: int) -> Optional[Dict[str, Any]]:
        if address not in self.headers:
            self.headers[address] = None
            try:
                header = flat_decoder(self.layout.map_header).decode(
                    self.memory.read(address, self.layout.map_header.sizeof()))
            except UnreadableMemory:
                return None
            if _plausible_map_header(header):
                self.headers[address] = header
        return self.headers[address]

    def _read_words(self, address: int, count: int) -> Optional[Tuple[int, ...]]:
        try:
            return struct.unpack(f"<{count}Q", self.memory.read(address, count * POINTER_SIZE))
        except UnreadableMemory:
            return None

    def check(self, words: Tuple[int, ...]) -> Optional[Dict[str, int]]:
        """The Iter fields when every pointer-chasing check passes, else None."""
        fields, _reason = self.verdict(words)
        return fields

    def verdict(self, words: Tuple[int, ...]) -> Tuple[Optional[Dict[str, int]], Optional[str]]:
        """(the Iter fields, None) when every pointer-chasing check passes, else (None, why)."""
        fields = flat_decoder(self.layout.iterator).decode(struct.pack(f"<{_ITER_WORDS}Q", *words))
        maptype = self._maptype(fields["typ"])
        if maptype is None:
            return None, "typ is not a map type descriptor"
        header = self._map_header(fields["m"])
        if header is None:
            return None, "m is not a readable, consistent Map header"
        if fields["clearSeq"] > header["clearSeq"]:
            return None, "clearSeq is ahead of the map's"
        if fields["dirIdx"] < 0:
            if not self._small_ok(fields, header, maptype):
                return None, "group does not fit the map (small at Init)"
        elif not self._tables_ok(fields, header, maptype):
            return None, "directory position, table or group do not fit the map"
        return fields, None

    def _key_in_group(self, fields: Dict[str, int], maptype: SwissMapType) -> bool:
        """Iter.key and Iter.elem name the same slot of Iter.group (when not stored indirectly)."""
        if maptype.indirect_key or maptype.indirect_elem:
            return True
        slot = _slot_of(fields["key"], fields["group"], maptype)
        return slot is not None and fields["elem"] == fields["group"] + maptype.elem_offset(slot)

    def _small_ok(self, fields: Dict[str, int], header: Dict[str, Any], maptype: SwissMapType) -> bool:
        if header["dirLen"] == 0:  # still small: Iter.group is the map's only group
            if fields["group"] != header["dirPtr"] or fields["globalDepth"] != header["globalDepth"]:
                return False
            return not fields["key"] or self._key_in_group(fields, maptype)
        # grown to tables since Init: the old group is what Next still walks
        ctrl = self._read_words(fields["group"], 1)
        return ctrl is not None and all(byte < 0x80 or byte == 0x80 for byte in ctrl[0].to_bytes(8, "little"))

    def _tables_ok(self, fields: Dict[str, int], header: Dict[str, Any], maptype: SwissMapType) -> bool:
        dir_len, map_depth = header["dirLen"], header["globalDepth"]
        if dir_len <= 0 or fields["globalDepth"] > map_depth:
            return False
        if (fields["dirIdx"] << (map_depth - fields["globalDepth"])) > dir_len:
            return False
        if not fields["tab"]:
            return True  # finished between tables (see _plausible_words)
        table = self._table(fields["tab"])
        if table is None or table["localDepth"] > map_depth or fields["entryIdx"] > table["capacity"] + GROUP_SLOTS:
            return False
        if table["index"] >= 0:  # live table: the directory must hold it at its index
            if table["index"] >= dir_len:
                return False
            entry = self._read_words(header["dirPtr"] + table["index"] * POINTER_SIZE, 1)
            if entry is None or entry[0] != fields["tab"]:
                return False
        groups_data, group_size = table["groups"]["data"], maptype.group_size
        group = fields["group"]
        if group:
            offset = group - groups_data
            if offset < 0 or offset % group_size or offset // group_size > table["groups"]["lengthMask"]:
                return False
        if fields["key"] and table["index"] >= 0 and group and not self._key_in_group(fields, maptype):
            return False
        return True

    def _table(self, address: int) -> Optional[Dict[str, Any]]:
        try:
            table = flat_decoder(self.layout.table).decode(self.memory.read(address, self.layout.table.sizeof()))
        except UnreadableMemory:
            return None
        capacity, length_mask = table["capacity"], table["groups"]["lengthMask"]
        if not GROUP_SLOTS <= capacity <= MAX_TABLE_CAPACITY or capacity != (length_mask + 1) * GROUP_SLOTS:
            return None
        if capacity & (capacity - 1) or table["used"] > capacity or table["index"] < -1:
            return None
        return table


def _plausible_map_header(header: Dict[str, Any]) -> bool:
    """A Map header the runtime could have written (map.go invariants)."""
    if header["writing"] > 1 or header.get("tombstonePossible", 0) > 1:
        return False
    dir_len, depth = header["dirLen"], header["globalDepth"]
    if dir_len == 0:
        return depth == 0 and header["globalShift"] in (0, 64) and header["used"] <= GROUP_SLOTS
    if not 0 < dir_len <= MAX_DIRECTORY_LEN or depth >= 64 or dir_len != 1 << depth:
        return False
    return header["globalShift"] == 64 - depth and bool(header["dirPtr"]) and not header["dirPtr"] % POINTER_SIZE
