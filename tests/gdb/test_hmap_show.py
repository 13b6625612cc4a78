"""hmap-show on every build with DWARF: decoded entries equal the fixtures' own ground truth.

Each test starts one gdb, stops the fixture at ``main.stopHere`` and runs
several ``hmap-show --json`` commands; the fixture printed, just before the
stop, every map's entries as ``%#v`` strings sorted by key. Entries are
compared as sorted lists of [key, value] (a multiset: NaN keys repeat).
"""

from __future__ import annotations

import json
from pathlib import Path
from collections import Counter
from typing import Dict, List

import pytest

from builds import binary, builds_of
from gdbrun import run_gdb

WITH_DWARF = builds_of("mapstates", lambda b: not b.stripped)
CGO_WITH_DWARF = builds_of("cgorange", lambda b: not b.stripped)
CLASSIC = builds_of("mapstates", lambda b: not b.stripped and b.map_impl == "classic")
SWISS = builds_of("mapstates", lambda b: not b.stripped and b.map_impl != "classic")
STRIPPED = builds_of("mapstates", lambda b: b.stripped)

TYPES_MAPS = ["main.mInt", "main.mStr", "main.mStruct", "main.mBig", "main.mFloat", "main.mBool", "main.mEmpty"]


# -- helpers shared with test_printers.py ------------------------------------


def events_of(text: str) -> List[dict]:
    """The fixture's JSON-line events in gdb's output (the inferior shares gdb's stdout)."""
    events = []
    for line in text.splitlines():
        if line.startswith('{"event":') and line.endswith("}"):
            events.append(json.loads(line))
    return events


def truth_at_stop(text: str, stop: int = 1) -> Dict[str, dict]:
    """{map name: its "map" event} as printed before the ``stop``-th stop (1-based)."""
    maps: Dict[str, dict] = {}
    seen = 0
    for event in events_of(text):
        if event["event"] == "stop":
            seen += 1
            if seen == stop:
                return maps
            maps = {}
        elif event["event"] in ("map", "map-summary"):
            maps[event["name"]] = event
    raise AssertionError(f"the fixture did not reach stop {stop}:\n{text[-3000:]}")


STOP_AT = Path(__file__).resolve().parents[1] / "stop_at.py"


def stop_commands(stop: int = 1) -> List[str]:
    """Run to the ``stop``-th call of main.stopHere (the fixture counts them in main.stopCount).

    The count matters: a Go thread can hit the same breakpoint twice (a
    signal such as the runtime's preemption SIGURG arriving while gdb steps
    over it), so "continue" alone may stop at the same place again. It is
    checked by a Python breakpoint (tests/stop_at.py), not a gdb condition,
    which gdb 13.1 now and then let the program run past.
    """
    return [f"python exec(open({str(STOP_AT)!r}).read()); STOP_AT.want = {stop}", "run"]


def next_stop_commands(stop: int) -> List[str]:
    return [f"python STOP_AT.want = {stop}", "continue"]


def pairs(doc: dict) -> List[List[str]]:
    return sorted([entry["key"], entry["value"]] for entry in doc["entries"])


def truth_pairs(event: dict) -> List[List[str]]:
    return sorted([key, value] for key, value in event["entries"])


def shown(output: str, session: str = "") -> dict:
    """The hmap-show --json document (fails with the command's output when it is not JSON, and
    with the end of the gdb session when given: why the program was not there any more)."""
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        raise AssertionError(f"hmap-show did not print JSON: {output[:2000]!r}\n"
                             f"end of the gdb session:\n{session[-4000:]}") from None


def assert_matches_truth(doc: dict, event: dict, build) -> None:
    assert doc["type"] == event["type"]
    assert doc["count"] == event["len"]
    assert doc["impl"] == build.map_impl
    assert doc["problems"] == [], doc["problems"]
    assert doc["complete"] is True
    assert len(doc["entries"]) == event["len"]
    assert Counter(map(tuple, pairs(doc))) == Counter(map(tuple, truth_pairs(event)))
    assert pairs(doc) == truth_pairs(event)


def assert_common_keys(doc: dict, build) -> None:
    for key in ("address", "type", "count", "impl", "flags", "growing", "entries", "problems"):
        assert key in doc, key
    if build.map_impl == "classic":
        for key in ("B", "buckets", "old_buckets", "growth"):
            assert key in doc, key
    else:
        for key in ("dirLen", "globalDepth", "tables", "groups"):
            assert key in doc, key
    for entry in doc["entries"]:
        assert set(entry) == {"key", "value", "location"}


