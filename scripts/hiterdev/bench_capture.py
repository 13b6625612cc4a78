"""scripts/bench capture: what ``gdb-hiter capture`` costs at real scale (issue 11, item 7).

For each map implementation (go1.22.10: classic maps, go1.26.6: Swiss
tables; the ``opt`` build of ``fixtures/capturebench``) and each N, with
CALLS C calls (default 1000, 100 at N >= 1M), it runs ``capturebench N
CALLS`` three ways, one after the other in the same run:

1. the program alone (3 runs; median wall time);
2. the program under gdb (``gdb -nx -q -batch``, Go's signals passed through
   silently as ``gdb-hiter capture`` does) with bare Python breakpoints on
   the addresses ``hiter-watch`` uses: the entries of ``runtime.cgocall`` and
   ``runtime.cgocallbackg`` and, for each user call among their hits, the
   return address read from ``[rsp]`` (one breakpoint per distinct address).
   Every ``stop()`` returns False; hits are counted;
3. ``.venv/bin/gdb-hiter capture --map main.hs --out DIR -- BINARY N CALLS``;
   then from DIR: snapshots (index.json), disk used by all its files,
   report.md's size in characters, and, when snapshots carry it, the
   ``timing`` (seconds per phase) each one recorded;

and, if this clone has it, ``gdb-hiter report DIR`` (the report rebuilt from
the directory), timed.

Wall times are measured from outside, process start to exit (``os.wait4``
in a thread, so the time is not rounded to the polling interval). Peak
resident memory: ``VmHWM`` of each process of the tree, read from
``/proc/PID/status`` every ``--poll`` seconds while it runs (a high-water
mark: a sample holds the peak so far), with the tree found through
``/proc/PID/task/*/children``; checked against ``ru_maxrss`` from
``os.wait4`` of the root, the peak over the root and every descendant it
waited for. A run that exceeds its timeout is stopped and reported as such.

Cost per transition above the bare run = (capture wall time - bare wall
time) / snapshots taken.

Results go to stdout as markdown; ``--write`` puts them between the
``bench:capture`` markers of docs/performance.md (the section of plain
``scripts/bench`` is left alone). Nothing is asserted: issue 11's targets
are printed next to the results.

Standard library only, like bench.py; the gdb side runs in gdb's Python.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:capture:start -->"
END_MARK = "<!-- bench:capture:end -->"
GDB_HITER = REPO_ROOT / ".venv" / "bin" / "gdb-hiter"

FIXTURE = "capturebench"
MAP_EXPR = "main.hs"
TOOLCHAINS = (("1.22.10", "classic"), ("1.26.6", "swiss"))
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
PROGRAM_RUNS = 3
# The signals `gdb-hiter capture` lets through silently (gdb_hiter/cli/capture.py, _signal_handling).
PASS_SIGNALS = ("SIGURG", "SIGPIPE", "SIGPROF", "SIGCHLD", "SIGWINCH", "SIGUSR1", "SIGUSR2", "SIGALRM")
OUTPUT_LINE = re.compile(r"visited (\d+) entries, (\d+) C calls, len (\d+)")
SNAPSHOT_FILE = re.compile(r"^(\d{4,})-([a-z-]+)\.json$")      # as gdb_hiter/core/snapshot/document.py
PHASES = ("read", "compare", "decode", "write")
POLL = 0.05          # seconds between /proc samples (--poll)

# Issue 11's targets on a 2-core machine: reported, never asserted. Keyed by (N, CALLS).
TARGETS: Dict[Tuple[int, int], Dict[str, float]] = {
    (100_000, 1000): {"capture_s": 60.0, "per_transition_s": 0.010, "disk_bytes": 100e6, "rss_kb": 1e9 / 1024,
                      "report_chars": 60_000, "report_s": 10.0},
    (1_000_000, 100): {"capture_s": 60.0, "rss_kb": 1e9 / 1024},
}


def default_calls(n: int) -> int:
    return 100 if n >= 1_000_000 else 1000


# ---------------------------------------------------------------------------
# The bare-breakpoint session: runs inside gdb (gdb's embedded Python). CONFIG is prepended.

BARE = r'''
import json, re, struct, time
import gdb

MASK = 0xFFFFFFFFFFFFFFFF
_CFUNC = re.compile(r"^_cgo_[0-9a-f]+_Cfunc_(\w+)$")      # as gdb_hiter/gdbext/watch_cmd.py
_CGOEXP = re.compile(r"^_cgoexp_[0-9a-f]+_(\w+)$")
RESULT = {"entry_hits": {"cgocall": 0, "cgocallback": 0}, "user_calls": {"cgocall": 0, "cgocallback": 0},
          "return_hits": 0, "return_breakpoints": 0, "errors": [], "exited": None}
_user = {}        # wrapper address (RAX at the entry) -> is it a user call (watch_cmd.Watch.cfunc is not None)
_returns = {}     # return address -> breakpoint

def save():
    with open(CONFIG["result"], "w") as f:
        json.dump(RESULT, f)

def address_of(name):
    text = gdb.execute("info address " + name, to_string=True)
    match = re.search(r"\b(?:is at|at address) (0x[0-9a-fA-F]+)", text)
    if not match:
        raise gdb.GdbError("no address for " + name + ": " + text.strip())
    return int(match.group(1), 16) & MASK

def is_user(kind, fn):
    try:
        text = gdb.format_address(fn)          # "0x4db8c0 <_cgo_..._Cfunc_callC>"
        if "<" not in text:
            return False
        name = text[text.index("<") + 1:].rstrip(">").split("+")[0]
    except (gdb.error, AttributeError):         # gdb < 13
        try:
            text = gdb.execute("info symbol %#x" % fn, to_string=True)
        except gdb.error:
            return False
        name = text.split(" in section")[0].split(" + ")[0].strip()
    return bool((_CFUNC if kind == "cgocall" else _CGOEXP).match(name))

class Return(gdb.Breakpoint):
    def stop(self):
        RESULT["return_hits"] += 1
        return False

class Entry(gdb.Breakpoint):
    def stop(self):
        kind = self.kind
        RESULT["entry_hits"][kind] += 1
        try:
            frame = gdb.newest_frame()
            fn = int(frame.read_register("rax")) & MASK
            user = _user.get(fn)
            if user is None:
                user = _user[fn] = is_user(kind, fn)
            if not user:
                return False
            RESULT["user_calls"][kind] += 1
            rsp = int(frame.read_register("rsp")) & MASK
            ret = struct.unpack("<Q", gdb.selected_inferior().read_memory(rsp, 8).tobytes())[0]
            if ret not in _returns:
                bp = _returns[ret] = Return("*%#x" % ret, gdb.BP_BREAKPOINT, internal=True)
                bp.silent = True
                RESULT["return_breakpoints"] += 1
        except Exception as error:
            if len(RESULT["errors"]) < 10:
                RESULT["errors"].append("%s: %s" % (type(error).__name__, error))
        return False

def on_exit(event):
    RESULT["run_seconds"] = time.perf_counter() - T0
    RESULT["exited"] = getattr(event, "exit_code", None)
    save()

for kind, symbol in (("cgocall", "runtime.cgocall"), ("cgocallback", "runtime.cgocallbackg")):
    bp = Entry("*%#x" % address_of(symbol), gdb.BP_BREAKPOINT, internal=True)
    bp.silent, bp.kind = True, kind
RESULT["pid"] = gdb.selected_inferior().pid
save()
gdb.events.exited.connect(on_exit)
T0 = time.perf_counter()
'''


# ---------------------------------------------------------------------------
# Running one measured process: wall time, exit, peak RSS of each process of its tree, a timeout


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def _proc_status(pid: int) -> Optional[Dict[str, str]]:
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _start_time(pid: int) -> Optional[str]:
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()[19]


def _children(pid: int) -> List[int]:
    kids: List[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids.extend(int(x) for x in f.read().split())
        except (OSError, ValueError):
            pass
    return kids


class Measured:
    """One process run to its end (or its timeout) with its tree's memory sampled."""

    def __init__(self, argv: Sequence[str], *, timeout: float, grace: float = 30.0, stdout=None, stderr=None,
                 env: Optional[Dict[str, str]] = None, poll: Optional[float] = None, on_poll=None,
                 term_first: bool = True):
        self.argv, self.timeout, self.grace = list(argv), timeout, grace
        self.poll = POLL if poll is None else poll
        self.on_poll, self.term_first = on_poll, term_first
        self.stdout, self.stderr, self.env = stdout, stderr, env
        self.procs: Dict[int, Dict[str, Any]] = {}     # pid -> name, parent, start, hwm_kb, first/last seen
        self.timed_out = False
        self.signals: List[List[Any]] = []            # [name, pid, seconds after the start] the bench sent
        self.killed = False
        self.stopped_because: Optional[str] = None
        self.wall = self.status = self.rusage = None

    def _sample(self, root: int, now: float) -> None:
        known = self.procs.get(root)
        if known is not None and _start_time(root) != known["start"]:
            return                  # the root was reaped and its pid reused: nothing of ours to sample
        todo, seen = [root], set()
        while todo:
            pid = todo.pop()
            if pid in seen:
                continue
            seen.add(pid)
            status = _proc_status(pid)
            if status is None:
                continue
            info = self.procs.get(pid)
            name = status.get("Name", "?")
            if info is None:
                info = self.procs[pid] = {"name": name, "ppid": int(status.get("PPid", 0) or 0),
                                          "start": _start_time(pid), "hwm_kb": 0, "first_seen": now}
            hwm = status.get("VmHWM")
            if hwm:                 # absent for a zombie (its memory is gone)
                if name != info["name"]:
                    # It exec'd since the last sample: VmHWM is the new image's; before, it was the copy of
                    # the parent it was forked from (capture's for gdb, gdb's for the program).
                    info["name"], info["hwm_kb"] = name, 0
                info["hwm_kb"] = max(info["hwm_kb"], int(hwm.split()[0]))
                info["last_seen"] = now
            todo.extend(_children(pid))

    def _signal_tree(self, root: int, sig: int, everything: bool) -> None:
        targets = [root] + ([pid for pid in self.procs if pid != root] if everything else [])
        for pid in targets:
            info = self.procs.get(pid)
            if info is None or info["start"] is None or _start_time(pid) != info["start"]:
                continue            # not seen yet, gone, or the pid is someone else's now
            try:
                os.kill(pid, sig)
            except OSError:
                continue
            self.signals.append([signal.Signals(sig).name, pid, round(time.perf_counter() - self._started, 3)])

    def stop(self, why: str) -> None:
        """Ask for the run to end early (the disk limit, Ctrl-C): as a timeout would."""
        self.stopped_because = why
        self._deadline = min(self._deadline, time.perf_counter())

    def run(self) -> "Measured":
        done = threading.Event()
        started = self._started = time.perf_counter()
        proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=self.stderr,
                                env=self.env, start_new_session=True)
        self.pid = proc.pid

        def waiter():
            _pid, status, rusage = os.wait4(proc.pid, 0)
            self.wall = time.perf_counter() - started
            self.status, self.rusage = status, rusage
            done.set()

        thread = threading.Thread(target=waiter, daemon=True)
        thread.start()
        self._deadline = started + self.timeout
        self._sample(proc.pid, 0.0)      # the root's start time, before anything could signal it
        phase = 0          # 0 running, 1 asked to stop (SIGTERM), 2 killed
        try:
            while not done.is_set():
                now = time.perf_counter()
                self._sample(proc.pid, now - started)
                if self.on_poll is not None:
                    self.on_poll(self, now - started)
                if phase == 0 and now >= self._deadline:
                    self.timed_out = self.stopped_because is None
                    phase = 1
                    if self.term_first:
                        self._signal_tree(proc.pid, signal.SIGTERM, everything=False)
                        self._deadline = now + self.grace
                    else:
                        self._deadline = now
                elif phase == 1 and now >= self._deadline:
                    phase = 2
                    self.killed = True
                    self._signal_tree(proc.pid, signal.SIGKILL, everything=True)
                done.wait(self.poll)
        except KeyboardInterrupt:
            self._signal_tree(proc.pid, signal.SIGTERM, everything=False)
            if not done.wait(self.grace):
                self._signal_tree(proc.pid, signal.SIGKILL, everything=True)
            raise
        thread.join()
        if not self.killed:
            # Descendants the root left behind (it was stopped, or it died): nothing of ours keeps running.
            for pid, info in self.procs.items():
                if pid != proc.pid and _start_time(pid) == info["start"] and _proc_status(pid) is not None:
                    self.killed = True
                    self._signal_tree(proc.pid, signal.SIGKILL, everything=True)
                    break
        proc.returncode = os.waitstatus_to_exitcode(self.status)
        self.exit = proc.returncode
        return self

    # -- what came out

    def role_hwm(self, predicate) -> Optional[int]:
        values = [info["hwm_kb"] for pid, info in self.procs.items() if predicate(pid, info) and info["hwm_kb"]]
        return max(values) if values else None

    def summary(self) -> Dict[str, Any]:
        return {"wall": self.wall, "exit": self.exit, "timed_out": self.timed_out, "killed": self.killed,
                "stopped_because": self.stopped_because, "signals": self.signals,
                "limit": self.timeout, "maxrss_tree_kb": self.rusage.ru_maxrss if self.rusage else None,
                "procs": {str(pid): info for pid, info in self.procs.items()}}


