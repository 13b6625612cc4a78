"""Classic (bucket) map decoder, tested on memory captured from real Go processes.

Data: tests/unit/data/classic/<toolchain>.json (see the README there). Every
expected entry comes from the Go program that built the map, not from the
decoder.
"""

from __future__ import annotations

import base64
import functools
import json
import struct
import zlib
from pathlib import Path

import pytest

from gdb_hiter.core.maps.classic import walk as classic_walk
from gdb_hiter.core.maps import classic
from gdb_hiter.core.layouts import classic as classic_layouts
from gdb_hiter.core.program import goversion
from gdb_hiter.core.layouts.classic import CLASSIC_LAYOUTS, MAPTYPE_DWARF_NAMES, NO_CHECK
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.core.memory import SegmentMemory, UnreadableMemory

DATA = Path(__file__).parent / "data" / "classic"
TOOLCHAINS = sorted(path.stem for path in DATA.glob("*.json"))
SCENARIOS = ["plain", "deleted", "growing", "samesize", "indirect", "int8", "iterating", "iter-growing",
             "iter-samesize", "iter-grew-mid", "iter-grew-done", "iter-cleared", "iter-done"]
ITERATING = [name for name in SCENARIOS if name.startswith("iter")]


@functools.lru_cache(maxsize=None)
def load(toolchain: str) -> dict:
    return json.loads((DATA / f"{toolchain}.json").read_text())


def segments(raw) -> list:
    return [(address, zlib.decompress(base64.b64decode(blob))) for address, blob in raw]


class Case:
    """One captured scenario: its memory, truth and layout."""

    def __init__(self, toolchain: str, scenario: str):
        record = load(toolchain)
        self.toolchain = toolchain
        self.layout = record["layout"]
        data = record["scenarios"][scenario]
        self.name = scenario
        self.hmap = data["hmap"]
        self.maptype_address = data["maptype"]
        self.hiter = data["hiter"]
        self.stack_window = data["stack_window"]
        self.truth = data["truth"]
        self.segments = segments(data["segments"])
        self.memory = SegmentMemory(self.segments)

    def maptype(self):
        return classic.parse_maptype(self.memory, self.maptype_address, self.layout)

    def decode(self, **options):
        return classic.decode_map(self.memory, self.hmap, self.maptype(), self.layout, **options)

    def patched(self, address: int, new_bytes: bytes) -> SegmentMemory:
        """A copy of the memory with ``new_bytes`` written at ``address``."""
        result = []
        for start, data in self.segments:
            if start <= address < start + len(data):
                offset = address - start
                data = data[:offset] + new_bytes + data[offset + len(new_bytes):]
            result.append((start, data))
        return SegmentMemory(result)


def s64(data: bytes) -> int:
    return struct.unpack_from("<q", data)[0]


def key_value(scenario: str, entry) -> tuple:
    if scenario == "int8":
        return struct.unpack("<b", entry.key)[0], s64(entry.value)
    return s64(entry.key), s64(entry.value)


def all_cases(names=SCENARIOS):
    return [pytest.param(t, s, id=f"{t}-{s}") for t in TOOLCHAINS for s in names]


def test_data_present():
    assert {"go1.19", "go1.22.10", "go1.23.9", "go1.24.11-noswiss"} <= set(TOOLCHAINS)


# ---------------------------------------------------------------------------
# Layouts


def test_every_classic_family_has_a_layout():
    families = {rule.layout for rule in goversion.LAYOUT_RULES if rule.map_impl == "classic"}
    assert families == set(CLASSIC_LAYOUTS)


def test_layout_sizes():
    old, new = CLASSIC_LAYOUTS["classic-go1.18"], CLASSIC_LAYOUTS["classic-go1.24"]
    assert (old.hmap.sizeof(), old.hiter.sizeof()) == (48, 96)
    assert (new.hmap.sizeof(), new.hiter.sizeof()) == (56, 104)
    assert field_offsets(new.hmap)["clearSeq"] == (40, 8)
    assert field_offsets(new.hmap)["extra"] == (48, 8)
    assert field_offsets(new.hiter)["clearSeq"] == (96, 8)
    assert old.mapextra.sizeof() == 24 and old.maptype.sizeof() == 88
    assert not old.has_clear_seq and new.has_clear_seq


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_layouts_match_dwarf(toolchain):
    """Drift check: our Structs against the DWARF of the binary each toolchain built."""
    record = load(toolchain)
    layout = CLASSIC_LAYOUTS[record["layout"]]
    dwarf = record["dwarf"]
    for struct_name, ours in (("runtime.hmap", layout.hmap), ("runtime.hiter", layout.hiter),
                              ("runtime.mapextra", layout.mapextra)):
        offsets = {name: offset for name, (offset, _size) in field_offsets(ours).items()}
        assert offsets == dwarf[struct_name]["members"], struct_name
        assert ours.sizeof() == dwarf[struct_name]["size"], struct_name
    [maptype_name] = [name for name in MAPTYPE_DWARF_NAMES if name in dwarf]
    names = MAPTYPE_DWARF_NAMES[maptype_name]
    offsets = {names[name]: offset for name, (offset, _size) in field_offsets(layout.maptype).items()}
    assert offsets == dwarf[maptype_name]["members"]
    assert layout.maptype.sizeof() == dwarf[maptype_name]["size"]


