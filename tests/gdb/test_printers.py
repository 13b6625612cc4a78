"""The map pretty-printers and $maplen, with Go's runtime-gdb.py loaded too.

runtime-gdb.py is auto-loaded from the binary's GOROOT (``set auto-load
safe-path /`` before ``file``); our printers must win over its map printer.
Where it is cheap, a test also shows runtime-gdb.py's output for the same map
is wrong in that build (``disable pretty-printer .* gdb-hiter`` lets its
printer run).

``print`` shows entries in memory order, so the exact text is built from the
order ``hmap-show --json`` reports, and the set of pairs is checked against
the fixture's ground truth separately.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from builds import binary, builds_of
from gdbrun import run_gdb
from test_hmap_show import next_stop_commands, stop_commands, truth_at_stop, truth_pairs

WITH_DWARF = builds_of("mapstates", lambda b: not b.stripped)
CGO_WITH_DWARF = builds_of("cgorange", lambda b: not b.stripped)
CLASSIC = builds_of("mapstates", lambda b: not b.stripped and b.map_impl == "classic")
SWISS = builds_of("mapstates", lambda b: not b.stripped and b.map_impl != "classic")

THEIRS_OFF = "disable pretty-printer .* gdb-hiter"
THEIRS_ON = "enable pretty-printer .* gdb-hiter"
_PAIR = re.compile(r"\[(.*?)\] = ")


def with_runtime_gdb(build, loader, args, commands, stop=1):
    """gdb with gdb-hiter and runtime-gdb.py loaded, stopped at the fixture's ``stop``-th stop."""
    path = binary(build)
    run = run_gdb(["set auto-load safe-path /", f"file {path}", "set print elements unlimited"]
                  + stop_commands(stop) + commands, loader=loader, args=args)
    assert "Loading Go Runtime support." in run.text
    return run


def expected_print(doc: dict) -> str:
    """`output MAP` as our printer must show it: entries in the order hmap-show found them."""
    if not doc["entries"]:
        return doc["type"]
    body = ", ".join(f"[{entry['key']}] = {entry['value']}" for entry in doc["entries"])
    return f"{doc['type']} = {{{body}}}"


def their_entry_count(text: str) -> int:
    return len(_PAIR.findall(text))


def commands_for(name: str):
    return [f"output {name}", f"hmap-show {name} --json"]


def check_ours(run, name, truth_event):
    """Our `output NAME` is exactly the decoded entries, which are exactly the fixture's."""
    shown = run.of(f"hmap-show {name} --json")
    assert shown.startswith("{"), f"hmap-show {name} printed {shown!r}; gdb's output ended:\n{run.text[-3000:]}"
    doc = json.loads(shown)
    assert run.of(f"output {name}") == expected_print(doc)
    assert sorted([e["key"], e["value"]] for e in doc["entries"]) == truth_pairs(truth_event)
    return doc


TYPES_MAPS = ["main.mInt", "main.mStr", "main.mStruct", "main.mBig", "main.mFloat", "main.mBool", "main.mEmpty"]


@pytest.mark.parametrize("build", WITH_DWARF)
def test_print_shows_real_contents(build, loader):
    commands = [command for name in TYPES_MAPS for command in commands_for(name)]
    commands += ["output main.mNil", "output *main.mStr", "info pretty-printer"]
    run = with_runtime_gdb(build, loader, ["types"], commands)
    truth = truth_at_stop(run.text)
    for name in TYPES_MAPS:
        check_ours(run, name, truth[name])
    assert run.of("output main.mNil") == "map[string]int(nil)"
    assert run.of("output *main.mStr") == run.of("output main.mStr")
    listing = run.of("info pretty-printer")
    go_objfile = listing[listing.index(f"objfile {binary(build)} pretty-printers:"):]
    assert go_objfile.splitlines()[1] == "  gdb-hiter"       # first, before runtime-gdb.py's matchers
    assert "  matcher" in go_objfile


