"""``gdb-hiter capture`` while the run goes, without gdb: snapshot events → index.json, progress, Ctrl-C.

The channel is a real pipe written by the test as gdb's Python would; the
clock of the live index and of the progress line is passed in, so that
"at most once a second" is checked without waiting a second. The real
runs (a capture killed mid-run, the progress line on a pty, Ctrl-C) are in
tests/gdb/test_capture.py.
"""

from __future__ import annotations

import io
import json
import os
import signal
import time
from pathlib import Path

import pytest

from gdb_hiter.cli import capture as capture_module
from gdb_hiter.cli.capture import (EXIT_INTERRUPTED, EXIT_OK, INDEX_INTERVAL, PROGRESS_INTERVAL, LiveIndex,
                                   Progress, RunTally, _Channel, _finish, _Interrupted, _Monitor,
                                   _remove_temporaries, _SignalGuard, announced_snapshots, format_bytes,
                                   format_elapsed, index_entry, totals_text)

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "unit" / "data" / "capture" / "golden"


def snapshot_event(seq, kind="cgocall-enter", size=100, **more):
    return {"event": "snapshot", "file": f"{seq:04d}-{kind}.json", "seq": seq, "kind": kind, "label": None,
            "cfunc": "main.goBack" if kind.startswith("cgocallback") else "C.callC", "goroutine": 1, "maps": 1,
            "iterators": 1, "bytes": size, **more}


def _outcome():
    return {"program_exit": 0, "program_signal": None, "gdb_exit": 0, "write_errors": [], "exit_code": None,
            "result": None, "interrupted": None}


# ---------------------------------------------------------------------------
# Events → index entries


def test_an_event_becomes_an_index_entry():
    entry = index_entry(snapshot_event(3, "cgocallback-return", 512, timing={"read": 0.5, "bad": "x"}))
    assert entry == {"file": "0003-cgocallback-return.json", "seq": 3, "event": "cgocallback-return",
                     "label": None, "cfunc": "main.goBack", "goroutine": 1, "maps": 1, "iterators": 1,
                     "bytes": 512, "timing": {"read": 0.5}}


@pytest.mark.parametrize("change", [{"file": "../0001-cgocall-enter.json"}, {"file": "index.json"},
                                    {"file": None}, {"seq": "1"}, {"seq": True}, {"seq": None}])
def test_an_event_that_names_no_snapshot_file_is_not_indexed(change):
    assert index_entry({**snapshot_event(1), **change}) is None


def test_counts_that_are_not_counts_are_zero():
    entry = index_entry({**snapshot_event(1), "maps": -1, "iterators": "2", "bytes": 1.5})
    assert (entry["maps"], entry["iterators"], entry["bytes"]) == (0, 0, 0)


# ---------------------------------------------------------------------------
# The final index from the events: files checked, not read


def test_announced_files_are_checked_not_read(tmp_path, monkeypatch):
    entries = [index_entry(snapshot_event(seq)) for seq in (2, 1, 3, 4)]
    (tmp_path / "0001-cgocall-enter.json").write_text("not even JSON: never read")
    (tmp_path / "0002-cgocall-enter.json").write_text("")                        # emptied since
    os.symlink("/etc/passwd", tmp_path / "0003-cgocall-enter.json")              # replaced by a link
    # 0004 announced, but gone; 0005 written by hiter-snapshot (no event): read
    (tmp_path / "0005-cgocallback-enter.json").write_text((GOLDEN / "classic-callback-enter.json").read_text())
    (tmp_path / "0006-cgocall-enter.json").write_text("{")                       # not announced, unreadable
    read = []
    real = capture_module.read_snapshot
    monkeypatch.setattr(capture_module, "read_snapshot", lambda path: read.append(os.path.basename(path))
                        or real(path))
    listed, notes = announced_snapshots(str(tmp_path), entries)
    assert read == ["0005-cgocallback-enter.json", "0006-cgocall-enter.json"]
    assert [entry["file"] for entry in listed] == ["0001-cgocall-enter.json", "0005-cgocallback-enter.json"]
    assert listed[1]["bytes"] == (tmp_path / "0005-cgocallback-enter.json").stat().st_size
    assert len(notes) == 4
    assert "0002-cgocall-enter.json: announced by hiter-watch, but is empty" in notes[0]
    assert "0003-cgocall-enter.json: announced by hiter-watch, but is no longer a regular file" in notes[1]
    assert "0004-cgocall-enter.json: announced by hiter-watch, but cannot be found" in notes[2]
    assert "0006-cgocall-enter.json" in notes[3]


