"""core.render.maptext: hmap-show's JSON document and text, over maps captured from real programs.

The captures are the decoders' own test data (tests/unit/data/classic and
data/swiss); the helpers of those tests load and decode them.
"""

from __future__ import annotations

import json

import pytest

from gdb_hiter.core.render import gotypes
from gdb_hiter.core.render import maptext
from gdb_hiter.core.render.gotypes import GoType
from gdb_hiter.core.maps.model import DecodedMap, Entry, EntryColumns, Problem
from gdb_hiter.core.render.values import entry_renderers
from test_classic import Case
from test_classic import TOOLCHAINS as CLASSIC_TOOLCHAINS
from test_classic import s64
from test_swiss import BUILDS as SWISS_BUILDS
from test_swiss import decode as swiss_decode

INT8 = GoType.basic(gotypes.INT8)
INT64 = GoType.basic(gotypes.INT64)
STRING = GoType.basic(gotypes.STRING)

COMMON_KEYS = {"expression", "address", "type", "impl", "layout", "count", "complete", "stopped", "header",
               "maptype", "flags", "growing", "slot_codes", "problems", "entries_found", "entries_shown", "entries"}
CLASSIC_KEYS = COMMON_KEYS | {"B", "bucket_count", "noverflow", "overflow_buckets", "buckets_address", "growth",
                              "buckets", "old_buckets", "extra"}
SWISS_KEYS = COMMON_KEYS | {"shape", "dirLen", "globalDepth", "dirPtr", "directory", "tables", "groups", "slots"}


def int_renderers():
    return (lambda entry: str(s64(entry.key))), (lambda entry: str(s64(entry.value)))


def classic_doc(toolchain, scenario, **options):
    decoded = Case(toolchain, scenario).decode(**options)
    key, value = int_renderers()
    return decoded, maptext.map_document(decoded, "map[int64]int64", key, value, expression="m")


def swiss_doc(build, name, **options):
    decoded, _ = swiss_decode(build, name, **options)
    key, value = int_renderers()
    return decoded, maptext.map_document(decoded, "map[int64]int64", key, value, expression="m")


@pytest.mark.parametrize("toolchain", CLASSIC_TOOLCHAINS)
def test_classic_growing_document_and_text(toolchain):
    decoded, doc = classic_doc(toolchain, "growing")
    assert set(doc) == CLASSIC_KEYS
    json.dumps(doc)  # JSON-ready
    assert doc["impl"] == "classic" and doc["growing"] is True and doc["growth"]["same_size"] is False
    assert doc["growth"]["pending"] and len(doc["old_buckets"]) == doc["growth"]["old_bucket_count"]
    assert doc["count"] == len(doc["entries"]) == doc["entries_found"] == doc["entries_shown"]
    assert all(set(entry) == {"key", "value", "location"} for entry in doc["entries"])
    text = maptext.map_text(doc, limit=None)
    lines = text.splitlines()
    assert lines[0] == f"m: map[int64]int64 at {decoded.address:#x}"
    assert "  growth: in progress (doubling, B " in text
    assert "Old buckets:" in lines
    pending_rows = [line for line in lines if line.endswith("pending")]
    assert len(pending_rows) == len(doc["growth"]["pending"])
    assert "Problems: none" in lines
    assert f"Entries: {doc['count']} shown of {doc['count']} found (memory order)" in lines


@pytest.mark.parametrize("toolchain", CLASSIC_TOOLCHAINS)
def test_classic_samesize_and_deleted(toolchain):
    _, doc = classic_doc(toolchain, "samesize")
    assert doc["growing"] and doc["growth"]["same_size"]
    assert "  growth: in progress (same-size grow): " in maptext.map_text(doc)
    _, doc = classic_doc(toolchain, "deleted")
    assert any("1" in bucket["slots"] for bucket in doc["buckets"])   # emptyOne slots shown as such


