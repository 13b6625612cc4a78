"""core.snapshot.document: format v1, schema, atomic write, one-line read errors.

The snapshots are built from REAL decoder output: maps and iterators decoded
from the memory captured from real Go processes (tests/unit/data/classic
and data/swiss, loaded by the helpers of test_classic / test_swiss), laid
out by core.render.maptext as hmap-show --json lays them out. The helpers here are
shared with test_diff.py and test_redact.py.
"""

from __future__ import annotations

import copy
import json
import re
import os
import struct

import pytest

from gdb_hiter.core.maps import classic
from gdb_hiter.core.render import maptext
from gdb_hiter.core.render import values as render
from gdb_hiter.core.snapshot import document as snapshot
from gdb_hiter.core.render.gotypes import GoType
from gdb_hiter.core.snapshot.document import SnapshotError
from test_classic import Case
from test_swiss import capture, decode_iter, layout_of
from test_swiss import decode as swiss_decode

CLASSIC_TOOLCHAIN = "go1.22.10"
CLASSIC_NOSWISS = "go1.24.11-noswiss"
SWISS_BUILD = "go1.26.6"
TAKEN_AT = "2026-11-30T12:00:00.000Z"
INT64 = GoType.basic("int64")
STRING = GoType.basic("string")


# ---------------------------------------------------------------------------
# Helpers: real decoder output -> snapshot objects


def int_renderers():
    def key(entry):
        return str(struct.unpack_from("<q", entry.key)[0]) if len(entry.key) == 8 else \
            str(struct.unpack_from("<b", entry.key)[0])

    def value(entry):
        return str(struct.unpack_from("<q", entry.value)[0])
    return key, value


def classic_map_json(toolchain, scenario, expression="main.m"):
    decoded = Case(toolchain, scenario).decode()
    key, value = int_renderers()
    return maptext.map_document(decoded, "map[int64]int64", key, value, expression=expression)


def swiss_map_json(build, name, expression="main.m", types=(INT64, INT64)):
    decoded, memory = swiss_decode(build, name)
    key, value = render.entry_renderers(types[0], types[1], memory)
    type_name = f"map[{types[0].name}]{types[1].name}"
    return maptext.map_document(decoded, type_name, key, value, expression=expression)


_STATES = {"active": "in-progress", "starting": "not-started", "uninitialized": "not-started",
           "empty-map": "finished"}


def iterator_json(data, impl):
    """The decoder's to_json() with the common iterator keys of snapshot format v1.

    The decoders are being harmonised to produce these keys themselves; every
    key is only filled in when missing, so harmonised output passes through.
    """
    data = copy.deepcopy(data)
    fields = data["fields"]
    data.setdefault("impl", impl)
    data.setdefault("map_address", fields.get("h", fields.get("m")))
    data["state"] = _STATES.get(data["state"], data["state"])
    if impl == "classic":
        walks = data.get("walks")
        clear = data.get("clear_seq") or {}
        data.setdefault("stale", walks in ("oldbuckets", "retired"))
        data.setdefault("cleared_since_start", clear.get("map_cleared_since_start"))
        data.setdefault("position", {name: data.get(name) for name in (
            "bucket_count", "start_bucket", "start_offset", "wrapped", "next_bucket", "buckets_remaining", "walks")}
            | {"B": fields["B"]})
        data.setdefault("remaining", {"entries": None, "buckets": data.get("buckets_remaining"), "exact": False})
    else:
        table = data.get("table") or {}
        group = data.get("group") or {}
        grown_small = bool(group.get("map_grown_to_tables"))
        data.setdefault("stale", bool(table.get("stale")) or grown_small)
        data.setdefault("cleared_since_start", (data.get("clear") or {}).get("cleared_since_start"))
        growth = (data.get("directory_growth") or {}).get("grew", False)
        data.setdefault("map_grew_since_start", bool(growth or grown_small or table.get("stale")))
        position = {"mode": data.get("mode"), "start": data.get("start"), "next": data.get("next")}
        if "directory" in data:
            position["directory_index"] = data["directory"].get("index")
        if table:
            position["table"] = table.get("address")
            position["table_next"] = table.get("next")
        data.setdefault("position", position)
        remaining = dict(data.get("remaining") or {"entries": None, "exact": False})
        remaining.setdefault("buckets", None)
        data["remaining"] = remaining
    data.setdefault("map_grew_since_start", False)
    current = data.get("current")
    if current is not None and "key_address" not in current:
        current = dict(current, key_address=fields["key"], elem_address=fields["elem"])
        data["current"] = current
    return data


