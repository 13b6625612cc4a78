"""Swiss-table maps and iterators decoded from memory captured in real Go programs.

The data files in data/swiss/ were captured by data/swiss/capture.py from
data/swiss/prog built with go1.24.11, go1.25.5, go1.26.6, go1.27.3 and
go1.27.3 GOEXPERIMENT=mapsplitgroup (regenerate.py). They hold the memory
of each map (found through DWARF, not through our layouts), the DWARF
layouts of the runtime types, and the program's own "GT" output.
No gdb is needed here.
"""

import functools
import json
import lzma
import random
import struct
from pathlib import Path

import pytest

from gdb_hiter.core.maps import swiss
from gdb_hiter.core.layouts.abitype import ABI_TYPE, KIND_MAP
from gdb_hiter.core.program.goversion import parse_build_version, select_layout
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.core.memory import SegmentMemory
from gdb_hiter.core.layouts.swiss import (
    CTRL_DELETED, CTRL_EMPTY, FLAG_INDIRECT_ELEM, FLAG_INDIRECT_KEY, ITER, TABLE, UnknownLayout, ctrl_state,
    swiss_layout,
)

DATA = Path(__file__).parent / "data" / "swiss"
BUILDS = sorted(path.name[:-len(".json.xz")] for path in DATA.glob("*.json.xz"))
MAPS = "internal/runtime/maps."


@functools.lru_cache(maxsize=None)
def capture(build):
    with lzma.open(DATA / f"{build}.json.xz") as file:
        return json.load(file)


def layout_of(build):
    """(layout family, go minor) exactly as the extension picks them from the binary's version."""
    version = parse_build_version(capture(build)["version"])
    return select_layout(version).layout, version.minor


def memory_of(case):
    return SegmentMemory((address, bytes.fromhex(data)) for address, data in case["segments"])


def truth(build, name):
    """The program's own report for one case: len, key/value pairs, iteration progress."""
    result = {"kv": []}
    for line in capture(build)["truth"]:
        words = line.split()
        if words[1] != name:
            continue
        if words[2] == "len":
            result["len"] = int(words[3])
        elif words[2] == "kv":
            result["kv"].append(tuple(words[3:]))
        elif words[2] == "seen":
            result["seen"] = int(words[3])
            result["cur"] = (int(words[5]), int(words[6]))
    return result


def decode(build, name, **options):
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    memory = memory_of(case)
    maptype = swiss.parse_maptype(memory, case["maptype"]["address"], layout, go_minor=minor)
    return swiss.decode_map(memory, case["map"], maptype, layout, go_minor=minor, **options), memory


def int64_pairs(decoded):
    return sorted((struct.unpack("<q", entry.key)[0], struct.unpack("<q", entry.value)[0])
                  for entry in decoded.entries)


def truth_pairs(build, name):
    return sorted((int(key), int(value)) for key, value in truth(build, name)["kv"])


# --------------------------------------------------------------------------
# Layouts against each toolchain's DWARF


def test_data_files_cover_every_swiss_build():
    assert BUILDS == ["go1.24.11", "go1.25.5", "go1.26.6", "go1.27.3", "go1.27.3-mapsplitgroup"]
    assert sum((DATA / f"{build}.json.xz").stat().st_size for build in BUILDS) < 300_000


def _assert_matches_dwarf(layout, dwarf):
    ours = field_offsets(layout)
    assert set(ours) == set(dwarf["fields"])
    for name, (offset, size, is_func) in dwarf["fields"].items():
        assert ours[name][0] == offset, name
        if not is_func:  # gdb reports 1 as the size of a func-typed field
            assert ours[name][1] == size, name
    assert layout.sizeof() == dwarf["size"]


@pytest.mark.parametrize("build", BUILDS)
def test_layouts_match_dwarf(build):
    family, minor = layout_of(build)
    layout = swiss_layout(family, minor)
    dwarf = capture(build)["dwarf"]
    _assert_matches_dwarf(layout.map_header, dwarf[MAPS + "Map"])
    _assert_matches_dwarf(layout.table, dwarf[MAPS + "table"])
    _assert_matches_dwarf(layout.iterator, dwarf[MAPS + "Iter"])
    _assert_matches_dwarf(layout.groups_reference, dwarf[MAPS + "groupsReference"])
    _assert_matches_dwarf(layout.map_type, dwarf[layout.map_type_dwarf_name])


def test_layout_families():
    assert "tombstonePossible" not in field_offsets(swiss_layout("swiss-go1.24", 24).map_header)
    assert field_offsets(swiss_layout("swiss-go1.24", 25).map_header)["tombstonePossible"] == (35, 1)
    assert swiss_layout("swiss-go1.24").go_minor == 26  # newest minor of the family by default
    assert swiss_layout("swiss-go1.24", 26).map_type_dwarf_name == "internal/abi.MapType"
    assert swiss_layout("swiss-go1.24", 25).map_type_dwarf_name == "internal/abi.SwissMapType"
    assert swiss_layout("swiss-go1.27").map_type.sizeof() == 136
    with pytest.raises(UnknownLayout):
        swiss_layout("classic-go1.18")
    with pytest.raises(UnknownLayout):
        swiss_layout("swiss-go1.27", 26)


