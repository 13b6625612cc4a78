"""core.snapshot.diff and core.snapshot.report: diffs of snapshots built from real decoder output, and their rendering.

Golden files: tests/unit/data/snapshots/. Regenerate them after a deliberate
change of the output with ``GDB_HITER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_diff.py``
and review the change.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gdb_hiter.core.snapshot import diff as diff_module
from gdb_hiter.core.snapshot import document as snapshot
from gdb_hiter.core.snapshot.diff import diff_entries, diff_snapshots, iterator_meaning
from gdb_hiter.core.snapshot.report import md_cell, render_diff, render_snapshot
from test_snapshot import (
    CLASSIC_NOSWISS, CLASSIC_TOOLCHAIN, SWISS_BUILD, classic_iterator_json, classic_map_json, classic_snapshot,
    sample_classic, sample_swiss, sample_swiss_growth, swiss_iterator_json, swiss_map_json,
)

GOLDEN = Path(__file__).parent / "data" / "snapshots"
REPO = Path(__file__).resolve().parents[2]


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("GDB_HITER_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with GDB_HITER_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from the golden file"


# ---------------------------------------------------------------------------
# Entries


def entry(key, value, bucket=0, slot=0):
    return {"key": key, "value": value, "location": {"array": "buckets", "bucket": bucket, "overflow": 0,
                                                     "slot": slot}}


def test_entries_added_removed_changed_moved():
    a = [entry("1", "10", 0, 0), entry("2", "20", 0, 1), entry("3", "30", 1, 0), entry("4", "40", 1, 1)]
    b = [entry("1", "10", 0, 0), entry("2", "21", 0, 1), entry("3", "30", 2, 0), entry("5", "50", 1, 1)]
    result = diff_entries(a, b)
    assert [row["key"] for row in result["added"]] == ["5"]
    assert [row["key"] for row in result["removed"]] == ["4"]
    assert result["changed"] == [{"key": "2", "a": "20", "b": "21", "location_a": a[1]["location"],
                                  "location_b": b[1]["location"], "moved": False}]
    assert result["moved"] == [{"key": "3", "value": "30", "a": a[2]["location"], "b": b[2]["location"]}]
    assert result["unchanged"] == 1 and result["duplicate_keys"] == []


def test_nan_keys_are_a_multiset():
    """Go: NaN != NaN, so m[NaN] = v adds an entry each time; their texts are all "NaN"."""
    a = [entry("NaN", '"a"', 0, 0), entry("NaN", '"b"', 0, 1), entry("1", "1", 0, 2)]
    b = [entry("NaN", '"b"', 3, 0), entry("NaN", '"a"', 0, 0), entry("NaN", '"c"', 0, 3), entry("1", "1", 0, 2)]
    result = diff_entries(a, b)
    assert result["duplicate_keys"] == [{"key": "NaN", "a": 2, "b": 3}]
    assert result["unchanged"] == 2            # NaN "a" in place, key 1
    assert [(row["key"], row["value"]) for row in result["moved"]] == [("NaN", '"b"')]
    assert [(row["key"], row["value"]) for row in result["added"]] == [("NaN", '"c"')]
    assert result["removed"] == [] and result["changed"] == []


# ---------------------------------------------------------------------------
# Classic: growth under a live range loop


def test_classic_growth_under_the_loop():
    a, b = sample_classic()
    diff = diff_snapshots(a, b)
    [item] = diff["maps"]
    fields = {change["field"]: (change["a"], change["b"]) for change in item["header"]}
    assert fields["count"] == (30, 53) and fields["B"] == (3, 4)
    assert fields["oldbuckets"] == (None, a["maps"][0]["buckets_address"])   # the old array became oldbuckets
    pending = len(b["maps"][0]["growth"]["pending"])
    assert item["events"] == [f"grew from B=3 to B=4; {pending} of 8 old buckets still to evacuate"]
    entries = item["entries"]
    assert len(entries["added"]) + entries["unchanged"] + len(entries["changed"]) + len(entries["moved"]) == 53
    assert entries["complete"]
    [iterator] = diff["iterators"]
    assert iterator["paired_by"] == "map"        # the stack moved: paired by the map it walks
    assert iterator["stale"] == {"a": False, "b": True}
    assert "it now walks a bucket array or table that is no longer the map's current one" in iterator["events"]
    assert iterator["meaning"][0].startswith("the map grew since the loop started (B=3 → B=4): the loop keeps "
                                             "walking its old bucket array (still the map's oldbuckets")
    assert "Keys inserted after the grow live only in the new array and are not visited" in iterator["meaning"][0]
    assert diff["changed"] and diff["summary"][0].startswith("main.m (map 0x")


@pytest.mark.parametrize("toolchain", [CLASSIC_TOOLCHAIN, CLASSIC_NOSWISS])
def test_classic_same_size_grow_and_finished_grow(toolchain):
    plain = classic_map_json(toolchain, "plain")
    samesize = dict(classic_map_json(toolchain, "samesize"), address=plain["address"])
    growing = dict(classic_map_json(toolchain, "growing"), address=plain["address"])
    diff = diff_snapshots(classic_snapshot(toolchain, 1, [plain], []), classic_snapshot(toolchain, 2, [samesize], []))
    events = diff["maps"][0]["events"]
    assert any(event.startswith("same-size grow started") for event in events) or \
        any(event.startswith("grew from B=") for event in events), events
    diff = diff_snapshots(classic_snapshot(toolchain, 1, [growing], []), classic_snapshot(toolchain, 2, [plain], []))
    assert diff["maps"][0]["events"] == ["grew from B=5 to B=4; growth finished"] or \
        "growth finished" in " ".join(diff["maps"][0]["events"])


@pytest.mark.parametrize("scenario", ["iter-grew-done", "iter-grew-mid"])
def test_classic_meaning_of_a_retired_or_old_array(scenario):
    iterator = classic_iterator_json(CLASSIC_TOOLCHAIN, scenario)
    words = iterator_meaning(iterator, classic_map_json(CLASSIC_TOOLCHAIN, scenario))
    expected = "retired: the map no longer references it" if scenario == "iter-grew-done" else \
        "still the map's oldbuckets"
    assert expected in words[0]


def test_classic_cleared_meaning():
    iterator = classic_iterator_json(CLASSIC_NOSWISS, "iter-cleared")
    assert iterator["cleared_since_start"] is True
    assert any(sentence.startswith("the map was cleared since the loop started")
               for sentence in iterator_meaning(iterator))


# ---------------------------------------------------------------------------
# Swiss


def test_swiss_growth_in_words():
    a, b = sample_swiss_growth()
    diff = diff_snapshots(a, b)
    small, one = diff["maps"]
    assert small["events"] == ["switched from a small map (one group) to tables (dirLen 1, 1 table)"]
    assert one["events"][0] == "directory grew from 1 to 4 entries (globalDepth 0 → 2)"
    assert one["events"][1].startswith(f"table {a['maps'][1]['tables'][0]['address']:#x} split into ")
    assert [table["kind"] for table in one["tables"]] == ["split"]
    assert len(one["tables"][0]["into"]) == 3


@pytest.mark.parametrize("name, fragment", [
    ("itergrow", "the table the loop is walking was replaced since the loop started (it grew or split)"),
    ("itersplit", "the table the loop is walking was replaced since the loop started (it grew or split)"),
    ("iterclear", "the map was cleared since the loop started"),
])
def test_swiss_iterator_meaning(name, fragment):
    iterator = swiss_iterator_json(SWISS_BUILD, name)
    words = iterator_meaning(iterator, swiss_map_json(SWISS_BUILD, name))
    assert any(sentence.startswith(fragment) for sentence in words), words
    # without a prediction nothing is said about what the loop will still receive
    assert not any("estimate" in sentence or "may or may not" in sentence or "still ahead" in sentence
                   for sentence in words), words


def _prediction(keys, exact=True):
    return {"exact": exact, "reason": None if exact else "a reason", "current": None, "next": list(keys),
            "maybe": [], "not_visited": {}}


def _map_with(keys):
    return {"count": len(keys), "entries": [{"key": key, "value": "0"} for key in keys]}


def test_future_change_in_concrete_terms():
    from gdb_hiter.core.snapshot.diff import future_change
    before = _prediction(['"k1"', '"k2"', '"k3"', '"k4"'])
    after = _prediction(['"k1"', '"k3"', '"n1"'])
    map_a = _map_with(['"k0"', '"k1"', '"k2"', '"k3"', '"k4"'])
    map_b = _map_with(['"k0"', '"k1"', '"k3"', '"k4"', '"n1"', '"n2"'])
    assert future_change(before, after, map_a, map_b) == [
        'before, the loop would still have received 4 entries; now 2 of those (1 was deleted: "k2") '
        '(1 is still in the map but will not be received: "k4"), plus 1 inserted ("n1"); '
        '1 inserted entry will not be received ("n2": behind the loop or where it does not walk)']
    assert future_change(before, before, map_a, map_a) == [
        "the loop will still receive the same 4 entries, in the same order"]
    # without every entry of the map, a key no longer ahead is not said to be deleted or kept
    assert future_change(before, _prediction([], exact=False), map_a, None) == [
        "(the predictions are not exact: a reason) before, the loop would still have received 4 entries; "
        "now none of those (4 no longer ahead: \"k1\", \"k2\", \"k3\", ...)"]
    assert future_change(before, _prediction([]), map_a, map_b) == [
        'before, the loop would still have received 4 entries; now none of those (1 was deleted: "k2") '
        '(3 are still in the map but will not be received: "k1", "k3", "k4"); '
        '2 inserted entries will not be received ("n1", "n2": behind the loop or where it does not walk)']


def test_an_iterator_blocked_in_c_has_not_moved():
    from gdb_hiter.core.snapshot.diff import diff_iterator
    a = {"state": "in-progress", "address": 1, "map_address": 2, "position": {"bucket": 4, "slot": 5},
         "current": {"key_address": 10, "bptr_in": {"array": "buckets"}}}
    b = dict(a, current={"key_address": 10, "bptr_in": {"array": "retired"}}, stale=True)
    assert "it moved on to another entry" not in diff_iterator(a, b, {})["events"]
    c = dict(a, position={"bucket": 4, "slot": 6}, current={"key_address": 11})
    assert "it moved on to another entry" in diff_iterator(a, c, {})["events"]


def test_swiss_iterator_appears_and_moves():
    a, b = sample_swiss()
    diff = diff_snapshots(a, b)
    assert [item["address"] for item in diff["iterators_only_in_b"]] == [b["iterators"][0]["address"]]
    assert [item["changed"] for item in diff["maps"]] == [True, False]
    # the same loop later: another entry, fewer ahead
    later = copy.deepcopy(b)
    iterator = later["iterators"][0]
    iterator["remaining"]["entries"] -= 1
    iterator["position"]["entry_idx"] += 1
    item = diff_snapshots(b, later)["iterators"][0]
    assert item["paired_by"] == "address" and item["changed"]
    assert [change["field"] for change in item["position"]] == ["entry_idx"]


def test_no_change_and_limited_entries():
    a, _ = sample_classic()
    diff = diff_snapshots(a, copy.deepcopy(a))
    assert not diff["changed"] and diff["summary"] == ["1 map unchanged", "no change"]
    cut = copy.deepcopy(a)
    cut["maps"][0]["entries"] = cut["maps"][0]["entries"][:5]
    cut["maps"][0]["entries_shown"] = 5
    item = diff_snapshots(a, cut)["maps"][0]
    assert item["entries"]["complete"] is False and len(item["entries"]["removed"]) == 25
    assert "entry lists were cut" in diff_snapshots(a, cut)["summary"][0]


def _no_entry_comparison(*_args):
    raise AssertionError("the entries were compared")


@pytest.mark.parametrize("sample", [sample_classic, sample_swiss])
def test_the_same_map_object_is_unchanged_without_comparing_entries(sample, monkeypatch):
    a, _ = sample()
    slow = diff_snapshots(a, copy.deepcopy(a))      # the full comparison of two equal maps
    monkeypatch.setattr(diff_module, "diff_entries", _no_entry_comparison)
    fast = diff_snapshots(a, dict(a))                # a shallow copy: the very same map objects
    assert fast == slow and not fast["changed"]
    assert all(item["entries"]["unchanged"] == len(doc["entries"]) for item, doc in zip(fast["maps"], a["maps"]))
    with pytest.raises(AssertionError, match="the entries were compared"):
        diff_snapshots(a, copy.deepcopy(a))          # equal, but not known to be: compared


def test_maps_with_equal_state_digests_are_unchanged_without_comparing_entries(monkeypatch):
    a, b = sample_classic()
    before, after = copy.deepcopy(a["maps"][0]), copy.deepcopy(b["maps"][0])
    assert diff_module.diff_map(before, after)["changed"]
    before["state"] = after["state"] = "sha256:0123"    # format v2's content digest: the same content
    monkeypatch.setattr(diff_module, "diff_entries", _no_entry_comparison)
    item = diff_module.diff_map(before, after)
    assert not item["changed"] and item["entries"]["added"] == [] and item["header"] == []
    assert item["entries"]["unchanged"] == len(after["entries"])
    for other in ("sha256:4567", None):                 # another digest, or none on one side: compared
        after["state"] = other
        with pytest.raises(AssertionError, match="the entries were compared"):
            diff_module.diff_map(before, after)
    del after["state"]
    with pytest.raises(AssertionError, match="the entries were compared"):
        diff_module.diff_map(before, after)


def test_maps_only_on_one_side():
    a, b = sample_swiss()
    b = copy.deepcopy(b)
    gone = b["maps"].pop(0)
    diff = diff_snapshots(a, b)
    assert [item["address"] for item in diff["maps_only_in_a"]] == [gone["address"]]
    assert any(" is only in A (count 5)" in sentence for sentence in diff["summary"])


# ---------------------------------------------------------------------------
# Rendering


def test_golden_classic():
    diff = diff_snapshots(*sample_classic())
    golden("classic-diff.json", render_diff(diff, "json"))
    golden("classic-diff.md", render_diff(diff, "markdown"))
    golden("classic-diff.txt", render_diff(diff, "text"))


def test_golden_swiss():
    diff = diff_snapshots(*sample_swiss())
    golden("swiss-diff.json", render_diff(diff, "json"))
    golden("swiss-diff.md", render_diff(diff, "markdown"))


def test_json_is_the_machine_form():
    diff = diff_snapshots(*sample_classic())
    text = render_diff(diff, "json")
    assert json.loads(text) == json.loads(json.dumps(diff))
    assert text == json.dumps(diff, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def test_rendering_is_deterministic():
    for pair in (sample_classic(), sample_swiss()):
        for fmt in ("text", "markdown", "json"):
            assert render_diff(diff_snapshots(*pair), fmt) == render_diff(diff_snapshots(*pair), fmt)


def test_colour_only_when_asked():
    diff = diff_snapshots(*sample_classic())
    plain = render_diff(diff, "text", color=False)
    coloured = render_diff(diff, "text", color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    strip = __import__("re").compile(r"\x1b\[[0-9;]*m")
    assert strip.sub("", coloured) == plain
    assert "\x1b[" not in render_diff(diff, "markdown", color=True)


def test_markdown_summary_first_and_folded():
    a, _ = sample_swiss_growth()
    text = render_diff(diff_snapshots(*sample_swiss_growth()), "markdown")
    lines = text.splitlines()
    assert lines[:3] == ["## gdb-hiter diff", "", "**Summary**"]
    assert "<details><summary>1646 added</summary>" in lines
    assert text.count("<details>") == text.count("</details>")


def test_markdown_cells():
    assert md_cell('"a|b"') == '`"a\\|b"`'
    assert md_cell("x`y") == "`` x`y ``"


def test_render_snapshot_formats():
    a, _ = sample_classic()
    text = render_snapshot(a, "text")
    assert text.startswith('snapshot #1 "before" (cgocall-enter, C.fill), taken 2026-11-30T12:00:00.000Z\n')
    assert "main.m: map[int64]int64 at " in text and "iterator " in text
    assert render_snapshot(a, "json") == json.dumps(a, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    markdown = render_snapshot(a, "markdown")
    assert markdown.startswith("## gdb-hiter snapshot\n") and "<details><summary>30 entries</summary>" in markdown
    with pytest.raises(ValueError):
        render_snapshot(a, "html")


# ---------------------------------------------------------------------------
# The offline commands, as a user runs them


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=env)


@pytest.fixture()
def files(tmp_path):
    a, b = sample_classic()
    snapshot.write_snapshot(a, tmp_path / "a.json")
    snapshot.write_snapshot(b, tmp_path / "b.json")
    return tmp_path


def test_cli_diff_and_show(files):
    result = run("diff", files / "a.json", files / "b.json", "--format", "markdown")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout == render_diff(diff_snapshots(*sample_classic()), "markdown")
    result = run("diff", files / "a.json", files / "b.json")   # not a tty: no colour
    assert result.returncode == 0 and "\x1b[" not in result.stdout
    result = run("diff", files / "a.json", files / "b.json", "--color", "on")
    assert "\x1b[" in result.stdout
    result = run("show", files / "a.json", "--format", "json")
    assert result.returncode == 0 and json.loads(result.stdout) == sample_classic()[0]


def test_cli_errors_are_one_line(files):
    (files / "bad.json").write_text('{"format": "gdb-hiter-snapshot", "version": 7}')
    result = run("diff", files / "a.json", files / "bad.json")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"gdb-hiter: {files / 'bad.json'}: written by a newer gdb-hiter: version 7; "
                             "this reads versions 1 and 2\n")
    result = run("show", files / "nothing.json")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"gdb-hiter: {files / 'nothing.json'}: cannot read: ")


def test_use_color(monkeypatch):
    from gdb_hiter.cli.offline import use_color

    class Tty:
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_color("auto", Tty()) and not use_color("off", Tty()) and use_color("on", None)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_color("auto", Tty())