def classic_iterator_json(toolchain, scenario):
    case = Case(toolchain, scenario)
    return iterator_json(classic.decode_iterator(case.memory, case.hiter, case.layout).to_json(), "classic")


def swiss_iterator_json(build, name):
    iterator, _, _ = decode_iter(build, name)
    return iterator_json(iterator.to_json(), "swiss-split" if build.endswith("mapsplitgroup") else "swiss")


def go_json(toolchain, impl, layout):
    version = toolchain.split("-")[0]
    experiments = ["noswissmap"] if "noswiss" in toolchain else []
    return {"go_version": version, "build_version": version + (" X:noswissmap" if experiments else ""),
            "experiments": experiments, "map_impl": impl, "layout": layout, "dwarf": True,
            "version_source": "runtime.buildVersion",
            "program": {"kind": "process", "path": "/tmp/prog", "pid": 4242}, "warnings": []}


def classic_snapshot(toolchain, seq, maps, iterators, **options):
    layout = Case(toolchain, "plain").layout
    return snapshot.make_snapshot(
        seq=seq, event=options.pop("event", "cgocall-enter"), go=go_json(toolchain, "classic", layout),
        program={"kind": "process", "path": "/tmp/prog", "pid": 4242}, maps=maps, iterators=iterators,
        taken_at=TAKEN_AT, gdb_hiter_version="0.1.0", **options)


def swiss_snapshot(build, seq, maps, iterators, **options):
    layout, _ = layout_of(build)
    impl = "swiss-split" if build.endswith("mapsplitgroup") else "swiss"
    return snapshot.make_snapshot(
        seq=seq, event=options.pop("event", "cgocallback-enter"), go=go_json(capture(build)["version"], impl, layout),
        program={"kind": "process", "path": "/tmp/prog", "pid": 4242}, maps=maps, iterators=iterators,
        taken_at=TAKEN_AT, gdb_hiter_version="0.1.0", **options)


def readdress(map_doc, address):
    """Stand a map captured in another scenario in for "the same map, later": give it ``address``."""
    result = copy.deepcopy(map_doc)
    result["address"] = address
    return result


def iter_on(iterator, map_address):
    result = copy.deepcopy(iterator)
    result["map_address"] = map_address
    if result.get("map"):
        result["map"]["address"] = map_address
    return result


def sample_classic():
    """A: ranging over a map of 30 entries (B=3); B: the same loop after inserts grew the map (walks oldbuckets)."""
    map_a = classic_map_json(CLASSIC_TOOLCHAIN, "iterating")
    iter_a = classic_iterator_json(CLASSIC_TOOLCHAIN, "iterating")
    map_b = readdress(classic_map_json(CLASSIC_TOOLCHAIN, "iter-grew-mid"), map_a["address"])
    iter_b = iter_on(classic_iterator_json(CLASSIC_TOOLCHAIN, "iter-grew-mid"), map_a["address"])
    location = {"function": "main.rangeWithCgoCalls", "file": "/src/main.go", "line": 42}
    a = classic_snapshot(CLASSIC_TOOLCHAIN, 1, [map_a], [iter_a], label="before", cfunc="C.fill",
                         location=location, goroutine=1)
    b = classic_snapshot(CLASSIC_TOOLCHAIN, 2, [map_b], [iter_b], label="after", cfunc="main.goCallback",
                         event="cgocallback-return", location=location, goroutine=1)
    return a, b