def gdb_at_stop(build, loader, args, commands, stop=1):
    path = binary(build)
    run = run_gdb(stop_commands(stop) + commands, binary=path, loader=loader, args=args)
    return run, truth_at_stop(run.text, stop)


# -- tests -----------------------------------------------------------------


@pytest.mark.parametrize("build", WITH_DWARF)
def test_types(build, loader):
    commands = [f"hmap-show {name} --json" for name in TYPES_MAPS] + ["hmap-show main.mNil --json"]
    run, truth = gdb_at_stop(build, loader, ["types"], commands)
    for name in TYPES_MAPS:
        doc = shown(run.of(f"hmap-show {name} --json"))
        assert_common_keys(doc, build)
        assert_matches_truth(doc, truth[name], build)
    floats = pairs(shown(run.of("hmap-show main.mFloat --json")))
    assert [key for key, _ in floats].count("NaN") == 2
    assert run.of("hmap-show main.mNil --json") == "hmap-show: main.mNil is a nil map\n"


@pytest.mark.parametrize("build", WITH_DWARF)
def test_deletions(build, loader):
    run, truth = gdb_at_stop(build, loader, ["deletions"],
                             ["hmap-show main.mDel --json", "hmap-show main.mDelSmall --json"])
    for name in ("main.mDel", "main.mDelSmall"):
        doc = shown(run.of(f"hmap-show {name} --json"))
        assert_matches_truth(doc, truth[name], build)
    small = shown(run.of("hmap-show main.mDelSmall --json"))
    if build.map_impl == "classic":
        # the two deleted slots are emptyOne, between full ones
        assert small["buckets"][0]["slots"].count("1") == 2
    else:
        assert small["slots"]["deleted"] + small["slots"]["empty"] == 8 - 4


@pytest.mark.parametrize("build", CLASSIC)
def test_classic_growth(build, loader):
    commands = ["hmap-show main.mGrow --json"] + next_stop_commands(2) + ["hmap-show main.mSameSize --json"]
    path = binary(build)
    run = run_gdb(stop_commands(1) + commands, binary=path, loader=loader, args=["growth"])
    growing = truth_at_stop(run.text, 1)
    same_size = truth_at_stop(run.text, 2)
    doc = shown(run.of("hmap-show main.mGrow --json"))
    assert_matches_truth(doc, growing["main.mGrow"], build)
    assert doc["growing"] is True and doc["growth"]["same_size"] is False
    assert doc["growth"]["pending"], "caught mid-growth: some old buckets are not evacuated yet"
    assert any(entry["location"]["array"] == "oldbuckets" for entry in doc["entries"])
    # once in a full suite run (fresh clone, 2 workers) the process was gone by here: keep the session
    doc = shown(run.of("hmap-show main.mSameSize --json"), run.text)
    assert_matches_truth(doc, same_size["main.mSameSize"], build)
    assert doc["growing"] is True and doc["growth"]["same_size"] is True
    assert doc["growth"]["old_bucket_count"] == 2 ** doc["B"]


@pytest.mark.parametrize("build", SWISS)
def test_swiss_tables(build, loader):
    run, truth = gdb_at_stop(build, loader, ["growth"], ["hmap-show main.mTables --json"])
    doc = shown(run[2])
    assert_common_keys(doc, build)
    assert_matches_truth(doc, truth["main.mTables"], build)
    assert doc["growing"] is False
    assert doc["dirLen"] == 2 ** doc["globalDepth"]
    assert len(doc["tables"]) >= 3
    assert any(table["directory"][1] > table["directory"][0] for table in doc["tables"]), \
        "some tables fill several directory entries"
    assert sum(table["used"] for table in doc["tables"]) == doc["count"]
    assert len(doc["groups"]) == sum(table["group_count"] for table in doc["tables"])