def test_maptype_dwarf_names_by_release():
    assert MAPTYPE_DWARF_NAMES["runtime.maptype"]["elemsize"] == "elemsize"
    assert MAPTYPE_DWARF_NAMES["internal/abi.MapType"]["elemsize"] == "ValueSize"
    assert MAPTYPE_DWARF_NAMES["internal/abi.OldMapType"]["bucketsize"] == "BucketSize"


def test_bucket_struct_and_slot_codes():
    bucket = classic_layouts.bucket_struct(16, 8)
    assert bucket.sizeof() == 208 == classic_layouts.bucket_size(16, 8)
    assert field_offsets(bucket)["overflow"] == (200, 8)
    codes = classic_layouts.slot_codes(bytes([0, 1, 2, 3, 4, 5, 0x80, 0xff]))
    assert codes == "01234FFF"
    assert classic_layouts.slot_names(codes)[:6] == [
        "emptyRest", "emptyOne", "evacuatedX", "evacuatedY", "evacuatedEmpty", "full"]


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="not a classic map layout"):
        classic.decode_map(SegmentMemory(), 0x1000, classic.maptype_from_sizes(8, 8), "swiss-go1.24")


# ---------------------------------------------------------------------------
# Map type descriptors


def type_cases():
    return [pytest.param(t, id=t) for t in TOOLCHAINS if "types" in load(t)]


@pytest.mark.parametrize("toolchain", type_cases())
def test_parse_maptype_odd_sizes(toolchain):
    record = load(toolchain)
    memory = SegmentMemory(segments(record["types"]["segments"]))
    for known in record["types"]["types"]:
        parsed = classic.parse_maptype(memory, known["maptype"], record["layout"])
        assert (parsed.key_size, parsed.elem_size) == (known["key_size"], known["elem_size"]), known["name"]
        # no padding in any bucket: bucketsize is exactly 8 + 8*keysize + 8*elemsize + 8
        assert parsed.bucketsize == 8 + 8 * parsed.keysize + 8 * parsed.elemsize + 8, known["name"]
        from_sizes = classic.maptype_from_sizes(known["key_size"], known["elem_size"])
        assert (from_sizes.keysize, from_sizes.elemsize, from_sizes.bucketsize) == (
            parsed.keysize, parsed.elemsize, parsed.bucketsize), known["name"]
        assert (from_sizes.indirect_key, from_sizes.indirect_elem) == (
            parsed.indirect_key, parsed.indirect_elem), known["name"]


def test_maptype_from_sizes_indirect_threshold():
    assert not classic.maptype_from_sizes(128, 128).indirect_key
    big = classic.maptype_from_sizes(129, 200)
    assert (big.keysize, big.elemsize, big.bucketsize) == (8, 8, 144)
    assert big.indirect_key and big.indirect_elem
    with pytest.raises(ValueError):
        classic.maptype_from_sizes(8, 8, flags=1)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_parse_maptype_rejects_non_map_types(toolchain):
    case = Case(toolchain, "plain")
    maptype = case.maptype()
    as_struct = case.patched(case.maptype_address + 23, bytes([25]))   # kind byte: struct
    with pytest.raises(classic.NotAMapType, match="kind is 25"):
        classic.parse_maptype(as_struct, case.maptype_address, case.layout)
    with pytest.raises(classic.NotAMapType):
        classic.parse_maptype(case.memory, 0, case.layout)
    with pytest.raises(classic.UnreadableMap):
        classic.parse_maptype(case.memory, 0x1000, case.layout)
    # the key type must have the key slot's size
    wrong_key = case.patched(case.maptype_address + 80, bytes([4]))
    with pytest.raises(classic.NotAMapType):
        classic.parse_maptype(wrong_key, case.maptype_address, case.layout)
    # a descriptor whose bucketsize disagrees with its slot sizes
    bad = case.patched(case.maptype_address + 82, struct.pack("<H", maptype.bucketsize + 8))
    with pytest.raises(classic.NotAMapType, match="bucketsize"):
        classic.parse_maptype(bad, case.maptype_address, case.layout)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_parse_maptype_rejects_absurd_indirect_sizes(toolchain):
    """Found by tests/unit/test_fuzz.py: a key type Size_ of 0xdead00000000 made every entry of an
    indirect map one read of 244 TB (inside gdb, one buffer of that size)."""
    case = Case(toolchain, "indirect")
    maptype = case.maptype()
    for what, address in (("key", maptype.key_type), ("elem", maptype.elem_type)):
        corrupt = case.patched(address, struct.pack("<Q", 0xDEAD_0000_0000))
        with pytest.raises(classic.NotAMapType, match=f"{what} type size 244834610708480 exceeds 1048576"):
            classic.parse_maptype(corrupt, case.maptype_address, case.layout)
        # the bound itself is still a type: its entries are then unreadable, one read each
        at_bound = case.patched(address, struct.pack("<Q", 1 << 20))
        assert getattr(classic.parse_maptype(at_bound, case.maptype_address, case.layout),
                       f"{what}_size") == 1 << 20


