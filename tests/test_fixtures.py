"""Every fixture binary of the matrix runs and prints well-formed ground truth."""

import subprocess

import pytest

from builds import binary, builds_of
from hiterdev.fixtures import parse_events

MAPSTATES_MODES = [["types"], ["deletions"], ["growth"], ["large", "1000"], ["stackmap"]]


def _run(path, args=()):
    completed = subprocess.run([str(path), *args], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    return parse_events(completed.stdout)


@pytest.mark.parametrize("build", builds_of("cgorange"))
def test_cgorange_runs(build):
    events = _run(binary(build))
    assert events[0]["event"] == "build" and events[0]["map_impl"] == build.map_impl
    assert events[-1] == {"event": "done"}
    order = [e for e in events if e["event"] == "visit-order"][0]["keys"]
    assert sorted(order, key=int) == [str(k) for k in range(1, 9)]  # only the 8 keys that existed at Init
    assert [e["label"] for e in events if e["event"] == "stop"] == ["in-callback"] * 8 + ["after-loop"]


@pytest.mark.parametrize("build", builds_of("mapstates"))
def test_mapstates_runs(build):
    for args in MAPSTATES_MODES:
        events = _run(binary(build), args)
        assert events[0]["event"] == "build" and events[0]["map_impl"] == build.map_impl
        assert events[-1]["event"] == "done" and events[-1]["mode"] == args[0]
        for event in events:
            if event["event"] == "map":
                assert event["len"] == len(event["entries"])
