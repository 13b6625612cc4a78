"""The rest of a Swiss range loop: ``maps.Iter.Next`` replayed over memory as it is.

Follows ``(*Iter).Next`` and ``nextDirIdx`` / ``grownKeyElem`` of
``internal/runtime/maps/table.go``, identical in go1.24.11 – go1.27.3 but
for the names of the slot constants (1.27's split groups differ only in
where a slot's key and element are, which the map type descriptor says).

* The map was small when the loop started (``dirIdx < 0``): Next walks the
  8 slots of the group it had then (``Iter.group``) from ``entryOffset``.
  Keys stored in that group since are returned; once the map has tables
  (``dirLen > 0``), each key is looked up again in the live map and
  skipped when gone, and the loop never sees keys only in the tables.
* The map had tables: Next first rescales ``dirIdx``/``dirOffset`` when
  the directory grew, then walks directory entries from ``dirOffset``,
  realigning on a table's first index, each table's slots from
  ``entryOffset``, and skips the other entries of a table that spans
  several directory indices. A table replaced by a grow or a split
  (``index == -1``) is still walked, with each key looked up again in the
  live map.
* A key not equal to itself (NaN) cannot be looked up: it is returned from
  the storage walked unless the map was cleared since the loop started.
"""

from __future__ import annotations

import struct
from typing import Any, Dict, List, Optional

from ...layouts.swiss import GROUP_SLOTS, MAX_TABLE_CAPACITY, POINTER_SIZE, flat_decoder, swiss_layout
from ...memory import MemoryReader
from ..model import DecodedMap
from ..prediction import LiveIndex, Prediction, PredictionStopped, Visit, read_exact, replay_rest, walk_to_position
from .common import MAX_DIRECTORY_LEN, U64
from .iterator import SwissIterator

_U64 = struct.Struct("<Q")
_SLOT_MASK = GROUP_SLOTS - 1


def _first(match: int) -> int:
    return (match & -match).bit_length() - 1