# ---------------------------------------------------------------------------
# Whole-map decoding


@pytest.mark.parametrize("toolchain,scenario", all_cases())
def test_entries_match_the_program(toolchain, scenario):
    case = Case(toolchain, scenario)
    decoded = case.decode()
    assert decoded.problems == []
    assert decoded.complete and decoded.impl == "classic"
    assert decoded.count == case.truth["len"] == len(decoded.entries)
    assert sorted(key_value(scenario, entry) for entry in decoded.entries) == sorted(
        map(tuple, case.truth["entries"]))
    maptype = case.maptype()
    for entry in decoded.entries:
        assert case.memory.read(entry.key_address, maptype.key_size) == entry.key
        assert case.memory.read(entry.value_address, maptype.elem_size) == entry.value
        assert set(entry.location) == {"array", "bucket", "overflow", "slot"}
    json.dumps(decoded.detail, default=list)  # JSON-ready once the bucket records are listed
    assert json.loads(decoded.detail["buckets"].json()) == list(decoded.detail["buckets"])
    json.dumps([entry.to_json() for entry in decoded.entries])


@pytest.mark.parametrize("toolchain,scenario", all_cases())
def test_header_matches_the_program(toolchain, scenario):
    case = Case(toolchain, scenario)
    header = case.decode().header
    for name in ("B", "flags", "noverflow", "oldbuckets", "nevacuate"):
        assert header[name] == case.truth[name], name
    assert header["count"] == case.truth["len"]
    names = {"iterator": 1, "oldIterator": 2, "hashWriting": 4, "sameSizeGrow": 8}
    assert header["flag_names"] == [name for name, bit in names.items() if header["flags"] & bit]
    if CLASSIC_LAYOUTS[case.layout].has_clear_seq:
        assert "clearSeq" in header
    else:
        assert "clearSeq" not in header


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_deleted_slots_are_empty_one(toolchain):
    decoded = Case(toolchain, "deleted").decode()
    codes = "".join(bucket["slots"] + "".join(o["slots"] for o in bucket.get("overflow", []))
                    for bucket in decoded.detail["buckets"])
    assert "1" in codes                               # emptyOne: deleted, more may follow
    assert codes.count("F") == decoded.count


@pytest.mark.parametrize("toolchain,scenario", all_cases(["plain", "deleted", "indirect", "int8", "iterating"]))
def test_overflow_buckets_counted(toolchain, scenario):
    """Every overflow bucket the runtime counted is walked, no more."""
    case = Case(toolchain, scenario)
    decoded = case.decode()
    # noverflow is exact for B < 16 and counts overflow buckets of the current array
    of_new_array = sum(len(bucket.get("overflow", [])) for bucket in decoded.detail["buckets"])
    assert of_new_array == case.truth["noverflow"]
    if not case.truth["oldbuckets"]:
        assert decoded.detail["overflow_buckets"] == of_new_array
    full_in_overflow = sum(record["slots"].count("F") for bucket in decoded.detail["buckets"]
                           for record in bucket.get("overflow", []))
    assert full_in_overflow == sum(entry.location["overflow"] > 0 for entry in decoded.entries)
    if scenario == "plain":
        assert full_in_overflow > 0