@pytest.mark.parametrize("toolchain", CLASSIC_TOOLCHAINS)
def test_classic_limit_is_not_a_problem(toolchain):
    decoded, doc = classic_doc(toolchain, "plain", limit=2)
    assert doc["stopped"] == "limit" and doc["complete"] is False
    assert decoded.problems == [] and doc["problems"] == []   # the caller asked for the limit
    assert doc["buckets"]          # the records walked before the limit are kept
    assert len(doc["entries"]) == 2


@pytest.mark.parametrize("build", SWISS_BUILDS)
def test_swiss_tables_document_and_text(build):
    decoded, doc = swiss_doc(build, "multi")
    assert set(doc) == SWISS_KEYS
    json.dumps(doc)
    assert doc["impl"] == ("swiss-split" if build.endswith("mapsplitgroup") else "swiss")
    assert doc["growing"] is False and doc["flags"] == []
    assert (doc["dirLen"], doc["globalDepth"], len(doc["tables"])) == (4, 2, 3)
    assert len(doc["groups"]) == sum(table["group_count"] for table in doc["tables"]) == 3 * 128
    group_size = doc["maptype"]["group_size"]
    for group in doc["groups"][:3]:
        table = doc["tables"][group["table"]]
        assert group["address"] == table["groups_address"] + group["group"] * group_size
        assert len(group["slots"]) == 8 and set(group["slots"]) <= set("FEDS?")
    text = maptext.map_text(doc, limit=5)
    lines = text.splitlines()
    assert "Directory (4 entries at " in text and ", 3 tables, 1 filling more than one entry):" in text
    table_rows = lines[lines.index("Groups (slots: F full, E empty (0x80), D deleted (0xfe), ? invalid):") - 5:]
    assert any("  0..1  " in row or "  2..3  " in row for row in table_rows)
    assert f"  ... {3 * 128 - 5} more groups not shown (--limit)" in lines
    assert f"  ... {doc['count'] - 5} more entries not shown (--limit N shows N, --limit 0 all)" in lines
    assert [line for line in lines if "table " in line and " group " in line and " slot " in line][:1]


@pytest.mark.parametrize("build", SWISS_BUILDS)
def test_swiss_small_and_empty(build):
    _, doc = swiss_doc(build, "small")
    assert doc["shape"] == "small" and doc["dirLen"] == 0 and doc["tables"] == []
    assert len(doc["groups"]) == 1 and doc["groups"][0]["table"] is None
    assert doc["groups"][0]["slots"].count("F") == 5
    text = maptext.map_text(doc)
    assert any(line.split()[:2] == ["small", "0"] for line in text.splitlines() if line.strip())
    _, doc = swiss_doc(build, "empty")
    assert doc["shape"] == "empty" and doc["entries"] == [] and doc["groups"] == []
    assert "Entries: 0 shown of 0 found (memory order)" in maptext.map_text(doc)


@pytest.mark.parametrize("build", SWISS_BUILDS)
def test_swiss_deleted_slots(build):
    _, doc = swiss_doc(build, "del")
    assert doc["slots"]["deleted"] > 0
    assert sum(group["slots"].count("D") for group in doc["groups"]) == doc["slots"]["deleted"]


def test_swiss_slot_codes():
    assert maptext.swiss_slot_codes("00807ffe80017f55") == "FEFDEFFF"
    assert maptext.swiss_slot_codes("ff80") == "?E"


def test_location_text():
    assert maptext.location_text({"array": "buckets", "bucket": 3, "overflow": 0, "slot": 5}) == "buckets[3] slot 5"
    assert maptext.location_text({"array": "oldbuckets", "bucket": 1, "overflow": 2, "slot": 0}) == \
        "oldbuckets[1] overflow 2 slot 0"
    assert maptext.location_text({"directory": [2, 3], "table": 1, "group": 17, "slot": 6}) == \
        "table 1 group 17 slot 6"
    assert maptext.location_text({"group": 0, "slot": 4}) == "group 0 slot 4"