@pytest.mark.parametrize("build", builds_of("mapstates", lambda b: b.variant in ("noopt", "noswissmap-opt")))
def test_print_elements_bounds_the_walk(build, loader):
    run = with_runtime_gdb(build, loader, ["types"],
                           ["hmap-show main.mInt --json", "set print elements 6", "output main.mInt",
                            "set print elements 0", "output main.mStr", "hmap-show main.mStr --json"])
    doc = json.loads(run[5])
    first = ", ".join(f"[{e['key']}] = {e['value']}" for e in doc["entries"][:3])
    assert run[7] == f"map[int64]int64 = {{{first}...}}"
    assert run[9] == expected_print(json.loads(run[10]))


@pytest.mark.parametrize("build", WITH_DWARF)
def test_print_hides_deleted_entries(build, loader):
    commands = commands_for("main.mDelSmall") + commands_for("main.mDel")
    if build.map_impl == "classic":
        # Clear hmap.flags (iterator bits the fixture's own range loop left):
        # runtime-gdb.py misreads them as "indirect key/value" and fails
        # before it even gets to the deleted slots.
        commands += ["set var main.mDelSmall.flags = 0", "output *main.mDelSmall", THEIRS_OFF,
                     "print main.mDelSmall", THEIRS_ON]
    run = with_runtime_gdb(build, loader, ["deletions"], commands)
    truth = truth_at_stop(run.text)
    check_ours(run, "main.mDelSmall", truth["main.mDelSmall"])
    check_ours(run, "main.mDel", truth["main.mDel"])
    assert run.of("output main.mDelSmall") == "map[int64]int64 = {[1] = 11, [3] = 33, [5] = 55, [6] = 66}"
    if build.map_impl == "classic":
        assert run.of("output *main.mDelSmall") == run.of("output main.mDelSmall")  # flags cleared: same
        theirs = run.of("print main.mDelSmall")
        # keys 2 and 4 were deleted; their slots (emptyOne) are still printed
        assert theirs.startswith("$1 = map[int64]int64 = {")
        assert their_entry_count(theirs) == 6
        assert "[2] = " in theirs and "[4] = " in theirs


@pytest.mark.parametrize("build", CLASSIC)
def test_print_mid_growth_shows_each_entry_once(build, loader):
    commands = commands_for("main.mGrow") + [
        "set var $flags = main.mGrow.flags", "set var main.mGrow.flags = 0", THEIRS_OFF, "print main.mGrow",
        THEIRS_ON, "set var main.mGrow.flags = $flags"]   # the program goes on: leave its map as it was
    commands += next_stop_commands(2) + commands_for("main.mSameSize")
    run = with_runtime_gdb(build, loader, ["growth"], commands)
    growing = truth_at_stop(run.text, 1)["main.mGrow"]
    doc = check_ours(run, "main.mGrow", growing)
    assert doc["growing"] and doc["growth"]["pending"]
    keys = [entry["key"] for entry in doc["entries"]]
    assert len(keys) == len(set(keys)) == growing["len"]
    theirs = run.of("print main.mGrow")
    their_pairs = Counter(_their_pairs(theirs))
    assert their_pairs != Counter(map(tuple, truth_pairs(growing))), "runtime-gdb.py is wrong mid-growth"
    same_size = truth_at_stop(run.text, 2)["main.mSameSize"]
    doc = check_ours(run, "main.mSameSize", same_size)
    assert doc["growth"]["same_size"]


def _their_pairs(text: str):
    body = text[text.index(" = {") + 4:text.rindex("}")]
    return re.findall(r"\[([^\]]*)\] = ([^,}]*)", body)


@pytest.mark.parametrize("build", CGO_WITH_DWARF)
def test_print_map_being_ranged_over(build, loader):
    """Inside the cgo callback, `for k, v := range gm` is live and gm has grown."""
    commands = commands_for("main.gm") + [THEIRS_OFF, "print main.gm", THEIRS_ON]
    run = with_runtime_gdb(build, loader, [], commands)
    event = truth_at_stop(run.text)["main.gm"]
    assert event["label"] == "in-callback"
    doc = check_ours(run, "main.gm", event)
    if build.map_impl == "classic":
        assert "iterator" in doc["flags"]
        # runtime-gdb.py takes the iterator flag for "keys are indirect"
        assert "Python Exception <class 'gdb.error'>: Attempt to take contents of a non-pointer value." \
            in run.of("print main.gm")
    else:
        assert len(doc["tables"]) >= 2