@pytest.mark.parametrize("toolchain,scenario", all_cases(["growing", "samesize", "iter-growing", "iter-samesize"]))
def test_growth_detail(toolchain, scenario):
    case = Case(toolchain, scenario)
    decoded = case.decode()
    growth = decoded.detail["growth"]
    same_size = bool(case.truth["flags"] & 8)
    assert same_size == scenario.endswith("samesize") == growth["same_size"]
    B = case.truth["B"]
    assert growth["old_bucket_count"] == (1 << B if same_size else 1 << (B - 1))
    assert growth["oldbuckets"] == case.truth["oldbuckets"]
    evacuated = [b["index"] for b in growth["old_buckets"] if b["slots"][0] in "234"]
    assert sorted(evacuated + growth["pending"]) == list(range(growth["old_bucket_count"]))
    assert all(index < growth["old_bucket_count"] for index in growth["pending"])
    assert all(index >= case.truth["nevacuate"] for index in growth["pending"])
    assert evacuated and growth["pending"]              # caught in the middle
    full_in_pending = sum(
        record["slots"].count("F")
        for bucket in growth["old_buckets"] if bucket["index"] in growth["pending"]
        for record in [bucket] + bucket.get("overflow", []))
    from_old = [entry for entry in decoded.entries if entry.location["array"] == "oldbuckets"]
    assert len(from_old) == full_in_pending
    if scenario.endswith("growing"):   # a doubling grow caught early: both arrays hold entries
        assert 0 < len(from_old) < decoded.count
    for entry in decoded.entries:
        if entry.location["array"] == "oldbuckets":
            assert entry.location["bucket"] in growth["pending"]


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_indirect_keys_and_values(toolchain):
    case = Case(toolchain, "indirect")
    maptype = case.maptype()
    assert maptype.indirect_key and maptype.indirect_elem
    assert (maptype.keysize, maptype.elemsize, maptype.key_size, maptype.elem_size) == (8, 8, 136, 160)
    decoded = case.decode()
    buckets = decoded.header["buckets"]
    for entry in decoded.entries:
        assert len(entry.key) == 136 and entry.key[8 + 127] == 0xAB
        assert len(entry.value) == 160 and entry.value[8 + 149] == 0xCD
        # the bytes were followed out of the bucket
        assert not buckets <= entry.key_address < buckets + (1 << decoded.header["B"]) * maptype.bucketsize


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_unreadable_indirect_key_costs_one_entry(toolchain):
    case = Case(toolchain, "indirect")
    maptype = case.maptype()
    decoded = case.decode()
    victim = decoded.entries[0]
    slot_address = (decoded.header["buckets"] + victim.location["bucket"] * maptype.bucketsize
                    + 8 + victim.location["slot"] * maptype.keysize)
    assert victim.location["overflow"] == 0 and case.memory.read(slot_address, 8) == struct.pack(
        "<Q", victim.key_address)
    broken = classic.decode_map(case.patched(slot_address, struct.pack("<Q", 0x7000_0000_0000)),
                                case.hmap, maptype, case.layout)
    assert [p.what for p in broken.problems] == ["unreadable-entry", "count-mismatch"]
    assert len(broken.entries) == decoded.count - 1 and not broken.complete


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_int8_keys(toolchain):
    case = Case(toolchain, "int8")
    maptype = case.maptype()
    assert (maptype.keysize, maptype.elemsize, maptype.bucketsize) == (1, 8, 88)
    assert all(len(entry.key) == 1 for entry in case.decode().entries)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_limit_stops_early_and_keeps_header(toolchain):
    case = Case(toolchain, "growing")
    decoded = case.decode(limit=5)
    assert len(decoded.entries) == 5
    assert not decoded.complete
    assert decoded.detail["stopped"] == "limit"
    assert decoded.header["count"] == case.truth["len"]
    assert decoded.problems == []  # a limit the caller asked for is not a contradiction
    # the buckets walked before the limit keep their records
    assert decoded.detail["buckets"] and decoded.detail["buckets"][0]["index"] == 0
    assert case.decode(limit=0).entries == []


def test_nil_and_unreadable_maps_raise_one_line_errors():
    case = Case(TOOLCHAINS[0], "plain")
    maptype = case.maptype()
    with pytest.raises(classic.NilMap) as nil:
        classic.decode_map(case.memory, 0, maptype, case.layout)
    assert isinstance(nil.value, ValueError) and "\n" not in str(nil.value)
    with pytest.raises(classic.UnreadableMap, match="hmap at 0x1000 unreadable"):
        classic.decode_map(case.memory, 0x1000, maptype, case.layout)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_implausible_header_raises(toolchain):
    case = Case(toolchain, "plain")
    bad = case.patched(case.hmap + 9, bytes([63]))   # B = 63
    with pytest.raises(classic.ImplausibleMap, match="B = 63"):
        classic.decode_map(bad, case.hmap, case.maptype(), case.layout)