def test_the_final_index_comes_from_the_tally(tmp_path, capsys):
    """The golden pair of the cgo fixture (#2, #3: the first callback) as a run's events announced it."""
    tally = RunTally(time.monotonic())
    for seq, phase in ((2, "enter"), (3, "return")):
        name = f"{seq:04d}-cgocallback-{phase}.json"
        (tmp_path / name).write_text((GOLDEN / f"classic-callback-{phase}.json").read_text())
        tally.add(index_entry(snapshot_event(seq, f"cgocallback-{phase}", size=(tmp_path / name).stat().st_size)))
    code = _finish(str(tmp_path), _outcome(), EXIT_OK, "the program exited with status 0", [], tally=tally)
    index = json.loads((tmp_path / "index.json").read_text())
    assert code == EXIT_OK and index["complete"] is True and index["unreadable"] == []
    assert index["snapshots"] == [entry for entry in tally.entries]
    assert index["totals"]["snapshots"] == 2 and index["totals"]["c_calls"] == 0
    assert index["totals"]["bytes"] == sum(entry["bytes"] for entry in index["snapshots"]) > 0
    assert "### Callback main.goCallback (outside any captured C call) from main.rangeWithCgoCalls (main.go:72), " \
        "goroutine 1 (#2 → #3)" in (tmp_path / "report.md").read_text()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exited with status 0; 2 snapshots, 0 C calls in " in err


# ---------------------------------------------------------------------------
# index.json while the run goes


def test_the_live_index_is_rewritten_at_most_once_an_interval(tmp_path):
    tally = RunTally(100.0)
    live = LiveIndex(str(tmp_path), {"mode": "run", "exit_code": None}, tally)
    path = tmp_path / "index.json"
    assert live.write_if_due(100.0)                      # at once: a killed capture leaves an index
    first = json.loads(path.read_text())
    assert first["complete"] is False and first["snapshots"] == [] and first["mode"] == "run"
    assert live.due(100.0) is None                       # nothing new: nothing due
    tally.add(index_entry(snapshot_event(1)))
    assert live.due(100.2) == pytest.approx(INDEX_INTERVAL - 0.2)
    assert not live.write_if_due(100.2)
    assert json.loads(path.read_text())["snapshots"] == []
    tally.add(index_entry(snapshot_event(2, "cgocallback-enter")))
    assert live.write_if_due(100.0 + INDEX_INTERVAL)
    second = json.loads(path.read_text())
    assert [entry["seq"] for entry in second["snapshots"]] == [1, 2] and second["complete"] is False
    assert second["totals"] == {"snapshots": 2, "c_calls": 1, "bytes": 200, "elapsed_seconds": INDEX_INTERVAL}
    live.note(program_pid=42)
    live.close()                                         # the final index is never overwritten
    assert live.due(200.0) is None and not live.write_if_due(200.0)
    assert "program_pid" not in json.loads(path.read_text())


def test_a_live_index_that_cannot_be_written_never_raises(tmp_path):
    os.symlink(tmp_path / "elsewhere", tmp_path / "index.json")
    live = LiveIndex(str(tmp_path), {}, RunTally(0.0))
    assert not live.write_if_due(0.0)
    assert "index.json" in live.error and not (tmp_path / "elsewhere").exists()