@pytest.mark.parametrize("build", SWISS)
def test_print_multi_table_swiss_map_complete(build, loader):
    commands = commands_for("main.mTables") + [THEIRS_OFF, "print main.mTables", THEIRS_ON]
    run = with_runtime_gdb(build, loader, ["growth"], commands)
    event = truth_at_stop(run.text)["main.mTables"]
    doc = check_ours(run, "main.mTables", event)
    assert len(doc["tables"]) >= 3 and doc["dirLen"] > len(doc["tables"])
    theirs = run.of("print main.mTables")
    assert their_entry_count(theirs) != event["len"], "runtime-gdb.py is wrong with shared directory entries"


@pytest.mark.parametrize("build", WITH_DWARF)
def test_maplen_works_on_swiss(build, loader):
    commands = ["output $maplen(main.mInt)", "output $maplen(main.mNil)", "output $maplen(main.mEmpty)",
                "output $maplen(*main.mStr)", "output $maplen(&main.mBig)", "output $maplen(main.stopCount)",
                "output $len(main.mInt)", "output $maplen()", "output $maplen(main.mInt, 2)"]
    run = with_runtime_gdb(build, loader, ["types"], commands)
    assert [run[i] for i in range(5, 10)] == ["100", "0", "0", "6", "10"]
    assert run[10] == "$maplen: not a Go map (the argument's type is int)\n"
    assert run[12] == "$maplen takes one argument, a map (got 0): $maplen(m)\n"
    assert run[13] == "$maplen takes one argument, a map (got 2): $maplen(m)\n"
    if build.map_impl != "classic" or build.toolchain.minor >= 24:
        assert "'GoLenFunc' object has no attribute 'val'" in run[11]   # runtime-gdb.py's $len
    else:
        assert run[11] == "100"


@pytest.mark.parametrize("build", builds_of("mapstates", lambda b: b.variant == "noopt"
                                            and b.toolchain.version in ("1.22.10", "1.27.3")))
def test_printer_errors_are_short(build, loader):
    commands = ["python print(gdb.Value(16).cast(gdb.lookup_type('map[string]int')))"]
    run = with_runtime_gdb(build, loader, ["types"], commands)
    assert run[5] == ("<error: map[string]int: cannot read the map header at 0x10: cannot read 8 bytes at 0x10: "
                      "Cannot access memory at address 0x10>\n")


@pytest.mark.parametrize("build", builds_of("cgorange", lambda b: (b.toolchain.version, b.variant) in {
    ("1.22.10", "noopt"), ("1.25.5", "noswissmap-opt"), ("1.26.6", "opt"), ("1.27.3", "mapsplitgroup-noopt")}))
def test_print_iterator_summary(build, loader):
    """A runtime.hiter / maps.Iter prints a one-line summary before its fields (found with hiter-find)."""
    name = "runtime.hiter" if build.map_impl == "classic" else "internal/runtime/maps.Iter"
    show = (f"python import json; found = json.loads(gdb.execute('hiter-find --json', to_string=True)); "
            f"print(found[0]['address']); "
            f"print(gdb.Value(found[0]['address']).cast(gdb.lookup_type('{name}').pointer()).dereference())")
    run = with_runtime_gdb(build, loader, [], ["output main.gm", "python print(int(gdb.parse_and_eval('main.gm')))",
                                               show])
    gm = int(run[6])
    address, printed = run[7].split("\n", 1)
    assert printed.startswith(f"{name} at {int(address):#x}: in-progress, map {gm:#x}, ")
    summary, fields = printed.split(" = {", 1)
    assert "<error" not in summary
    assert fields.startswith("key = 0x")   # then the fields, printed as usual (runtime-gdb.py may fail on some)
