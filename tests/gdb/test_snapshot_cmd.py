"""hiter-snapshot and hiter-diff in the real gdb, on the cgo fixture's callback stops.

One gdb run per build (one classic, one Swiss): stop at the first
``main.stopHere`` (inside the callback, inside the range loop), take
snapshots of everything, of a map, of an iterator address; go on to the
second stop, snapshot again, diff.
"""

import json
import re

import pytest

from builds import binary, builds_of
from gdb_hiter.core.snapshot.document import read_snapshot
from gdbrun import run_gdb

BUILDS = [p for p in builds_of("cgorange", lambda b: not b.stripped)
          if p.values[0].id in ("go1.22.10-noopt", "go1.26.6-opt")]

ITERATOR_SNAPSHOT = ("python import json; found = json.loads(gdb.execute('hiter-find --json', to_string=True)); "
                     "gdb.execute('hiter-snapshot --label by-address %d' % found[0]['address'])")


def commands(tmp):
    return [
        "set print thread-events off",
        "hiter-snapshot",                                   # 1: no process yet
        "break main.stopHere",
        "run > /dev/null",
        f"hiter-snapshot --label first --out {tmp}/a.json",  # 4
        "hiter-snapshot main.gm --limit 3",                 # 5
        ITERATOR_SNAPSHOT,                                  # 6
        "continue",
        "hiter-snapshot --label second",                    # 8
        "hiter-snapshot --list",                            # 9
        "hiter-diff --format json",                         # 10: the last two
        "hiter-diff 1 4 --format markdown",                 # 11
        f"hiter-diff {tmp}/a.json --format text",           # 12: file vs the last
        "show hiter color",                                 # 13
        "set hiter color on",
        "hiter-diff 1 4",                                   # 15: coloured
        "set hiter color off",
        "hiter-diff 99",                                    # 17
        "hiter-snapshot no_such_variable",                  # 18
        "show hiter",                                       # 19
        "set hiter foo bar",                                # 20
        "kill",
    ]


@pytest.mark.parametrize("build", BUILDS)
def test_snapshot_and_diff(build, loader, tmp_path):
    run = run_gdb(commands(tmp_path), binary=binary(build), loader=loader, timeout=120)
    assert "no process" in run[1]
    assert re.search(r"Snapshot #1 \"first\" \(manual\): 1 map\(s\), 1 iterator\(s\), written to ", run[4]), run[4]
    doc = read_snapshot(tmp_path / "a.json")
    assert doc["seq"] == 1 and doc["label"] == "first" and doc["event"] == "manual" and doc["goroutine"] == 1
    assert doc["location"]["function"] == "main.stopHere" and doc["program"]["kind"] == "process"
    (iterator,) = doc["iterators"]
    (map_doc,) = doc["maps"]
    assert iterator["map_address"] == map_doc["address"] and iterator["function"] == "main.rangeWithCgoCalls"
    assert map_doc["type"] == "map[int64]int64" and map_doc["entries_found"] == map_doc["count"]
    assert "Snapshot #2 (manual): 1 map(s), 1 iterator(s)" in run[5] and "at most 3 per map" in run[5]
    assert "Snapshot #3 \"by-address\" (manual): 1 map(s), 1 iterator(s)" in run[6]
    listing = run[9].strip().splitlines()
    assert listing[0].split() == ["seq", "label", "event", "maps", "iterators", "file"]
    assert [line.split()[0] for line in listing[1:]] == ["1", "2", "3", "4"]
    assert listing[1].endswith("a.json")
    diff = json.loads(run[10])
    assert diff["format"] == "gdb-hiter-diff" and diff["a"]["seq"] == 3 and diff["b"]["seq"] == 4
    assert diff["maps"][0]["count"] == {"a": map_doc["count"], "b": map_doc["count"] + 1}
    assert run[11].startswith("## gdb-hiter diff") and "1 added" in run[11]
    assert "A: #1 \"first\"" in run[12] and "\x1b[" not in run[12]
    assert "auto" in run[13]
    assert "\x1b[" in run[15]
    assert "no snapshot #99 in this session" in run[17]
    assert "no_such_variable" in run[18] and "0 map(s)" in run[18]
    assert "hiter color: off" in run[19]
    assert run[20] == "set hiter: no setting 'foo'; the settings are: color (`help set hiter`)\n"


def test_writes_refuse_special_files_and_reads_refuse_devices(loader, tmp_path):
    """--output / --out never replace a FIFO or a planted link; hiter-diff of /dev/zero is one line."""
    import os
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    link = tmp_path / "dangling.json"
    link.symlink_to(tmp_path / "nowhere")
    run = run_gdb(["break main.stopHere", "run > /dev/null",
                   f"hmap-show main.gm --output {fifo}",
                   f"hiter-snapshot --out {link}",
                   "hiter-snapshot",
                   "hiter-diff /dev/zero",
                   "print 6*7", "kill"],
                  binary=binary(BUILDS[0].values[0]), loader=loader, timeout=120)
    assert run[2].strip() == f"hmap-show: {fifo}: cannot write: is a FIFO, not a regular file"
    assert run[3].strip().endswith(f"{link}: cannot write: is a symbolic link to {tmp_path}/nowhere, "
                                   f"which does not exist"), run[3]
    assert run[5].strip() == "hiter-diff: /dev/zero: cannot read: is a character device, not a regular file"
    assert run[6].strip() == "$1 = 42"
    assert sorted(os.listdir(tmp_path)) == ["dangling.json", "fifo"]