# ---------------------------------------------------------------------------
# The progress line and the totals


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_is_one_line_rewritten_in_place():
    tally = RunTally(0.0)
    stream = _Terminal()
    progress = Progress(stream, tally)
    progress.draw_if_due(0.0)
    tally.add(index_entry(snapshot_event(1)))
    assert progress.due(0.1) == pytest.approx(PROGRESS_INTERVAL - 0.1)   # a few times a second at most
    progress.draw_if_due(0.1)
    progress.draw_if_due(PROGRESS_INTERVAL)
    assert progress.due(PROGRESS_INTERVAL + 0.5) == pytest.approx(0.5)   # idle: once a second, for the time
    progress.show("gdb-hiter: capture: SIGINT: stopping the program")
    progress.draw_if_due(10.0)                                            # frozen: the run is ending
    progress.clear()
    text = stream.getvalue()
    assert "\n" not in text
    first, second = ("gdb-hiter: capture: 0 snapshots, 0 C calls in 0.0 s, 0 B",
                     "gdb-hiter: capture: 1 snapshot, 1 C call in 0.2 s, 100 B")
    last = "gdb-hiter: capture: SIGINT: stopping the program"
    longest = max(len(first), len(second))
    assert text.split("\r")[1:] == [first, second.ljust(len(first)), last.ljust(longest), " " * len(last), ""]


def test_no_progress_without_a_terminal():
    stream = io.StringIO()
    progress = Progress(stream, RunTally(0.0))
    assert progress.due(0.0) is None
    progress.draw_if_due(0.0)
    progress.show("x")
    progress.clear()
    assert stream.getvalue() == ""


def test_totals_in_words():
    assert totals_text({"snapshots": 1, "c_calls": 1, "bytes": 999, "elapsed_seconds": 0.04}) == \
        "1 snapshot, 1 C call in 0.0 s, 999 B"
    assert totals_text({"snapshots": 4000, "c_calls": 1000, "bytes": 97_300_000, "elapsed_seconds": 75}) == \
        "4000 snapshots, 1000 C calls in 1 min 15 s, 97.3 MB"
    assert totals_text({"snapshots": 0, "c_calls": 0, "bytes": 0}) == "0 snapshots, 0 C calls, 0 B"
    assert [format_bytes(n) for n in (0, 1000, 123_456_789, 1_600_000_000)] == ["0 B", "1.0 kB", "123 MB", "1.6 GB"]
    assert [format_elapsed(s) for s in (59.94, 3599, 3725)] == ["59.9 s", "59 min 59 s", "1 h 02 min"]


# ---------------------------------------------------------------------------
# The channel, read by a thread of its own


class _Recorder:
    def __init__(self, fail_on=None):
        self.tally = RunTally(0.0)
        self.fail_on = fail_on

    def snapshot(self, event):
        if event["seq"] == self.fail_on:
            raise RuntimeError("a bug in the monitor")
        self.tally.add(index_entry(event))

    def timeout(self):
        return None

    def tick(self):
        pass


def _send(channel, *events, split=False):
    data = b"".join((json.dumps(event) + "\n").encode() for event in events)
    if split:            # a line cut across two writes, as a pipe may deliver it
        os.write(channel.write_fd, data[:7])
        os.write(channel.write_fd, data[7:])
    else:
        os.write(channel.write_fd, data)


def test_the_channel_hands_snapshots_to_the_monitor_as_they_come():
    monitor = _Recorder(fail_on=2)
    channel = _Channel(monitor)
    try:
        _send(channel, snapshot_event(1), {"event": "started", "pid": 7}, split=True)
        assert channel.wait_for("started", 30) == {"event": "started", "pid": 7}
        assert [entry["seq"] for entry in monitor.tally.entries] == [1]   # handed out before what follows it
        _send(channel, snapshot_event(2), snapshot_event(3), {"event": "signal", "signal": "SIGSEGV"})
        assert channel.wait_for("signal", 30)
        assert [entry["seq"] for entry in monitor.tally.entries] == [1, 3]   # a monitor bug skips one event only
        assert channel.errors == ["capture channel: internal error: RuntimeError: a bug in the monitor"]
        assert [event["event"] for event in channel.poll()] == ["started", "signal"]   # snapshots are not kept
        assert channel.wait_for("exited", 0.01) is None
    finally:
        channel.close()
    assert not channel.thread.is_alive()