# ---------------------------------------------------------------------------
# The three runs


def parse_output(text: str) -> Optional[Dict[str, int]]:
    found = OUTPUT_LINE.findall(text)
    if not found:
        return None
    visited, calls, length = map(int, found[-1])
    return {"visited": visited, "calls": calls, "len": length}


def output_check(out: Optional[Dict[str, int]], n: int, calls: int) -> str:
    """'' when the program's last line is what the fixture prints on a complete run, else what differs."""
    if out is None:
        return "no `visited ...` line in the program's output"
    problems = []
    if out["calls"] != calls:
        problems.append(f"{out['calls']} C calls, not {calls}")
    if out["len"] != n + calls:
        problems.append(f"len {out['len']}, not {n + calls}")
    if out["visited"] < n:
        problems.append(f"visited {out['visited']} < {n}")
    return "; ".join(problems)


def run_alone(binary: Path, n: int, calls: int, work: Path, timeout: float) -> Dict[str, Any]:
    runs = []
    for index in range(PROGRAM_RUNS):
        out_path = work / f"alone-{index}.out"
        load0 = loadavg()
        with open(out_path, "wb") as out:
            m = Measured([str(binary), str(n), str(calls)], timeout=timeout, stdout=out, stderr=subprocess.STDOUT,
                         term_first=False).run()
        text = out_path.read_text(errors="replace")
        runs.append({**m.summary(), "load": [load0, loadavg()], "output": parse_output(text), "tail": text[-500:]})
        if m.timed_out:
            break
    return {"runs": runs}