def first_overflow(decoded):
    for bucket in decoded.detail["buckets"]:
        if bucket.get("overflow"):
            return bucket, bucket["overflow"][0]
    raise AssertionError("no overflow bucket in this capture")


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_overflow_cycle_is_a_problem_and_the_walk_stops(toolchain):
    case = Case(toolchain, "plain")
    decoded = case.decode()
    maptype = case.maptype()
    bucket, overflow = first_overflow(decoded)
    # the first overflow bucket now points back at itself
    cyclic = case.patched(overflow["address"] + maptype.bucketsize - 8, struct.pack("<Q", overflow["address"]))
    broken = classic.decode_map(cyclic, case.hmap, maptype, case.layout)
    whats = [problem.what for problem in broken.problems]
    assert "overflow-cycle" in whats
    assert not broken.complete and broken.detail["stopped"] == "problem"
    later = [o for o in bucket["overflow"] if o["depth"] > 1]
    lost = sum(o["slots"].count("F") for o in later)
    assert len(broken.entries) == decoded.count - lost
    if lost:
        assert "count-mismatch" in whats


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_overflow_chain_bound(toolchain):
    case = Case(toolchain, "plain")
    decoded = case.decode(max_chain=0)
    assert "overflow-chain-too-long" in [problem.what for problem in decoded.problems]
    assert not decoded.complete


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_unreadable_overflow_bucket(toolchain):
    case = Case(toolchain, "plain")
    maptype = case.maptype()
    bucket, _ = first_overflow(case.decode())
    # point the bucket's chain at an unmapped address
    bad = case.patched(bucket["address"] + maptype.bucketsize - 8, struct.pack("<Q", 0x7000_0000_0000))
    decoded = classic.decode_map(bad, case.hmap, maptype, case.layout)
    assert "unreadable-bucket" in [problem.what for problem in decoded.problems]
    assert not decoded.complete


def test_hash_writing_is_named_as_the_likely_cause():
    case = Case(TOOLCHAINS[0], "plain")
    memory = case.patched(case.hmap, struct.pack("<qB", case.truth["len"] + 1, 4))
    decoded = classic.decode_map(memory, case.hmap, case.maptype(), case.layout)
    [problem] = decoded.problems
    assert problem.what == "count-mismatch" and "hashWriting" in problem.why
    assert decoded.header["flag_names"] == ["hashWriting"]


def test_bucket_array_read_in_chunks_and_bad_chunks_salvaged(monkeypatch):
    case = Case(TOOLCHAINS[0], "plain")
    maptype = case.maptype()
    monkeypatch.setattr(classic_walk, "READ_CHUNK_BYTES", 3 * maptype.bucketsize)
    assert len(case.decode().entries) == case.truth["len"]

    class Holey:
        """Bucket 5 of the array is unreadable; everything else reads."""

        def __init__(self, memory, hole):
            self.memory, self.hole = memory, hole

        def read(self, address, size):
            if address < self.hole + maptype.bucketsize and self.hole < address + size:
                raise UnreadableMemory(address, size, "hole")
            return self.memory.read(address, size)

    hole = case.decode().header["buckets"] + 5 * maptype.bucketsize
    decoded = classic.decode_map(Holey(case.memory, hole), case.hmap, maptype, case.layout)
    assert [p.what for p in decoded.problems][:1] == ["unreadable-bucket"]
    assert all(entry.location["bucket"] != 5 for entry in decoded.entries)
    assert len(decoded.entries) < case.truth["len"]
    assert [b["index"] for b in decoded.detail["buckets"]] == [i for i in range(16) if i != 5]


# ---------------------------------------------------------------------------
# Iterators


