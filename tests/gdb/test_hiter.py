"""hiter-find and hiter-show on the cgo fixture, every build with DWARF.

One gdb run per build: stop at ``crosscall2`` (C calls back into Go; the
thread is on g0, so the goroutine is found through TLS g -> m -> curg),
then at the first ``main.stopHere`` ("in-callback": the callback has grown
``main.gm`` under the range loop). The fixture's own JSON lines (printed
into gdb's output by the program) are the ground truth.
"""

import json
import re

import pytest

from builds import binary, builds_of
from gdb_hiter.core.program.goroutines import offsets_for
from gdbrun import run_gdb

GLUE_SHOW = ("python import json; found = json.loads(gdb.execute('hiter-find --json', to_string=True)); "
             "[gdb.execute('hiter-show %s %d' % (flag, found[0]['address'])) for flag in ('--json', '')]")
GM_ADDRESS = "python print(int(gdb.lookup_global_symbol('main.gm').value()))"
OFFSETS = ("python import json; print(json.dumps({'g': {f.name: f.bitpos // 8 for f in gdb.lookup_type('runtime.g')"
           ".fields()}, 'm': {f.name: f.bitpos // 8 for f in gdb.lookup_type('runtime.m').fields()}, "
           "'gobuf': {f.name: f.bitpos // 8 for f in gdb.lookup_type('runtime.gobuf').fields()}}))")

COMMANDS = [
    "set print thread-events off",          # 0: no "[New Thread ...]" inside the fixture's output
    "break crosscall2",
    "run",
    "hiter-find --json",                    # 3: at crosscall2, thread on g0
    "hiter-find --all-goroutines --json",   # 4
    "hiter-find",                           # 5: text
    "delete",
    "break main.stopHere",
    "continue",                             # 8: to the first in-callback stop
    "hiter-find --json",                    # 9
    "hiter-find main.gm --json",            # 10
    "hiter-find --all-goroutines --json",   # 11
    GM_ADDRESS,                             # 12
    GLUE_SHOW,                              # 13: hiter-show --json, then text, of what hiter-find found
    "hiter-show 0x10",                      # 14
    "hiter-show $sp",                       # 15: readable, but no iterator there
    OFFSETS,                                # 16
    "kill",
]

BUILDS = builds_of("cgorange", lambda b: not b.stripped)


def _events(text):
    """The fixture's JSON lines in gdb's output. A "map" line can be longer than a pipe's atomic
    write, so a gdb message may cut into it: those lines (not needed here) are skipped."""
    events = []
    for line in text.splitlines():
        if not line.startswith('{"event"'):
            continue
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            assert line.startswith('{"event":"map",'), line[:300]
    return events


def _first(events, event, label=None):
    return next(e for e in events if e["event"] == event and (label is None or e.get("label") == label))


@pytest.fixture(scope="module")
def runs(loader):
    return {}


def _run(build, loader, cache):
    if build.id not in cache:
        cache[build.id] = run_gdb(COMMANDS, binary=binary(build), loader=loader, timeout=120)
    return cache[build.id]


