"""A map whose header is corrupt, in the real gdb: said in one line, and never at the cost of the other maps.

The fixture's own map is corrupted with ``set var`` at a stop (a Swiss
``dirLen`` below zero, a classic ``B`` of 70: both break the snapshot
schema as read; the classic header is refused before any walk), then ``print``, ``$maplen`` and ``hiter-snapshot`` of it
and of a healthy map run in the same session.
"""

from __future__ import annotations

import pytest

from builds import builds_of
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
    if build.map_impl == "classic":   # the header alone is refused: a note, and the other map whole
        (good,) = doc["maps"]
        assert_matches_truth(good, truth["main.mStr"], build)
        why = "B = 70 is not a real map (max 40)"
        assert any(note.startswith("main.mInt: ") and note.endswith(why) for note in doc["limits"]["cut"])
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
