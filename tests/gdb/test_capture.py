"""``gdb-hiter capture``: the real gdb driven by pexpect, on the cgo fixture and a small program of our own.

One capture run per build of the cgorange matrix with DWARF (the big one),
checked against the fixture's own JSON lines (which the program prints on
a terminal of its own, drained into DIR/program.out). The failure modes
(crash, SIGKILL inside a breakpoint's stop(), a program that prints gdb's
lines, timeout, gdb killed, Ctrl-C, a full disk, attach) use
``tests/unit/data/capture/prog``, a tiny cgo program
compiled here with the newest toolchain: the fixtures cannot be changed,
and a crash that really happens in C is more honest than one injected by
the debugger.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from builds import all_toolchains, binary, builds_of
from conftest import REPO, need
from gdb_hiter.cli.capture import (EXIT_GDB, EXIT_INTERRUPTED, EXIT_OK, EXIT_PROGRAM_FAILED, EXIT_SIGNAL,
                                   EXIT_TIMEOUT, EXIT_USAGE, EXIT_WRITE, format_bytes, snapshot_files)
from gdb_hiter.core.snapshot.callreport import transition_report
from gdb_hiter.core.snapshot.diff import diff_snapshots
from gdb_hiter.core.snapshot.report import render_diff
from gdb_hiter.core.snapshot.document import read_snapshot
from gdbrun import run_gdb
from hiterdev import toolchains

BUILDS = builds_of("cgorange", lambda b: not b.stripped)
DATA = REPO / "tests" / "unit" / "data" / "capture"
PROG_SOURCE = DATA / "prog"
CLI = [sys.executable, "-c", "import sys; from gdb_hiter.cli.capture import main; sys.exit(main())"]
OFFLINE = [sys.executable, "-m", "gdb_hiter.cli"]


def capture(*args, timeout=240):
    """Run ``gdb-hiter capture ARGS`` (the CLI registration function, as cli.py wires it)."""
    return subprocess.run(CLI + ["capture", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, NO_COLOR="1"))


def events_in(output_text):
    """The fixture's JSON lines in its own output (DIR/program.out): every line is one."""
    return [json.loads(line) for line in output_text.splitlines() if line.startswith('{"event"')]


def load_dir(directory: Path):
    return [read_snapshot(directory / name) for name in snapshot_files(str(directory))]


# ---------------------------------------------------------------------------
# The cgo fixture, every build: one capture run each


_captures = {}


def captured(build, tmp_path_factory):
    if build.id not in _captures:
        out = tmp_path_factory.mktemp(f"capture-{build.id}")
        started = time.monotonic()
        result = capture("--iterators", "--out", out, "--", binary(build))
        _captures[build.id] = (out, result, time.monotonic() - started)
    return _captures[build.id]


def _current_key(iterator, map_doc):
    """The key the loop body is looking at, as the map's entry text (or None)."""
    current = iterator.get("current") or {}
    if iterator["impl"] == "classic":
        raw = current.get("key_bytes")
        return str(int.from_bytes(bytes.fromhex(raw), "little", signed=True)) if raw else None
    address = current.get("key_address")
    maptype = map_doc.get("maptype") or {}
    keys_off = maptype.get("keys_off", 8)
    stride = maptype.get("key_stride") or maptype.get("slot_size")
    if not address or not stride:
        return None
    for group in map_doc.get("groups") or []:
        if group["address"] <= address < group["address"] + maptype.get("group_size", 1 << 30):
            slot = (address - group["address"] - keys_off) // stride
            for entry in map_doc["entries"]:
                location = entry["location"]
                if (location.get("table") == group.get("table") and location.get("group") == group["group"]
                        and location.get("slot") == slot):
                    return entry["key"]
    return None


