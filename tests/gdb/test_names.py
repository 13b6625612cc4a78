"""A typo never crashes gdb nor names another map (gdb 13.1's Go parser, see gdbext/expressions.py).

Plain gdb 13.1 resolves ``main.mInts`` to the name looked up before it, and
after a quoted name (``'main.mInt'``, as gdb-hiter itself used to evaluate
``&'runtime.types'``) ends with a segmentation fault on it, killing the
debugged process. Each test runs those sequences in the real gdb on one
build, then checks that gdb is alive and that real names still resolve to
their own maps.
"""

from __future__ import annotations

import json

import pytest

from builds import builds_of
from test_hmap_show import assert_matches_truth, gdb_at_stop

WITH_DWARF = builds_of("mapstates", lambda b: not b.stripped)

TYPO_COMMANDS = [
    "hmap-show main.mInt --json",          # looks up runtime.types, renders keys and values
    "print 'main.mStr'",                   # a quoted name, as a user may type one
    "hmap-show main.mInts",
    "hmap-show (main.nosuch)",             # a typo that is not the leading token (crashed gdb)
    "hiter-find (main.nosuch)",
    "hmap-show (main.mStr) --json",        # and a real name in parentheses still resolves to itself
    "hiter-find main.nosuch",
    "hiter-show main.nosuch",
    "hiter-snapshot main.nosuch",
    "print $maplen(main.mInt)",
    "hmap-show main.mStr --json",
    "print 6 * 7",
]


@pytest.mark.parametrize("build", WITH_DWARF)
def test_typo_after_a_decode_is_one_line_and_gdb_lives(build, loader):
    run, truth = gdb_at_stop(build, loader, ["types"], TYPO_COMMANDS)
    assert "Fatal signal" not in run.text and run.returncode == 0, run.text[-3000:]
    assert run.of("hmap-show main.mInts") == \
        "hmap-show: cannot evaluate 'main.mInts': No symbol \"main.mInts\" in the program\n"
    assert run.of("hmap-show (main.nosuch)") == \
        "hmap-show: cannot evaluate '(main.nosuch)': No symbol \"main.nosuch\" in the program\n"
    assert run.of("hiter-find (main.nosuch)") == \
        "hiter-find: cannot evaluate MAP-EXPR '(main.nosuch)': No symbol \"main.nosuch\" in the program\n"
    assert_matches_truth(json.loads(run.of("hmap-show (main.mStr) --json")), truth["main.mStr"], build)
    assert run.of("hiter-find main.nosuch") == \
        "hiter-find: cannot evaluate MAP-EXPR 'main.nosuch': No symbol \"main.nosuch\" in the program\n"
    assert run.of("hiter-show main.nosuch") == \
        "hiter-show: cannot evaluate ADDR 'main.nosuch': No symbol \"main.nosuch\" in the program\n"
    snapshot = run.of("hiter-snapshot main.nosuch")
    assert snapshot.startswith("Snapshot #1 (manual): 0 map(s), 0 iterator(s)"), snapshot
    assert "main.nosuch: cannot evaluate 'main.nosuch': No symbol \"main.nosuch\" in the program" in snapshot
    assert run.of("print $maplen(main.mInt)").split(" = ")[1].strip() == str(truth["main.mInt"]["len"])
    for name in ("main.mInt", "main.mStr"):
        assert_matches_truth(json.loads(run.of(f"hmap-show {name} --json")), truth[name], build)
    assert run.of("print 6 * 7").split(" = ")[1].strip() == "42"