def test_problems_and_alignment():
    entries = [Entry(0, 0, b"", b"", {"group": 0, "slot": slot}) for slot in range(3)]
    decoded = DecodedMap(0x1000, "swiss", 4, {"used": 4, "dirLen": 0, "globalDepth": 0, "writing": 1},
                         entries, [Problem("count-mismatch", "Map.used is 4 but 3 slots are full", 0x1000)],
                         {"layout": "swiss-go1.27", "shape": "small", "maptype": {"group_size": 72}}, True)
    keys = iter(["a", "longer key", "b"])
    values = iter(["1", "2", "333"])
    doc = maptext.map_document(decoded, "map[string]int", lambda e: next(keys), lambda e: next(values))
    assert doc["flags"] == ["writing"]
    lines = maptext.map_text(doc).splitlines()
    assert lines[0] == "map[string]int at 0x1000"
    assert "Problems (1):" in lines
    assert "  count-mismatch at 0x1000: Map.used is 4 but 3 slots are full" in lines
    start = lines.index("Entries: 3 shown of 3 found (memory order)")
    assert lines[start + 1:start + 5] == [
        "  key         value  location",
        "  a           1      group 0 slot 0",
        "  longer key  2      group 0 slot 1",
        "  b           333    group 0 slot 2",
    ]
    assert lines[-1] == "  b           333    group 0 slot 2"   # count 4 vs 3 found: a problem, not "more"
    lines = maptext.map_text(doc, limit=1).splitlines()
    assert lines[-3:] == ["  key  value  location", "  a    1      group 0 slot 0",
                          "  ... 2 more entries not shown (--limit N shows N, --limit 0 all)"]


def test_ranges():
    assert maptext._ranges([1, 2, 3, 7, 9, 10]) == "1-3, 7, 9-10"
    assert maptext._ranges([]) == ""
    assert maptext._ranges([4]) == "4"


@pytest.mark.parametrize("toolchain", CLASSIC_TOOLCHAINS)
def test_classic_empty_buckets_are_counted_not_listed(toolchain):
    _, doc = classic_doc(toolchain, "growing")
    empty = sum(1 for bucket in doc["buckets"] if bucket["slots"] == "00000000" and not bucket.get("overflow"))
    text = maptext.map_text(doc, limit=None)
    if empty:
        assert f"  ({empty} empty buckets not listed)" in text.splitlines()
    listed = [line for line in text.split("Old buckets:")[0].splitlines() if line.endswith(" 00000000")]
    assert listed == []


# --------------------------------------------------------------------------
# map_json: hmap-show --json's fast writer must give json.dumps's exact text


def _renderer_sets(memory, key_type, elem_type):
    """The renderers map_json may meet: ours (column paths), plain callables, none at all."""
    ours = entry_renderers(key_type, elem_type, memory)
    return {"ours": ours, "callables": int_renderers(), "raw": (None, None)}


def _assert_same_json(decoded, renderers):
    for show in (None, 0, 3, 7):
        fast = maptext.map_json(decoded, "map[K]V", *renderers, expression="m", show=show)
        slow = json.dumps(maptext.map_document(decoded, "map[K]V", *renderers, expression="m", show=show))
        assert fast == slow
    return fast


CLASSIC_TYPES = {"int8": (INT8, INT8), "indirect": (None, None)}


@pytest.mark.parametrize("toolchain", CLASSIC_TOOLCHAINS)
@pytest.mark.parametrize("scenario", ["plain", "deleted", "growing", "samesize", "int8", "indirect"])
@pytest.mark.parametrize("renderers", ["ours", "callables", "raw"])
def test_classic_map_json_is_json_dumps_of_the_document(toolchain, scenario, renderers, monkeypatch):
    monkeypatch.setattr(maptext, "ENTRIES_PER_PIECE", 2)   # several pieces, and a last short one
    case = Case(toolchain, scenario)
    decoded = case.decode()
    key_type, elem_type = CLASSIC_TYPES.get(scenario, (INT64, INT64))
    if renderers == "callables" and scenario in CLASSIC_TYPES:
        renderers = "raw"
    text = _assert_same_json(decoded, _renderer_sets(case.memory, key_type, elem_type)[renderers])
    assert len(json.loads(text)["entries"]) == min(7, decoded.count)