# --------------------------------------------------------------------------
# Map type descriptors


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name, key_size, elem_size", [
    ("one", 8, 8), ("str", 16, 8), ("big", 136, 144), ("itersplit", 4, 4),
])
def test_parse_maptype(build, name, key_size, elem_size):
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    maptype = swiss.parse_maptype(memory_of(case), case["maptype"]["address"], layout, go_minor=minor)
    assert (maptype.key_size, maptype.elem_size) == (key_size, elem_size)
    assert maptype.group_size == case["maptype"]["GroupSize"] == case["maptype"]["Group_size"]
    assert maptype.flags == case["maptype"]["Flags"]
    assert maptype.split == build.endswith("mapsplitgroup")
    assert maptype.indirect_key == maptype.indirect_elem == (name == "big")
    # the compiler's group layout, computed from the sizes alone, is the same
    rebuilt = swiss.SwissMapType.from_sizes(key_size, elem_size, split=maptype.split,
                                            extra_flags=maptype.flags & ~(FLAG_INDIRECT_KEY | FLAG_INDIRECT_ELEM))
    geometry = ("group_size", "keys_off", "key_stride", "elems_off", "elem_stride", "flags")
    assert [getattr(rebuilt, name) for name in geometry] == [getattr(maptype, name) for name in geometry]
    assert maptype.group_struct().sizeof() == maptype.group_size


def test_maptype_from_sizes_padding_rules():
    interleaved = swiss.SwissMapType.from_sizes(1, 8)         # map[uint8]int64
    assert (interleaved.key_stride, interleaved.elems_off, interleaved.group_size) == (16, 16, 136)
    split = swiss.SwissMapType.from_sizes(1, 8, split=True)
    assert (split.key_stride, split.elems_off, split.elem_stride, split.group_size) == (1, 16, 8, 80)
    assert split.split and not interleaved.split
    empty_elem = swiss.SwissMapType.from_sizes(8, 0)          # map[int64]struct{}: one padding byte
    assert (empty_elem.key_stride, empty_elem.group_size) == (16, 136)
    assert not swiss.SwissMapType.from_sizes(8, 8).problems()


def test_parse_maptype_rejects_non_map_types():
    case = capture("go1.26.6")["cases"]["one"]
    memory = memory_of(case)
    key_type = case["maptype"]["Key"]  # int64's descriptor, padded to a map descriptor's size
    memory.add(key_type, memory.read(key_type, 48) + bytes(64))
    with pytest.raises(swiss.BadMapType, match="kind 6, not map"):
        swiss.parse_maptype(memory, key_type, "swiss-go1.24", go_minor=26)
    with pytest.raises(swiss.BadMapType):
        swiss.parse_maptype(memory, case["map"], "swiss-go1.24", go_minor=26)  # a Map, not a type
    with pytest.raises(swiss.BadMapType):
        swiss.parse_maptype(memory, 0, "swiss-go1.24")


@pytest.mark.parametrize("build", BUILDS)
def test_parse_maptype_rejects_absurd_indirect_sizes(build):
    """Found by tests/unit/test_fuzz.py: 0x02000000 written into the Size_ of map[BigKey]BigVal's
    element type made each entry one read of 32 MiB (inside gdb, one buffer of that size)."""
    case = capture(build)["cases"]["big"]
    layout, minor = layout_of(build)
    for what, which in (("key", "Key"), ("element", "Elem")):
        size = memory_of(case).read(case["maptype"][which], 8)
        corrupt = patched(case, (case["maptype"][which], size[:3] + b"\x02"))
        with pytest.raises(swiss.BadMapType, match=f"{what} size {0x2000000 + size[0]} exceeds 1048576"):
            swiss.parse_maptype(corrupt, case["maptype"]["address"], layout, go_minor=minor)
        at_bound = patched(case, (case["maptype"][which], struct.pack("<Q", 1 << 20)))
        maptype = swiss.parse_maptype(at_bound, case["maptype"]["address"], layout, go_minor=minor)
        assert (maptype.key_size if which == "Key" else maptype.elem_size) == 1 << 20


# --------------------------------------------------------------------------
# Whole maps, entry by entry


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name, shape", [
    ("small", "small"), ("one", "tables"), ("multi", "tables"), ("del", "tables"), ("cleared", "tables"),
    ("stack", "small"), ("itergrow", "tables"), ("iterclear", "tables"),
])
def test_int64_maps_exact(build, name, shape):
    decoded, _ = decode(build, name)
    assert decoded.detail["shape"] == shape
    assert decoded.impl == ("swiss-split" if build.endswith("mapsplitgroup") else "swiss")
    assert decoded.complete and decoded.problems == []
    assert decoded.count == truth(build, name)["len"] == len(decoded.entries)
    assert int64_pairs(decoded) == truth_pairs(build, name)


