"""MapImplementation: one iterator API and one JSON shape for the classic and the Swiss decoder.

Every iterator captured from a real Go process (tests/unit/data/classic and
tests/unit/data/swiss, see test_classic.py and test_swiss.py) is decoded
through its ``MapImplementation`` and must give the common keys with the right types,
the same three states, the same errors and the same objects from
``decode_iterator``, ``check_iterator`` and ``scan_for_iterators``.
"""

from __future__ import annotations

import base64
import functools
import json
import lzma
import struct
import zlib
from pathlib import Path

import pytest

from gdb_hiter.core.maps import classic
from gdb_hiter.core.maps import interface
from gdb_hiter.core.maps import swiss
from gdb_hiter.core.program.goversion import LAYOUT_RULES, parse_build_version, select_layout
from gdb_hiter.core.maps.implementations import for_layout
from gdb_hiter.core.maps.interface import IteratorError, MapLayout
from gdb_hiter.core.memory import SegmentMemory

DATA = Path(__file__).parent / "data"
CLASSIC_TOOLCHAINS = sorted(path.stem for path in (DATA / "classic").glob("*.json"))
SWISS_BUILDS = sorted(path.name[:-len(".json.xz")] for path in (DATA / "swiss").glob("*.json.xz"))


@functools.lru_cache(maxsize=None)
def _classic_record(toolchain):
    return json.loads((DATA / "classic" / f"{toolchain}.json").read_text())


@functools.lru_cache(maxsize=None)
def _swiss_record(build):
    with lzma.open(DATA / "swiss" / f"{build}.json.xz") as file:
        return json.load(file)


class Captured:
    """One captured iterator: its memory, layout, address, map and the stack bytes around it."""

    def __init__(self, segments, layout, address, map_address, stack, truth_state):
        self.segments = segments
        self.memory = SegmentMemory(segments)
        self.layout = layout
        self.address = address
        self.map_address = map_address
        self.stack = stack                  # (start, size) of a window holding the iterator
        self.truth_state = truth_state      # what the Go program says the loop is doing


def _classic_case(toolchain, scenario):
    record = _classic_record(toolchain)
    data = record["scenarios"][scenario]
    segments = [(address, zlib.decompress(base64.b64decode(blob))) for address, blob in data["segments"]]
    layout = MapLayout("classic", record["layout"], parse_build_version(toolchain.split("-")[0]).minor)
    state = "finished" if scenario == "iter-done" else "in-progress"
    return Captured(segments, layout, data["hiter"], data["hmap"], tuple(data["stack_window"]), state)


def _swiss_case(build, name):
    record = _swiss_record(build)
    case = record["cases"][name]
    version = parse_build_version(record["version"])
    selected = select_layout(version)
    segments = [(address, bytes.fromhex(data)) for address, data in case["segments"]]
    layout = MapLayout(selected.map_impl, selected.layout, version.minor)
    return Captured(segments, layout, case["iter"], case["map"], tuple(case["stack"]), "in-progress")


CLASSIC_CASES = [("classic", toolchain, scenario) for toolchain in CLASSIC_TOOLCHAINS
                 for scenario, data in sorted(_classic_record(toolchain)["scenarios"].items()) if data["hiter"]]
SWISS_CASES = [("swiss", build, name) for build in SWISS_BUILDS
               for name, case in sorted(_swiss_record(build)["cases"].items()) if "iter" in case]
ALL_CASES = CLASSIC_CASES + SWISS_CASES


def captured(kind, build, name):
    return _classic_case(build, name) if kind == "classic" else _swiss_case(build, name)


