"""hiter-watch in the real gdb: breakpoints that snapshot and let the program run on.

One gdb run per build (one classic, one Swiss): watch ``main.gm`` at the
cgo calls only, run the fixture to its end, then ``hiter-watch report`` and
``hiter-watch off``.
"""


import pytest

from builds import binary, builds_of
from gdb_hiter.core.snapshot.callreport import transition_report
from gdb_hiter.core.snapshot.document import read_snapshot, snapshot_files
from gdbrun import run_gdb

BUILDS = [p for p in builds_of("cgorange", lambda b: not b.stripped)
          if p.values[0].id in ("go1.24.11-noswissmap-opt", "go1.27.3-mapsplitgroup-noopt")]

STATE = "python from gdb_hiter.gdbext import watch_cmd; print('watch', watch_cmd.WATCH is not None)"


@pytest.mark.parametrize("build", BUILDS)
def test_watch_map_at_cgocalls(build, loader, tmp_path):
    out = tmp_path / "w"
    run = run_gdb([
        "set print thread-events off",
        "hiter-watch --events nothing",                               # 1
        f"hiter-watch main.gm --out {out} --events cgocall",          # 2
        "run",                                                        # 3
        "hiter-snapshot --list",                                      # 4
        "hiter-watch report --format markdown",                       # 5
        "hiter-watch report",                                         # 6
        "hiter-watch off",                                            # 7
        STATE,                                                        # 8
    ], binary=binary(build), loader=loader, timeout=120)
    assert "--events: nothing" in run[1]
    assert "watching main.gm" in run[2]
    assert "exited normally" in run[3]
    names = snapshot_files(str(out))
    assert len(names) == 16 and names[0] == "0001-cgocall-enter.json" and names[1] == "0002-cgocall-return.json"
    docs = [read_snapshot(out / name) for name in names]
    assert all(doc["maps"][0]["expression"] == "main.gm" and len(doc["iterators"]) == 1 for doc in docs)
    assert docs[0]["maps"][0]["count"] == 8 and docs[1]["maps"][0]["count"] > 1000
    assert len(run[4].strip().splitlines()) == 17
    assert "- 16 snapshots: 8 C calls, 0 callbacks\n" in run[5] and "callback `" not in run[5]
    assert run[5].count("\n### C call ") == 8 and "`hiter-diff 1 2`" in run[5]   # the session's numbers
    assert run[5].strip() == transition_report(docs, "markdown").strip()     # what report.md holds
    assert "\nSummary\n  C call 1: C.callC; main.rangeWithCgoCalls (main.go:72); goroutine 1\n" in run[6]
    assert run[6].count("\nC call ") == 8
    assert "off (16 snapshot(s) taken)" in run[7]
    assert "watch False" in run[8]


@pytest.mark.parametrize("build", BUILDS[:1])
def test_watch_out_never_replaces_an_earlier_sessions_snapshots(build, loader, tmp_path):
    out = tmp_path / "w"
    out.mkdir()
    earlier = out / "0001-cgocall-enter.json"
    earlier.write_text("an earlier session's snapshot")
    run = run_gdb([
        f"hiter-watch main.gm --out {out} --events cgocall",          # 0: refused
        "break main.rangeWithCgoCalls",
        "run",
        f"hiter-watch main.gm --out {out} --events cgocall --force",  # 3
        "continue",
        f"hiter-watch main.gm --out {out} --events cgocall",          # 5: this session's own files: fine
    ], binary=binary(build), loader=loader, timeout=120)
    assert run[0] == (f"hiter-watch: --out {out} already holds snapshots of an earlier session "
                      "(0001-cgocall-enter.json, ...): choose another directory, or --force to replace them\n")
    assert "snapshots go to" in run[3] and "snapshots go to" in run[5], run.text[-2000:]
    names = snapshot_files(str(out))
    assert len(names) == 16 and names[0] == "0001-cgocall-enter.json"
    assert read_snapshot(earlier)["seq"] == 1