@pytest.mark.parametrize("toolchain,scenario", all_cases(ITERATING))
def test_iterator_current_entry_is_the_last_visited(toolchain, scenario):
    case = Case(toolchain, scenario)
    iterator = classic.decode_iterator(case.memory, case.hiter, case.layout)
    data = iterator.to_json()
    json.dumps(data)
    assert data["fields"]["h"] == case.hmap and data["fields"]["t"] == case.maptype_address
    assert data["map"]["count"] == case.truth["len"]
    if scenario == "iter-done":
        assert data["state"] == "finished" and data["finished"]
        assert data["buckets_remaining"] == 0 and data["current"] is None
        assert data["wrapped"]
        assert data["remaining"] == {"entries": 0, "buckets": 0, "exact": True}
        return
    assert data["state"] == "in-progress" and data["state_detail"] == "active"
    current = data["current"]
    assert (current["key_address"], current["elem_address"]) == (data["fields"]["key"], data["fields"]["elem"])
    last_key, last_value = case.truth["visited"][-1]
    assert s64(bytes.fromhex(current["key_bytes"])) == last_key
    assert s64(bytes.fromhex(current["elem_bytes"])) == last_value
    assert current["slot"] == (data["fields"]["i"] - 1 + data["fields"]["offset"]) % 8
    assert 0 <= data["buckets_remaining"] < data["bucket_count"]
    assert data["remaining"]["buckets"] == data["buckets_remaining"]
    assert data["position"] == {"bucket": current["bucket"], "slot": current["slot"], "wrapped": data["wrapped"],
                                "start_bucket": data["start_bucket"], "start_offset": data["start_offset"]}
    if scenario in ("iterating", "iter-samesize") and data["map"]["oldbuckets"] == 0 \
            and data["check_bucket"]["value"] == NO_CHECK:
        # nothing changed the map under the loop: what is left is exactly what it has not returned yet
        assert data["remaining"] == {"entries": case.truth["len"] - len(case.truth["visited"]),
                                     "buckets": data["buckets_remaining"], "exact": True}
    if scenario in ("iter-grew-mid", "iter-grew-done", "iter-growing") or (
            scenario == "iter-cleared" and "clear_seq" in data):
        # mapiternext looks the rest up in the grown (or cleared, 1.24+) map: no exact count
        assert data["remaining"]["entries"] is None and data["remaining"]["exact"] is False
    if scenario == "iter-cleared" and "clear_seq" not in data:
        # 1.18 - 1.23 clear the bucket array in place: the iterator walks what is in it now
        assert isinstance(data["remaining"]["entries"], int) and data["remaining"]["exact"] is True


EXPECTED_WALK = {
    "iterating": ("buckets", False),
    "iter-growing": ("buckets", False),
    "iter-samesize": ("buckets", False),
    "iter-cleared": ("buckets", False),
    "iter-done": ("buckets", False),
    "iter-grew-mid": ("oldbuckets", True),
    "iter-grew-done": ("retired", True),
}


@pytest.mark.parametrize("toolchain,scenario", all_cases(ITERATING))
def test_iterator_knows_which_array_it_walks(toolchain, scenario):
    case = Case(toolchain, scenario)
    data = classic.decode_iterator(case.memory, case.hiter, case.layout).to_json()
    assert (data["walks"], data["map_grew_since_start"]) == EXPECTED_WALK[scenario]
    assert data["stale"] == (data["walks"] != "buckets")
    if scenario == "iter-growing":
        # started mid-grow; the first bucket was read from a not-yet-evacuated old bucket
        assert data["check_bucket"]["value"] != NO_CHECK
        assert data["current"]["bptr_in"]["array"] == "oldbuckets"
        assert data["current"]["bucket"] == data["check_bucket"]["value"]
        assert "only its entries whose hash selects" in data["check_bucket"]["meaning"]
    if scenario == "iter-samesize" and data["check_bucket"]["value"] != NO_CHECK:
        assert "same-size grow" in data["check_bucket"]["meaning"]
    if data["check_bucket"]["value"] == NO_CHECK:
        assert data["check_bucket"]["meaning"].startswith("noCheck")


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_iterator_clear_seq(toolchain):
    case = Case(toolchain, "iter-cleared")
    data = classic.decode_iterator(case.memory, case.hiter, case.layout).to_json()
    if CLASSIC_LAYOUTS[case.layout].has_clear_seq:
        assert data["clear_seq"]["map_cleared_since_start"] and data["cleared_since_start"] is True
        assert data["clear_seq"]["map"] == data["clear_seq"]["iterator"] + 1
    else:
        assert "clear_seq" not in data and "clearSeq" not in data["fields"]
        assert data["cleared_since_start"] is None   # 1.18 - 1.23 cannot tell


HITER_HEAD_NAMES = ("key", "elem", "t", "h", "buckets", "bptr", "overflow", "oldoverflow", "startBucket",
                    "offset", "wrapped", "B", "i", "bucket", "checkBucket")