class _Replay:
    """The Iter fields as Next keeps them, stepped call by call."""

    def __init__(self, memory: MemoryReader, iterator: SwissIterator, index: LiveIndex, go_minor: Optional[int]):
        self.memory = memory
        self.maptype = iterator.maptype
        self.header = iterator.map_header
        self.index = index
        self.fields = dict(iterator.fields)
        self.table_struct = flat_decoder(swiss_layout(iterator.layout, go_minor).table)
        self.table_size = swiss_layout(iterator.layout, go_minor).table.sizeof()
        self.cleared = iterator.fields["clearSeq"] != self.header["clearSeq"]
        self.tables: Dict[int, Dict[str, Any]] = {}
        self.groups: Dict[int, bytes] = {}
        self.directory: Optional[tuple] = None
        dir_len = self.header["dirLen"]
        if dir_len > 0:
            if dir_len > MAX_DIRECTORY_LEN or dir_len & (dir_len - 1):
                raise PredictionStopped(f"the map's dirLen {dir_len} is not a real directory")
            raw = read_exact(memory, self.header["dirPtr"], dir_len * POINTER_SIZE, "the directory")
            self.directory = struct.unpack(f"<{dir_len}Q", raw)

    def start(self) -> None:
        """The fields Init leaves before the first Next."""
        fields = self.fields
        fields.update(entryIdx=0, key=0, elem=0)
        if fields["dirIdx"] >= 0:      # a small map's walk keeps the group Init took
            fields.update(dirIdx=0, tab=0, group=0)

    def position(self) -> tuple:
        fields = self.fields
        return fields["dirIdx"], fields["tab"], fields["entryIdx"], fields["globalDepth"]

    # -- memory ------------------------------------------------------------

    def table(self, address: int) -> Dict[str, Any]:
        if address not in self.tables:
            table = self.table_struct.decode(read_exact(self.memory, address, self.table_size, "a table header"))
            capacity = table["capacity"]
            if not 0 < capacity <= MAX_TABLE_CAPACITY or capacity & (capacity - 1) \
                    or capacity != (table["groups"]["lengthMask"] + 1) * GROUP_SLOTS:
                raise PredictionStopped(f"table at {address:#x} has capacity {capacity}: not a real table")
            self.tables[address] = table
        return self.tables[address]

    def group(self, address: int) -> bytes:
        data = self.groups.get(address)
        if data is None:
            data = self.groups[address] = read_exact(self.memory, address, self.maptype.group_size, "a group")
        return data

    def full_slots(self, group: int) -> int:
        """matchFull of the group's ctrl word, one bit per slot."""
        ctrl = self.group(group)
        return sum(1 << slot for slot in range(GROUP_SLOTS) if not ctrl[slot] & 0x80)

    def key(self, group: int, slot: int) -> tuple:
        maptype = self.maptype
        data = self.group(group)
        offset = maptype.key_offset(slot)
        address = group + offset
        if maptype.indirect_key:
            address = _U64.unpack_from(data, offset)[0]
        return address, read_exact(self.memory, address, maptype.key_size, "a key")

    def stored(self, group: int, slot: int, key_address: int, key: bytes) -> Visit:
        maptype = self.maptype
        offset = maptype.elem_offset(slot)
        address = group + offset
        if maptype.indirect_elem:
            address = _U64.unpack_from(self.group(group), offset)[0]
        return Visit(key, read_exact(self.memory, address, maptype.elem_size, "an element"), key_address, address)

    def grown_key_elem(self, group: int, slot: int) -> Optional[Visit]:
        """grownKeyElem: the key looked up in the live map, or a NaN key as stored."""
        key_address, key = self.key(group, slot)
        found = self.index.lookup(key)
        if found is not None:
            return self.index.visit(found)
        if not self.cleared and self.index.is_self_equal(key) is False:
            return self.stored(group, slot, key_address, key)
        return None

    # -- Next ----------------------------------------------------------------

    def next(self) -> Optional[Visit]:
        fields, header = self.fields, self.header
        if fields["dirIdx"] < 0:
            return self._next_small()
        if fields["globalDepth"] != header["globalDepth"]:
            orders = header["globalDepth"] - fields["globalDepth"]
            if not 0 < orders < 64:
                raise PredictionStopped(f"Iter.globalDepth {fields['globalDepth']} is above the map's "
                                        f"{header['globalDepth']}: a directory never shrinks")
            fields["dirIdx"] <<= orders
            fields["dirOffset"] = (fields["dirOffset"] << orders) & U64
            fields["globalDepth"] = header["globalDepth"]
        dir_len = header["dirLen"]
        if self.directory is None:
            raise PredictionStopped("the map has no directory left, yet the loop walks one")
        while fields["dirIdx"] < dir_len:
            visit = self._next_in_table(dir_len)
            if visit is not None:
                return visit
            entries = 1 << max(header["globalDepth"] - self.table(fields["tab"])["localDepth"], 0)
            fields.update(dirIdx=fields["dirIdx"] + entries, tab=0, group=0, entryIdx=0)
        fields.update(key=0, elem=0)
        return None

    def _next_small(self) -> Optional[Visit]:
        fields = self.fields
        grown = self.header["dirLen"] > 0
        group = fields["group"]
        full = self.full_slots(group) if group else 0
        while fields["entryIdx"] < GROUP_SLOTS:
            slot = (fields["entryIdx"] + fields["entryOffset"]) % GROUP_SLOTS
            if not full >> slot & 1:
                fields["entryIdx"] += 1
                continue
            if grown:
                visit = self.grown_key_elem(group, slot)
                if visit is None:
                    fields["entryIdx"] += 1
                    continue
            else:
                key_address, key = self.key(group, slot)
                visit = self.stored(group, slot, key_address, key)
            fields["entryIdx"] += 1
            fields.update(key=visit.key_address, elem=visit.value_address)
            return visit
        fields.update(key=0, elem=0)
        return None

    def _next_in_table(self, dir_len: int) -> Optional[Visit]:
        """Next's loop body at one directory position: a visit, or None to go to the next index."""
        fields = self.fields
        if not fields["tab"]:
            dir_idx = (fields["dirIdx"] + fields["dirOffset"]) & (dir_len - 1)
            address = self.directory[dir_idx]
            table = self.table(address)
            if table["index"] != dir_idx:
                fields["dirOffset"] = (fields["dirOffset"] - (dir_idx - table["index"])) & U64
            fields["tab"] = address
        table = self.table(fields["tab"])
        entry_mask = table["capacity"] - 1
        if fields["entryIdx"] > entry_mask:
            return None
        grown = table["index"] == -1
        data, size = table["groups"]["data"], self.maptype.group_size

        def group_of(entry: int, slot: int) -> int:
            if slot == 0 or not fields["group"]:
                fields["group"] = data + (entry >> 3) * size
            return fields["group"]

        def take(group: int, slot: int) -> Optional[Visit]:
            if grown:
                return self.grown_key_elem(group, slot)
            key_address, key = self.key(group, slot)
            return self.stored(group, slot, key_address, key)

        def returned(visit: Visit) -> Visit:
            fields.update(key=visit.key_address, elem=visit.value_address)
            return visit

        entry = (fields["entryIdx"] + fields["entryOffset"]) & entry_mask
        slot = entry & _SLOT_MASK
        group = group_of(entry, slot)
        if self.full_slots(group) >> slot & 1:
            visit = take(group, slot)
            if visit is not None:
                fields["entryIdx"] += 1
                return returned(visit)
        fields["entryIdx"] += 1
        match = 0
        while fields["entryIdx"] <= entry_mask:
            entry = (fields["entryIdx"] + fields["entryOffset"]) & entry_mask
            slot = entry & _SLOT_MASK
            group = group_of(entry, slot)
            if match == 0:
                match = self.full_slots(group) & ~((1 << slot) - 1)     # matchFull, removeBelow(slot)
                if match == 0:
                    fields["entryIdx"] += GROUP_SLOTS - slot
                    continue
                first = _first(match)
                fields["entryIdx"] += first - slot
                if fields["entryIdx"] > entry_mask:
                    continue
                slot = first
            visit = take(group, slot)
            match &= match - 1                                          # removeFirst
            if match == 0:
                fields["entryIdx"] += GROUP_SLOTS - slot
            else:
                fields["entryIdx"] += _first(match) - slot
            if visit is not None:
                return returned(visit)
        return None