@pytest.mark.parametrize("build", BUILDS)
def test_find_and_show_in_callback(build, loader, runs):
    run = _run(build, loader, runs)
    gm = int(run[12])
    events = _events(run.text)
    stop = events.index(_first(events, "stop", "in-callback"))
    visited = [e["key"] for e in events[:stop] if e["event"] == "visit"]
    assert len(visited) == 1, visited      # the first key, whose C call grew the map
    before = _first(events, "map-state", "before-loop")
    during = _first(events, "map-state", "in-callback")
    assert int(during["ptr"], 16) == gm

    # hiter-find: exactly the loop's iterator, in the main goroutine, in the ranging function's frame
    found = json.loads(run[9])
    assert len(found) == 1, run[9]
    assert found[0]["map"] == gm and found[0]["goroutine"] == 1 and found[0]["state"] == "in-progress"
    assert found[0]["function"] == "main.rangeWithCgoCalls" and found[0]["function_source"] == "frame"
    assert json.loads(run[10]) == found
    assert json.loads(run[11]) == found    # no other goroutine ranges over a map

    show_json, _, show_text = run[13].partition("\n")
    show = json.loads(show_json)
    assert show["address"] == found[0]["address"] and show["problems"] == []
    # the keys every decoder's iterator has: the loop walks what the map had before the callback grew it
    assert show["impl"] == build.map_impl and show["map_address"] == gm and show["state"] == "in-progress"
    assert show["stale"] is True and show["map_grew_since_start"] is True
    assert show["cleared_since_start"] is (None if show["layout"] == "classic-go1.18" else False)
    assert show["remaining"]["exact"] is False and show["map"]["address"] == gm
    assert (show["current"]["key_address"], show["current"]["elem_address"]) == \
        (show["fields"]["key"], show["fields"]["elem"])
    assert "in-progress" in show_text.splitlines()[0]
    assert f"  current key:  {visited[0]}   (at {show['current']['key_address']:#x})" in show_text.splitlines(), show_text
    prediction = show["prediction"]
    assert prediction["exact"] is True and prediction["current"]["key"] == str(visited[0])
    assert f"  entries still ahead: {len(prediction['next'])}, if nothing changes the map from now on " \
           "(hiter-predict lists them)" in show_text.splitlines(), show_text
    assert "map grew since the loop started: yes" in show_text
    if build.map_impl == "classic":
        # the iterator still walks the 1-bucket array of the loop's start; the map grew to 2^9 buckets
        assert show["fields"]["h"] == gm
        assert show["fields"]["B"] == before["B"] == 0
        assert show["fields"]["buckets"] == int(before["buckets"], 16)
        assert show["map"]["buckets"] == int(during["buckets"], 16) != show["fields"]["buckets"]
        assert show["map"]["oldbuckets"] == int(during["oldbuckets"], 16)
        assert (show["map"]["B"], show["map"]["count"]) == (during["B"], during["count"])
        assert show["walks"] == "retired" and show["map_grew_since_start"] is True
        assert show["position"] == {"bucket": 0, "slot": show["current"]["slot"], "wrapped": True,
                                    "start_bucket": 0, "start_offset": show["fields"]["offset"]}
        assert show["remaining"] == {"entries": None, "buckets": 0, "exact": False}
        # all 8 original entries fill bucket 0: slots checked so far = keys visited
        assert show["fields"]["i"] == len(visited)
        assert show["current"]["key_bytes"] == int(visited[-1]).to_bytes(8, "little").hex()
        assert "it grew since the loop started" in show_text
    else:
        # small map at Init (one group); the callback grew it into tables
        assert before["small"] is True and during["small"] is False
        assert show["fields"]["m"] == gm and show["mode"] == "small"
        assert show["group"]["address"] == int(before["dirPtr"], 16)
        assert show["group"]["map_grown_to_tables"] is True and show["group"]["is_map_group"] is False
        assert show["map"]["dirPtr"] == int(during["dirPtr"], 16) != int(before["dirPtr"], 16)
        assert (show["map"]["dirLen"], show["map"]["used"]) == (during["dirLen"], during["used"])
        # all 8 slots of the group are full: slots walked so far = keys visited
        assert show["fields"]["entryIdx"] == len(visited)
        assert show["current"]["slot"] == (show["start"]["first_slot"] + len(visited) - 1) % 8
        assert show["remaining"]["exact"] is False and show["remaining"]["buckets"] is None
        assert show["position"] == {"dir_idx": None, "entry_idx": len(visited), "table": None, "group": 0,
                                    "slot": show["current"]["slot"]}
        assert "grown into tables" in show_text


@pytest.mark.parametrize("build", BUILDS)
def test_find_at_crosscall2_follows_m_curg(build, loader, runs):
    run = _run(build, loader, runs)
    gm = int(run[12])
    events = _events(run[2])
    assert events[-1]["event"] == "cgocall-enter" and events[-1]["call"] == 0, events[-1:]
    found = json.loads(run[3])
    assert len(found) == 1, run[3]
    assert found[0]["map"] == gm and found[0]["goroutine"] == 1
    # gdb cannot unwind from the g0 stack into the goroutine: the frame comes from a return address
    assert found[0]["function"] == "main.rangeWithCgoCalls"
    assert json.loads(run[4]) == found
    assert "the thread is on g0 (system stack); its goroutine is m.curg" in run[5]
    assert re.search(r"goroutine 1 \(syscall\): iterator at 0x[0-9a-f]+ over map "
                     + f"{gm:#x}.*main.rangeWithCgoCalls \\(best effort", run[5]), run[5]
    # the same iterator as in the callback, at the same distance from the top of the stack (the
    # callback's deep calls may have made the runtime move the whole stack: only the offset is kept)
    later = json.loads(run[9])[0]
    assert later["stack"]["hi"] - later["address"] == found[0]["stack"]["hi"] - found[0]["address"]


