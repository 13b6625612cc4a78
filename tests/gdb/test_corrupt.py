"""A map whose header is corrupt, in the real gdb: said in one line, and never at the cost of the other maps.

The fixture's own map is corrupted with ``set var`` at a stop (a Swiss
``dirLen`` below zero, a classic ``B`` of 70: both break the snapshot
schema as read; the classic header is refused before any walk), then ``print``, ``$maplen`` and ``hiter-snapshot`` of it
and of a healthy map run in the same session.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from builds import binary, builds_of
from gdbrun import run_gdb
from gdb_hiter.core.snapshot.document import read_snapshot
from test_hmap_show import assert_matches_truth, gdb_at_stop

BUILDS = [p for p in builds_of("mapstates", lambda b: not b.stripped)
          if p.values[0].id in ("go1.22.10-noopt", "go1.24.11-noswissmap-opt", "go1.26.6-noopt",
                                "go1.27.3-mapsplitgroup-opt")]


@pytest.mark.parametrize("build", BUILDS)
def test_a_corrupt_map_costs_only_itself(build, loader, tmp_path):
    corrupt = "set var main.mInt.B = 70" if build.map_impl == "classic" else "set var main.mInt.dirLen = -5"
    out = tmp_path / "s.json"
    commands = [corrupt, f"hiter-snapshot main.mInt main.mStr --out {out}", "print main.mInt",
                "print $maplen(main.mInt)", "print 6 * 7"]
    run, truth = gdb_at_stop(build, loader, ["types"], commands)
    assert run.of("print 6 * 7").split(" = ")[1].strip() == "42", run.text[-2000:]
    doc = read_snapshot(out)
    count = truth["main.mInt"]["len"]
    printed = run.of("print main.mInt").split(" = ", 1)[1].strip()
    assert run.of("print $maplen(main.mInt)").split(" = ")[1].strip() == str(count)
    if build.map_impl == "classic":   # the header alone is refused: a map with that problem, the other whole
        bad, good = doc["maps"]
        assert_matches_truth(good, truth["main.mStr"], build)
        why = "B = 70 is not a real map (max 40)"
        assert (bad["expression"], bad["type"], bad["entries"], bad["complete"]) == \
            ("main.mInt", "map[int64]int64", [], False)
        (problem,) = bad["problems"]
        assert problem["what"] == "header-refused" and problem["why"].endswith(why), problem
        assert problem["why"].startswith("hmap at 0x")   # said once, not "main.mInt: main.mInt: ..."
        assert doc["limits"]["cut"] == []
        assert printed.startswith("<error: map[int64]int64: hmap at 0x") and printed.endswith(why + ">"), printed
        return
    bad, good = doc["maps"]
    assert_matches_truth(good, truth["main.mStr"], build)
    assert (bad["expression"], bad["complete"], bad["entries"]) == ("main.mInt", False, [])
    assert [problem["what"] for problem in bad["problems"]] == ["directory-absurd", "snapshot"]
    assert bad["unrecorded"]["dirLen"] == -5
    assert "($.maps[0].dirLen: must be bigger than or equal to 0)" in bad["problems"][-1]["why"]
    assert printed == (f"map[int64]int64 <directory-absurd: {bad['problems'][0]['why']}; 0 of {count} entries "
                       "decoded; hmap-show for details>"), printed


CGO = [p for p in builds_of("cgorange", lambda b: not b.stripped)
       if p.values[0].id in ("go1.22.10-noopt", "go1.26.6-opt")]

CORRUPT_ALLGS = ("python symbol = gdb.lookup_global_symbol('runtime.allgs') or "
                 "gdb.lookup_static_symbol('runtime.allgs'); "
                 "gdb.selected_inferior().write_memory(int(symbol.value().address) + 8, (1 << 40).to_bytes(8, 'little'))")


@pytest.mark.parametrize("build", CGO)
def test_a_corrupt_allgs_is_said_and_the_current_goroutine_still_scanned(build, loader, tmp_path):
    healthy, corrupt = tmp_path / "healthy.json", tmp_path / "corrupt.json"
    run = run_gdb(["break main.stopHere", "run > /dev/null",
                   f"hiter-snapshot --all-goroutines --out {healthy}",
                   CORRUPT_ALLGS,
                   f"hiter-snapshot --all-goroutines --out {corrupt}",
                   "hiter-find --all-goroutines", "kill"], binary=binary(build), loader=loader, timeout=120)
    before, after = read_snapshot(healthy), read_snapshot(corrupt)
    assert len(before["iterators"]) == 1 and not before["limits"]["cut"], before["limits"]
    assert after["iterators"] == before["iterators"] and after["maps"] == before["maps"]
    cut = after["limits"]["cut"]
    assert cut[0].startswith("finding iterators: allgs: allgs length 1099511627776 (cap ") and \
        cut[0].endswith(") is absurd (limit 1048576)"), cut
    assert cut[1] == "finding iterators: goroutine 1 (the current one) scanned although allgs did not list it"
    found = run.of("hiter-find --all-goroutines")
    assert found.startswith("1 map iterator on 1 goroutine stack:") and "note: allgs: allgs length" in found, found


# -- the red-team list: every corruption ends in a result whose problems say what is wrong, or one line -----

CATALOGUE = Path(__file__).resolve().parents[2] / "scripts" / "hiterdev" / "corruptions.py"
CATALOGUE_BUILDS = [p for p in builds_of("mapstates", lambda b: not b.stripped)
                    if p.values[0].id in ("go1.19-noopt", "go1.22.10-noopt", "go1.24.11-noswissmap-opt",
                                          "go1.25.5-opt", "go1.26.6-noopt", "go1.27.3-mapsplitgroup-opt")]
DECODE_CLEANLY = {"flags = 0xff"}   # flags take no part in the walk: nothing to report


def run_catalogue(build, loader, out_dir: Path):
    """The catalogue run in the real gdb at the types stop: its records, and the session."""
    out = out_dir / "corruptions.jsonl"
    baseline = out_dir / "baseline.json"
    commands = [f"hiter-snapshot main.mStr --out {baseline}", f"source {CATALOGUE}", "print 6 * 7"]
    run, _ = gdb_at_stop(build, loader, ["types"], commands)
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return records, run, read_snapshot(baseline)["maps"][0]


@pytest.mark.parametrize("build", CATALOGUE_BUILDS)
def test_every_corruption_of_the_catalogue_is_said_in_one_line_or_as_problems(build, loader, tmp_path,
                                                                               monkeypatch):
    monkeypatch.setenv("GDB_HITER_CORRUPTIONS_OUT", str(tmp_path / "corruptions.jsonl"))
    records, run, healthy = run_catalogue(build, loader, tmp_path)
    assert run.of("print 6 * 7").split(" = ")[1].strip() == "42", run.text[-3000:]
    assert len(records) == (18 if build.map_impl == "classic" else 21), run.text[-3000:]
    for record in records:
        name = record["case"]
        show, printed, maplen, snap = (result["output"] for result in record["results"])
        for output in (show, printed, maplen, snap):
            assert "Traceback" not in output and "Python Exception" not in output, (name, output)
            assert "internal error" not in output, (name, output)
        if show.startswith("error: "):
            assert show.count("\n") == 1, (name, show)
            assert printed.strip().endswith(">") and "<error: " in printed, (name, printed)
        elif name in DECODE_CLEANLY:
            assert "\nProblems: none\n" in show, (name, show)
        else:
            assert re.search(r"\nProblems \(\d+\):\n", show), (name, show)
        assert printed.count("\n") == 1, (name, printed)
        assert re.fullmatch(r"\$\d+ = -?\d+\n", maplen) or maplen.startswith("error: "), (name, maplen)
        doc = read_snapshot(record["snapshot"])
        kept = [item for item in doc["maps"] if item.get("expression") == "main.mStr"]
        assert [item["entries"] for item in kept] == [healthy["entries"]], name


ITERATOR_BUILDS = [p for p in builds_of("cgorange", lambda b: not b.stripped)
                   if p.values[0].id in ("go1.22.10-noopt", "go1.24.11-noswissmap-opt", "go1.26.6-opt",
                                         "go1.27.3-mapsplitgroup-noopt")]


@pytest.mark.parametrize("build", ITERATOR_BUILDS)
def test_every_iterator_corruption_of_the_catalogue_ends_in_a_result_or_one_line(build, loader, tmp_path,
                                                                                 monkeypatch):
    monkeypatch.setenv("GDB_HITER_CORRUPTIONS_OUT", str(tmp_path / "corruptions.jsonl"))
    monkeypatch.setenv("GDB_HITER_CORRUPTIONS_MODE", "iterator")
    run = run_gdb(["break main.stopHere", "run > /dev/null", f"source {CATALOGUE}", "hiter-find --json",
                   "print 6 * 7", "kill"], binary=binary(build), loader=loader, timeout=300)
    assert run.of("print 6 * 7").split(" = ")[1].strip() == "42", run.text[-3000:]
    records = [json.loads(line) for line in (tmp_path / "corruptions.jsonl").read_text().splitlines()]
    assert len(records) == (11 if build.map_impl == "classic" else 10), run.text[-3000:]
    header = "runtime.hiter at " if build.map_impl == "classic" else "maps.Iter at "
    for record in records:
        name = record["case"]
        show, predict, find, snap = (result["output"] for result in record["results"])
        for output in (show, predict, find, snap):
            assert "Traceback" not in output and "Python Exception" not in output, (name, output)
            assert "internal error" not in output and "None" not in output, (name, output)
        assert show.startswith(header) or (show.startswith("error: ") and show.count("\n") == 1), (name, show)
        assert predict.startswith(("iterator at ", "error: hiter-predict: ")), (name, predict)
        read_snapshot(record["snapshot"])   # taken and valid (a corrupt iterator is not found: no false positive)
    assert len(json.loads(run.of("hiter-find --json"))) == 1   # the memory was put back
