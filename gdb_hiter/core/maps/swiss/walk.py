"""Walk a Swiss map: small map or directory, tables, group arrays, in bulk reads."""

from __future__ import annotations

import struct
from itertools import compress, groupby
from typing import Any, Dict, List, Optional, Tuple, Union

from .. import slotgrid
from ...gcpause import cyclic_gc_paused
from ...memory import MemoryReader, UnreadableMemory
from ..model import DecodedMap, EntryColumns, Problem
from ...layouts.swiss import (
    CTRL_WORD_SIZE, GROUP_SLOTS, MAX_TABLE_CAPACITY, POINTER_SIZE, SwissLayout, flat_decoder,
    swiss_layout,
)
from .common import DEFAULT_MAX_GROUPS, MAX_DIRECTORY_LEN, NilMap, READ_CHUNK, _FULL_CTRL, _TOP_BIT
from .maptype import SwissMapType, parse_maptype


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