def sample_swiss():
    """A: a small map and a 4-table map; B: the small map with one more entry (a new group), the 4-table map
    unchanged but ranged over (captured in the same process: same map, a live iterator)."""
    build = SWISS_BUILD
    small = swiss_map_json(build, "small", "main.small")
    multi = swiss_map_json(build, "multi", "main.multi")
    a = swiss_snapshot(build, 1, [small, multi], [], label="before")
    small_later = readdress(swiss_map_json(build, "itersmall", "main.small"), small["address"])
    itermulti = swiss_map_json(build, "itermulti", "main.multi")
    iterator = swiss_iterator_json(build, "itermulti")
    b = swiss_snapshot(build, 2, [small_later, itermulti], [iterator], label="after")
    return a, b


def sample_swiss_growth():
    """A: a small map and a 1-table map; B: the small map grown into tables, the 1-table map grown into a
    4-entry directory of 3 tables (maps of other scenarios standing in for the same maps, later)."""
    build = SWISS_BUILD
    small = swiss_map_json(build, "small", "main.small")
    one = swiss_map_json(build, "one", "main.one")
    a = swiss_snapshot(build, 1, [small, one], [], label="before")
    small_later = readdress(swiss_map_json(build, "one", "main.small"), small["address"])
    one_later = readdress(swiss_map_json(build, "multi", "main.one"), one["address"])
    b = swiss_snapshot(build, 2, [small_later, one_later], [], label="after")
    return a, b


# ---------------------------------------------------------------------------
# Building and validating


def test_real_snapshots_validate():
    for doc in sample_classic() + sample_swiss() + sample_swiss_growth():
        snapshot.validate_snapshot(doc)
        assert doc["format"] == "gdb-hiter-snapshot" and doc["version"] in (1, 2)
        json.dumps(doc, allow_nan=False)


@pytest.mark.parametrize("toolchain", [CLASSIC_TOOLCHAIN, CLASSIC_NOSWISS])
@pytest.mark.parametrize("scenario", ["iterating", "iter-growing", "iter-samesize", "iter-grew-mid",
                                      "iter-grew-done", "iter-cleared", "iter-done"])
def test_every_classic_iterator_fits_the_schema(toolchain, scenario):
    doc = classic_snapshot(toolchain, 0, [classic_map_json(toolchain, scenario)],
                           [classic_iterator_json(toolchain, scenario)])
    snapshot.validate_snapshot(doc)


@pytest.mark.parametrize("name", ["itersmall", "itermulti", "itergrow", "iterclear", "itersplit"])
def test_every_swiss_iterator_fits_the_schema(name):
    doc = swiss_snapshot(SWISS_BUILD, 0, [swiss_map_json(SWISS_BUILD, name)], [swiss_iterator_json(SWISS_BUILD, name)])
    snapshot.validate_snapshot(doc)


def test_make_snapshot_defaults():
    doc = classic_snapshot(CLASSIC_TOOLCHAIN, 0, [], [], event="manual")
    assert doc["label"] is None and doc["location"] is None and doc["cfunc"] is None
    assert doc["limits"] == {"entries": None, "maps": None, "iterators": None, "cut": []}
    doc = snapshot.make_snapshot(seq=0, event="core", go=go_json("go1.22.10", "classic", "classic-go1.18"),
                                 program={"kind": "core", "path": "/tmp/prog", "core": "/tmp/core.1"})
    assert doc["taken_at"].endswith("Z") and doc["gdb_hiter_version"]


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d.update(event="breakpoint"), "$.event: must be one of"),
    (lambda d: d["maps"][0].update(count="8"), "$.maps[0].count: must be integer"),
    (lambda d: d["maps"][0]["entries"][3].pop("key"), "$.maps[0].entries[3]: must contain"),
    (lambda d: d["iterators"][0].update(state="active"), "$.iterators[0].state: must be one of"),
    (lambda d: d["iterators"][0].pop("stale"), "$.iterators[0]: must contain"),
    (lambda d: d.update(surprise=1), "$: must not contain"),
    (lambda d: d["maps"][0].update(address=-1), "$.maps[0].address: must be bigger than or equal to 0"),
    (lambda d: d["location"].update(line="x"), "$.location: must be valid exactly by one definition"),
])
def test_schema_errors_are_one_line_with_a_path(mutate, message):
    doc = copy.deepcopy(sample_classic()[0])
    mutate(doc)
    with pytest.raises(SnapshotError) as error:
        snapshot.validate_snapshot(doc)
    text = str(error.value)
    assert "\n" not in text and text.startswith(message), text