def pack_hiter_head(fields) -> bytes:
    return struct.pack("<9Q4B4x2Q", *(fields[name] for name in HITER_HEAD_NAMES))


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_iterator_states(toolchain):
    case = Case(toolchain, "iterating")
    fields = classic.decode_iterator(case.memory, case.hiter, case.layout).fields

    def state(**changes):
        memory = case.patched(case.hiter, pack_hiter_head(dict(fields, **changes)))
        data = classic.decode_iterator(memory, case.hiter, case.layout).to_json()
        return data["state"], data["state_detail"]

    assert state() == ("in-progress", "active")
    # as mapiterinit leaves it before its first step: nothing current, nothing advanced
    assert state(key=0, elem=0, bptr=0, i=0, wrapped=0, bucket=fields["startBucket"]) == ("not-started", "starting")
    # mapiterinit on a nil or empty map sets only t
    assert state(key=0, elem=0, h=0) == ("finished", "empty-map")
    # the compiler's zeroed temporary, before mapiterinit
    assert state(key=0, elem=0, t=0, h=0, buckets=0, bptr=0, i=0, wrapped=0, bucket=0, startBucket=0) == \
        ("not-started", "uninitialized")
    # walked past the last bucket
    assert state(key=0, elem=0, bptr=0, wrapped=1, bucket=fields["startBucket"]) == ("finished", "finished")


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_iterator_starting_counts_every_entry(toolchain):
    case = Case(toolchain, "iterating")
    fields = classic.decode_iterator(case.memory, case.hiter, case.layout).fields
    starting = dict(fields, key=0, elem=0, bptr=0, i=0, wrapped=0, bucket=fields["startBucket"])
    memory = case.patched(case.hiter, pack_hiter_head(starting))
    data = classic.decode_iterator(memory, case.hiter, case.layout).to_json()
    assert data["remaining"] == {"entries": case.truth["len"], "buckets": 1 << fields["B"], "exact": True}


@pytest.mark.parametrize("B,start,bucket,wrapped,remaining", [
    (3, 3, 4, 0, 7),     # started at 3, did 3: 4,5,6,7,0,1,2 left
    (3, 3, 0, 1, 3),     # did 3..7: 0,1,2 left
    (3, 3, 3, 1, 0),     # back at the start: done after this chain
    (3, 0, 1, 0, 7),
    (0, 0, 0, 1, 0),     # one bucket
])
def test_buckets_remaining(B, start, bucket, wrapped, remaining):
    fields = {"key": 0x1000, "B": B, "startBucket": start, "bucket": bucket, "wrapped": wrapped}
    assert classic.buckets_remaining(fields) == remaining


# ---------------------------------------------------------------------------
# Finding iterators in stack memory


@pytest.mark.parametrize("toolchain,scenario", all_cases(ITERATING))
def test_stack_scan_finds_exactly_the_iterator(toolchain, scenario):
    case = Case(toolchain, scenario)
    start, size = case.stack_window
    found = classic.scan_for_iterators(case.memory, case.memory.read(start, size), start, case.layout)
    assert [iterator.address for iterator in found] == [case.hiter]
    assert found[0].fields["h"] == case.hmap and found[0].map_address == case.hmap
    assert found[0].to_json() == classic.iterator_candidate(case.memory, case.hiter, case.layout).iterator.to_json()
    only_ours = classic.scan_for_iterators(case.memory, case.memory.read(start, size), start, case.layout,
                                           map_address=case.hmap + 8)
    assert only_ours == []


@pytest.mark.parametrize("toolchain,scenario", all_cases(["iterating", "iter-grew-done", "iter-done"]))
def test_iterator_candidate_verdicts(toolchain, scenario):
    case = Case(toolchain, scenario)
    accepted = classic.iterator_candidate(case.memory, case.hiter, case.layout, map_address=case.hmap)
    assert accepted.accepted and accepted.reason is None
    for shift in (-16, -8, 8, 16):
        assert not classic.iterator_candidate(case.memory, case.hiter + shift, case.layout).accepted
    wrong_map = classic.iterator_candidate(case.memory, case.hiter, case.layout, map_address=0xdead0)
    assert wrong_map.reason == "h is not the wanted map"


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_iterator_candidate_rejects_corruption(toolchain):
    case = Case(toolchain, "iterating")
    hiter = case.hiter
    maptype = case.maptype()

    def verdict(offset, new_bytes):
        memory = case.patched(hiter + offset, new_bytes)
        return classic.iterator_candidate(memory, hiter, case.layout)

    assert verdict(72, bytes([9])).reason == "offset >= 8"
    assert verdict(73, bytes([2])).reason == "wrapped is not a bool"
    assert verdict(75, bytes([9])).reason == "i > 8"
    assert verdict(76, bytes([1])).reason == "padding after i is not zero"
    assert verdict(16, struct.pack("<Q", maptype.key_type)).reason.startswith("t: ")   # not a map type
    assert verdict(0, struct.pack("<Q", 0)).reason.startswith("key and elem disagree")
    assert "current slot" in verdict(0, struct.pack("<Q", case.hmap)).reason
    assert verdict(80, struct.pack("<Q", 1 << 20)).reason == "bucket/startBucket outside 2^B"
    unreadable = classic.iterator_candidate(case.memory, 0x1000, case.layout)
    assert unreadable.reason.startswith("unreadable")