def gdb_argv() -> List[str]:
    return [shutil.which("gdb") or "gdb", "-nx", "-q", "-batch",
            "-iex", "set pagination off", "-iex", "set confirm off", "-iex", "set width 0", "-iex", "set height 0",
            "-iex", "set style enabled off", "-iex", "set startup-with-shell off"]


def run_bare(binary: Path, n: int, calls: int, work: Path, timeout: float) -> Dict[str, Any]:
    result_path = work / "bare-result.json"
    script = work / "bare.py"
    script.write_text(f"CONFIG = {{'result': {str(result_path)!r}}}\n" + BARE)
    argv = gdb_argv() + ["-ex", f"file {binary}", "-ex", f"set args {n} {calls}",
                         "-ex", "set print thread-events off"]
    for name in PASS_SIGNALS:
        argv += ["-ex", f"handle {name} nostop noprint pass"]
    argv += ["-ex", "starti", "-ex", f"source {script}", "-ex", "continue"]
    out_path = work / "bare.out"
    load0 = loadavg()
    with open(out_path, "wb") as out:
        m = Measured(argv, timeout=timeout, stdout=out, stderr=subprocess.STDOUT, poll=min(POLL, 0.01),
                     env=dict(os.environ, NO_COLOR="1", TERM="dumb", PYTHONDONTWRITEBYTECODE="1")).run()
    text = out_path.read_text(errors="replace")
    inner = json.loads(result_path.read_text()) if result_path.exists() else {}
    root = m.pid
    res = {**m.summary(), "load": [load0, loadavg()], "inner": inner, "output": parse_output(text),
           "gdb_hwm_kb": m.role_hwm(lambda pid, info: pid == root),
           "program_hwm_kb": m.role_hwm(lambda pid, info: pid != root),
           "argv": argv, "tail": text[-1500:]}
    return res


def dir_usage(directory: Path) -> Tuple[int, int, int]:
    """(bytes allocated on disk, apparent bytes, files) of everything under ``directory``."""
    allocated = apparent = files = 0
    for root, dirs, names in os.walk(directory):
        for name in names:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            allocated += st.st_blocks * 512
            apparent += st.st_size
            files += 1
    return allocated, apparent, files


TIMING_KEY = b'\n "timing": '      # a top-level key of a snapshot file (json.dumps(indent=1)): one space