def test_impl_specific_keys_are_allowed():
    doc = copy.deepcopy(sample_classic()[0])
    doc["maps"][0]["something_new"] = {"x": 1}
    doc["iterators"][0]["checkBucket"] = 5
    snapshot.validate_snapshot(doc)


def test_nan_is_not_json():
    doc = copy.deepcopy(sample_classic()[0])
    doc["maps"][0]["header"]["odd"] = float("nan")
    with pytest.raises(SnapshotError, match=r"^\$\.maps\[0\]\.header\.odd: nan is not a JSON number$"):
        snapshot.validate_snapshot(doc)


# ---------------------------------------------------------------------------
# Writing and reading


def test_write_then_read_round_trip(tmp_path):
    a, _ = sample_classic()
    path = tmp_path / "a.json"
    snapshot.write_snapshot(a, path)
    assert snapshot.read_snapshot(path) == a
    assert os.listdir(tmp_path) == ["a.json"]
    assert path.read_text().endswith("}\n")


def test_write_validates_first(tmp_path):
    a, _ = sample_classic()
    bad = dict(a, event="nope")
    path = tmp_path / "a.json"
    with pytest.raises(SnapshotError, match=r"^\$\.event: "):
        snapshot.write_snapshot(bad, path)
    assert os.listdir(tmp_path) == []


def test_write_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    a, b = sample_classic()
    path = tmp_path / "snap.json"
    snapshot.write_snapshot(a, path)
    before = path.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(SnapshotError, match=r"snap.json: cannot write: No space left on device$"):
        snapshot.write_snapshot(b, path)
    assert path.read_bytes() == before            # the old file, whole
    assert os.listdir(tmp_path) == ["snap.json"]  # no temp file left over