@pytest.mark.parametrize("build", BUILDS)
def test_empty_map_has_no_directory(build):
    decoded, _ = decode(build, "empty")
    assert decoded.header["dirPtr"] == 0 and decoded.count == 0
    assert decoded.detail["shape"] == "empty" and decoded.entries == [] and decoded.complete


def test_nil_map():
    case = capture("go1.27.3")["cases"]["one"]
    maptype = swiss.parse_maptype(memory_of(case), case["maptype"]["address"], "swiss-go1.27")
    with pytest.raises(swiss.NilMap, match="^nil map"):
        swiss.decode_map(memory_of(case), 0, maptype, "swiss-go1.27")


@pytest.mark.parametrize("build", BUILDS)
def test_small_map_locations(build):
    decoded, _ = decode(build, "small")
    group = decoded.detail["small_group"]
    assert group["address"] == decoded.header["dirPtr"]
    assert group["slots"] == {"full": 5, "deleted": 0, "empty": 3, "invalid": 0}
    assert sorted(entry.location["slot"] for entry in decoded.entries) == [
        slot for slot, byte in enumerate(bytes.fromhex(group["ctrl"])) if byte < 0x80]
    assert all(set(entry.location) == {"group", "slot"} and entry.location["group"] == 0
               for entry in decoded.entries)


@pytest.mark.parametrize("build", BUILDS)
def test_stack_allocated_map(build):
    """A non-escaping map with hint <= 8 keeps its Map and its group in the goroutine's frame."""
    case = capture(build)["cases"]["stack"]
    decoded, _ = decode(build, "stack")
    assert abs(decoded.header["dirPtr"] - case["map"]) < 4096  # group right next to the Map, on the stack
    assert int64_pairs(decoded) == [(11, 111), (22, 222), (33, 333)]


@pytest.mark.parametrize("build", BUILDS)
def test_shared_directory_entries(build):
    """Right after the directory first grows to 4, one table still fills two entries."""
    decoded, _ = decode(build, "multi")
    directory, tables = decoded.detail["directory"], decoded.detail["tables"]
    assert (directory["length"], directory["global_depth"], len(tables)) == (4, 2, 3)
    assert sorted(table["directory"][1] - table["directory"][0] + 1 for table in tables) == [1, 1, 2]
    for ordinal, table in enumerate(tables):
        first, last = table["directory"]
        assert table["index"] == first and not table["stale"]
        assert last - first + 1 == 1 << (2 - table["localDepth"])
        assert table["capacity"] == (table["groups"]["lengthMask"] + 1) * 8 == 1024
        assert table["slots"]["full"] == table["used"]
        assert len(table["group_ctrls"]) == 128
        entries = [entry for entry in decoded.entries if entry.location["table"] == ordinal]
        assert len(entries) == table["used"]
        assert all(entry.location["directory"] == [first, last] for entry in entries)
    assert [run[2] for run in directory["runs"]] == [0, 1, 2]
    assert sum(table["used"] for table in tables) == decoded.count
    assert capture(build)["cases"]["multi"]["tables"] == [table["address"] for table in tables]


@pytest.mark.parametrize("build", BUILDS)
def test_entry_addresses_and_ctrl_bytes(build):
    decoded, memory = decode(build, "one")
    maptype = swiss.SwissMapType(**{name: decoded.detail["maptype"][name] for name in (
        "key_size", "elem_size", "group_size", "keys_off", "key_stride", "elems_off", "elem_stride", "flags")})
    table = decoded.detail["tables"][0]
    for entry in decoded.entries:
        group_address = table["groups"]["data"] + entry.location["group"] * maptype.group_size
        assert entry.key_address == group_address + maptype.key_offset(entry.location["slot"])
        assert entry.value_address == group_address + maptype.elem_offset(entry.location["slot"])
        assert memory.read(entry.key_address, 8) == entry.key
        state, h2 = ctrl_state(bytes.fromhex(table["group_ctrls"][entry.location["group"]])[entry.location["slot"]])
        assert state == "full" and 0 <= h2 < 128


@pytest.mark.parametrize("build", BUILDS)
def test_deletions_leave_tombstones(build):
    decoded, _ = decode(build, "del")
    table = decoded.detail["tables"][0]
    assert table["slots"]["deleted"] > 0  # deletions in full groups become 0xFE
    ctrls = bytes.fromhex("".join(table["group_ctrls"]))
    assert ctrls.count(CTRL_DELETED) == table["slots"]["deleted"]
    assert ctrls.count(CTRL_EMPTY) == table["slots"]["empty"]
    assert "tombstonePossible" in decoded.header or build == "go1.24.11"
    if build != "go1.24.11":  # new in 1.25: set when a delete leaves a tombstone
        assert decoded.header["tombstonePossible"] == 1
    assert all(key % 4 for key, _ in int64_pairs(decoded))