@pytest.mark.parametrize("build", BUILDS)
def test_bad_addresses_are_one_line(build, loader, runs):
    run = _run(build, loader, runs)
    assert re.fullmatch(r"hiter-show: no iterator at 0x10: .*Cannot access memory at address 0x10\n", run[14]), run[14]
    assert re.fullmatch(r"hiter-show: no iterator at 0x[0-9a-f]+: not a live map iterator .*\n", run[15]), run[15]


@pytest.mark.parametrize("build", BUILDS)
def test_offset_table_matches_dwarf(build, loader, runs):
    run = _run(build, loader, runs)
    dwarf = json.loads(run[16])
    offsets, warning = offsets_for(build.toolchain.minor)
    assert warning is None
    sched, gobuf_sp = dwarf["g"]["sched"], dwarf["gobuf"]["sp"]
    assert {name: offset for name, offset in offsets.g_fields().items()} == {
        "stack.lo": dwarf["g"]["stack"], "stack.hi": dwarf["g"]["stack"] + 8, "m": dwarf["g"]["m"],
        "sched.sp": sched + gobuf_sp, "sched.pc": sched + dwarf["gobuf"]["pc"],
        "syscallsp": dwarf["g"]["syscallsp"], "syscallpc": dwarf["g"]["syscallpc"],
        "atomicstatus": dwarf["g"]["atomicstatus"], "goid": dwarf["g"]["goid"]}
    assert offsets.m_fields() == {"g0": dwarf["m"]["g0"], "gsignal": dwarf["m"]["gsignal"],
                                  "curg": dwarf["m"]["curg"]}


def test_find_without_process(loader):
    build = BUILDS[0].values[0]
    run = run_gdb(["hiter-find", "hiter-show 0x1000"], binary=binary(build), loader=loader)
    assert run[0] == "hiter-find: no process: run the program, attach to it or load a core file first\n"
    assert run[1] == "hiter-show: no process: run the program, attach to it or load a core file first\n"


def test_find_without_program(loader):
    run = run_gdb(["hiter-find"], loader=loader)
    assert run[0] == "hiter-find: no program loaded: use `file PROGRAM`, `attach PID` or `core-file CORE` first\n"


CORE_CASES = builds_of("cgorange", lambda b: b.id == "go1.27.3-opt")  # gcore takes ~10 s


@pytest.mark.parametrize("build", CORE_CASES)
def test_find_in_a_core_file(build, loader, tmp_path):
    """A core dumped in the callback: registers and TLS come from the core's notes."""
    path = binary(build)
    core = tmp_path / "cgorange.core"
    live = run_gdb(["break main.stopHere", "run", "hiter-find --json", f"gcore {core}", "kill"],
                   binary=path, loader=loader)
    assert core.exists(), live.text
    run = run_gdb(["hiter-find --json", "hiter-find --all-goroutines --json", GM_ADDRESS],
                  binary=path, core=core, loader=loader)
    found = json.loads(run[0])
    assert found == json.loads(live[2]) == json.loads(run[1])
    assert len(found) == 1 and found[0]["map"] == int(run[2]) and found[0]["goroutine"] == 1


STRIPPED = builds_of("cgorange", lambda b: b.stripped)


@pytest.mark.parametrize("build", STRIPPED)
def test_find_in_a_stripped_binary(build, loader):
    """No symbols, no DWARF: stop at the return of the 4th write (the first "visit" line, in the loop)."""
    run = run_gdb(["catch syscall write", "ignore 1 7", "run", "hiter-find --json",
                   "hiter-find --all-goroutines", "kill"], binary=binary(build), loader=loader)
    events = _events(run[2])
    assert events[-1]["event"] == "visit", events[-1:]
    found = json.loads(run[3])
    assert len(found) == 1, run[3]
    assert found[0]["map"] == int(_first(events, "map-state", "before-loop")["ptr"], 16)
    assert found[0]["goroutine"] == 1
    assert run[4] == "hiter-find: runtime.allgs is not known (stripped binary?): --all-goroutines needs the symbol\n"