def test_write_is_atomic_when_interrupted(tmp_path, monkeypatch):
    a, _ = sample_classic()
    path = tmp_path / "new.json"

    def interrupted(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        snapshot.write_snapshot(a, path)
    assert os.listdir(tmp_path) == []             # no target, no temp file


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(SnapshotError, match=r"nowhere/x.json: cannot write: No such file or directory$"):
        snapshot.write_snapshot(sample_classic()[0], tmp_path / "nowhere" / "x.json")


@pytest.fixture()
def good_text():
    return snapshot.dumps(sample_classic()[0])


@pytest.mark.parametrize("make, expected", [
    (lambda text: text[: len(text) // 2], r"truncated: the JSON ends early \(line \d+, column \d+\)"),
    (lambda text: "", r"empty file, not a snapshot"),
    (lambda text: "hello", r"not JSON: Expecting value at line 1, column 1"),
    (lambda text: "[1, 2]", r"not a gdb-hiter snapshot \(the JSON is a list, not an object\)"),
    (lambda text: '{"format": "other"}', r"not a gdb-hiter snapshot \(its format is 'other'\)"),
    (lambda text: "{}", r"not a gdb-hiter snapshot \(it has no \"format\": \"gdb-hiter-snapshot\"\)"),
    (lambda text: re.sub(r'"version": \d+', '"version": 3', text),
     r"written by a newer gdb-hiter: version 3; this reads versions 1 and 2"),
    (lambda text: re.sub(r'"version": \d+', '"version": 0', text), r"snapshot version 0 is not supported"),
    (lambda text: text.replace('"event": "cgocall-enter"', '"event": 3'), r"invalid snapshot: \$\.event: "),
    (lambda text: text.replace('"seq": 1', '"seq": NaN'), r"not JSON: NaN is not valid JSON"),
    (lambda text: "\xff\xfe", r"not JSON: not UTF-8 text \(byte 0\)"),
])
def test_read_errors_are_one_line(tmp_path, good_text, make, expected):
    path = tmp_path / "s.json"
    text = make(good_text)
    if text == "\xff\xfe":
        path.write_bytes(b"\xff\xfe")
    else:
        path.write_text(text)
    with pytest.raises(SnapshotError) as error:
        snapshot.read_snapshot(path)
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    import re
    assert re.search(expected, message), message


def test_read_missing_file(tmp_path):
    with pytest.raises(SnapshotError, match=r"/missing.json: cannot read: No such file or directory$"):
        snapshot.read_snapshot(tmp_path / "missing.json")


def test_reading_never_evaluates(tmp_path):
    doc = copy.deepcopy(sample_classic()[0])
    doc["label"] = "__import__('os').system('touch pwned')"
    doc["maps"][0]["entries"][0]["key"] = "{{7*7}} ${HOME} `id`"
    path = tmp_path / "s.json"
    snapshot.write_snapshot(doc, path)
    assert snapshot.read_snapshot(path) == doc
    assert not (tmp_path / "pwned").exists()


def test_schema_is_package_data():
    schema = snapshot.load_schema()
    assert schema["properties"]["format"] == {"const": "gdb-hiter-snapshot"}
    assert set(schema["required"]) >= {"format", "version", "maps", "iterators", "limits", "gdb_hiter_version"}


@pytest.mark.parametrize("field, data", [("dirLen", struct.pack("<q", -5)), ("globalDepth", struct.pack("<B", 70))])
def test_a_corrupt_map_is_kept_reduced_and_the_others_whole(field, data):
    from test_swiss import decode_patched
    build = SWISS_BUILD
    decoded = decode_patched("multi", field, data, build=build)
    key, value = render.entry_renderers(INT64, INT64, None)
    corrupt = maptext.map_document(decoded, "map[int64]int64", key, value, expression="main.multi")
    small = swiss_map_json(build, "small", "main.small")
    iterator = swiss_iterator_json(build, "itermulti")
    with pytest.raises(SnapshotError):   # as decoded, the object breaks the schema ...
        snapshot.validate_snapshot(dict(swiss_snapshot(build, 1, [], []), maps=[corrupt]))
    doc = swiss_snapshot(build, 1, [small, corrupt], [iterator])   # ... yet the snapshot is taken
    assert doc["maps"][0] == small and doc["iterators"] == [iterator]
    kept = doc["maps"][1]
    assert (kept["address"], kept["type"], kept["complete"]) == (corrupt["address"], "map[int64]int64", False)
    assert kept["unrecorded"][field] == corrupt[field]
    assert [problem["what"] for problem in kept["problems"]] == [problem["what"] for problem in corrupt["problems"]] \
        + ["snapshot"]
    assert f"$.maps[1].{field}" in kept["problems"][-1]["why"]
    snapshot.loads(snapshot.dumps(doc))   # and it reads back


def test_an_iterator_object_that_breaks_the_schema_is_left_out_with_a_note():
    build = SWISS_BUILD
    iterator = swiss_iterator_json(build, "itermulti")
    broken = dict(iterator, address=0x1000, state="nonsense")
    doc = swiss_snapshot(build, 1, [swiss_map_json(build, "itermulti", "main.multi")], [iterator, broken])
    assert doc["iterators"] == [iterator]
    assert doc["limits"]["cut"] == ["iterator 0x1000: not recorded, its object is not valid: "
                                    "$.iterators[1].state: must be one of ['not-started', 'in-progress', 'finished']"]


def test_a_reduced_map_keeps_whether_its_entries_are_all_of_them():
    build = SWISS_BUILD
    item = swiss_map_json(build, "multi", "main.multi")
    item = dict(item, dirLen=-5, entries=item["entries"][:3], entries_shown=3)
    doc = swiss_snapshot(build, 1, [item], [])
    kept = doc["maps"][0]
    assert "unrecorded" in kept and kept["entries_found"] == item["entries_found"] and kept["entries_shown"] == 3
    assert not snapshot.map_entries_complete(kept)


def test_a_number_too_large_for_a_float_is_not_json():
    text = snapshot.dumps(sample_classic()[0]).replace('"hash0": ', '"hash0": 1e400, "was": ', 1)
    with pytest.raises(SnapshotError, match=r"not JSON: 1e400 is too large for a JSON number"):
        snapshot.loads(text)