SWISS_TYPES = {"str": (STRING, INT64), "big": (None, None)}


@pytest.mark.parametrize("build", SWISS_BUILDS)
@pytest.mark.parametrize("name", ["small", "multi", "del", "str", "big", "stack", "empty"])
@pytest.mark.parametrize("renderers", ["ours", "callables", "raw"])
def test_swiss_map_json_is_json_dumps_of_the_document(build, name, renderers, monkeypatch):
    monkeypatch.setattr(maptext, "ENTRIES_PER_PIECE", 3)
    decoded, memory = swiss_decode(build, name)
    key_type, elem_type = SWISS_TYPES.get(name, (INT64, INT64))
    if renderers == "callables" and name in SWISS_TYPES:
        renderers = "raw"
    _assert_same_json(decoded, _renderer_sets(memory, key_type, elem_type)[renderers])


def test_map_json_escapes_what_json_escapes():
    """Rendered texts with quotes, backslashes, control and non-ASCII characters, and a
    location string that is not a plain identifier, are written as json.dumps writes them."""
    columns = EntryColumns((("array", str), ("bucket", int), ("directory", list)))
    texts = ['"quoted"', "back\\slash", "tab\there", "caf\u00e9", "\U0001f600", "plain"]
    for index, text in enumerate(texts):
        columns.append(0x1000 + index, 0x2000 + index, text.encode(), b"\x01", ("b\"x" if index == 2 else "buckets",
                                                                            index, [index, index + 1]))
    decoded = DecodedMap(0x5000, "classic", len(texts), {"B": 0}, columns, detail={})
    render_key = lambda entry: entry.key.decode()  # noqa: E731
    _assert_same_json(decoded, (render_key, None))


def test_entry_columns_behave_like_a_list_of_entries():
    columns = EntryColumns((("group", int), ("slot", int)))
    columns.add_run(0x1000, [8, 24], [16, 32], [b"k0", b"k1"], [b"v0", b"v1"], ([0, 0], [1, 3]))
    columns.append(0x9000, 0x9100, b"k2", b"v2", (4, 7))
    expected = [Entry(0x1008, 0x1010, b"k0", b"v0", {"group": 0, "slot": 1}),
                Entry(0x1018, 0x1020, b"k1", b"v1", {"group": 0, "slot": 3}),
                Entry(0x9000, 0x9100, b"k2", b"v2", {"group": 4, "slot": 7})]
    assert list(columns) == expected and columns == expected and len(columns) == 3
    assert columns[2] == expected[2] and columns[-1] == expected[2]
    assert list(columns[1:]) == expected[1:] and columns[:0] == [] and columns[:] is columns
    assert list(columns[::2]) == expected[::2]
    assert columns.key_addresses == [0x1008, 0x1018, 0x9000]
    assert columns.location(1) == {"group": 0, "slot": 3}


def test_entry_column_slices_keep_their_addresses():
    columns = EntryColumns((("slot", int),))
    for run in range(5):
        columns.add_run(0x1000 * run, [8, 16], [24, 32], [b"k", b"k"], [b"v", b"v"], ([run, run],))
    whole = list(columns)
    for start, stop in ((0, 3), (3, 7), (1, 10), (9, 10), (4, 4)):
        part = columns[start:stop]
        assert part.value_addresses == [entry.value_address for entry in whole[start:stop]]
        assert list(part[1:]) == whole[start + 1:stop]
        part.append(0x77, 0x78, b"x", b"y", (9,))
        assert part.key_addresses == [entry.key_address for entry in whole[start:stop]] + [0x77]
    assert columns.key_addresses == [entry.key_address for entry in whole]