def test_the_channel_ends_when_every_write_end_is_closed():
    channel = _Channel(_Recorder())
    _send(channel, {"event": "ready"})
    channel.close_write_end()                        # what gdb's exit does to the pipe
    channel.thread.join(30)
    assert not channel.thread.is_alive() and channel.ended
    assert channel.wait_for("exited", 30) is None    # at once: nothing more can come
    assert channel.poll() == [{"event": "ready"}]
    channel.close()


def test_the_monitor_writes_the_index_and_draws_when_due(tmp_path):
    now = [0.0]
    tally = RunTally(0.0)
    live = LiveIndex(str(tmp_path), {}, tally)
    stream = _Terminal()
    monitor = _Monitor(tally, live, Progress(stream, tally), clock=lambda: now[0])
    assert monitor.timeout() == 0.0
    monitor.tick()
    assert (tmp_path / "index.json").exists() and stream.getvalue().count("\r") == 1
    assert monitor.timeout() == pytest.approx(1.0)          # idle: the progress line's second
    monitor.snapshot(snapshot_event(1))
    monitor.snapshot({"event": "snapshot", "file": "nonsense"})
    assert len(tally.entries) == 1
    now[0] = PROGRESS_INTERVAL
    assert monitor.timeout() == 0.0                         # the line is due; the index not yet
    monitor.tick()
    assert json.loads((tmp_path / "index.json").read_text())["snapshots"] == []
    now[0] = INDEX_INTERVAL
    monitor.tick()
    assert len(json.loads((tmp_path / "index.json").read_text())["snapshots"]) == 1


# ---------------------------------------------------------------------------
# SIGINT and SIGTERM


def test_the_signal_guard_by_phase():
    guard = _SignalGuard()
    with pytest.raises(_Interrupted, match="SIGINT"):
        guard(signal.SIGINT, None)
    guard(signal.SIGTERM, None)                  # while capture cleans up: noted, not raised
    guard.phase = "report"
    with pytest.raises(_Interrupted, match="SIGTERM"):
        guard(signal.SIGTERM, None)
    guard(signal.SIGINT, None)
    assert guard.received == ["SIGINT", "SIGTERM", "SIGTERM", "SIGINT"]


def test_a_signal_while_the_report_is_built_cuts_it_short(tmp_path, monkeypatch, capsys):
    """A real SIGINT to this process while report.md is built: the report is cut, the index is final."""
    (tmp_path / "0001-cgocall-enter.json").write_text((GOLDEN / "classic-callback-enter.json").read_text())
    tally = RunTally(time.monotonic())
    tally.add(index_entry(snapshot_event(1)))
    real = capture_module.CallReport

    class SlowReport(real):
        def add(self, doc, name):
            assert json.loads((tmp_path / "index.json").read_text())["complete"] is True   # final before
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10 ** 8):
                pass
            raise AssertionError("the signal did not interrupt the report")

    monkeypatch.setattr(capture_module, "CallReport", SlowReport)
    guard = _SignalGuard()
    guard.phase = "cleanup"
    guard.install()
    try:
        code = _finish(str(tmp_path), _outcome(), EXIT_OK, "the program exited with status 0", [],
                       tally=tally, guard=guard)
    finally:
        guard.restore()
    assert code == EXIT_INTERRUPTED
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["complete"] is True and index["interrupted"] == "SIGINT" and index["exit_code"] == EXIT_INTERRUPTED
    assert index["result"] == "the program exited with status 0; report.md cut short (SIGINT while it was built)"
    assert len(index["snapshots"]) == 1
    report = (tmp_path / "report.md").read_text()
    assert report.startswith("# gdb-hiter capture\n\nreport.md was not built: capture got SIGINT")
    assert "`gdb-hiter report DIR` builds the report again" in report
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "report.md cut short" in err and "Traceback" not in err


def test_temporaries_of_a_killed_gdb_are_removed(tmp_path):
    names = [".0003-cgocall-enter.json.k2j3h4.tmp", ".index.json.abc.tmp", "0001-cgocall-enter.json", ".keep.tmp"]
    for name in names:
        (tmp_path / name).write_text("x")
    _remove_temporaries(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == sorted(names[1:])