def test_every_capture_is_covered():
    assert len(CLASSIC_CASES) == 7 * len(CLASSIC_TOOLCHAINS) and len(SWISS_CASES) == 5 * len(SWISS_BUILDS)
    assert CLASSIC_TOOLCHAINS and SWISS_BUILDS


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def check_common_json(data, impl_family):
    """The keys every iterator's to_json() has, with their types."""
    assert _is_int(data["address"])
    assert data["impl"] in (("classic",) if impl_family == "classic" else ("swiss", "swiss-split"))
    assert isinstance(data["layout"], str) and data["layout"].startswith(impl_family)
    assert data["map_address"] is None or _is_int(data["map_address"])
    assert data["state"] in interface.ITER_STATES
    assert isinstance(data["stale"], bool)
    assert isinstance(data["map_grew_since_start"], bool)
    assert data["cleared_since_start"] is None or isinstance(data["cleared_since_start"], bool)
    position = data["position"]
    if impl_family == "classic":
        assert set(position) == {"bucket", "slot", "wrapped", "start_bucket", "start_offset"}
        assert isinstance(position["wrapped"], bool)
        assert _is_int(position["start_bucket"]) and _is_int(position["start_offset"])
    else:
        assert set(position) == {"dir_idx", "entry_idx", "table", "group", "slot"}
        assert _is_int(position["entry_idx"])
    for value in position.values():
        assert value is None or _is_int(value) or isinstance(value, bool)
    current = data["current"]
    if data["state"] == "in-progress":
        assert _is_int(current["key_address"]) and _is_int(current["elem_address"])
        assert (current["key_address"], current["elem_address"]) == (data["fields"]["key"], data["fields"]["elem"])
    else:
        assert current is None
    remaining = data["remaining"]
    assert {"entries", "buckets", "exact"} <= set(remaining)
    assert remaining["entries"] is None or _is_int(remaining["entries"])
    assert remaining["buckets"] is None or _is_int(remaining["buckets"])
    assert isinstance(remaining["exact"], bool)
    if remaining["exact"]:
        assert remaining["entries"] is not None
    if impl_family != "classic":
        assert remaining["buckets"] is None
    assert isinstance(data["fields"], dict) and all(_is_int(value) for value in data["fields"].values())
    if data["map"] is not None:
        assert data["map"]["address"] == data["map_address"]
    assert isinstance(data["problems"], list)
    assert all(isinstance(problem, dict) and {"what", "why"} <= set(problem) for problem in data["problems"])
    json.dumps(data)


@pytest.mark.parametrize("kind,build,name", ALL_CASES)
def test_common_keys(kind, build, name):
    case = captured(kind, build, name)
    iterator = for_layout(case.layout).decode_iterator(case.memory, case.address)
    data = iterator.to_json()
    check_common_json(data, kind)
    assert iterator.address == data["address"] == case.address
    assert iterator.map_address == data["map_address"] == case.map_address
    assert iterator.state == data["state"] == case.truth_state
    assert data["impl"] == case.layout.map_impl
    assert data["layout"] == case.layout.layout
    assert data["problems"] == []


@pytest.mark.parametrize("kind,build,name", ALL_CASES)
def test_decode_check_and_scan_agree(kind, build, name):
    case = captured(kind, build, name)
    decoded = for_layout(case.layout).decode_iterator(case.memory, case.address)
    checked = for_layout(case.layout).check_iterator(case.memory, case.address, map_address=case.map_address)
    start, size = case.stack
    scanned = for_layout(case.layout).scan_for_iterators(case.memory, case.memory.read(start, size), start)
    assert [iterator.address for iterator in scanned] == [case.address]
    assert type(decoded) is type(checked) is type(scanned[0])
    assert decoded.to_json() == checked.to_json() == scanned[0].to_json()
    assert for_layout(case.layout).scan_for_iterators(case.memory, case.memory.read(start, size), start,
                                        map_address=case.map_address + 8) == []


@pytest.mark.parametrize("kind,build,name", ALL_CASES)
def test_check_iterator_refuses_with_one_line(kind, build, name):
    case = captured(kind, build, name)
    for shift in (-8, 8):
        with pytest.raises(IteratorError) as refused:
            for_layout(case.layout).check_iterator(case.memory, case.address + shift)
        assert refused.value.implausible and str(refused.value).startswith("not a live map iterator (")
        assert "\n" not in str(refused.value)
    with pytest.raises(IteratorError, match=r"not a live map iterator \(. is not the wanted map\)"):
        for_layout(case.layout).check_iterator(case.memory, case.address, map_address=case.map_address + 8)


@pytest.mark.parametrize("layout", [
    MapLayout("classic", "classic-go1.18", 22), MapLayout("classic", "classic-go1.24", 24),
    MapLayout("swiss", "swiss-go1.24", 24), MapLayout("swiss", "swiss-go1.27", 27)])
def test_unreadable_iterator_is_the_same_error(layout):
    implementation = for_layout(layout)
    for function in (implementation.decode_iterator, implementation.check_iterator):
        with pytest.raises(IteratorError, match=r"^(runtime\.hiter|hiter|maps\.Iter) at 0x1000 unreadable: "
                                                r"cannot read \d+ bytes at 0x1000") as error:
            function(SegmentMemory(), 0x1000)
        assert isinstance(error.value, ValueError) and not error.value.implausible