@pytest.mark.parametrize("build", WITH_DWARF)
def test_large(build, loader, tmp_path):
    """100 000 entries, exactly those the fixture summed; --output writes the same JSON to a file."""
    out = tmp_path / "large.json"
    run, truth = gdb_at_stop(build, loader, ["large", "100000"],
                             ["hmap-show main.mLarge --json", f"hmap-show main.mLarge --json --output {out}"])
    summary = truth["main.mLarge"]
    doc = shown(run[2])
    assert out.read_text() == run[2]
    assert run[3] == (f"hmap-show: 100000 entries of main.mLarge, JSON, {len(run[2])} bytes written to {out}\n")
    assert not [path for path in tmp_path.iterdir() if path != out], "no temporary file is left behind"
    assert doc["count"] == summary["len"] == 100000
    assert doc["problems"] == []
    keys = [int(entry["key"]) for entry in doc["entries"]]
    values = [int(entry["value"]) for entry in doc["entries"]]
    assert len(keys) == len(set(keys)) == 100000
    assert sum(keys) == summary["key_sum"] and sum(values) == summary["value_sum"]
    mixed = 0
    for key, value in zip(keys, values):
        mixed ^= (key * 0x9E3779B97F4A7C15 & (2 ** 64 - 1)) ^ value
    assert f"{mixed:#x}" == summary["mixed_xor"]


@pytest.mark.parametrize("build", CGO_WITH_DWARF)
def test_cgo_callback_map_grown_during_range(build, loader):
    """Stopped in the Go callback called from C inside `for k, v := range gm`."""
    run, truth = gdb_at_stop(build, loader, [], ["hmap-show main.gm --json", "hmap-show main.gm"])
    event = truth["main.gm"]
    assert event["label"] == "in-callback"
    doc = shown(run[2])
    assert_matches_truth(doc, event, build)
    if build.map_impl == "classic":
        assert "iterator" in doc["flags"]      # the range loop's iterator is live
        assert doc["growing"] is True
    else:
        assert len(doc["tables"]) >= 2
    text = run[3]
    assert text.startswith(f"main.gm: map[int64]int64 at {doc['address']:#x}\n")
    assert f"Entries: 100 shown of {event['len']} found (memory order)" in text
    assert f"... {event['len'] - 100} more entries not shown" in text


@pytest.mark.parametrize("build", WITH_DWARF)
def test_other_ways_to_name_a_map(build, loader):
    """&m, *m, and --limit."""
    commands = ["hmap-show &main.mStr --json", "hmap-show *main.mStr --json",
                "hmap-show main.mStr --json --limit 2"]
    run, truth = gdb_at_stop(build, loader, ["types"], commands)
    for command in commands[:2]:
        assert_matches_truth(shown(run.of(command)), truth["main.mStr"], build)
    limited = shown(run.of("hmap-show main.mStr --json --limit 2"))
    assert limited["count"] == 6 and len(limited["entries"]) == 2 and limited["entries_shown"] == 2


@pytest.mark.parametrize("build", WITH_DWARF)
def test_address_with_type(build, loader):
    commands = ["python gdb.set_convenience_variable('a', int(gdb.parse_and_eval('main.mStr')))",
                "hmap-show $a --type 'map[string]int' --json",
                "hmap-show $a",
                "hmap-show main.mStr --type 'map[nope]int'",
                "hmap-show main.stopCount",
                "set language c",
                # quotes inside the expression survive option parsing
                "hmap-show --json *('runtime.hmap' *)$a --type=map[string]int" if build.map_impl == "classic"
                else "hmap-show --json *('internal/runtime/maps.Map' *) $a --type 'map[string]int'",
                "hmap-show *('runtime.hmap' *)$a" if build.map_impl == "classic"
                else "hmap-show *('internal/runtime/maps.Map' *) $a",
                "set language auto"]
    run, truth = gdb_at_stop(build, loader, ["types"], commands)
    assert_matches_truth(shown(run[3]), truth["main.mStr"], build)
    assert_matches_truth(shown(run[8]), truth["main.mStr"], build)
    header = "runtime.hmap" if build.map_impl == "classic" else "internal/runtime/maps.Map"
    assert run[9].endswith(f" is a bare {header}: give the map's type with --type 'map[K]V' to decode it\n")
    assert run[4].startswith("hmap-show: $a is not a map (its type is ")
    assert run[4].endswith(" (an address needs --type 'map[K]V')\n")
    assert run[5] == "hmap-show: no type map[nope]int in the program's DWARF (the program never uses it?)\n"
    assert run[6] == "hmap-show: main.stopCount is not a map (its type is int) (an address needs --type 'map[K]V')\n"


@pytest.mark.parametrize("build", builds_of("mapstates", lambda b: b.toolchain.version in ("1.22.10", "1.27.3")
                                            and b.variant in ("noopt", "mapsplitgroup-noopt")))