@pytest.mark.parametrize("build", BUILDS)
def test_cleared_map_keeps_its_table(build):
    decoded, _ = decode(build, "cleared")
    assert decoded.header["clearSeq"] == 1 and decoded.count == 0 and decoded.entries == []
    assert decoded.detail["tables"][0]["slots"]["full"] == 0


@pytest.mark.parametrize("build", BUILDS)
def test_indirect_keys_and_elems(build):
    """Keys of 136 bytes and elements of 144 bytes are stored as pointers in the slots."""
    decoded, memory = decode(build, "big")
    assert decoded.detail["maptype"]["indirect_key"] and decoded.detail["maptype"]["indirect_elem"]
    got = set()
    for entry in decoded.entries:
        assert len(entry.key) == 136 and len(entry.value) == 144
        assert memory.read(entry.key_address, 136) == entry.key  # the address is the pointee's
        words = lambda data, index: struct.unpack_from("<q", data, index * 8)[0]  # noqa: E731
        got.add((words(entry.key, 0), words(entry.key, 16), words(entry.value, 0), words(entry.value, 17)))
    assert got == {tuple(int(word) for word in pair) for pair in truth(build, "big")["kv"]}
    assert len(got) == 12


@pytest.mark.parametrize("build", BUILDS)
def test_string_keys(build):
    decoded, memory = decode(build, "str")
    got = {}
    for entry in decoded.entries:
        pointer, length = struct.unpack("<QQ", entry.key)
        got[memory.read(pointer, length).decode()] = struct.unpack("<q", entry.value)[0]
    assert got == {key: int(value) for key, value in truth(build, "str")["kv"]}


@pytest.mark.parametrize("build", BUILDS)
def test_limit(build):
    decoded, _ = decode(build, "multi", limit=10)
    assert len(decoded.entries) == 10 and not decoded.complete
    assert decoded.problems == []
    everything, _ = decode(build, "small", limit=5)
    assert len(everything.entries) == 5 and everything.complete  # nothing was left out


# --------------------------------------------------------------------------
# Corrupt or inconsistent memory: the walk stops with a stated Problem


def patched(case, *patches):
    """The case's memory with each (address, bytes) of ``patches`` written over it."""
    segments = []
    for start, text in case["segments"]:
        raw = bytearray.fromhex(text)
        for address, data in patches:
            if start <= address < start + len(raw):
                raw[address - start:address - start + len(data)] = data
        segments.append((start, bytes(raw)))
    return SegmentMemory(segments)


def decode_patched(name, field, data, build="go1.26.6", address_of=None):
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    maptype = swiss.parse_maptype(memory_of(case), case["maptype"]["address"], layout, go_minor=minor)
    base = address_of(case) if address_of else case["map"]
    struct_layout = TABLE if address_of else swiss_layout(layout, minor).map_header
    memory = patched(case, (base + field_offsets(struct_layout)[field][0], data))
    return swiss.decode_map(memory, case["map"], maptype, layout, go_minor=minor)


@pytest.mark.parametrize("dir_len, what", [
    (1 << 30, "directory-absurd"), (3, "directory-absurd"), (-1, "directory-absurd"),
])
def test_absurd_directory_stops(dir_len, what):
    decoded = decode_patched("multi", "dirLen", struct.pack("<q", dir_len))
    assert [problem.what for problem in decoded.problems] == [what]
    assert decoded.entries == [] and not decoded.complete


def first_table(case):
    return case["tables"][0]


@pytest.mark.parametrize("field, data, fragment", [
    ("groups", struct.pack("<QQ", 0x1000, (1 << 40) - 1), "lengthMask"),
    ("capacity", struct.pack("<H", 512), "capacity 512"),
    ("localDepth", bytes([7]), "localDepth 7"),
])
def test_absurd_table_stops(field, data, fragment):
    decoded = decode_patched("multi", field, data, address_of=first_table)
    assert not decoded.complete
    assert decoded.problems[-1].what == "table-absurd" and fragment in decoded.problems[-1].why


def test_count_mismatch_names_the_likely_cause():
    decoded = decode_patched("one", "used", struct.pack("<Q", 101))
    assert [problem.what for problem in decoded.problems] == ["count-mismatch"]
    assert "Map.used is 101 but 100 slots are full (-1)" in decoded.problems[0].why
    assert decoded.complete and len(decoded.entries) == 100
    writing = decode_patched("one", "writing", bytes([1]))
    assert [problem.what for problem in writing.problems] == ["map-writing"]
    case = capture("go1.26.6")["cases"]["one"]
    offsets = field_offsets(swiss_layout("swiss-go1.24", 26).map_header)
    memory = patched(case, (case["map"] + offsets["writing"][0], bytes([1])),
                     (case["map"] + offsets["used"][0], struct.pack("<Q", 99)))
    both = swiss.decode_map(memory, case["map"], case["maptype"]["address"], "swiss-go1.24", go_minor=26)
    assert [problem.what for problem in both.problems] == ["map-writing", "count-mismatch"]
    assert "Map.writing is set" in both.problems[1].why