@pytest.mark.parametrize("layout", [MapLayout("classic", "classic-go1.18", 22), MapLayout("swiss", "swiss-go1.27", 27)])
def test_nil_map_raises_for_both(layout):
    with pytest.raises(interface.NilMap, match="^nil map$"):
        for_layout(layout).decode_map(SegmentMemory(), 0, None)


def _patched_states(case):
    """(state, state_detail) of the captured iterator with its fields rewritten as the runtime leaves them
    before Init, for an empty map, and after the last entry."""
    fields = for_layout(case.layout).decode_iterator(case.memory, case.address).fields
    size = for_layout(case.layout).iterator_size
    if case.layout.map_impl == "classic":
        names = ("key", "elem", "t", "h", "buckets", "bptr", "overflow", "oldoverflow", "startBucket",
                 "offset", "wrapped", "B", "i", "bucket", "checkBucket")
        variants = [
            {name: 0 for name in fields},                                           # zeroed temporary
            dict({name: 0 for name in fields}, t=fields["t"]),                      # mapiterinit, empty map
            dict(fields, key=0, elem=0, bptr=0, wrapped=1, bucket=fields["startBucket"]),  # walked to the end
            dict(fields, key=0, elem=0, bptr=0, i=0, wrapped=0, bucket=fields["startBucket"]),  # before the 1st step
        ]

        def pack(values):
            raw = struct.pack("<9Q4B4x2Q", *(values[name] for name in names))
            return raw + (struct.pack("<Q", values["clearSeq"]) if "clearSeq" in values else b"")
    else:
        names = ("key", "elem", "typ", "m", "entryOffset", "dirOffset", "clearSeq", "globalDepth", "dirIdx",
                 "tab", "group", "entryIdx")
        variants = [
            {name: 0 for name in fields},
            dict({name: 0 for name in fields}, typ=fields["typ"]),                  # Init on an empty map
            dict(fields, key=0, elem=0, dirIdx=1 << fields["globalDepth"], tab=0, group=0, entryIdx=0),  # done
            dict(fields, key=0, elem=0, dirIdx=0, tab=0, group=0, entryIdx=0),       # after Init, before Next
        ]

        def pack(values):
            return struct.pack("<7QB7xq3Q", *(values[name] for name in names))
    states = []
    for values in variants:
        raw = pack(values)
        assert len(raw) == size
        memory = SegmentMemory([(case.address, raw)] + [
            (start, data) for start, data in case.segments if not start <= case.address < start + len(data)])
        iterator = for_layout(case.layout).decode_iterator(memory, case.address)
        data = iterator.to_json()
        check_common_json(data, "classic" if case.layout.map_impl == "classic" else "swiss")
        states.append((data["state"], data["state_detail"]))
        if data["state_detail"] == "starting":
            # nothing visited yet, nothing changed: every entry of the map is still ahead
            assert data["remaining"]["entries"] == data["map"]["count" if case.layout.map_impl == "classic" else "used"]
            assert data["remaining"]["exact"] is True and data["current"] is None
    return states


def test_state_vocabulary_is_shared():
    classic_case = _classic_case("go1.22.10", "iterating")
    swiss_case = _swiss_case("go1.27.3", "itermulti")
    classic_states = _patched_states(classic_case)
    swiss_states = _patched_states(swiss_case)
    expected = [("not-started", "uninitialized"), ("finished", "empty-map"), ("finished", "finished"),
                ("not-started", "starting")]
    assert classic_states == expected and swiss_states == expected
    assert set(classic.STATE_OF_DETAIL.values()) == set(swiss.STATE_OF_DETAIL.values()) == set(interface.ITER_STATES)
    assert {state for state, _ in classic_states + swiss_states} | {"in-progress"} == set(interface.ITER_STATES)


@pytest.mark.parametrize("rule", LAYOUT_RULES, ids=lambda rule: f"{rule.layout}-{rule.map_impl}")
def test_each_layout_rule_has_one_implementation(rule):
    """Every (map_impl, layout) the version table can choose gets a decoder, once, and the same one again."""
    layout = MapLayout(rule.map_impl, rule.layout, rule.first_minor)
    implementation = for_layout(layout)
    expected = classic.ClassicMaps if rule.map_impl == "classic" else swiss.SwissMaps
    assert type(implementation) is expected and implementation.layout == layout
    assert for_layout(layout) is implementation
    assert implementation.iterator_size == (104 if rule.layout == "classic-go1.24" else 96)
