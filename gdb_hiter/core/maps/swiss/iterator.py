"""An ``internal/runtime/maps.Iter`` decoded and interpreted against its live map."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from ...memory import MemoryReader, UnreadableMemory
from ..model import Problem
from ...layouts.swiss import (
    CTRL_WORD_SIZE, GROUP_SLOTS, MAX_TABLE_CAPACITY, POINTER_SIZE, SwissLayout, flat_decoder,
    swiss_layout,
)
from .common import BadMapType, MAX_DIRECTORY_LEN, U64
from .maptype import SwissMapType, parse_maptype


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