@pytest.mark.parametrize("build", BUILDS)
def test_capture_every_transition(build, loader, tmp_path_factory):
    out, result, seconds = captured(build, tmp_path_factory)
    assert result.returncode == EXIT_OK, result.stderr + (out / "gdb.log").read_text()[-3000:]
    assert result.stderr.count("\n") == 1 and "the program exited with status 0" in result.stderr
    truth = events_in((out / "program.out").read_text())
    assert '{"event"' not in (out / "gdb.log").read_text(errors="replace")   # not on gdb's terminal
    docs = load_dir(out)                                     # every file validates (read_snapshot)
    counts = {}
    for doc in docs:
        counts[doc["event"]] = counts.get(doc["event"], 0) + 1
    expected = {name: sum(1 for e in truth if e["event"] == name)
                for name in ("cgocall-enter", "cgocall-return", "cgocallback-enter", "cgocallback-return")}
    assert expected == {name: 8 for name in expected}, expected
    assert counts == expected                                # the runtime's own cgocalls are not there
    assert [doc["seq"] for doc in docs] == list(range(1, 33))
    assert all(doc["cfunc"] == "C.callC" for doc in docs if doc["event"].startswith("cgocall-"))
    assert all(doc["cfunc"].endswith("goCallback") for doc in docs if doc["event"].startswith("cgocallback-"))
    assert all(doc["goroutine"] == 1 and doc["location"]["function"] == "main.rangeWithCgoCalls" for doc in docs)

    index = json.loads((out / "index.json").read_text())
    assert index["program_exit"] == 0 and index["gdb_exit"] == 0 and index["timeout"] is False
    assert [entry["file"] for entry in index["snapshots"]] == snapshot_files(str(out))
    # built from the snapshot events, which say what each file holds without capture reading it back
    assert index["complete"] is True and index["unreadable"] == []
    assert [{key: entry[key] for key in ("seq", "event", "cfunc", "goroutine", "maps", "iterators")}
            for entry in index["snapshots"]] == [
        {"seq": doc["seq"], "event": doc["event"], "cfunc": doc["cfunc"], "goroutine": doc["goroutine"],
         "maps": len(doc["maps"]), "iterators": len(doc["iterators"])} for doc in docs]
    # bytes: the snapshot file and the chunks it added to the store
    assert all(entry["bytes"] >= (out / entry["file"]).stat().st_size for entry in index["snapshots"])
    assert all(set(entry["timing"]) == {"read", "decode", "write"} for entry in index["snapshots"])
    assert {key: index["totals"][key] for key in ("snapshots", "c_calls")} == {"snapshots": 32, "c_calls": 8}
    assert index["totals"]["bytes"] == sum(entry["bytes"] for entry in index["snapshots"])
    assert ("exited with status 0; 32 snapshots, 8 C calls in " in result.stderr
            and f", {format_bytes(index['totals']['bytes'])} in {out} (report.md, index.json)" in result.stderr)

    # The first callback: the map grows under the loop; the iterator's array / group goes stale.
    assert [doc["event"] for doc in docs[:4]] == ["cgocall-enter", "cgocallback-enter", "cgocallback-return",
                                                  "cgocall-return"]
    before, after = docs[1], docs[2]
    assert [it["stale"] for it in before["iterators"]] == [False]
    assert [it["stale"] for it in after["iterators"]] == [True]
    diff = diff_snapshots(before, after)
    (map_diff,) = diff["maps"]
    fields = {change["field"] for change in map_diff["header"]}
    if build.map_impl == "classic":
        assert "oldbuckets" in fields and any(event.startswith("grew from B=0") for event in map_diff["events"])
    else:
        assert "shape" in fields
        assert any("from a small map (one group) to tables" in event for event in map_diff["events"])
    (iterator_diff,) = diff["iterators"]
    assert iterator_diff["stale"] == {"a": False, "b": True} or iterator_diff["stale"] in (True, [False, True]), \
        iterator_diff["stale"]

    # The iterator's current key at each cgocall-enter is the key the fixture passed to C.
    fixture_keys = [e["key"] for e in truth if e["event"] == "cgocall-enter"]
    enters = [doc for doc in docs if doc["event"] == "cgocall-enter"]
    seen = [_current_key(doc["iterators"][0], doc["maps"][0]) for doc in enters]
    assert seen[0] == fixture_keys[0]
    if build.map_impl == "classic":
        assert seen == fixture_keys
    else:
        assert [key for key, want in zip(seen, fixture_keys) if key is not None] == \
               [want for key, want in zip(seen, fixture_keys) if key is not None]
        assert sum(key is not None for key in seen) >= 4, seen

    # After each C call the prediction is what the loop then received: the rest of the keys it
    # started with (the callbacks' inserts land where the loop does not walk), none after the last.
    visits = [e["key"] for e in truth if e["event"] == "visit"]
    returns = [doc for doc in docs if doc["event"] == "cgocall-return"]
    assert len(visits) == len(returns) == 8
    for number, doc in enumerate(returns, 1):
        (prediction,) = [it["prediction"] for it in doc["iterators"]]
        assert prediction["exact"] is True, prediction["reason"]
        assert prediction["next"] == visits[number:], (number, prediction["next"], visits)

    # report.md says what the fixture did: the first callback inserted N keys and grew the map, the
    # loop receives none of them (visit-order holds the 8 original keys only); each later one inserts one.
    report = (out / "report.md").read_text()
    assert len(report) <= 60000 and "- 32 snapshots: 8 C calls, 8 callbacks\n" in report
    grown = next(e["len"] for e in truth if e["event"] == "cgocallback-return" and e["call"] == 0)
    inserted = grown - 8
    assert sorted(next(e["keys"] for e in truth if e["event"] == "visit-order")) == [str(k) for k in range(1, 9)]
    rows = report.split("\n## Summary\n\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    first, later = rows[0].split(" | "), [row.split(" | ") for row in rows[1:]]
    assert first[:2] == ["| 1", "`C.callC`, all in callback `main.goCallback`"], rows
    growth = "grew 2^0→2^" if build.map_impl == "classic" else "small map → tables"
    assert f": +{inserted} entries, {growth}" in first[4], first
    assert f"will not receive the {inserted} inserted entries (note 1)" in first[5], first
    covered = []
    for row in later:
        span = row[0][2:].split("–")
        covered += list(range(int(span[0]), int(span[-1]) + 1))
        assert "+1 entry" in row[4] and "will not receive the 1 inserted entry" in row[5], row
    assert covered == list(range(2, 9)), rows
    assert len(rows) <= 4, rows                            # calls 2-8 do the same: one row, or a few
    assert report.count("### C call ") == 8 and "### Callback" not in report
    assert seconds < 60, f"capture took {seconds:.0f}s"


# ---------------------------------------------------------------------------
# Same code offline and in gdb


OFFLINE_BUILD = next(p for p in BUILDS if p.values[0].id == "go1.22.10-noopt")


@pytest.mark.parametrize("build", [OFFLINE_BUILD])
def test_offline_diff_equals_hiter_diff(build, loader, tmp_path_factory, tmp_path):
    out, result, _ = captured(build, tmp_path_factory)
    assert result.returncode == EXIT_OK
    a, b = out / "0002-cgocallback-enter.json", out / "0003-cgocallback-return.json"
    commands = ["set hiter color off"] + [f"hiter-diff {a} {b} --format {fmt}" for fmt in ("text", "markdown", "json")]
    run = run_gdb(commands, loader=loader)
    for index, fmt in enumerate(("text", "markdown", "json"), 1):
        offline = subprocess.run(OFFLINE + ["diff", str(a), str(b), "--format", fmt, "--color", "off"],
                                 capture_output=True, text=True, check=True)
        assert run[index] == offline.stdout, fmt
    shown = subprocess.run(OFFLINE + ["show", str(a), "--format", "markdown"], capture_output=True, text=True)
    assert shown.returncode == 0 and "map[int64]int64" in shown.stdout

    # Redacted with one salt, the diff pairs the same entries.
    redacted = []
    for source in (a, b):
        target = tmp_path / ("r-" + source.name)
        subprocess.run(OFFLINE + ["redact", str(source), str(target), "--salt", "s3cret"], check=True,
                       capture_output=True)
        redacted.append(read_snapshot(target))
    plain = diff_snapshots(read_snapshot(a), read_snapshot(b))["maps"][0]["entries"]
    hidden = diff_snapshots(*redacted)["maps"][0]["entries"]
    for key in ("added", "removed", "changed", "moved"):
        assert len(hidden[key]) == len(plain[key]), key
    assert hidden["unchanged"] == plain["unchanged"]


# ---------------------------------------------------------------------------
# Golden renders: stored snapshots (one classic, one Swiss capture, --limit 12)


GOLDEN = [("classic", "go1.22.10"), ("swiss", "go1.27.3")]


@pytest.mark.parametrize("impl,version", GOLDEN)
def test_diff_renders_are_stable(impl, version):
    """Hash seeds are random per run (entry locations, evacuation order and, from Go 1.26, heap
    addresses change), so the goldens are renders of two stored snapshots: the markdown, JSON and
    report of the same input never change."""
    folder = DATA / "golden"
    a = read_snapshot(folder / f"{impl}-callback-enter.json")
    b = read_snapshot(folder / f"{impl}-callback-return.json")
    diff = diff_snapshots(a, b)
    assert render_diff(diff, "markdown") == (folder / f"{impl}-diff.md").read_text()
    assert render_diff(diff, "json") == (folder / f"{impl}-diff.json").read_text()
    assert transition_report([a, b], "markdown") == (folder / f"{impl}-report.md").read_text()


# ---------------------------------------------------------------------------
# Our small program: crash, timeout, attach


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    toolchain = all_toolchains()[-1]
    need(toolchain.go.exists(), f"{toolchain.name} is not installed")
    target = tmp_path_factory.mktemp("prog") / "captureprog"
    subprocess.run([str(toolchain.go), "build", "-buildvcs=false", "-o", str(target), "."], cwd=PROG_SOURCE,
                   env=toolchains.go_env(toolchain), check=True, capture_output=True, timeout=300)
    return target


def test_crash_keeps_the_snapshots(prog, loader, tmp_path):
    out = tmp_path / "crash"
    result = capture("--out", out, "--", prog, "crash")
    assert result.returncode == EXIT_SIGNAL, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "killed by SIGSEGV" in result.stderr
    # no terminal: no progress line, and the one line holds the totals
    assert "\r" not in result.stderr and "killed by SIGSEGV; 7 snapshots, 2 C calls in " in result.stderr
    docs = load_dir(out)
    # call 1 returned; call 2 crashed in C after its callback returned
    assert [doc["event"] for doc in docs] == ["cgocall-enter", "cgocallback-enter", "cgocallback-return",
                                              "cgocall-return", "cgocall-enter", "cgocallback-enter",
                                              "cgocallback-return"]
    index = json.loads((out / "index.json").read_text())
    assert index["program_signal"] == "SIGSEGV" and index["exit_code"] == EXIT_SIGNAL
    assert "C call 2: C.callC" in (out / "report.md").read_text()
    assert "never returned" in (out / "report.md").read_text()


def test_timeout_keeps_the_snapshots(prog, loader, tmp_path):
    out = tmp_path / "hang"
    started = time.monotonic()
    result = capture("--timeout", "6", "--out", out, "--", prog, "hang")
    assert result.returncode == EXIT_TIMEOUT, result.stderr
    assert time.monotonic() - started < 40
    assert "timeout after 6s" in result.stderr
    docs = load_dir(out)
    assert [doc["event"] for doc in docs].count("cgocall-return") == 2
    index = json.loads((out / "index.json").read_text())
    assert index["timeout"] is True and index["exit_code"] == EXIT_TIMEOUT


def test_attach(prog, loader, tmp_path):
    trigger = tmp_path / "go"
    out = tmp_path / "attach"
    program = subprocess.Popen([str(prog), "wait", str(trigger)], stdout=subprocess.PIPE, text=True)
    try:
        assert program.stdout.readline().strip() == "ready"
        runner = subprocess.Popen(CLI + ["capture", "--timeout", "60", "--out", str(out), "--pid",
                                         str(program.pid)], stderr=subprocess.PIPE, text=True)
        log = out / "gdb.log"
        for _ in range(300):
            if log.exists() and "hiter-watch: watching" in log.read_text(errors="replace"):
                break
            time.sleep(0.1)
        trigger.touch()
        _, stderr = runner.communicate(timeout=90)
        assert runner.returncode == EXIT_OK, stderr + log.read_text()[-2000:]
    finally:
        program.kill()
        program.wait()
    docs = load_dir(out)
    assert len(docs) == 16 and docs[0]["program"]["kind"] == "process"


# ---------------------------------------------------------------------------
# Every way a run ends, each with its exit status


def start_capture(*args):
    return subprocess.Popen(CLI + ["capture", *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=dict(os.environ, NO_COLOR="1"))


def wait_until(condition, what, seconds=180):
    """Poll for a state of the run (a file written, a process stopped); fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.01)


def pids_running(executable):
    """Processes whose executable is ``executable`` (this test's own build: no other run uses it)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/exe") == str(executable):
                    found.append(int(entry))
            except OSError:
                pass
    return found


def process_state(pid):
    """The state letter in /proc/PID/stat (``t``: stopped by the tracer), or None when gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2]


def held_by_gdb(pid):
    """Whether a thread of ``pid`` is stopped by the tracer (``t``).

    The thread that hit a breakpoint, not the process's first thread: while
    gdb is inside that breakpoint's stop(), /proc/PID/stat (the first thread)
    may well say ``S`` (seen: a goroutine on another thread makes the call).
    """
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/stat").read_text()
        except OSError:
            continue
        if text[text.rindex(")") + 2] == "t":
            return True
    return False


def inside_stop(out, pid):
    """Held stopped twice 50 ms apart with no snapshot written in between: inside a breakpoint's stop().

    A stop for a signal (Go's SIGURG) lasts microseconds; a snapshot of
    ``captureprog big 400000`` that changed takes seconds.
    """
    before = snapshot_files(str(out))
    if not before or not held_by_gdb(pid):
        return False
    time.sleep(0.05)
    return held_by_gdb(pid) and snapshot_files(str(out)) == before


def finished(runner, out):
    _, stderr = runner.communicate(timeout=120)
    assert stderr.count("\n") == 1 and "Traceback" not in stderr, stderr
    return runner.returncode, stderr, json.loads((out / "index.json").read_text())


def test_program_output_cannot_fool_capture(prog, loader, tmp_path):
    """The program prints capture's prompt, a fake exit line and a fake signal, then exits 3."""
    out = tmp_path / "fake"
    result = capture("--out", out, "--", prog, "fake")
    assert result.returncode == EXIT_PROGRAM_FAILED, result.stderr
    assert "the program exited with status 3" in result.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["program_exit"] == 3 and index["program_signal"] is None and index["signals_received"] == []
    assert index["program_status_source"] == "gdb" and index["program_output"] == "program.out"
    assert len(load_dir(out)) == 16
    output = (out / "program.out").read_text()
    assert output.count("exited with code 07]") == 2 and output.count("(hiter-capture) ") == 4
    assert "code 07" not in (out / "gdb.log").read_text(errors="replace")


def test_sigkill_inside_stop(prog, loader, tmp_path):
    """SIGKILL while gdb is inside a breakpoint's stop(): gdb itself then loses the status.

    With 400000 more entries each snapshot of a transition that changes the
    map (the callback inserts a key) takes a second or more (the first one
    decodes it whole), nearly all of the time the process is held stopped
    (``t``); a stop for a signal (Go's SIGURG) lasts microseconds. So the kill
    comes when the process is seen held stopped twice 50 ms apart with no
    snapshot written in between: inside a breakpoint's stop().
    """
    out = tmp_path / "kill-in-stop"
    runner = start_capture("--out", out, "--", prog, "big", "400000")
    try:
        wait_until(lambda: (out / "0001-cgocall-enter.json").exists(), "the first snapshot")
        (pid,) = pids_running(prog)
        wait_until(lambda: inside_stop(out, pid), "the program held stopped inside a breakpoint's stop()")
        os.kill(pid, signal.SIGKILL)
        code, stderr, index = finished(runner, out)
    finally:
        runner.kill()
    assert code == EXIT_SIGNAL, stderr
    assert "the program was killed by SIGKILL" in stderr
    assert index["program_signal"] == "SIGKILL" and index["exit_code"] == EXIT_SIGNAL
    assert index["program_status_source"] == "/proc (in stop())"
    assert index["gdb_exit"] == 0 and index["program_pid"] == pid
    assert load_dir(out)[0]["event"] == "cgocall-enter"


def test_sigkill_while_running(prog, loader, tmp_path):
    out = tmp_path / "kill-running"
    runner = start_capture("--out", out, "--", prog, "hang")
    try:
        wait_until(lambda: (out / "0008-cgocall-return.json").exists(), "the last snapshot before the hang")
        (pid,) = pids_running(prog)
        # running (asleep in time.Sleep), not held by gdb: the file is written before stop() ends
        wait_until(lambda: process_state(pid) == "S", "the program running on after the last snapshot")
        os.kill(pid, signal.SIGKILL)
        code, stderr, index = finished(runner, out)
    finally:
        runner.kill()
    assert code == EXIT_SIGNAL and "killed by SIGKILL" in stderr, stderr
    # gdb's own report; or, if the runtime's own cgocall hit a breakpoint in between, the stop() check
    assert index["program_signal"] == "SIGKILL"
    assert index["program_status_source"] in ("gdb", "/proc (in stop())")
    assert len(load_dir(out)) == 8


def test_gdb_killed(prog, loader, tmp_path):
    out = tmp_path / "gdb-dies"
    runner = start_capture("--out", out, "--", prog, "hang")
    try:
        wait_until(lambda: (out / "0008-cgocall-return.json").exists(), "the last snapshot before the hang")
        children = Path(f"/proc/{runner.pid}/task/{runner.pid}/children").read_text().split()
        (gdb_pid,) = [int(child) for child in children if os.readlink(f"/proc/{child}/exe").endswith("/gdb")]
        os.kill(gdb_pid, signal.SIGKILL)
        code, stderr, index = finished(runner, out)
    finally:
        runner.kill()
        for pid in pids_running(prog):
            os.kill(pid, signal.SIGKILL)
    assert code == EXIT_GDB and "gdb exited unexpectedly" in stderr, stderr
    assert index["gdb_exit"] == -signal.SIGKILL and index["exit_code"] == EXIT_GDB
    # final, from the events gdb sent before it died
    assert index["complete"] is True and [entry["file"] for entry in index["snapshots"]] == snapshot_files(str(out))
    assert len(load_dir(out)) == 8 and "C call 2" in (out / "report.md").read_text()


def test_sigint_of_capture(prog, loader, tmp_path):
    """Ctrl-C of capture itself: the program is killed, one line, index.json says so, exit 7."""
    out = tmp_path / "sigint"
    runner = start_capture("--out", out, "--", prog, "hang")
    try:
        wait_until(lambda: (out / "0008-cgocall-return.json").exists(), "the last snapshot before the hang")
        (pid,) = pids_running(prog)
        runner.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        code, stderr, index = finished(runner, out)
        took = time.monotonic() - signalled
    finally:
        runner.kill()
    assert code == EXIT_INTERRUPTED, stderr
    assert "interrupted by SIGINT: the program was killed; 8 snapshots, 2 C calls in " in stderr
    assert index["interrupted"] == "SIGINT" and index["exit_code"] == EXIT_INTERRUPTED
    assert index["gdb_exit"] == 0 and process_state(pid) is None
    assert index["complete"] is True and [entry["seq"] for entry in index["snapshots"]] == list(range(1, 9))
    assert len(load_dir(out)) == 8 and "C call 2: C.callC" in (out / "report.md").read_text()
    assert took < 10, f"{took:.1f}s from SIGINT to the exit"


@pytest.mark.parametrize("grace", [None, 0])
def test_sigint_while_a_snapshot_is_taken(prog, loader, tmp_path, grace):
    """Ctrl-C while gdb is inside a breakpoint's stop() (a snapshot of ``big 400000`` that changed takes seconds).

    gdb may not look at its own Ctrl-C until stop() returns: it gets
    ``STOP_GRACE`` seconds (5), then it and the program are killed. With
    ``grace`` 0 that second path is taken every time.
    """
    out = tmp_path / f"sigint-in-stop-{grace}"
    cli = CLI if grace is None else [sys.executable, "-c", "import sys; from gdb_hiter.cli import capture; "
                                     f"capture.STOP_GRACE = {grace}; sys.exit(capture.main())"]
    runner = subprocess.Popen(cli + ["capture", "--out", str(out), "--", str(prog), "big", "400000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: (out / "0001-cgocall-enter.json").exists(), "the first snapshot")
        (pid,) = pids_running(prog)
        wait_until(lambda: inside_stop(out, pid), "the program held stopped inside a breakpoint's stop()")
        runner.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        code, stderr, index = finished(runner, out)
        took = time.monotonic() - signalled
    finally:
        runner.kill()
        for left in pids_running(prog):
            os.kill(left, signal.SIGKILL)
    assert code == EXIT_INTERRUPTED, stderr
    killed = "gdb did not stop within 0s: it and the program were killed"
    if grace == 0:
        assert killed in stderr and index["gdb_exit"] == -signal.SIGKILL
    else:
        assert "interrupted by SIGINT: the program was killed" in stderr or killed.replace("0s", "5s") in stderr
    assert process_state(pid) in (None, "Z")   # Z: killed, its parent gdb too, and not reaped yet by init
    assert index["complete"] is True and index["interrupted"] == "SIGINT" and index["exit_code"] == EXIT_INTERRUPTED
    files = snapshot_files(str(out))
    assert [entry["file"] for entry in index["snapshots"]] == files and len(files) >= 1
    assert [doc["seq"] for doc in load_dir(out)] == list(range(1, len(files) + 1))   # whole, valid
    assert not [name for name in os.listdir(out) if name.endswith(".tmp")]          # nothing half-written
    assert "C call 1: C.callC" in (out / "report.md").read_text()
    assert took < 5 + 10, f"{took:.1f}s from SIGINT to the exit"


def test_capture_killed_leaves_an_index_of_how_far_it_got(prog, loader, tmp_path):
    """SIGKILL of capture itself: index.json, rewritten while the run goes, lists what was taken."""
    out = tmp_path / "capture-killed"
    runner = start_capture("--out", out, "--", prog, "hang")

    def index_lists(count):
        try:
            return len(json.loads((out / "index.json").read_text())["snapshots"]) >= count
        except FileNotFoundError:
            return False

    try:
        wait_until(lambda: index_lists(2), "index.json listing 2 snapshots")
        runner.kill()
        runner.wait(30)
    finally:
        runner.kill()
        for left in pids_running(prog):        # gdb got SIGHUP when its terminal went; its program may linger
            os.kill(left, signal.SIGKILL)
    index = json.loads((out / "index.json").read_text())
    assert index["complete"] is False and index["exit_code"] is None and index["result"] is None
    assert index["program_pid"] and index["mode"] == "run"
    listed = [entry["file"] for entry in index["snapshots"]]
    assert 2 <= len(listed) <= 8 and listed == snapshot_files(str(out))[:len(listed)]
    assert [read_snapshot(out / name)["seq"] for name in listed] == list(range(1, len(listed) + 1))
    assert index["totals"]["snapshots"] == len(listed)
    assert not (out / "report.md").exists()


def test_progress_on_a_terminal(prog, loader, tmp_path):
    """On a terminal: one progress line rewritten in place while the run goes, then Ctrl-C, then the totals."""
    import pexpect

    out = tmp_path / "progress"
    child = pexpect.spawn(CLI[0], CLI[1:] + ["capture", "--out", str(out), "--", str(prog), "hang"],
                          encoding="utf-8", timeout=180, dimensions=(24, 200), env=dict(os.environ, NO_COLOR="1"))
    try:
        # hang: 8 snapshots (2 C calls with a callback each), then the program sleeps; the idle redraw shows them
        child.expect(r"\rgdb-hiter: capture: 8 snapshots, 2 C calls in [0-9.]+ s, [0-9.]+ [kM]?B")
        text = child.before + child.after
        child.sendintr()                           # a real Ctrl-C, from the terminal
        child.expect(pexpect.EOF)
        text += child.before
    finally:
        child.close(force=True)
        for left in pids_running(prog):
            os.kill(left, signal.SIGKILL)
    assert child.exitstatus == EXIT_INTERRUPTED, text
    output = text.replace("\r\n", "\n")
    assert output.count("\n") == 1 and output.endswith("\n") and "Traceback" not in output
    *progress, last = output[:-1].split("\r")
    lines = [line for line in progress if line.strip()]
    counts = [tuple(map(int, re.match(r"gdb-hiter: capture: (\d+) snapshots?, (\d+) C calls? in ", line).groups()))
              for line in lines if re.match(r"gdb-hiter: capture: \d+ snapshot", line)]
    assert counts and counts == sorted(counts) and counts[-1] == (8, 2)
    assert progress[-1].strip() == ""              # blanked before the last line
    index = json.loads((out / "index.json").read_text())
    assert last.startswith("gdb-hiter: capture: interrupted by SIGINT: the program was killed; 8 snapshots, 2 C calls in ")
    assert last.endswith(f", {format_bytes(index['totals']['bytes'])} in {out} (report.md, index.json)")
    assert index["complete"] is True and index["exit_code"] == EXIT_INTERRUPTED and (out / "report.md").exists()


def test_full_disk(prog, loader, tmp_path):
    """A 100 KiB tmpfs holds 11 of the 16 snapshots: the rest, index.json and report.md do not fit."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=100k", "tmpfs", str(disk)],
                             capture_output=True, text=True)
    need(mounted.returncode == 0, f"cannot mount a small tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        out = disk / "c"
        result = capture("--out", out, "--", prog, "run")
        assert result.returncode == EXIT_WRITE, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
        assert "the program exited with status 0" in result.stderr and "No space left on device" in result.stderr
        docs = load_dir(out)                         # the snapshots that fit are whole and valid
        assert 0 < len(docs) < 16
        assert [doc["seq"] for doc in docs] == list(range(1, len(docs) + 1))
        assert (out / "gdb.log").stat().st_size > 0
        index = json.loads((out / "index.json").read_text()) if (out / "index.json").exists() else None
        if index is not None and index["complete"]:
            assert index["exit_code"] == EXIT_WRITE and index["write_errors"]
        else:      # none, or the one written while the run went: it says how far the run got
            assert "index.json: No space left on device" in result.stderr
            assert index is None or (index["exit_code"] is None and len(index["snapshots"]) <= len(docs))
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_bad_usage(tmp_path):
    assert capture("--out", tmp_path / "x").returncode == EXIT_USAGE
    result = capture("--out", tmp_path / "x", "--", tmp_path / "missing")
    assert result.returncode == EXIT_USAGE and "no such program" in result.stderr
    assert capture("--core", tmp_path / "c", "--out", tmp_path / "x").returncode == EXIT_USAGE
    help_text = subprocess.run(CLI + ["capture", "--help"], capture_output=True, text=True).stdout
    assert "exit status:" in help_text and "4  the timeout was hit" in help_text
    assert "6  DIR could not be written in full" in help_text and "7  capture got SIGINT" in help_text


def test_not_a_go_program_is_bad_usage(tmp_path):
    """/bin/true, a shell script, a Go program without a symbol table: one line, exit 2, gdb never started."""
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\nexit 0\n")
    script.chmod(0o755)
    for program, says in (("/bin/true", "is not a Go program"), (script, "not a Go program")):
        out = tmp_path / "out"
        result = capture("--out", out, "--", program)
        assert result.returncode == EXIT_USAGE, result.stderr
        assert result.stderr.count("\n") == 1 and says in result.stderr and "Traceback" not in result.stderr
        assert not (out / "gdb.log").exists()
    result = capture("--out", tmp_path / "out", "--pid", str(os.getpid()))   # python: not a Go program
    assert result.returncode == EXIT_USAGE and "Go program" in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# A core file


CORE_BUILD = next(p for p in BUILDS if p.values[0].id == "go1.27.3-noopt")


@pytest.mark.parametrize("build", [CORE_BUILD])
def test_core(build, loader, tmp_path):
    core = tmp_path / "cgorange.core"
    exe = binary(build)
    run = run_gdb(["set print thread-events off", "break main.stopHere", "run > /dev/null", f"gcore {core}",
                   "kill"], binary=exe, loader=loader, timeout=120)
    assert core.exists(), run.text[-2000:]
    out = tmp_path / "core-out"
    result = capture("--core", core, "--exe", exe, "--out", out)
    assert result.returncode == EXIT_OK, result.stderr
    core.unlink()
    (doc,) = load_dir(out)
    assert doc["event"] == "core" and doc["program"]["kind"] == "core"
    (iterator,) = doc["iterators"]
    assert iterator["function"] == "main.rangeWithCgoCalls" and iterator["goroutine"] == 1
    assert iterator["stale"] is True and doc["maps"][0]["address"] == iterator["map_address"]