def predict(memory: MemoryReader, iterator: SwissIterator, live: Optional[DecodedMap],
            index: Optional[LiveIndex], go_minor: Optional[int] = None) -> Prediction:
    """What the loop of ``iterator`` will still receive, in order (see the module doc)."""
    return replay_rest(
        memory, iterator, live, index, init_name="Iter.Init",
        writing=lambda header: ("the map is being written (Map.writing): Next would fatal with "
                                "'concurrent map iteration and map write'") if header["writing"] else None,
        make_replay=lambda _inexact: _Replay(memory, iterator, index, go_minor),
        budget=lambda: _visit_budget(iterator, live),
        behind=lambda: _behind(memory, iterator, live, index, go_minor))


def _visit_budget(iterator: SwissIterator, live: DecodedMap) -> int:
    dir_len = max(iterator.map_header["dirLen"], 0)
    return max(live.count, len(live.entries)) + (dir_len + 1) * MAX_TABLE_CAPACITY


def _behind(memory: MemoryReader, iterator: SwissIterator, live: DecodedMap, index: LiveIndex,
            go_minor: Optional[int]) -> Optional[List[int]]:
    """Key addresses the same walk returns from Init up to the iterator's position."""
    try:
        replay = _Replay(memory, iterator, index, go_minor)
        replay.start()
    except PredictionStopped:
        return None
    fields = iterator.fields
    target_depth = iterator.map_header["globalDepth"]
    orders = target_depth - fields["globalDepth"]
    target = ((fields["dirIdx"] << orders) if fields["dirIdx"] >= 0 and orders >= 0 else fields["dirIdx"],
              fields["tab"], fields["entryIdx"], target_depth if fields["dirIdx"] >= 0 else fields["globalDepth"])
    return walk_to_position(replay, target, _visit_budget(iterator, live))
