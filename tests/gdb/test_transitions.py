"""hiter-watch's snapshots, made from what changed, are the snapshots a full decode makes.

At every cgo transition of a real run, ``check_transitions.py`` (sourced into the real gdb) takes
the same snapshot the slow way (``snapshot_cmd.collect``: every map decoded, every loop replayed)
and compares it, key by key, with the file the watch wrote into its store (read back with
``read_snapshot``). The runs are chosen so that every path of ``gdbext/transitions.py`` is taken:
maps unchanged (reused), changed (decoded again), loops that moved on (the last prediction
continued) and loops over a map that changed (replayed).
"""

import json
import os
from pathlib import Path

import pytest

from builds import binary, builds_of
from gdb_hiter.core.snapshot.document import read_snapshot, snapshot_files
from gdbrun import run_gdb

CHECK = Path(__file__).with_name("check_transitions.py")
IDS = ("go1.19.8-noopt", "go1.22.10-opt", "go1.24.11-noswissmap-opt", "go1.24.11-noopt", "go1.26.6-opt",
       "go1.27.3-mapsplitgroup-noopt")


def _builds(fixture):
    return [p for p in builds_of(fixture, lambda b: not b.stripped) if p.values[0].id in IDS]


def _checked_run(build, fixture_args, watch, loader, tmp_path, env=None):
    out, log = tmp_path / "w", tmp_path / "check.jsonl"
    run = run_gdb([
        "set print thread-events off",
        "handle SIGURG nostop noprint pass",
        f"source {CHECK}",
        f"{watch} --out {out}",
        "run",
    ], binary=binary(build), loader=loader, args=fixture_args, timeout=600,
        env=dict(env or {}, HITER_CHECK_OUT=str(log)))
    assert "exited normally" in run[4], run.text[-2000:]
    assert "Traceback" not in run.text and "internal error" not in run.text, run.text[-2000:]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    return out, lines


@pytest.mark.parametrize("build", _builds("capturebench"))
def test_watch_snapshots_equal_full_ones_through_many_calls(build, loader, tmp_path):
    out, lines = _checked_run(build, ["3000", "12"], "hiter-watch main.hs", loader, tmp_path)
    assert len(lines) == 48
    assert [line["diff"] for line in lines if not line["same"]] == []
    last = lines[-1]
    # each C call: the map is unchanged at 3 of its 4 transitions, the loop moved on at its enter
    assert last["reused"] >= 24 and last["continued"] >= 10 and last["made"] >= 24, last
    files = snapshot_files(str(out))
    assert len(files) == 48 and (out / "chunks.sqlite").is_file()
    # what did not change is stored once: the directory is far smaller than 48 whole snapshots
    whole = sum(len(json.dumps(read_snapshot(out / name))) for name in files)
    stored = sum(os.path.getsize(path) for path in out.iterdir())
    assert stored < whole / 4, (stored, whole)
    assert read_snapshot(out / files[-1])["maps"][0]["count"] == 3012


@pytest.mark.parametrize("build", _builds("cgorange"))
def test_watch_snapshots_equal_full_ones_through_a_grow(build, loader, tmp_path):
    # the first callback grows the map (classic: a grow caught in progress; Swiss: tables split)
    _out, lines = _checked_run(build, [], "hiter-watch main.gm", loader, tmp_path)
    assert len(lines) == 32
    assert [line["diff"] for line in lines if not line["same"]] == []


@pytest.mark.parametrize("build", _builds("cgorange")[:2])
def test_watch_of_live_iterators_equals_full_snapshots(build, loader, tmp_path):
    _out, lines = _checked_run(build, [], "hiter-watch --iterators", loader, tmp_path)
    assert len(lines) == 32
    assert [line["diff"] for line in lines if not line["same"]] == []