def snapshot_timing(path: Path) -> Optional[Dict[str, float]]:
    """The top-level ``timing`` object of a snapshot file, or None.

    Snapshot files are ``json.dumps(sort_keys=True, indent=1)``: a top-level
    key is the only thing that starts a line with exactly one space and a
    quote (a newline inside a string is written ``\\n``), so the key is found
    by scanning bytes, last MiB first (``timing`` sorts after ``maps``),
    without parsing a file of a million entries. Other layouts are parsed
    whole.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
            start = max(0, size - (1 << 20))
            f.seek(start)
            tail = f.read()
            at = tail.rfind(TIMING_KEY)
            found = start + at if at >= 0 else -1
            if found < 0 and start > 0:
                f.seek(0)
                offset, carry = 0, b""
                while found < 0:
                    chunk = f.read(1 << 24)
                    if not chunk:
                        break
                    data = carry + chunk
                    at = data.find(TIMING_KEY)
                    if at >= 0:
                        found = offset - len(carry) + at
                    carry = data[-len(TIMING_KEY):]
                    offset += len(chunk)
            if found >= 0:
                f.seek(found + len(TIMING_KEY))
                value, _ = json.JSONDecoder().raw_decode(f.read(1 << 16).decode("utf-8", "replace"))
            elif head.startswith(b'{\n "'):
                return None             # our layout, and no timing key
            else:
                f.seek(0)
                doc = json.load(f)
                value = doc.get("timing") if isinstance(doc, dict) else None
    except (OSError, ValueError):
        return None
    if not isinstance(value, dict):
        return None
    return {str(k): float(v) for k, v in value.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def read_capture_dir(directory: Path) -> Dict[str, Any]:
    info: Dict[str, Any] = {}
    allocated, apparent, files = dir_usage(directory)
    info.update(disk_bytes=allocated, apparent_bytes=apparent, files=files)
    index_path = directory / "index.json"
    entries = None
    try:
        index = json.loads(index_path.read_text())
        entries = index.get("snapshots") or []
        info.update(index=True, snapshots=len(entries), exit_code=index.get("exit_code"), result=index.get("result"),
                    timeout=index.get("timeout"), watch_errors=len(index.get("watch_errors") or []),
                    unreadable=len(index.get("unreadable") or []))
    except (OSError, ValueError) as error:
        names = [name for name in os.listdir(directory) if SNAPSHOT_FILE.match(name)] if directory.is_dir() else []
        info.update(index=False, index_error=str(error), snapshots=len(names))
        entries = [{"file": name} for name in sorted(names)]
    report = directory / "report.md"
    try:
        info["report_chars"] = len(report.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        info["report_chars"] = None
    out = directory / "program.out"
    info["output"] = parse_output(out.read_text(errors="replace")) if out.exists() else None
    # Timing split: index entry's "timing" first (if the index carries it), else the file's top-level key.
    totals: Dict[str, float] = {}
    recorded = 0
    for entry in entries:
        timing = entry.get("timing") if isinstance(entry.get("timing"), dict) else None
        if timing is None and entry.get("file"):
            timing = snapshot_timing(directory / entry["file"])
        if not timing:
            continue
        recorded += 1
        for key, value in timing.items():
            if isinstance(value, (int, float)):
                totals[key] = totals.get(key, 0.0) + float(value)
    info["timing_recorded"] = recorded
    info["timing_totals"] = totals
    return info


def capture_argv(binary: Path, n: int, calls: int, out: Path, timeout: float) -> List[str]:
    return [str(GDB_HITER), "capture", "--map", MAP_EXPR, "--out", str(out), "--timeout", f"{timeout:g}",
            "--", str(binary), str(n), str(calls)]


def run_capture(binary: Path, n: int, calls: int, work: Path, timeout: float, grace: float,
                max_disk: int) -> Dict[str, Any]:
    out_dir = work / "capture"
    argv = capture_argv(binary, n, calls, out_dir, timeout)
    last_disk = [0.0]

    def watch_disk(m: Measured, elapsed: float) -> None:
        if elapsed - last_disk[0] < 1.0 or m.stopped_because:
            return
        last_disk[0] = elapsed
        if out_dir.is_dir() and dir_usage(out_dir)[0] > max_disk:
            m.stop(f"stopped by the bench: DIR passed --max-disk ({max_disk / 1e9:g} GB)")

    load0 = loadavg()
    with open(work / "capture.stdout", "wb") as so, open(work / "capture.stderr", "wb") as se:
        # capture's own --timeout ends the run cleanly (exit 4, index and report written); the bench's limit,
        # `grace` seconds later, is for a capture that does not finish after it (SIGTERM, then SIGKILL).
        m = Measured(argv, timeout=timeout + grace, grace=60.0, stdout=so, stderr=se, on_poll=watch_disk,
                     env=dict(os.environ, NO_COLOR="1")).run()
    root = m.pid
    gdb_pids = {pid for pid, info in m.procs.items() if info["ppid"] == root and info["name"] == "gdb"}
    res = {**m.summary(), "load": [load0, loadavg()], "argv": argv,
           "capture_hwm_kb": m.role_hwm(lambda pid, info: pid == root),
           "gdb_hwm_kb": m.role_hwm(lambda pid, info: pid in gdb_pids),
           "program_hwm_kb": m.role_hwm(lambda pid, info: info["ppid"] in gdb_pids),
           "stderr": (work / "capture.stderr").read_text(errors="replace")[-1500:]}
    program = [info for info in m.procs.values() if info["ppid"] in gdb_pids and info.get("last_seen") is not None]
    if program:
        res["program_last_seen"] = max(info["last_seen"] for info in program)
    res["dir"] = read_capture_dir(out_dir) if out_dir.exists() else {"missing": True}
    res["out_dir"] = str(out_dir)
    return res


def report_command() -> Optional[List[str]]:
    """``gdb-hiter report`` if this clone has it (another worker adds it), else None."""
    probe = subprocess.run([str(GDB_HITER), "report", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, text=True, errors="replace")
    if probe.returncode != 0 or "invalid choice" in probe.stdout:
        return None
    return [str(GDB_HITER), "report"]


def run_report(command: List[str], out_dir: Path, work: Path, timeout: float) -> Dict[str, Any]:
    report = out_dir / "report.md"
    before = report.stat().st_mtime_ns if report.exists() else None
    load0 = loadavg()
    with open(work / "report.stdout", "wb") as so, open(work / "report.stderr", "wb") as se:
        m = Measured(command + [str(out_dir)], timeout=timeout, stdout=so, stderr=se).run()
    res = {**m.summary(), "load": [load0, loadavg()], "argv": command + [str(out_dir)],
           "rss_kb": m.rusage.ru_maxrss, "stderr": (work / "report.stderr").read_text(errors="replace")[-1000:]}
    if report.exists() and report.stat().st_mtime_ns != before:
        res["report_chars"] = len(report.read_text(encoding="utf-8", errors="replace"))
        res["wrote"] = "report.md"
    else:
        res["report_chars"] = len((work / "report.stdout").read_text(encoding="utf-8", errors="replace"))
        res["wrote"] = "stdout"
    return res


# ---------------------------------------------------------------------------
# Facts about the run


def source_commit() -> Optional[str]:
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "gdb_hiter", "scripts"],
                               check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head} + uncommitted changes" if dirty else head


def build_fixtures(versions: Sequence[str]) -> Dict[str, Path]:
    """{toolchain version: path of its ``opt`` capturebench binary}."""
    argv = [sys.executable, str(REPO_ROOT / "scripts" / "build-fixtures"), "--fixture", FIXTURE]
    for version in versions:
        argv += ["--toolchain", version]
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout
    paths = {}
    for line in out.splitlines():
        build_id, _, path = line.split(maxsplit=2)
        for version in versions:
            if build_id == f"go{version}-opt":
                paths[version] = Path(path)
    missing = [v for v in versions if v not in paths]
    if missing:
        raise SystemExit(f"bench capture: no go{missing[0]}-opt build of {FIXTURE} (see scripts/build-fixtures --list)")
    return paths


def program_facts(binary: Path) -> Dict[str, Any]:
    """Go version and map implementation of a binary, from ``gdb-hiter version --json``."""
    done = subprocess.run([str(GDB_HITER), "version", str(binary), "--json"], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace")
    try:
        doc = json.loads(done.stdout)
        return {"go": doc.get("go_version"), "map_impl": doc.get("map_impl")}
    except ValueError:
        return {"go": None, "map_impl": None, "error": done.stdout.strip()[:200]}


def machine() -> str:
    gdb_version = subprocess.run([shutil.which("gdb") or "gdb", "--version"], stdout=subprocess.PIPE,
                                 text=True).stdout.splitlines()[0].split()[-1]
    return (f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
            f"{platform.system()} {platform.release()}, gdb {gdb_version}")


# ---------------------------------------------------------------------------
# Markdown


def fmt_s(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.2f} s"
    return f"{seconds:.0f} s ({int(seconds // 60)} min {seconds % 60:.0f} s)"


def fmt_bytes(n: Optional[float]) -> str:
    if n is None:
        return "–"
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    if n >= 1e6:
        return f"{n / 1e6:.1f} MB"
    if n >= 1e3:
        return f"{n / 1e3:.0f} kB"
    return f"{n:.0f} B"


def fmt_kb(kb: Optional[int]) -> str:
    return "–" if kb is None else fmt_bytes(kb * 1024)


def ended(run: Dict[str, Any], what: str) -> str:
    """How a measured run ended, when it is not a plain exit 0."""
    parts = []
    sent = "".join(f", {name} at {seconds:g} s" for name, _pid, seconds in run.get("signals") or [])
    if run.get("stopped_because"):
        parts.append(f"**{run['stopped_because']}**{sent}")
    elif run.get("timed_out"):
        parts.append(f"**timeout: the bench's limit of {run.get('limit', 0):g} s{sent}**")
    if run.get("exit") not in (0, None):
        parts.append(f"{what} exit status {run['exit']}")
    return "; ".join(parts)


def rss_check(run: Dict[str, Any], polled: List[Optional[int]]) -> List[str]:
    """A note when ``ru_maxrss`` of the whole tree is above every polled peak.

    The tree's ``ru_maxrss`` is the largest peak of any process in it (a
    child's count also includes the image it was forked from, before exec:
    at most its parent's size then): an upper bound for each. Above every
    polled ``VmHWM``, it says some process grew in its last poll interval
    before exiting, by up to the difference.
    """
    tree = run.get("maxrss_tree_kb")
    top = max([x for x in polled if x] or [0])
    if tree and top and tree > top * 1.02 + 1024:
        return [f"ru_maxrss of the tree {fmt_kb(tree)}: above every polled peak, so one process grew by up to "
                f"{fmt_kb(tree - top)} after its last sample"]
    return []


def per_transition_cost(res: Dict[str, Any]) -> Optional[float]:
    cap, bare = res.get("capture"), res.get("bare")
    if not cap or not bare or cap.get("wall") is None or bare.get("wall") is None:
        return None
    count = (cap.get("dir") or {}).get("snapshots")
    if not count:
        return None
    return (cap["wall"] - bare["wall"]) / count


def markdown(results: List[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    lines = []
    commit = f" of commit {meta['commit']}" if meta.get("commit") else ""
    gos = ", ".join(f"{v} ({impl})" for v, impl in meta.get("go", []))
    lines.append(f"Run{commit} {meta['date']} on {meta['machine']}, Go {gos}; load average (1 min) at start "
                 f"{meta['load_start']}, at end {meta['load_end']}; `{meta['command']}`.")
    lines.append("")
    lines.append("| maps | N | CALLS | what | wall time | transitions | above bare, per transition | snapshots | "
                 "disk | peak RSS | load (1-min, before → after) | notes |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        n, calls = res["n"], res["calls"]
        label = f"{res['impl']} go{res['version']} `opt`"
        head = f"| {label} | {n:,} | {calls:,} "
        expected = 4 * calls
        alone = res.get("alone")
        if alone and alone["runs"]:
            runs = alone["runs"]
            walls = [r["wall"] for r in runs]
            wall = fmt_s(statistics.median(walls))
            if len(walls) > 1:
                wall += f" (median of {len(walls)}; {fmt_s(min(walls))} – {fmt_s(max(walls))})"
            notes = [x for x in (ended(runs[-1], "program"), output_check(runs[-1]["output"], n, calls)) if x]
            lines.append(f"{head}| program alone | {wall} | {calls:,} C calls | | | | – | "
                         f"{runs[0]['load'][0]} → {runs[-1]['load'][1]} | {'; '.join(notes)} |")
        bare = res.get("bare")
        if bare:
            inner = bare.get("inner") or {}
            user = inner.get("user_calls") or {}
            hits = inner.get("entry_hits") or {}
            hit_count = sum(hits.values()) + inner.get("return_hits", 0) if inner else None
            notes = [x for x in (ended(bare, "gdb"), output_check(bare["output"], n, calls)) if x]
            if inner:
                other = sum(hits.values()) - sum(user.values())
                notes.append(f"breakpoint hits: entries of cgocall {hits.get('cgocall', 0)} and cgocallback "
                             f"{hits.get('cgocallback', 0)} ({other} of them the runtime's own calls), "
                             f"{inner.get('return_hits', 0)} on {inner.get('return_breakpoints', 0)} return "
                             f"address(es)")
                if (user.get("cgocall") or 0) < calls or (user.get("cgocallback") or 0) < calls:
                    notes.append(f"**user calls: {user.get('cgocall')} C calls and {user.get('cgocallback')} "
                                 f"callbacks, expected {calls} each**")
                elif user.get("cgocall") != calls or user.get("cgocallback") != calls:
                    notes.append(f"user-call entry hits {user.get('cgocall')} and {user.get('cgocallback')} for "
                                 f"{calls} calls each: a signal (Go's SIGURG) that arrives while gdb steps over a "
                                 f"breakpoint makes it hit again; hiter-watch ignores such a hit")
                if inner.get("errors"):
                    notes.append("errors: " + "; ".join(inner["errors"][:3]))
                if inner.get("run_seconds") is not None:
                    notes.append(f"{fmt_s(inner['run_seconds'])} of it from `continue` to the exit")
            else:
                notes.append("no result from inside gdb: " + " ".join(bare.get("tail", "").split())[-300:])
            rss = f"gdb {fmt_kb(bare.get('gdb_hwm_kb'))}"
            notes.extend(rss_check(bare, [bare.get("gdb_hwm_kb")]))
            lines.append(f"{head}| under gdb, bare Python breakpoints | {fmt_s(bare['wall'])} | "
                         f"{hit_count if hit_count is not None else '–'} hits | | | | {rss} | "
                         f"{bare['load'][0]} → {bare['load'][1]} | {'; '.join(notes)} |")
        cap = res.get("capture")
        if cap:
            d = cap.get("dir") or {}
            notes = [x for x in (ended(cap, "capture"),) if x]
            if d.get("missing"):
                notes.append("**no capture directory**")
            else:
                if cap.get("program_last_seen") is not None and cap.get("wall") is not None:
                    notes.append(f"the program ended at ~{fmt_s(cap['program_last_seen'])}, "
                                 f"capture {fmt_s(cap['wall'] - cap['program_last_seen'])} later")
                if not d.get("index"):
                    notes.append(f"**no index.json** ({d.get('index_error', '')[:120]}); snapshot files counted")
                else:
                    if d.get("timeout"):
                        notes.append(f"**timeout: capture's own --timeout**; index: exit_code {d.get('exit_code')}: "
                                     f"{d.get('result')}")
                    elif d.get("exit_code") not in (0, None):
                        notes.append(f"index: exit_code {d.get('exit_code')}: {d.get('result')}")
                    if d.get("watch_errors"):
                        notes.append(f"{d['watch_errors']} watch error(s)")
                    if d.get("unreadable"):
                        notes.append(f"{d['unreadable']} unreadable snapshot(s)")
                check = output_check(d.get("output"), n, calls)
                if check:
                    notes.append("program.out: " + check)
                if d.get("snapshots") is not None and d["snapshots"] != expected:
                    notes.append(f"{d['snapshots']} snapshots of the {expected} transitions")
                notes.append(f"report.md {d['report_chars']:,} characters" if d.get("report_chars") is not None
                             else "no report.md")
                notes.append(f"{d.get('files', 0)} files, {fmt_bytes(d.get('apparent_bytes'))} apparent")
            notes.extend(rss_check(cap, [cap.get("capture_hwm_kb"), cap.get("gdb_hwm_kb"), cap.get("program_hwm_kb")]))
            if cap.get("program_hwm_kb"):
                notes.append(f"the program's own peak RSS {fmt_kb(cap['program_hwm_kb'])}")
            cost = per_transition_cost(res)
            rss = f"gdb {fmt_kb(cap.get('gdb_hwm_kb'))}, capture {fmt_kb(cap.get('capture_hwm_kb'))}"
            lines.append(f"{head}| `gdb-hiter capture --map {MAP_EXPR}` | {fmt_s(cap['wall'])} | "
                         f"{d.get('snapshots', '–')} | {fmt_s(cost)} | {d.get('snapshots', '–')} | "
                         f"{fmt_bytes(d.get('disk_bytes'))} | {rss} | {cap['load'][0]} → {cap['load'][1]} | "
                         f"{'; '.join(notes)} |")
        rep = res.get("report")
        if rep and rep.get("absent"):
            lines.append(f"{head}| `gdb-hiter report DIR` | – | | | | | | | not in this clone: not measured |")
        elif rep:
            notes = [x for x in (ended(rep, "report"),) if x]
            notes.append(f"{rep['report_chars']:,} characters ({'report.md rewritten' if rep['wrote'] == 'report.md' else 'on stdout'})")
            lines.append(f"{head}| `gdb-hiter report DIR` | {fmt_s(rep['wall'])} | | | | | "
                         f"{fmt_kb(rep.get('rss_kb'))} | {rep['load'][0]} → {rep['load'][1]} | {'; '.join(notes)} |")
    lines.append("")
    lines.extend(split_table(results))
    lines.extend(targets_table(results))
    return "\n".join(lines) + "\n"


def split_table(results: List[Dict[str, Any]]) -> List[str]:
    """Cost per transition above the bare run, and what the snapshots say they spent it on."""
    rows = [r for r in results if r.get("capture") and (r["capture"].get("dir") or {}).get("snapshots")]
    if not rows:
        return []
    lines = ["Per transition (capture's snapshots; ms): the cost above the bare run, and its split as the snapshots "
             "recorded it (`timing`, summed over snapshots, divided by their number):", ""]
    phases = list(PHASES)
    for r in rows:
        for key in r["capture"]["dir"].get("timing_totals", {}):
            if key not in phases:
                phases.append(key)
    lines.append("| maps | N | CALLS | above bare | " + " | ".join(phases) + " | rest (breakpoint, gdb, not split) |")
    lines.append("|---|---|---|---|" + "---|" * len(phases) + "---|")
    for r in rows:
        d = r["capture"]["dir"]
        count = d["snapshots"]
        cost = per_transition_cost(r)
        head = f"| {r['impl']} | {r['n']:,} | {r['calls']:,} | {fmt_ms(cost)} |"
        totals = d.get("timing_totals") or {}
        if not d.get("timing_recorded"):
            lines.append(head + " split not recorded |" + " |" * len(phases))
            continue
        recorded = d["timing_recorded"]
        cells = [fmt_ms(totals[p] / recorded) if p in totals else "–" for p in phases]
        split = sum(totals.get(p, 0.0) for p in phases) / recorded
        rest = fmt_ms(cost - split) if cost is not None else "–"
        partial = "" if recorded == count else f" (split: mean of the {recorded} of {count} snapshots that recorded it)"
        lines.append(head + " " + " | ".join(cells) + f" | {rest}{partial} |")
    lines.append("")
    return lines


def fmt_ms(seconds: Optional[float]) -> str:
    return "–" if seconds is None else f"{seconds * 1000:.1f}"


def targets_table(results: List[Dict[str, Any]]) -> List[str]:
    lines = []
    for r in results:
        target = TARGETS.get((r["n"], r["calls"]))
        cap = r.get("capture")
        if not target or not cap:
            continue
        d = cap.get("dir") or {}
        rep = r.get("report") or {}
        measured = {
            "capture_s": (cap.get("wall"), fmt_s),
            "per_transition_s": (per_transition_cost(r), fmt_s),
            "disk_bytes": (d.get("disk_bytes"), fmt_bytes),
            "rss_kb": (max([x for x in (cap.get("gdb_hwm_kb"), cap.get("capture_hwm_kb")) if x] or [0]) or None,
                       fmt_kb),
            "report_chars": (d.get("report_chars"), lambda x: f"{x:,} characters"),
            "report_s": (rep.get("wall") if not rep.get("absent") else None, fmt_s),
        }
        names = {"capture_s": "whole capture", "per_transition_s": "per transition above bare breakpoints",
                 "disk_bytes": "on disk", "rss_kb": "peak RSS, each process (the larger of gdb and capture)",
                 "report_chars": "report.md", "report_s": "report build (`gdb-hiter report DIR`)"}
        shown = {"capture_s": "60 s", "per_transition_s": "10 ms", "disk_bytes": "100 MB", "rss_kb": "1 GB",
                 "report_chars": "60,000 characters", "report_s": "10 s"}
        if not lines:
            lines += ["Issue 11's targets (2-core machine):", "",
                      "| maps | N × CALLS | what | target | measured | verdict |", "|---|---|---|---|---|---|"]
        for key, limit in target.items():
            value, fmt = measured[key]
            stopped = cap.get("timed_out") or cap.get("stopped_because") or d.get("timeout")
            short = (d.get("snapshots") or 0) < 4 * r["calls"]
            partial = f"the run was stopped or incomplete: {d.get('snapshots') or 0} of {4 * r['calls']} transitions"
            if value is None:
                verdict = "not measured"
            elif value > limit:
                verdict = "**missed**" + (f" ({partial})" if stopped or short else "")
            elif stopped or short:
                verdict = f"not known: within it so far, but {partial}"
            else:
                verdict = "met"
            lines.append(f"| {r['impl']} | {r['n']:,} × {r['calls']:,} | {names[key]} | ≤ {shown[key]} | "
                         f"{fmt(value) if value is not None else '–'} | {verdict} |")
    if lines:
        lines.append("")
    return lines


WHAT = """What is measured, for each (maps, N), one after the other in one run: `capturebench N CALLS` (the `opt`
build of `fixtures/capturebench`: a range loop over the N-entry `map[int64]int64` `main.hs` that calls C
for the first CALLS entries it visits, each C call calling back into Go to insert one key: 4 × CALLS cgo
transitions) run alone ({runs} runs, median); under `gdb -nx -q -batch` (`set startup-with-shell off`, Go's
signals `nostop noprint pass`) with bare Python breakpoints (`stop()` returns False) on what `hiter-watch`
breaks on: the entries of `runtime.cgocall` and `runtime.cgocallbackg` and, for the user's calls among
their hits, the return address read from `[rsp]` (one breakpoint per distinct address); and under
`.venv/bin/gdb-hiter capture --map main.hs`, whose directory then gives the snapshots (index.json), the disk
used by all its files (allocated blocks) and report.md's size. Wall times run from process start to exit
(capture's includes gdb's start-up, loading gdb-hiter, and writing index.json and report.md after the
program ended). Peak RSS is each process's `VmHWM`, sampled from `/proc` every {poll:g} s while it runs
and checked against `ru_maxrss` of the whole tree. "Above bare, per transition" is (capture − bare) /
snapshots; its split comes from the `timing` (seconds per phase) each snapshot records, when it does.
Each run has a timeout (`--timeout`, given to capture as its own `--timeout`); a run that hits it is
marked so, with what it had done by then."""


def reproduce(meta: Dict[str, Any], results: List[Dict[str, Any]]) -> List[str]:
    lines = ["To reproduce (`scripts/bench capture --help` lists the options):", "", "```sh",
             "scripts/bench capture                 # N = 10k, 100k, 1M; CALLS 1000 (100 at 1M); classic and Swiss",
             "scripts/bench capture --write         # the same, and rewrite this section",
             "scripts/bench capture --quick         # N = 10k, 100k",
             "scripts/bench capture --sizes 10000 --calls 20 --impl swiss --json raw.json",
             "# one capture by hand; BINARY: the go1.22.10-opt or go1.26.6-opt line of",
             "#   .venv/bin/python scripts/build-fixtures --fixture capturebench --toolchain 1.22.10 --toolchain 1.26.6 --list"]
    for r in results[:1]:
        if r.get("capture"):
            argv = list(r["capture"]["argv"])
            out = argv.index("--out")
            argv[out + 1] = "DIR"
            argv[0] = ".venv/bin/gdb-hiter"
            argv[argv.index("--") + 1] = "BINARY"
            lines.append(" ".join(shlex.quote(a) for a in argv))
    lines += ["```", ""]
    return lines


def document(results: List[Dict[str, Any]], meta: Dict[str, Any]) -> str:
    return markdown(results, meta).rstrip("\n") + "\n\n" + WHAT.format(runs=PROGRAM_RUNS, poll=meta.get("poll", 0.05)) + "\n\n" + \
        "\n".join(reproduce(meta, results))


def write_doc(text: str) -> None:
    doc = DOC.read_text() if DOC.exists() else "# Performance\n"
    if START_MARK not in doc or END_MARK not in doc:
        doc = doc.rstrip("\n") + f"\n\n## Capture at cgo transitions\n\n{START_MARK}\n{END_MARK}\n"
    head, rest = doc.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    DOC.write_text(f"{head}{START_MARK}\n{text}{END_MARK}{tail}")


# ---------------------------------------------------------------------------


def parse_calls(text: Optional[str], sizes: List[int]) -> List[int]:
    if not text:
        return [default_calls(n) for n in sizes]
    values = [int(s.replace("_", "")) for s in text.split(",") if s.strip()]
    if len(values) == 1:
        return values * len(sizes)
    if len(values) != len(sizes):
        raise SystemExit("bench capture: --calls takes one number, or one per --sizes entry")
    return values


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench capture", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="comma-separated N (default 10000,100000,1000000)")
    parser.add_argument("--calls", help="C calls per run: one number for every N, or one per --sizes entry "
                                        "(default 1000, 100 at N >= 1000000)")
    parser.add_argument("--impl", choices=["classic", "swiss", "both"], default="both",
                        help="classic (go1.22.10), swiss (go1.26.6) or both (default)")
    parser.add_argument("--quick", action="store_true", help="N = 10000,100000 only")
    parser.add_argument("--timeout", type=float, default=600,
                        help="seconds for each measured run (default 600); capture gets it as its own --timeout")
    parser.add_argument("--grace", type=float, default=300,
                        help="seconds capture may take after its --timeout to write index.json and report.md "
                             "before the bench stops it (default 300)")
    parser.add_argument("--max-disk", type=float, default=20,
                        help="GB a capture directory may use before the bench stops the run (default 20, and at "
                             "most the free space less 2 GB)")
    parser.add_argument("--poll", type=float, default=0.05, help="seconds between /proc samples (default 0.05)")
    parser.add_argument("--keep", metavar="DIR", help="keep every run's files (capture directories included) in DIR")
    parser.add_argument("--json", metavar="FILE", help="also save the raw numbers as JSON")
    parser.add_argument("--from-json", metavar="FILE", help="measure nothing: render a --json FILE")
    parser.add_argument("--write", action="store_true",
                        help=f"rewrite the capture section of {DOC.relative_to(REPO_ROOT)} (between {START_MARK} "
                             f"and {END_MARK})")
    args = parser.parse_args(argv)
    global POLL
    POLL = args.poll

    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        text = document(saved["results"], saved["meta"])
        print(text)
        if args.write:
            write_doc(text)
            print(f"bench capture: wrote {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)
        return 0

    sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    calls = parse_calls(args.calls, sizes)
    toolchains = [(v, impl) for v, impl in TOOLCHAINS if args.impl in (impl, "both")]
    paths = build_fixtures([v for v, _ in toolchains])
    facts = {v: program_facts(paths[v]) for v, _ in toolchains}
    for version, impl in toolchains:
        if facts[version].get("map_impl") != impl:
            print(f"bench capture: warning: go{version} build reports map_impl {facts[version].get('map_impl')!r}, "
                  f"not {impl}", file=sys.stderr)
    report_cmd = report_command()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "machine": machine(),
            "go": [(facts[v].get("go") or f"go{v}", impl) for v, impl in toolchains],
            "load_start": loadavg(), "commit": source_commit(), "poll": args.poll,
            "command": "scripts/bench capture " + " ".join(argv if argv is not None else sys.argv[1:])}
    results = []
    keep = Path(args.keep).resolve() if args.keep else None
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="gdb-hiter-bench-capture-", dir=keep)
    try:
        work_root = Path(tmp)
        free = shutil.disk_usage(work_root).free
        max_disk = int(min(args.max_disk * 1e9, max(free - 2e9, 1e8)))
        for version, impl in toolchains:
            for n, c in zip(sizes, calls):
                work = work_root / f"{impl}-{n}-{c}"
                work.mkdir()
                res: Dict[str, Any] = {"impl": impl, "version": version, "n": n, "calls": c,
                                       "binary": str(paths[version])}
                tag = f"{impl} go{version} N={n} CALLS={c}"
                print(f"bench capture: {tag}: program alone (load {loadavg()}) ...", file=sys.stderr, flush=True)
                res["alone"] = run_alone(paths[version], n, c, work, args.timeout)
                print(f"bench capture: {tag}: under gdb, bare breakpoints ...", file=sys.stderr, flush=True)
                res["bare"] = run_bare(paths[version], n, c, work, args.timeout)
                print(f"bench capture: {tag}:   {fmt_s(res['bare']['wall'])}; gdb-hiter capture ...",
                      file=sys.stderr, flush=True)
                res["capture"] = run_capture(paths[version], n, c, work, args.timeout, args.grace, max_disk)
                d = res["capture"].get("dir") or {}
                print(f"bench capture: {tag}:   {fmt_s(res['capture']['wall'])}, {d.get('snapshots')} snapshots, "
                      f"{fmt_bytes(d.get('disk_bytes'))}", file=sys.stderr, flush=True)
                if report_cmd is None:
                    res["report"] = {"absent": True}
                elif not d.get("missing"):
                    res["report"] = run_report(report_cmd, Path(res["capture"]["out_dir"]), work, args.timeout)
                results.append(res)
                if keep is None:
                    shutil.rmtree(work / "capture", ignore_errors=True)   # it can be gigabytes
    finally:
        if keep:
            print(f"bench capture: files kept in {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    meta["load_end"] = loadavg()
    text = document(results, meta)
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    if args.write:
        write_doc(text)
        print(f"bench capture: wrote {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