def test_text_output(build, loader, tmp_path):
    """The human form: header, structure table, problems, aligned entries with locations."""
    out = tmp_path / "small.txt"
    run, truth = gdb_at_stop(build, loader, ["deletions"],
                             ["hmap-show main.mDelSmall --json", "hmap-show main.mDelSmall",
                              f"hmap-show main.mDelSmall --output {out}"])
    doc = shown(run[2])
    text = run[3]
    assert out.read_text() == text
    assert run[4] == f"hmap-show: 4 entries of main.mDelSmall, text, {len(text)} bytes written to {out}\n"
    lines = text.splitlines()
    assert lines[0] == f"main.mDelSmall: map[int64]int64 at {doc['address']:#x}"
    assert lines[1].startswith(f"  impl {build.map_impl} (layout ")
    assert "Problems: none" in lines
    start = lines.index("Entries: 4 shown of 4 found (memory order)")
    header = lines[start + 1]
    assert header.split() == ["key", "value", "location"]
    value_column = header.index("value")
    for entry, line in zip(doc["entries"], lines[start + 2:]):
        assert line[2:].startswith(entry["key"])
        assert line[value_column:].startswith(entry["value"])
    if build.map_impl == "classic":
        assert "Buckets (slots: F full, 0 emptyRest, 1 emptyOne, 2 evacuatedX, 3 evacuatedY, 4 evacuatedEmpty):" \
            in lines
        assert "  growth: none" in lines
    else:
        assert "Groups (slots: F full, E empty (0x80), D deleted (0xfe), ? invalid):" in lines


def test_errors_are_one_line(loader):
    build = WITH_DWARF[-1].values[0]
    path = binary(build)
    before = run_gdb(["hmap-show main.mInt"], binary=path, loader=loader)
    assert before[0] == ("hmap-show: no process: start the program (`run`, `start`) or load a core file "
                         "to read main.mInt\n")
    commands = ["hmap-show nosuchvariable", "hmap-show", "hmap-show main.mInt --limit -1",
                "hmap-show main.mInt --output /nonexistent/dir/m.json"]
    run, _ = gdb_at_stop(build, loader, ["types"], commands)
    assert run[2] == "hmap-show: cannot evaluate 'nosuchvariable': No symbol \"nosuchvariable\" in current context.\n"
    assert run[3].startswith("hmap-show: the following arguments are required: expression")
    assert run[4] == "hmap-show: --limit must be 0 (all) or a positive number\n"
    assert run[5] == "hmap-show: /nonexistent/dir/m.json: cannot write: No such file or directory\n"


@pytest.mark.parametrize("build", STRIPPED)
def test_stripped_binary_needs_dwarf(build, loader):
    path = binary(build)
    run = run_gdb(["starti", "hmap-show main.mInt"], binary=path, loader=loader, args=["types"])
    assert run[1] == ("hmap-show: the program has no DWARF (built with -ldflags=-w?): DWARF is needed to find "
                      "the map main.mInt and its types; without it, use an iterator (hiter-show)\n")


@pytest.mark.parametrize("build", builds_of("cgorange", lambda b: (b.toolchain.version, b.variant) in {
    ("1.22.10", "opt"), ("1.27.3", "mapsplitgroup-opt")}))
def test_core_file(build, loader, tmp_path):
    """A core dumped at the callback stop shows the same map as the live process."""
    core = tmp_path / "cgorange.core"
    live, truth = gdb_at_stop(build, loader, [], ["hmap-show main.gm --json", f"gcore {core}", "kill"])
    assert core.exists(), live.text[-2000:]
    run = run_gdb(["hmap-show main.gm --json", "output $maplen(main.gm)"], binary=binary(build), core=core,
                  loader=loader)
    doc = shown(run[0])
    assert_matches_truth(doc, truth["main.gm"], build)
    assert doc == shown(live[2])
    assert run[1] == str(truth["main.gm"]["len"])


@pytest.mark.parametrize("build", WITH_DWARF)
def test_stack_allocated_map(build, loader):
    """A map whose header and first bucket/group live on the goroutine stack, by address and --type."""
    commands = ["hmap-show main.stackMapAddr --type 'map[int64]int64' --json"]
    if not build.optimized:
        commands += ["up", "hmap-show local --json"]
    run, truth = gdb_at_stop(build, loader, ["stackmap"], commands)
    doc = shown(run[2])
    assert_matches_truth(doc, truth["stackmap"], build)
    if not build.optimized:
        assert shown(run[4]) == dict(doc, expression="local")