def test_stale_table_in_directory_is_named():
    decoded = decode_patched("multi", "index", struct.pack("<q", -1), address_of=first_table)
    assert [problem.what for problem in decoded.problems] == ["stale-table"]
    assert decoded.detail["tables"][0]["stale"] and decoded.complete


def test_unreadable_groups_stop_the_walk():
    case = capture("go1.26.6")["cases"]["one"]
    table_groups = swiss.decode_map(memory_of(case), case["map"], case["maptype"]["address"], "swiss-go1.24",
                                    go_minor=26).detail["tables"][0]["groups"]["data"]
    memory = SegmentMemory((start, bytes.fromhex(text)) for start, text in case["segments"]
                           if not start <= table_groups < start + len(text) // 2)
    decoded = swiss.decode_map(memory, case["map"], case["maptype"]["address"], "swiss-go1.24", go_minor=26)
    assert [problem.what for problem in decoded.problems] == ["unreadable"] and not decoded.complete


def test_walk_budget():
    decoded, _ = decode("go1.26.6", "multi", max_groups=200)
    assert decoded.problems[-1].what == "walk-budget" and not decoded.complete


# --------------------------------------------------------------------------
# Live iterators


def decode_iter(build, name):
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    memory = memory_of(case)
    return swiss.decode_iterator(memory, case["iter"], layout, go_minor=minor), memory, case


def current_key_value(iterator, memory):
    size = iterator.maptype.key_size
    current = iterator.to_json()["current"]
    return (int.from_bytes(memory.read(current["key"], size), "little", signed=True),
            int.from_bytes(memory.read(current["elem"], iterator.maptype.elem_size), "little", signed=True))


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name", ["itersmall", "itermulti"])
def test_iterator_mid_loop(build, name):
    iterator, memory, case = decode_iter(build, name)
    data = iterator.to_json()
    assert iterator.fields == case["iter_fields"]
    assert data["state"] == "in-progress" and data["state_detail"] == "active" and data["problems"] == []
    assert current_key_value(iterator, memory) == truth(build, name)["cur"]
    assert data["current"]["in_iterator_group"]
    # nothing changed the map: what is left is exactly what the loop has not seen yet
    assert data["remaining"] == {"entries": case["header"]["used"] - truth(build, name)["seen"], "exact": True,
                                 "buckets": None,
                                 "tables_after_current": data["remaining"]["tables_after_current"]}
    assert not data["stale"] and not data["map_grew_since_start"] and data["cleared_since_start"] is False
    assert not data["clear"]["cleared_since_start"]
    json.dumps(data)


@pytest.mark.parametrize("build", BUILDS)
def test_small_iterator(build):
    data = decode_iter(build, "itersmall")[0].to_json()
    assert data["mode"] == "small" and data["fields"]["dirIdx"] == -1 and data["fields"]["tab"] == 0
    assert data["group"] == {"address": data["map"]["dirPtr"], "is_map_group": True,
                             "map_grown_to_tables": False}
    assert data["start"]["first_slot"] == data["fields"]["entryOffset"] % 8
    assert data["next"]["slot"] == (data["fields"]["entryIdx"] + data["fields"]["entryOffset"]) % 8


@pytest.mark.parametrize("build", BUILDS)
def test_table_iterator_position(build):
    data = decode_iter(build, "itermulti")[0].to_json()
    table = data["table"]
    assert data["mode"] == "tables" and not table["stale"] and table["is_current"]
    first, last = table["in_directory"]
    assert first <= data["directory"]["index"] <= last
    entry = data["fields"]["entryIdx"] + data["fields"]["entryOffset"]
    assert (table["next"]["group"], table["next"]["slot"]) == ((entry & 1023) >> 3, entry & 7)
    assert table["current_group"] is not None
    assert not data["directory_growth"]["grew"]


@pytest.mark.parametrize("build", BUILDS)
def test_iterator_over_grown_table(build):
    """Inserts during the loop grew the table: the iterator's table is stale (index -1)."""
    iterator, memory, _ = decode_iter(build, "itergrow")
    data = iterator.to_json()
    assert data["table"]["stale"] and data["table"]["header"]["index"] == -1
    assert data["table"]["in_directory"] is None and not data["table"]["is_current"]
    assert data["remaining"]["exact"] is False  # Next re-looks up each old key in the live map
    assert current_key_value(iterator, memory) == truth(build, "itergrow")["cur"]


@pytest.mark.parametrize("build", BUILDS)
def test_iterator_after_clear(build):
    data = decode_iter(build, "iterclear")[0].to_json()
    assert data["clear"] == {"iterator_clear_seq": 0, "map_clear_seq": 1, "cleared_since_start": True}
    assert data["table"]["is_current"] and not data["table"]["stale"]
    assert data["remaining"]["exact"] is False


@pytest.mark.parametrize("build", BUILDS)
def test_iterator_after_directory_grew(build):
    """The only table split under the iterator: the directory doubled (globalDepth 0 -> 1)."""
    iterator, memory, case = decode_iter(build, "itersplit")
    data = iterator.to_json()
    assert data["directory_growth"] == {"iterator_global_depth": 0, "map_global_depth": 1, "grew": True}
    assert data["directory"]["effective_dir_offset"] == (data["fields"]["dirOffset"] << 1) % (1 << 64)
    assert data["table"]["stale"] and data["table"]["header"]["capacity"] == 1024
    # the stale table was full (896 = 1024 * 7/8) when it split and 5 were returned; of the 16 keys
    # inserted before the split, those that landed behind the iterator are not ahead of it
    assert data["table"]["header"]["used"] == 896
    assert 896 - 5 - 16 <= data["remaining"]["entries"] <= 896 - 5
    assert data["remaining"]["exact"] is False and data["remaining"]["tables_after_current"] == 0
    assert current_key_value(iterator, memory) == truth(build, "itersplit")["cur"]


def test_uninitialized_iterator():
    memory = SegmentMemory([(0x1000, bytes(96))])
    iterator = swiss.decode_iterator(memory, 0x1000, "swiss-go1.27")
    assert (iterator.state, iterator.state_detail, iterator.map_address) == ("not-started", "uninitialized", None)
    data = iterator.to_json()
    assert data["current"] is None and data["map"] is None and data["cleared_since_start"] is None
    assert data["remaining"] == {"entries": None, "buckets": None, "exact": False}


# --------------------------------------------------------------------------
# Finding iterators in stack memory


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name", ["itersmall", "itermulti", "itergrow", "iterclear", "itersplit"])
def test_scan_finds_the_range_loops_iterator(build, name):
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    memory = memory_of(case)
    low, size = case["stack"]
    stack = memory.read(low, size)
    hits = swiss.scan_for_iterators(memory, stack, low, layout, go_minor=minor)
    assert [hit.address for hit in hits] == [case["iter"]]
    assert hits[0].fields == case["iter_fields"] and hits[0].state == "in-progress"
    assert hits[0].map_address == case["map"]
    # the single-address check accepts the same iterator, and says why it refuses others
    verdict = swiss.iterator_candidate(memory, case["iter"], layout, map_address=case["map"], go_minor=minor)
    assert verdict.accepted and verdict.iterator.to_json() == hits[0].to_json()
    assert swiss.iterator_candidate(memory, case["iter"], layout, map_address=case["map"] + 8,
                                    go_minor=minor).reason == "m is not the wanted map"
    for shift in (-16, -8, 8, 16):
        assert not swiss.iterator_candidate(memory, case["iter"] + shift, layout, go_minor=minor).accepted
    assert [hit.address for hit in swiss.scan_for_iterators(memory, stack, low, layout, map_address=case["map"],
                                                            go_minor=minor)] == [case["iter"]]
    assert swiss.scan_for_iterators(memory, stack, low, layout, map_address=case["map"] + 8, go_minor=minor) == []
    # an unaligned start address is fine
    assert [hit.address for hit in swiss.scan_for_iterators(memory, stack[3:], low + 3, layout)] == [case["iter"]]


@pytest.mark.parametrize("build", BUILDS)
def test_scan_has_no_false_positives_in_real_memory(build):
    """Every captured byte (heap groups, tables, descriptors, frames): only the real iterators match."""
    layout, minor = layout_of(build)
    for name, case in capture(build)["cases"].items():
        memory = memory_of(case)
        found = []
        for start, text in case["segments"]:
            found += [hit.address for hit in swiss.scan_for_iterators(memory, bytes.fromhex(text), start, layout,
                                                                      go_minor=minor)]
        assert found == ([case["iter"]] if "iter" in case else []), name


def test_scan_rejects_near_misses():
    case = capture("go1.26.6")["cases"]["itermulti"]
    memory = memory_of(case)
    good = memory.read(case["iter"], 96)
    offsets = field_offsets(ITER)

    def with_field(name, value, signed=False):
        data = bytearray(good)
        offset, size = offsets[name]
        data[offset:offset + size] = value.to_bytes(size, "little", signed=signed)
        return bytes(data)

    base = 0x7000_0000_0000
    assert len(swiss.scan_for_iterators(memory, good, base, "swiss-go1.24")) == 1
    near_misses = [
        with_field("typ", case["maptype"]["Key"]),       # a type, but not a map type
        with_field("m", case["maptype"]["address"]),     # m is not a Map
        with_field("globalDepth", 3),                    # deeper than the map's directory
        with_field("dirIdx", 5),                         # past the directory
        with_field("entryIdx", 5000),                    # past any table
        with_field("tab", case["tables"][1]),            # a table the group does not belong to
        with_field("group", with_field_value(good, offsets, "group") + 8),  # not a group boundary
        with_field("clearSeq", 7),                       # the map was never cleared 7 times
        with_field("elem", 0),                           # key without elem
        good[:57] + b"\x01" + good[58:],                 # padding after globalDepth is zero
    ]
    for index, data in enumerate(near_misses):
        assert swiss.scan_for_iterators(memory, data, base, "swiss-go1.24") == [], index
        # the single-address check refuses the same near misses, with a reason
        patched = SegmentMemory([(base, data)] + [(address, bytes.fromhex(text)) for address, text in case["segments"]])
        verdict = swiss.iterator_candidate(patched, base, "swiss-go1.24")
        assert not verdict.accepted and verdict.reason, index
    assert swiss.iterator_candidate(SegmentMemory([(base, good)] + [
        (address, bytes.fromhex(text)) for address, text in case["segments"]]), base, "swiss-go1.24").accepted


def with_field_value(data, offsets, name):
    offset, size = offsets[name]
    return int.from_bytes(data[offset:offset + size], "little")


def test_scan_random_bytes():
    generator = random.Random(1)
    noise = bytes(generator.getrandbits(8) for _ in range(1 << 16))
    small_numbers = b"".join(struct.pack("<Q", generator.choice((0, 1, 8, 0x1000, 0xc000001000)))
                             for _ in range(8192))
    memory = SegmentMemory([(0x10000, noise)])
    assert swiss.scan_for_iterators(memory, noise, 0x10000, "swiss-go1.27") == []
    assert swiss.scan_for_iterators(memory, small_numbers, 0x10000, "swiss-go1.27") == []
    assert swiss.scan_for_iterators(memory, b"", 0x10000, "swiss-go1.27") == []


# --------------------------------------------------------------------------
# A synthetic map: many tables, built with the layouts themselves


def synthetic_map(entry_count, seed=7, layout="swiss-go1.27"):
    """A map[int64]int64 of 1024-slot tables at 7/8 load, with shared directory entries."""
    maptype = swiss.SwissMapType.from_sizes(8, 8)
    generator = random.Random(seed)
    per_table = 896
    table_count = max(1, -(-entry_count // per_table))
    depth = max(0, (table_count - 1).bit_length())
    # the directory has 2^depth entries: the first tables fill two entries each (localDepth one
    # less than globalDepth) until the rest fill one each
    doubled = (1 << depth) - table_count
    segments, directory = [], []
    next_address = 0x7f00_0000_0000
    key_base = 0
    structs = swiss_layout(layout)
    pairs = []
    for table_index in range(table_count):
        count = min(per_table, entry_count - table_index * per_table)
        groups = bytearray()
        slots = generator.sample(range(1024), count)
        ctrl = bytearray([CTRL_EMPTY] * 1024)
        payload = bytearray(1024 * 16)
        for offset, slot in enumerate(sorted(slots)):
            ctrl[slot] = generator.randrange(128)
            key = key_base + offset
            struct.pack_into("<qq", payload, slot * 16, key, key * 3 + 1)
            pairs.append((key, key * 3 + 1))
        key_base += count
        for group in range(128):
            groups += ctrl[group * 8:group * 8 + 8] + payload[group * 128:group * 128 + 128]
        groups_address = next_address
        next_address += len(groups) + 4096
        segments.append((groups_address, bytes(groups)))
        span = 2 if table_index < doubled else 1
        table_address = next_address
        next_address += 4096
        segments.append((table_address, structs.table.build(dict(
            used=count, capacity=1024, growthLeft=0, localDepth=depth - (span.bit_length() - 1),
            index=len(directory), groups=dict(data=groups_address, lengthMask=127)))))
        directory += [table_address] * span
    directory_address, map_address = next_address, next_address + 8 * len(directory) + 4096
    segments.append((directory_address, struct.pack(f"<{len(directory)}Q", *directory)))
    segments.append((map_address, structs.map_header.build(dict(
        used=entry_count, seed=1, dirPtr=directory_address, dirLen=len(directory), globalDepth=depth,
        globalShift=64 - depth, writing=0, tombstonePossible=0, clearSeq=0))))
    return SegmentMemory(segments), map_address, maptype, pairs


def test_synthetic_many_tables():
    memory, address, maptype, pairs = synthetic_map(20_000)
    decoded = swiss.decode_map(memory, address, maptype, "swiss-go1.27")
    assert decoded.problems == [] and decoded.complete
    assert int64_pairs(decoded) == sorted(pairs)
    assert decoded.detail["tables"][0]["directory"] == [0, 1]


def test_synthetic_type_descriptor():
    """parse_maptype on a descriptor built from the layout, with its Key/Elem/Group headers."""
    layout = swiss_layout("swiss-go1.27")
    header = dict(size=8, ptrdata=8, hash=0, tflag=0, align=8, field_align=8, kind=KIND_MAP, equal=0,
                  gcdata=0, str=0, ptr_to_this=0)
    sized = lambda size: ABI_TYPE.build(dict(header, size=size, kind=2))  # noqa: E731
    descriptor = layout.map_type.build(dict(
        Type=header, Key=0x2000, Elem=0x2100, Group=0x2200, Hasher=0x3000, GroupSize=136,
        KeysOff=8, KeyStride=8, ElemsOff=72, ElemStride=8, ElemOff=0, Flags=0))
    memory = SegmentMemory([(0x1000, descriptor), (0x2000, sized(8)), (0x2100, sized(8)), (0x2200, sized(136))])
    maptype = swiss.parse_maptype(memory, 0x1000, "swiss-go1.27")
    assert maptype.split and maptype.key_offset(3) == 32 and maptype.elem_offset(3) == 96
    broken = SegmentMemory([(0x1000, descriptor), (0x2000, sized(8)), (0x2100, sized(8)), (0x2200, sized(144))])
    with pytest.raises(swiss.BadMapType, match="Group.Size_"):
        swiss.parse_maptype(broken, 0x1000, "swiss-go1.27")
    with pytest.raises(swiss.BadMapType):
        swiss.parse_maptype(SegmentMemory(), 0x1000, "swiss-go1.27")


def test_memory_reads_are_bulk():
    """One read per structure: header, directory, each table header, each group array."""

    class CountingMemory:
        def __init__(self, inner):
            self.inner, self.reads = inner, []

        def read(self, address, size):
            self.reads.append(size)
            return self.inner.read(address, size)

    memory, address, maptype, _ = synthetic_map(5000)
    counting = CountingMemory(memory)
    decoded = swiss.decode_map(counting, address, maptype, "swiss-go1.27")
    tables = len(decoded.detail["tables"])
    assert len(counting.reads) == 1 + 1 + 2 * tables
    assert sorted(counting.reads)[-1] == 128 * 136


def test_unreadable_map_header():
    decoded = swiss.decode_map(SegmentMemory(), 0x1000, swiss.SwissMapType.from_sizes(8, 8), "swiss-go1.27")
    assert decoded.problems[0].what == "unreadable" and not decoded.complete
    with pytest.raises(swiss.UnreadableIterator, match="maps.Iter at 0x1000 unreadable: cannot read 96 bytes"):
        swiss.decode_iterator(SegmentMemory(), 0x1000, "swiss-go1.27")
    assert swiss.iterator_candidate(SegmentMemory(), 0x1000, "swiss-go1.27").reason.startswith("unreadable")


@pytest.mark.parametrize("build", BUILDS)
@pytest.mark.parametrize("name", ["itersmall", "itermulti"])
def test_iterator_before_first_next(build, name):
    """As Init leaves the Iter (key nil, nothing walked): not started, every entry still ahead."""
    case = capture(build)["cases"][name]
    layout, minor = layout_of(build)
    fields = dict(case["iter_fields"], key=0, elem=0, entryIdx=0)
    if fields["dirIdx"] >= 0:
        fields.update(dirIdx=0, tab=0, group=0)
    offsets = field_offsets(ITER)
    raw = bytearray(96)
    for field_name, value in fields.items():
        offset, size = offsets[field_name]
        raw[offset:offset + size] = value.to_bytes(size, "little", signed=value < 0)
    segments = [(case["iter"], bytes(raw))] + [(address, bytes.fromhex(text)) for address, text in case["segments"]
                                               if not address <= case["iter"] < address + len(text) // 2]
    iterator = swiss.decode_iterator(SegmentMemory(segments), case["iter"], layout, go_minor=minor)
    data = iterator.to_json()
    assert (data["state"], data["state_detail"]) == ("not-started", "starting") and data["current"] is None
    assert data["remaining"]["entries"] == case["header"]["used"] and data["remaining"]["exact"] is True
    # and once Next has walked everything, it is finished with nothing left
    done = dict(fields, entryIdx=8) if fields["dirIdx"] < 0 else dict(fields, dirIdx=1 << fields["globalDepth"])
    for field_name, value in done.items():
        offset, size = offsets[field_name]
        raw[offset:offset + size] = value.to_bytes(size, "little", signed=value < 0)
    segments[0] = (case["iter"], bytes(raw))
    data = swiss.decode_iterator(SegmentMemory(segments), case["iter"], layout, go_minor=minor).to_json()
    assert (data["state"], data["state_detail"]) == ("finished", "finished")
    assert data["remaining"]["entries"] == 0 and data["remaining"]["exact"] is True