def test_scan_ignores_zeroed_and_random_memory():
    memory = SegmentMemory()
    zeros = bytes(64 * 1024)
    assert classic.scan_for_iterators(memory, zeros, 0xc000000000, "classic-go1.18") == []
    noise = bytes((i * 7919 + (i >> 3) * 104729) & 0xFF for i in range(64 * 1024))
    assert classic.scan_for_iterators(memory, noise, 0xc000000000, "classic-go1.24") == []


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("scenario", ["growing", "samesize", "plain"])
def test_bucket_records_are_a_sequence_of_dicts(toolchain, scenario):
    """BucketRecords indexes, slices and writes JSON like the list of dicts it stands for."""
    decoded = Case(toolchain, scenario).decode()
    arrays = [decoded.detail["buckets"]]
    if decoded.detail["growth"]:
        arrays.append(decoded.detail["growth"]["old_buckets"])
    for records in arrays:
        listed = list(records)
        assert len(listed) == len(records) > 0
        assert [records[index] for index in range(len(records))] == listed
        assert records[-1] == listed[-1] and records[1:3] == listed[1:3] and records == listed
        assert json.loads(records.json()) == listed and records.json() == json.dumps(listed)
        with pytest.raises(IndexError):
            records[len(records)]
    chained = [record for record in decoded.detail["buckets"] if "overflow" in record]
    assert all(record["overflow"] and record["overflow"][0]["depth"] == 1 for record in chained)


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
def test_a_corrupt_b_over_readable_garbage_stops_within_a_few_chunks(toolchain):
    """The bucket array is followed by readable memory that is not buckets (the Go heap usually is):
    once the walk has met more problems than it lists and more live entries than hmap.count, it stops."""
    import random
    case = Case(toolchain, "plain")
    real = classic.decode_map(SegmentMemory(case.segments), case.hmap, case.maptype(), case.layout)
    end = real.header["buckets"] + (1 << real.header["B"]) * case.maptype().bucketsize
    garbage = random.Random(7).randbytes(64 << 20)   # 64 MiB: one heap arena, around the real overflow buckets
    layout = classic_layouts.classic_layout(case.layout)
    b_offset = field_offsets(layout.hmap)["B"][0]
    at = case.hmap + b_offset
    segments = [(start, data[:at - start] + bytes([24]) + data[at - start + 1:]) if start <= at < start + len(data)
                else (start, data) for start, data in case.segments]
    filler, at = [], end
    for start, data in sorted(segment for segment in segments if segment[0] >= end):
        if start > at:
            filler.append((at, garbage[at - end:start - end]))
        at = max(at, start + len(data))
    filler.append((at, garbage[at - end:]))
    memory = SegmentMemory(segments + filler)
    read = []

    class Counting:
        def read(self, address, size):
            read.append(size)
            return memory.read(address, size)

    decoded = classic.decode_map(Counting(), case.hmap, case.maptype(), case.layout)
    assert not decoded.complete and decoded.detail["stopped"] == "problem"
    (stop,) = [p for p in decoded.problems if p.what == "walk-stopped"]
    assert "this memory is not the map's buckets" in stop.why and f"hmap.count is {real.count}" in stop.why
    assert sum(read) < 4 * classic_walk.READ_CHUNK_BYTES, sum(read)   # a few chunks, not the 64 MiB after it
    in_buckets = {(s64(entry.key), s64(entry.value)) for entry in real.entries if entry.location["overflow"] == 0}
    assert in_buckets <= {(s64(entry.key), s64(entry.value)) for entry in decoded.entries}   # walked first


@pytest.mark.parametrize("toolchain", TOOLCHAINS)
@pytest.mark.parametrize("corrupt_b", [22, 24, 30])
def test_a_corrupt_b_costs_a_few_reads_not_minutes(toolchain, corrupt_b):
    """B says 2^B buckets; the array the memory holds is much smaller: the walk gives up
    after two chunks unreadable at both ends instead of trying millions of buckets one by one."""
    case = Case(toolchain, "plain")
    layout = classic_layouts.classic_layout(case.layout)
    b_offset = field_offsets(layout.hmap)["B"][0]
    memory = case.patched(case.hmap + b_offset, bytes([corrupt_b]))

    class Counting:
        reads = 0

        def read(self, address, size):
            Counting.reads += 1
            return memory.read(address, size)

    decoded = classic.decode_map(Counting(), case.hmap, case.maptype(), case.layout)
    assert not decoded.complete
    stops = [p for p in decoded.problems if p.what == "unreadable-bucket" and "not walked" in p.why]
    assert len(stops) == 1 and "the array is unreadable from there on" in stops[0].why, decoded.problems
    assert Counting.reads < 200, Counting.reads
    # the buckets the memory does hold are still walked
    assert {tuple(pair) for pair in case.truth["entries"]} >= {
        (s64(entry.key), s64(entry.value)) for entry in decoded.entries}
