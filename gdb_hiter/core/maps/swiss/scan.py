"""Is this memory a live ``maps.Iter``? The checks, and the scan of stack memory for iterators."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from ...memory import MemoryReader, UnreadableMemory
from ...layouts.swiss import (
    GROUP_SLOTS, MAX_TABLE_CAPACITY, POINTER_SIZE, SwissLayout, flat_decoder, swiss_layout,
)
from .common import BadMapType, MAX_DIRECTORY_LEN
from .maptype import SwissMapType, parse_maptype
from .walk import _signed
from .iterator import (
    SwissIterator, _W_DIR_IDX, _W_ELEM, _W_ENTRY_IDX, _W_GLOBAL_DEPTH, _W_GROUP, _W_KEY, _W_M,
    _W_TAB, _W_TYP, _decode_iterator_fields, _slot_of,
)


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
