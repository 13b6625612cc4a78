"""``gdb-hiter capture``: run a program under the real gdb, snapshot every cgo transition, report.

Pure Python outside gdb: it drives ``gdb -nx -q`` through pexpect, loads
gdb-hiter with the generated loader, installs ``hiter-watch`` (which writes
each snapshot to DIR the moment it is taken, and tells capture so on the
side channel below) and lets the program run to its end or the timeout.
While it runs, a thread of capture reads those events: ``index.json`` (what
was captured so far, ``"complete": false``) is rewritten at most once a
second, and on a terminal one progress line is redrawn in place. At the end
the index is written from the events (``"complete": true`` and how the run
ended), then ``report.md`` (what changed across each C call) from the files.
Whatever happens — the program crashes, is killed, hangs, gdb dies, the disk
fills up, capture gets Ctrl-C or is killed itself — the snapshots written so
far stay, the index says how far the run got, the report is written if it
can be, and the exit status and one line on stderr (with the totals) say
what happened.

Nothing the program prints can fool it. The program gets a terminal of its
own (``set inferior-tty``, a pseudo-terminal capture drains into
``DIR/program.out``), so gdb's terminal, where capture waits for its
prompt, carries only gdb's and gdb-hiter's words; and how the program ended
is never read from that text at all but from a pipe that gdb-hiter's Python
inside gdb writes JSON lines to (``gdbext/capture_channel.py``: gdb's exit
event and ``$_exitsignal``, the zombie's status in ``/proc`` when the
program is killed while gdb is inside a breakpoint's ``stop()``, each
snapshot hiter-watch wrote).

Exit status:

====  ==========================================================
0     the program exited with status 0 (core: the snapshot was taken)
1     the program exited with a non-zero status
2     bad usage (arguments, no such program, not a Go program, DIR not usable)
3     the program was killed by a signal (SIGKILL included, even inside ``stop()``)
4     the timeout was hit (the program was killed, or detached with --pid)
5     gdb failed: it died, did not start, or did not answer
6     DIR could not be written in full (a full disk): what could be written is there
7     capture itself got SIGINT or SIGTERM (the program was killed, or detached with --pid)
====  ==========================================================

The report itself is ``core/snapshot/callreport.py`` (``gdb-hiter report DIR``
rebuilds it; ``hiter-watch report`` prints the same for a gdb session).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import shutil
import signal
import stat
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from ..core.files import open_new_text, write_atomic
from ..core.messages import one_line
from ..core.snapshot.callreport import CallReport, ReportOptions, directory_diff_command
from ..core.snapshot.capturedir import iter_capture_documents
from ..core.snapshot.document import SNAPSHOT_FILE, SnapshotError, read_snapshot, snapshot_files
from .report import OptionError, add_report_options, report_options

EXIT_OK = 0
EXIT_PROGRAM_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGNAL = 3
EXIT_TIMEOUT = 4
EXIT_GDB = 5
EXIT_WRITE = 6
EXIT_INTERRUPTED = 7

EXIT_CODES_HELP = """exit status:
  0  the program exited with status 0 (--core: the snapshot was taken)
  1  the program exited with a non-zero status
  2  bad usage (arguments, no such program, not a Go program, DIR not usable)
  3  the program was killed by a signal (SIGSEGV, SIGABRT, SIGKILL, ...)
  4  the timeout was hit (the program was killed; with --pid, detached)
  5  gdb failed: it died, did not start, or stopped answering
  6  DIR could not be written in full (a full disk); what could be written is there
  7  capture got SIGINT or SIGTERM (the program was killed; with --pid, detached)
Snapshots written before any failure stay in DIR, with index.json and report.md.
The program's own output is in DIR/program.out."""

PROMPT = "(hiter-capture) "
INDEX_NAME = "index.json"
REPORT_NAME = "report.md"
PROGRAM_OUTPUT = "program.out"


# ---------------------------------------------------------------------------
# DIR: snapshots, index.json, report.md


def _index_entry(name: str, doc: Dict[str, Any], size: int = 0) -> Dict[str, Any]:
    return {"file": name, "seq": doc["seq"], "event": doc["event"], "label": doc.get("label"),
            "cfunc": doc.get("cfunc"), "goroutine": doc.get("goroutine"),
            "maps": len(doc["maps"]), "iterators": len(doc["iterators"]), "bytes": size}


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except OSError:
        return 0


def index_entry(event: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """The index.json entry of a ``snapshot`` event of the capture channel; None unless it names a snapshot file."""
    name, seq = event.get("file"), event.get("seq")
    if not isinstance(name, str) or not SNAPSHOT_FILE.match(name) or type(seq) is not int:
        return None

    def count(value):
        return value if type(value) is int and value >= 0 else 0

    entry = {"file": name, "seq": seq, "event": str(event.get("kind")), "label": event.get("label"),
             "cfunc": event.get("cfunc"), "goroutine": event.get("goroutine"),
             "maps": count(event.get("maps")), "iterators": count(event.get("iterators")),
             "bytes": count(event.get("bytes"))}
    timing = event.get("timing")
    if isinstance(timing, dict):
        entry["timing"] = {str(step): seconds for step, seconds in timing.items()
                           if type(seconds) in (int, float)}
    return entry


def announced_snapshots(directory: str, entries: Sequence[Dict[str, Any]]):
    """(index entries, unreadable notes) of a run from its snapshot events, checked without reading the files.

    An announced file that is gone, empty or no longer a regular file is
    noted, not listed. A snapshot file that no event announced (the one of
    ``--core``, written by ``hiter-snapshot``; one written just before gdb
    died) is read: there are only ever a few.
    """
    listed, notes, seen = [], [], set()
    for entry in sorted(entries, key=lambda item: item["seq"]):
        name = entry["file"]
        if name in seen:
            continue
        seen.add(name)
        path = os.path.join(directory, name)
        try:
            info = os.lstat(path)
        except OSError as error:
            notes.append(f"{path}: announced by hiter-watch, but cannot be found: {error.strerror or error}")
            continue
        if not stat.S_ISREG(info.st_mode):
            notes.append(f"{path}: announced by hiter-watch, but is no longer a regular file")
        elif info.st_size == 0:
            notes.append(f"{path}: announced by hiter-watch, but is empty")
        else:
            listed.append(entry)
    try:
        others = [name for name in snapshot_files(directory) if name not in seen]
    except OSError as error:
        others, notes = [], notes + [f"{directory}: cannot list: {error.strerror or error}"]
    for name in others:
        path = os.path.join(directory, name)
        try:
            listed.append(_index_entry(name, read_snapshot(path), _size(path)))
        except SnapshotError as error:
            notes.append(str(error))
    listed.sort(key=lambda item: item["seq"])
    return listed, notes


def entry_totals(entries: Sequence[Dict[str, Any]]) -> Dict[str, int]:
    """Snapshots, C calls (``cgocall-enter`` snapshots) and bytes of index entries."""
    return {"snapshots": len(entries),
            "c_calls": sum(1 for entry in entries if entry.get("event") == "cgocall-enter"),
            "bytes": sum(entry.get("bytes") or 0 for entry in entries)}


def final_index(outcome: Dict[str, Any], entries: Sequence[Dict[str, Any]], notes: Sequence[str]) -> Dict[str, Any]:
    """index.json once the run is over: ``complete``, how it ended, the snapshots, the totals."""
    index = {"format": "gdb-hiter-capture", "version": 1, "complete": True, **outcome, "snapshots": list(entries),
             "unreadable": list(notes)}
    index["totals"] = {**(outcome.get("totals") or {}), **entry_totals(entries)}
    return index


def _index_text(index: Dict[str, Any]) -> str:
    return json.dumps(index, indent=2, sort_keys=True) + "\n"


def finish_directory(directory: str, outcome: Dict[str, Any],
                     options: Optional[ReportOptions] = None,
                     snapshots: Optional[Sequence[Dict[str, Any]]] = None,
                     unreadable: Sequence[str] = ()) -> Dict[str, Any]:
    """Write index.json, then report.md, from what is in ``directory``; return the index.

    One pass over the snapshots, read one at a time: each goes to the report,
    which keeps only the documents of the C calls still open, and, without
    ``snapshots``, gives its index entry. ``snapshots`` (and ``unreadable``):
    the entries as capture's snapshot events gave them (``announced_snapshots``);
    the index is then written before the pass, and again after it only if a
    snapshot it lists could not be read. Either way the index comes first (it
    is small, and says how the run ended). A report that cannot be written is
    added to the index's ``write_errors`` (and ``exit_code`` becomes 6) if the
    index can be written again; an index that cannot be written raises
    ``OSError`` (after the report was tried).
    """
    entries: List[Dict[str, Any]] = list(snapshots or ())
    notes: List[str] = list(unreadable)
    builder = CallReport(options, "markdown", directory_diff_command(directory), outcome.get("result"))
    builder.unreadable = notes
    failed: Optional[str] = None       # the report's own failure: the index and the snapshots still count
    index_path = os.path.join(directory, INDEX_NAME)
    index: Dict[str, Any] = {}

    def write_index():
        write_atomic(index_path, _index_text(index), follow_symlinks=False)

    index_error = None
    if snapshots is not None:          # from the events: the index does not wait for the report's pass
        index = final_index(outcome, entries, notes)
        try:
            write_index()
        except OSError as error:
            index_error = error
    read = set()
    for name, doc in iter_capture_documents(directory, notes):
        read.add(name)
        if snapshots is None:
            entries.append(_index_entry(name, doc, _size(os.path.join(directory, name))))
        if failed is None:
            try:
                builder.add(doc, name)
            except Exception as error:   # never lose the index over the report
                failed = f"{type(error).__name__}: {error}"
    rewrite = False
    if snapshots is None:
        index = final_index(outcome, entries, notes)
        try:
            write_index()
        except OSError as error:
            index_error = error
    elif any(entry["file"] not in read for entry in entries):   # announced, but the report could not read it
        for entry in entries:
            if entry["file"] not in read and not any(entry["file"] in note for note in notes):
                notes.append(f"{os.path.join(directory, entry['file'])}: gone before the report read it")
        index = final_index(outcome, [entry for entry in entries if entry["file"] in read], notes)
        rewrite = True
    if failed is None:
        try:
            report = builder.finish()
        except Exception as error:
            failed = f"{type(error).__name__}: {error}"
    if failed is not None:
        report = (f"# gdb-hiter capture\n\nThe report could not be built (internal error: "
                  f"{one_line(failed, 300)}); the snapshots are in this directory, and `gdb-hiter report "
                  f"DIR` tries again. Capture: {one_line(str(outcome.get('result')), 300)}\n")
    try:
        write_atomic(os.path.join(directory, REPORT_NAME), report, follow_symlinks=False)
    except OSError as error:
        index["write_errors"] = list(index.get("write_errors") or []) + [
            f"{REPORT_NAME}: {error.strerror or error}"]
        if index.get("exit_code") is not None:
            index["exit_code"] = EXIT_WRITE
        rewrite = True
    if rewrite and index_error is None:
        try:
            write_index()
        except OSError:
            pass          # the first index stands; the exit status and stderr say the rest
    if index_error is not None:
        raise index_error
    return index


# ---------------------------------------------------------------------------
# The run while it goes: snapshot events → tally, index.json so far, progress line

INDEX_INTERVAL = 1.0          # index.json rewritten at most this often while the run goes
PROGRESS_INTERVAL = 0.25      # the progress line redrawn at most this often (and each second when idle)


def format_bytes(count: int) -> str:
    for unit, size in (("GB", 10 ** 9), ("MB", 10 ** 6), ("kB", 10 ** 3)):
        if count >= size:
            value = count / size
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    return f"{count} B"


def format_elapsed(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def totals_text(totals: Dict[str, Any]) -> str:
    """``32 snapshots, 8 C calls in 4.3 s, 12.1 MB``: the end line's (and the progress line's) words."""
    elapsed = totals.get("elapsed_seconds")
    return (f"{_plural(totals.get('snapshots', 0), 'snapshot')}, {_plural(totals.get('c_calls', 0), 'C call')}"
            + (f" in {format_elapsed(elapsed)}" if elapsed is not None else "")
            + f", {format_bytes(totals.get('bytes', 0))}")


class RunTally:
    """The snapshots of a run so far, as its snapshot events announced them: entries and totals."""

    def __init__(self, started: float):
        self.started = started
        self.entries: List[Dict[str, Any]] = []
        self.c_calls = 0
        self.bytes = 0

    def add(self, entry: Dict[str, Any]) -> None:
        self.entries.append(entry)
        self.c_calls += entry["event"] == "cgocall-enter"
        self.bytes += entry["bytes"]

    def totals(self, now: float) -> Dict[str, Any]:
        return {"snapshots": len(self.entries), "c_calls": self.c_calls, "bytes": self.bytes,
                "elapsed_seconds": round(max(0.0, now - self.started), 1)}


class LiveIndex:
    """index.json while the run goes (``"complete": false``), rewritten at most once every ``INDEX_INTERVAL``.

    After a SIGKILL of capture it says how far the run got (at most
    ``INDEX_INTERVAL`` behind). ``close()`` ends it: the final index (written
    by ``finish_directory``) is never overwritten by a late one.
    """

    def __init__(self, directory: str, outcome: Dict[str, Any], tally: RunTally, interval: float = INDEX_INTERVAL):
        self.path = os.path.join(directory, INDEX_NAME)
        self.base = {key: value for key, value in outcome.items()}
        self.tally, self.interval = tally, interval
        self.lock = threading.Lock()
        self.written_at: Optional[float] = None
        self.written_count = -1
        self.dirty = True
        self.closed = False
        self.error: Optional[str] = None

    def note(self, **fields) -> None:
        with self.lock:
            self.base.update(fields)
            self.dirty = True

    def document(self, now: float) -> Dict[str, Any]:
        return {"format": "gdb-hiter-capture", "version": 1, **self.base, "complete": False,
                "snapshots": list(self.tally.entries), "unreadable": [], "totals": self.tally.totals(now)}

    def pending(self) -> bool:
        return self.dirty or len(self.tally.entries) != self.written_count

    def due(self, now: float) -> Optional[float]:
        """Seconds until the next write is due; None when nothing new is there to write."""
        if self.closed or not self.pending():
            return None
        return 0.0 if self.written_at is None else max(0.0, self.written_at + self.interval - now)

    def write_if_due(self, now: float) -> bool:
        with self.lock:
            if self.due(now) != 0.0:
                return False
            count = len(self.tally.entries)
            document = self.document(now)
            self.written_at, self.written_count, self.dirty = now, count, False
            try:
                write_atomic(self.path, _index_text(document), follow_symlinks=False)
            except OSError as error:     # the final index says it, or fails with it
                self.error = f"{INDEX_NAME}: {error.strerror or error}"
                return False
            return True

    def close(self) -> None:
        with self.lock:
            self.closed = True


class Progress:
    """One line on a terminal, rewritten in place (``\\r``): snapshots, C calls, elapsed time, disk.

    Drawn at most every ``PROGRESS_INTERVAL`` seconds while snapshots come,
    every second otherwise (the elapsed time); nothing when ``stream`` is
    not a terminal. ``clear()`` blanks it before capture's last line.
    """

    def __init__(self, stream, tally: RunTally, enabled: Optional[bool] = None):
        if enabled is None:
            try:
                enabled = stream.isatty()
            except (AttributeError, ValueError, OSError):
                enabled = False
        self.stream, self.tally, self.enabled = stream, tally, enabled
        self.lock = threading.Lock()
        self.drawn_at: Optional[float] = None
        self.drawn_count = -1
        self.shown = 0
        self.frozen = False

    def due(self, now: float) -> Optional[float]:
        if not self.enabled:
            return None
        if self.frozen:
            return None
        if self.drawn_at is None:
            return 0.0
        interval = PROGRESS_INTERVAL if len(self.tally.entries) != self.drawn_count else 1.0
        return max(0.0, self.drawn_at + interval - now)

    def line(self, now: float) -> str:
        return "gdb-hiter: capture: " + totals_text(self.tally.totals(now))

    def draw_if_due(self, now: float) -> None:
        with self.lock:
            if self.frozen or self.due(now) != 0.0:
                return
            self.drawn_at, self.drawn_count = now, len(self.tally.entries)
            self._put(self.line(now))

    def show(self, text: str) -> None:
        """``text`` in place of the line, from then on not redrawn with the counts (the run is ending)."""
        with self.lock:
            self.frozen = True
            if self.enabled:
                self._put(text)

    def _put(self, text: str) -> None:
        try:
            width = os.get_terminal_size(self.stream.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 80
        text = text[:max(10, width - 1)]        # never wrapped: \r must go back to its start
        self._write("\r" + text + " " * max(0, self.shown - len(text)))
        self.shown = len(text)

    def clear(self) -> None:
        with self.lock:
            if self.enabled and self.shown:
                self._write("\r" + " " * self.shown + "\r")
            self.shown = 0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):        # the terminal went away: no more progress
            self.enabled = False


class _Monitor:
    """What the channel's reader thread does with snapshot events: tally, index.json so far, progress."""

    def __init__(self, tally: RunTally, index: Optional[LiveIndex], progress: Optional[Progress],
                 clock=time.monotonic):
        self.tally, self.index, self.progress, self.clock = tally, index, progress, clock
        self.errors: List[str] = []

    def snapshot(self, event: Dict[str, Any]) -> None:
        entry = index_entry(event)
        if entry is not None:
            self.tally.add(entry)

    def timeout(self) -> Optional[float]:
        now = self.clock()
        waits = [wait for wait in (self.index.due(now) if self.index else None,
                                   self.progress.due(now) if self.progress else None) if wait is not None]
        return min(waits) if waits else None

    def tick(self) -> None:
        now = self.clock()
        if self.index is not None:
            self.index.write_if_due(now)
        if self.progress is not None:
            self.progress.draw_if_due(now)


# ---------------------------------------------------------------------------
# Driving gdb


class GdbFailed(Exception):
    pass


class _Interrupted(BaseException):
    """SIGINT or SIGTERM reached capture itself (raised from the signal handler)."""


class _SignalGuard:
    """capture's SIGINT and SIGTERM handler, by phase.

    ``run`` (from the arguments' checks to the end of the run): the first
    signal raises ``_Interrupted``, which stops the program and ends the run;
    ``cleanup`` (stopping gdb, the final index): a signal is noted, not
    raised, since that part is bounded; ``report`` (building report.md,
    which reads every snapshot): a signal raises once more, and the report
    is cut short rather than waited for.
    """

    def __init__(self):
        self.phase = "run"
        self.received: List[str] = []
        self.previous: Dict[int, Any] = {}

    def __call__(self, number, _frame):
        name = _signal_name(number)
        self.received.append(name)
        if self.phase in ("run", "report"):
            self.phase = "cleanup"
            raise _Interrupted(name)

    def install(self) -> None:
        self.previous = {number: signal.signal(number, self) for number in (signal.SIGINT, signal.SIGTERM)}

    def restore(self) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
        self.previous = {}


class _Sink:
    """A file capture writes while the run goes (gdb.log, program.out) that never raises.

    A full disk (or any other write error) stops the writing and is kept in
    ``error``: the run goes on, and the exit status says DIR is incomplete.
    """

    def __init__(self, name: str, stream):
        self.name, self.stream, self.error = name, stream, None
        self.lock = threading.Lock()

    def _guard(self, action, *args):
        with self.lock:
            if self.error is not None or self.stream is None:
                return
            try:
                action(*args)
            except (OSError, ValueError) as error:
                self.error = f"{self.name}: {getattr(error, 'strerror', None) or error}"

    def write(self, text) -> None:
        self._guard(lambda: self.stream.write(text))

    def write_bytes(self, data: bytes) -> None:
        self._guard(lambda: (self.stream.flush(), self.stream.buffer.write(data), self.stream.buffer.flush()))

    def flush(self) -> None:
        self._guard(self.stream.flush)

    def close(self) -> None:
        self._guard(self.stream.flush)
        try:
            self.stream.close()
        except (OSError, ValueError) as error:
            if self.error is None:
                self.error = f"{self.name}: {getattr(error, 'strerror', None) or error}"
        self.stream = None


class _ProgramTerminal:
    """A pseudo-terminal of the program's own (``set inferior-tty``), drained into DIR/program.out.

    The program's output never passes through gdb's terminal, which capture
    reads: nothing it prints can look like gdb's prompt or gdb's messages.
    """

    def __init__(self, sink: _Sink):
        import tty
        self.sink = sink
        self.master, self.slave = os.openpty()
        os.set_blocking(self.master, False)
        tty.setraw(self.slave)          # no echo, no CR added to each newline: program.out is as written
        self.name = os.ttyname(self.slave)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drain, name="program.out", daemon=True)
        self.thread.start()

    def _drain(self) -> None:
        import select
        while True:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if not ready:
                if self.stopping.is_set():
                    return
                continue
            try:
                data = os.read(self.master, 65536)
            except BlockingIOError:
                continue
            except OSError:              # EIO: no one holds the terminal any more
                return
            if not data:
                return
            self.sink.write_bytes(data)

    def close(self) -> None:
        self.stopping.set()
        self.thread.join(10)
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass


class _Channel:
    """The read end of ``gdbext/capture_channel.py``'s pipe: what gdb's Python saw, as events.

    A thread of its own reads it the whole time gdb runs (so gdb never
    blocks on a full pipe, and capture learns of each snapshot the moment it
    is written, while its main thread waits in ``continue``): ``snapshot``
    events go to the ``_Monitor`` (index.json so far, the progress line);
    the others are kept in ``events`` for the main thread (``poll``,
    ``wait_for``). The thread sleeps in ``select`` until data comes or the
    monitor has something due; ``stop()`` reads what is left and ends it.
    """

    def __init__(self, monitor: Optional[_Monitor] = None):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_inheritable(self.write_fd, True)
        self._wake_read, self._wake_write = os.pipe()
        self.monitor = monitor
        self.buffer = b""
        self.events: List[Dict[str, Any]] = []
        self.changed = threading.Condition()
        self.ended = False            # the reader has stopped: every write end is closed, or stop()
        self.errors: List[str] = []   # what went wrong in the reader thread (a bug of ours)
        self.thread = threading.Thread(target=self._read_loop, name="capture channel", daemon=True)
        self.thread.start()

    def _read_loop(self) -> None:
        import select
        try:
            while True:
                timeout = self.monitor.timeout() if self.monitor else None
                ready, _, _ = select.select([self.read_fd, self._wake_read], [], [], timeout)
                at_end = self._drain() if self.read_fd in ready or self._wake_read in ready else False
                if self.monitor:
                    self._guarded(self.monitor.tick)
                if at_end or self._wake_read in ready:
                    return
        except Exception as error:   # never silent, never a traceback: the final index is built without us
            self._note(error)
        finally:
            with self.changed:
                self.ended = True
                self.changed.notify_all()

    def _note(self, error: BaseException) -> None:
        if len(self.errors) < 20:
            self.errors.append(f"capture channel: internal error: {type(error).__name__}: {error}")

    def _guarded(self, action, *args) -> None:
        """A monitor's step; a bug there must not stop the reading (gdb would block on a full pipe)."""
        try:
            action(*args)
        except Exception as error:
            self._note(error)

    def _drain(self) -> bool:
        """Read what is in the pipe and hand it out; True at end of file (gdb is gone)."""
        at_end = False
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                at_end = True
                break
            if not data:
                at_end = True
                break
            self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        others = []
        for line in lines:
            try:
                event = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            if event.get("event") == "snapshot":
                if self.monitor:
                    self._guarded(self.monitor.snapshot, event)
            else:
                others.append(event)
        if others:
            with self.changed:
                self.events.extend(others)
                self.changed.notify_all()
        return at_end

    def poll(self) -> List[Dict[str, Any]]:
        """Every event so far (snapshot events aside)."""
        with self.changed:
            return list(self.events)

    def wait_for(self, kind: str, seconds: float, since: int = 0) -> Optional[Dict[str, Any]]:
        deadline = time.monotonic() + seconds
        with self.changed:
            while True:
                found = [event for event in self.events[since:] if event.get("event") == kind]
                if found:
                    return found[-1]
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    return None
                self.changed.wait(left)

    def close_write_end(self) -> None:
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def stop(self, seconds: float = 10) -> None:
        """Read what is left (gdb has gone, or is going) and end the reader thread."""
        self.close_write_end()
        try:
            os.write(self._wake_write, b"x")
        except OSError:
            pass
        self.thread.join(seconds)

    def close(self) -> None:
        self.stop()
        if self.thread.is_alive():
            return                   # stuck (a disk that does not answer): leave its fds to the exit
        for fd in (self.read_fd, self._wake_read, self._wake_write):
            try:
                os.close(fd)
            except OSError:
                pass


class Session:
    """gdb under pexpect with a prompt of our own; ``pass_fds`` are kept open in gdb."""

    def __init__(self, argv: List[str], log, env: Dict[str, str], pass_fds: Sequence[int] = ()):
        import pexpect
        import ptyprocess

        class _Spawn(pexpect.spawn):
            def _spawnpty(self, args, **kwargs):
                return ptyprocess.PtyProcess.spawn(args, pass_fds=tuple(pass_fds), **kwargs)

        self.pexpect = pexpect
        self.log = log
        self.child = _Spawn(argv[0], argv[1:], encoding="utf-8", codec_errors="replace",
                            env=env, timeout=None, maxread=65536, dimensions=(24, 500))
        self.child.logfile_read = log
        self.wait_prompt(60)

    def wait_prompt(self, timeout: Optional[float]) -> str:
        """The text before the next prompt; ``TimeoutError`` / ``GdbFailed`` (EOF)."""
        try:
            self.child.expect_exact(PROMPT, timeout=timeout)
        except self.pexpect.TIMEOUT:
            raise TimeoutError from None
        except self.pexpect.EOF:
            raise GdbFailed("gdb exited unexpectedly") from None
        return self.child.before

    def command(self, line: str, timeout: Optional[float] = 120) -> str:
        self.child.sendline(line)
        return self.wait_prompt(timeout)

    def close(self) -> Optional[int]:
        if self.child.isalive():
            try:
                self.child.sendline("quit")
                self.child.expect(self.pexpect.EOF, timeout=10)
            except (self.pexpect.TIMEOUT, self.pexpect.EOF, OSError):
                pass
        if self.child.isalive():
            self.child.terminate(force=True)
        try:
            self.child.wait()
        except Exception:
            pass
        self.child.close()
        if self.child.signalstatus:
            return -self.child.signalstatus
        return self.child.exitstatus


CHANNEL_MODULE = "gdb_hiter.gdbext.capture_channel"


def _channel_call(call: str) -> str:
    """The gdb command that runs ``capture_channel.CALL``."""
    return f"python import {CHANNEL_MODULE} as _hiter_channel; _hiter_channel.{call}"


def _gdb_argv(loader: str, channel_fd: int) -> List[str]:
    gdb = shutil.which("gdb")
    if gdb is None:
        raise GdbFailed("gdb is not installed")
    return [gdb, "-nx", "-q",
            "-iex", "set pagination off", "-iex", "set confirm off", "-iex", "set width 0",
            "-iex", "set height 0", "-iex", "set style enabled off", "-iex", "set startup-with-shell off",
            "-iex", f"set prompt {PROMPT}",
            "-ex", f"source {loader}",
            "-ex", _channel_call(f"open_channel({channel_fd})"),
            "-ex", "set print thread-events off", "-ex", "set print inferior-events on"]


def _signal_handling(session: Session) -> None:
    # Go uses these itself (preemption, profiling, broken pipes): let them through silently.
    for signal_name in ("SIGURG", "SIGPIPE", "SIGPROF", "SIGCHLD", "SIGWINCH", "SIGUSR1", "SIGUSR2", "SIGALRM"):
        session.command(f"handle {signal_name} nostop noprint pass")


def _watch_line(args) -> str:
    parts = ["hiter-watch"] + [shlex.quote(expr) for expr in args.map]
    if args.iterators or not args.map:
        parts.append("--iterators")
    parts += ["--out", shlex.quote(args.out), "--events", args.events]   # everything: --limit is the report's
    return " ".join(parts)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _took_exit(outcome: Dict[str, Any], event: Optional[Dict[str, Any]]) -> bool:
    """Record gdb's exit event (a status or a signal) in ``outcome``; False when it says neither."""
    if not event or (event.get("exit_code") is None and not event.get("signal")):
        return False
    if event.get("exit_code") is not None:
        outcome["program_exit"] = event["exit_code"]
    else:
        outcome["program_signal"] = event["signal"]
    outcome["program_status_source"] = "gdb"
    return True


def _from_wait_status(outcome: Dict[str, Any], status: int, source: str) -> None:
    if os.WIFSIGNALED(status):
        outcome["program_signal"] = _signal_name(os.WTERMSIG(status))
    elif os.WIFEXITED(status):
        outcome["program_exit"] = os.WEXITSTATUS(status)
    else:
        return
    outcome["program_status_source"] = source


STUCK_LIMIT = 3      # replies "the thread is running" in a row before capture gives up on gdb
LATE_EXIT_SECONDS = 5


def _run_program(session: Session, channel: _Channel, deadline: Optional[float]) -> Dict[str, Any]:
    """Continue until the program exits, dies, or the deadline; what happened, for index.json.

    How it ended comes only from the side channel (``gdbext/capture_channel.py``):
    gdb's exit event; else, when the program died while gdb held it stopped
    (gdb then loses the status), the zombie's wait status read in ``stop()``
    or by a probe; else, a process gone while gdb held it stopped was
    killed by SIGKILL, the only signal that ends a ptrace-stopped process.
    """
    outcome: Dict[str, Any] = {"program_exit": None, "program_signal": None, "signals_received": [],
                               "timeout": False, "program_status_source": None}
    stuck = 0
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError
        seen = len(channel.poll())
        text = session.command("continue", remaining)
        events = channel.poll()[seen:]
        for event in events:
            if event.get("event") == "signal":
                outcome["signals_received"].append(event.get("signal"))
        exited = next((e for e in events if e.get("event") == "exited"), None)
        died = next((e for e in events if e.get("event") == "died"), None)
        if _took_exit(outcome, exited):
            return outcome
        if died is not None and died.get("wait_status") is not None:
            _from_wait_status(outcome, died["wait_status"], "/proc (in stop())")
            if outcome["program_status_source"]:
                return outcome
        if any(event.get("event") == "signal" for event in events):   # passed on: the program handles it
            stuck = 0
            continue
        # No exit and no signal: a stop we did not ask for, or gdb lost the process (it was killed
        # while gdb held it stopped, and gdb failed to resume it). Ask /proc.
        mark = len(channel.poll())
        session.command(_channel_call("probe()"), 30)
        probe = channel.wait_for("probe", 10, since=mark) or {}
        if probe.get("pid") and probe.get("state") not in (None, "Z", "X"):
            stuck = stuck + 1 if "while the selected thread is running" in text else 0
            if stuck >= STUCK_LIMIT:
                raise GdbFailed("gdb lost control of the program (it says its threads are running; see gdb.log)")
            continue                     # alive: a stop we did not ask for (a user breakpoint?)
        late = channel.wait_for("exited", LATE_EXIT_SECONDS if probe.get("pid") else 0.5, since=seen)
        if _took_exit(outcome, late):
            return outcome
        if probe.get("wait_status") is not None:
            _from_wait_status(outcome, probe["wait_status"], "/proc")
            if outcome["program_status_source"]:
                return outcome
        if probe.get("pid") or died is not None:
            # Gone while gdb held it stopped: nothing but SIGKILL ends a ptrace-stopped process.
            outcome["program_signal"] = "SIGKILL"
            outcome["program_status_source"] = "inferred (gone while stopped under gdb)"
        return outcome


def _check_writable(out: str, args) -> None:
    os.makedirs(out, exist_ok=True)
    stale = snapshot_files(out)
    if stale and not args.force:
        raise _Usage(f"{out} already holds snapshots ({stale[0]}, ...): choose another --out or pass --force")
    for name in stale:
        os.unlink(os.path.join(out, name))


def capture(args, guard: Optional[_SignalGuard] = None) -> int:
    from . import loader as loader_module

    started_at = time.monotonic()
    guard = guard or _SignalGuard()
    out = args.out = os.path.abspath(args.out)
    try:
        _check_writable(out, args)
    except _Usage as error:
        print(f"gdb-hiter: capture: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"gdb-hiter: capture: --out {one_line(out)}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    mode = "core" if args.core else ("attach" if args.pid else "run")
    outcome: Dict[str, Any] = {
        "mode": mode, "command": list(args.program) if mode == "run" else None, "pid": args.pid,
        "core": os.path.abspath(args.core) if args.core else None,
        "executable": os.path.abspath(args.exe or args.program[0]) if (args.exe or args.program) else None,
        "events": args.events.split(","), "maps": list(args.map), "iterators": bool(args.iterators or not args.map),
        "timeout_seconds": args.timeout, "timeout": False, "interrupted": None, "program_exit": None,
        "program_signal": None, "program_status_source": None, "program_pid": None,
        "program_output": PROGRAM_OUTPUT if mode == "run" else None,
        "signals_received": [], "watch_errors": [], "write_errors": [], "gdb_exit": None, "exit_code": None,
        "result": None, "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    log_path = os.path.join(out, "gdb.log")
    code, result = EXIT_GDB, "gdb failed"
    session = terminal = channel = None
    env = dict(os.environ, TERM="dumb", NO_COLOR="1")
    deadline = time.monotonic() + args.timeout if args.timeout else None
    sinks: List[_Sink] = []
    try:
        log = _Sink("gdb.log", open_new_text(log_path, encoding="utf-8", errors="replace"))
        sinks.append(log)
        if mode == "run":
            output = _Sink(PROGRAM_OUTPUT, open_new_text(os.path.join(out, PROGRAM_OUTPUT), encoding="utf-8",
                                                         errors="replace"))
            sinks.append(output)
    except OSError as error:
        for sink in sinks:
            sink.close()
        print(f"gdb-hiter: capture: {one_line(log_path if not sinks else os.path.join(out, PROGRAM_OUTPUT))}: "
              f"{error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE

    tally = RunTally(started_at)
    live = LiveIndex(out, outcome, tally)
    progress = Progress(sys.stderr, tally)
    monitor = _Monitor(tally, live, progress)
    try:
        try:
            live.write_if_due(time.monotonic())     # an index from the start: a killed capture leaves one
            channel = _Channel(monitor)
            argv = _gdb_argv(str(loader_module.write_loader()), channel.write_fd)
            if mode == "core":
                argv += [outcome["executable"], outcome["core"]]
            elif mode == "attach":
                argv += ["-p", str(args.pid), outcome["executable"]] if args.exe else ["-p", str(args.pid)]
            else:
                argv += ["--args"] + list(args.program)
            session = Session(argv, log, env, pass_fds=[channel.write_fd])
            channel.close_write_end()          # gdb holds it now: the read end sees EOF when gdb is gone
            if "gdb-hiter" not in session.child.before + (session.command("help gdb-hiter") or ""):
                raise GdbFailed("gdb-hiter did not load (see gdb.log)")
            if not channel.wait_for("ready", 10):
                raise GdbFailed("gdb-hiter's capture channel did not open (see gdb.log)")
            if mode == "core":
                text = session.command(f"hiter-snapshot --all-goroutines --out {shlex.quote(os.path.join(out, '0001-core.json'))}"
                                       + (f" --label {shlex.quote(args.label)}" if args.label else ""), timeout=300)
                if "Snapshot #" not in text:
                    raise GdbFailed("hiter-snapshot failed: " + text.strip().splitlines()[-1] if text.strip()
                                    else "hiter-snapshot failed")
                code, result = EXIT_OK, "one snapshot of the core file"
            else:
                _signal_handling(session)
                if mode == "run":
                    terminal = _ProgramTerminal(output)
                    session.command(f"set inferior-tty {terminal.name}")
                    text = session.command("starti", timeout=60)
                elif "ptrace" in session.child.before or "Could not attach" in session.child.before:
                    raise GdbFailed("could not attach to process " + str(args.pid))
                mark = len(channel.poll())
                session.command(_channel_call("started()"))
                started = channel.wait_for("started", 10, since=mark) or {}
                if not started.get("pid"):
                    raise GdbFailed("the program did not start: " + one_line((text.strip().splitlines() or ["?"])[-1])
                                    if mode == "run" else f"could not attach to process {args.pid}")
                outcome["program_pid"] = started["pid"]
                live.note(program_pid=started["pid"])
                text = session.command(_watch_line(args))
                if "hiter-watch: watching" not in text:
                    raise GdbFailed("hiter-watch failed: " + one_line((text.strip().splitlines() or ["?"])[-1]))
                outcome.update(_run_program(session, channel, deadline))
                if outcome["program_signal"]:
                    code, result = EXIT_SIGNAL, f"the program was killed by {outcome['program_signal']}"
                elif outcome["program_exit"] is not None:
                    status = outcome["program_exit"]
                    code = EXIT_OK if status == 0 else EXIT_PROGRAM_FAILED
                    result = f"the program exited with status {status}"
                else:
                    code, result = EXIT_GDB, "the program stopped running for an unknown reason (see gdb.log)"
        except TimeoutError:
            outcome["timeout"] = True
            progress.show(f"gdb-hiter: capture: timeout after {args.timeout:g}s: stopping the program")
            code, result = EXIT_TIMEOUT, f"timeout after {args.timeout:g}s: " + _stop_program(
                session, mode, outcome["program_pid"], outcome["executable"])
        except _Interrupted as signalled:
            outcome["interrupted"] = str(signalled)
            progress.show(f"gdb-hiter: capture: {signalled}: stopping the program")
            code, result = EXIT_INTERRUPTED, f"interrupted by {signalled}: " + _stop_program(
                session, mode, outcome["program_pid"], outcome["executable"])
        except GdbFailed as error:
            code, result = EXIT_GDB, str(error)
        except loader_module.LoaderError as error:
            code, result = EXIT_GDB, str(error)
        except OSError as error:
            code, result = EXIT_GDB, f"cannot run gdb: {error.strerror or error}"
        finally:
            guard.phase = "cleanup"            # from here on a signal is noted, not raised
            if session is not None:
                outcome["gdb_exit"] = session.close()
                _remove_temporaries(out)
            if channel is not None:
                channel.stop()                 # gdb is gone: every event it sent has been read
                _collect_watch_errors(outcome, channel)
                channel.close()
            live.close()
            if terminal is not None:
                terminal.close()
            for sink in sinks:
                sink.close()
    except _Interrupted as signalled:       # landed before the inner try
        outcome["interrupted"] = str(signalled)
        code, result = EXIT_INTERRUPTED, f"interrupted by {signalled}"
    finally:
        guard.phase = "cleanup"
        live.close()
    return _finish(out, outcome, code, result, sinks, getattr(args, "report", None), tally=tally, guard=guard,
                   progress=progress)


def _collect_watch_errors(outcome: Dict[str, Any], channel: _Channel) -> None:
    if channel.errors:
        outcome["capture_errors"] = list(channel.errors)
    for event in channel.poll():
        if event.get("event") == "watch-error":
            outcome["watch_errors"].append({"message": event.get("message"), "errno": event.get("errno"),
                                            "write": bool(event.get("write"))})
    for event in outcome["watch_errors"]:
        if event["write"]:
            outcome["write_errors"].append(f"snapshot: {event['message']}")


REPORT_CUT = ("# gdb-hiter capture\n\nreport.md was not built: capture got {signal} while building it. "
              "Every snapshot is in this directory, listed in index.json; `gdb-hiter report DIR` builds the "
              "report again.\n\n---\n\nCapture: {result}\n")


def _finish(out: str, outcome: Dict[str, Any], code: int, result: str, sinks: List[_Sink],
            options: Optional[ReportOptions] = None, tally: Optional[RunTally] = None, guard: Optional[_SignalGuard] = None,
            progress: Optional[Progress] = None) -> int:
    """The final index.json and report.md, the exit status, and the one line on stderr.

    With ``tally`` (a run), the index comes from the snapshot events and is
    written once before the report is built, so that it is final even if
    the report never ends; a SIGINT or SIGTERM while the report is built
    (``guard``) cuts the report short instead of waiting for it. Without it,
    both come from the files (``finish_directory``).
    """
    if code == EXIT_GDB and outcome["gdb_exit"] not in (None, 0) and "gdb exited" in result:
        result += f" (status {outcome['gdb_exit']})"
    outcome["write_errors"] += [sink.error for sink in sinks if sink.error]
    if outcome["write_errors"]:
        code = EXIT_WRITE
    outcome["exit_code"], outcome["result"] = code, result
    snapshots, notes, index, lost = None, [], None, None
    index_path = os.path.join(out, INDEX_NAME)
    if tally is not None:
        outcome["totals"] = {"elapsed_seconds": tally.totals(time.monotonic())["elapsed_seconds"]}
        snapshots, notes = announced_snapshots(out, tally.entries)
        index = final_index(outcome, snapshots, notes)
        try:
            write_atomic(index_path, _index_text(index), follow_symlinks=False)
        except OSError as error:
            index, lost = None, f"{INDEX_NAME}: {error.strerror or error}"
    try:
        if guard is not None:
            guard.phase = "report"
        if progress is not None:
            progress.show(f"gdb-hiter: capture: writing report.md from {len(snapshots or ())} snapshot(s)"
                          " (Ctrl-C cuts it short)")
        index, lost = finish_directory(out, outcome, options, snapshots, notes), None
    except _Interrupted as signalled:   # the report cut short: say so in it, and in the index
        outcome["interrupted"] = outcome.get("interrupted") or str(signalled)
        result = outcome["result"] = f"{result}; report.md cut short ({signalled} while it was built)"
        if outcome["exit_code"] != EXIT_WRITE:
            code = outcome["exit_code"] = EXIT_INTERRUPTED
        try:
            write_atomic(os.path.join(out, REPORT_NAME), REPORT_CUT.format(signal=signalled, result=result),
                         follow_symlinks=False)
        except OSError as error:
            outcome["write_errors"].append(f"{REPORT_NAME}: {error.strerror or error}")
            code = outcome["exit_code"] = EXIT_WRITE
        if index is not None:
            index = final_index(outcome, snapshots, notes)
            try:
                write_atomic(index_path, _index_text(index), follow_symlinks=False)
            except OSError:
                pass                 # the index written before the report stands
    except OSError as error:
        if index is None:
            lost = f"{INDEX_NAME}: {error.strerror or error}"
    except Exception as error:   # never a traceback: a snapshot we cannot read, a report we cannot build
        if index is None:
            lost = f"{INDEX_NAME}: internal error: {type(error).__name__}: {error}"
        else:
            outcome["write_errors"].append(f"{REPORT_NAME}: internal error: {type(error).__name__}: {error}")
            code = outcome["exit_code"] = EXIT_WRITE
            index = final_index(outcome, snapshots, notes)
            try:
                write_atomic(index_path, _index_text(index), follow_symlinks=False)
            except OSError:
                pass
    finally:
        if guard is not None:
            guard.phase = "cleanup"
        if progress is not None:
            progress.clear()
    if index is not None:
        totals, failed = dict(index["totals"]), index.get("write_errors") or []
    else:
        entries = snapshots if snapshots is not None else [
            {"file": name, "event": SNAPSHOT_FILE.match(name).group(2), "bytes": _size(os.path.join(out, name))}
            for name in _listing(out)]
        totals, failed = entry_totals(entries), outcome["write_errors"]
    if tally is not None:
        totals["elapsed_seconds"] = time.monotonic() - tally.started
    if failed or lost:
        code = EXIT_WRITE
        what = (f"{lost} (so no index)" if lost else f"{len(failed)} write error(s), listed in {INDEX_NAME}")
        first = f"; the first: {failed[0]}" if failed else ""
        print(one_line(f"gdb-hiter: capture: {result}; {out} is incomplete: {what}{first}; "
                       f"{totals_text(totals)} kept", 1000), file=sys.stderr)
        return code
    print(one_line(f"gdb-hiter: capture: {result}; {totals_text(totals)} in {out} (report.md, index.json)", 1000),
          file=sys.stderr)
    return code


def _listing(directory: str) -> List[str]:
    try:
        return snapshot_files(directory)
    except OSError:
        return []


STOP_GRACE = 5.0     # seconds gdb gets to come back to its prompt after capture's Ctrl-C


def _stop_program(session: Optional[Session], mode: str, program_pid: Optional[int] = None,
                  executable: Optional[str] = None) -> str:
    """Interrupt the program (Ctrl-C to gdb), then kill it (run) or detach (--pid).

    gdb does not look at its Ctrl-C while a breakpoint's ``stop()`` runs
    (a snapshot under way): a program started by capture is not waited for
    longer than ``STOP_GRACE`` seconds, it is killed with gdb, and the
    snapshot under way is lost. An attached program is waited for (killing
    gdb would leave it with breakpoints in its code), then detached.
    """
    if session is None or not session.child.isalive():
        return "gdb was not running"
    try:
        session.child.sendintr()
        session.wait_prompt(STOP_GRACE if mode == "run" else 15)
    except GdbFailed:
        pass
    except TimeoutError:
        if mode == "run" and program_pid:
            _kill_program(program_pid, executable)
            session.child.kill(signal.SIGKILL)
            return f"gdb did not stop within {STOP_GRACE:g}s: it and the program were killed"
    try:
        session.command("hiter-watch off", timeout=15)
        if mode == "attach":
            session.command("detach", timeout=15)
            return "detached from the program (it goes on running)"
        session.command("kill", timeout=15)
        return "the program was killed"
    except (TimeoutError, GdbFailed):
        return "gdb did not answer; it was killed"


def _kill_program(pid: int, executable: Optional[str]) -> None:
    """SIGKILL the program capture started (gdb, its parent, is busy in ``stop()`` and cannot reap it)."""
    try:
        if executable and os.path.realpath(f"/proc/{pid}/exe") != os.path.realpath(executable):
            return
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _remove_temporaries(directory: str) -> None:
    """The temporary files of a snapshot gdb was writing when it was killed (``.NNNN-<event>.json.*.tmp``)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(".") and name.endswith(".tmp") and SNAPSHOT_FILE.match(name[1:].split(".json.")[0] + ".json"):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


# ---------------------------------------------------------------------------
# The command line


class _Usage(Exception):
    pass


def _check_args(args) -> None:
    modes = sum(1 for on in (bool(args.program), args.pid is not None, args.core is not None) if on)
    if modes != 1:
        raise _Usage("give exactly one of: -- PROGRAM ARGS..., --pid PID, --core CORE --exe EXE")
    if args.core is not None:
        if not args.exe:
            raise _Usage("--core needs --exe EXE (the executable that dumped it)")
        for path in (args.core, args.exe):
            if not os.path.isfile(path):
                raise _Usage(f"{path}: no such file")
    if args.program:
        program = args.program[0]
        if os.sep not in program and shutil.which(program):
            args.program[0] = shutil.which(program)
        elif not os.path.isfile(program):
            raise _Usage(f"{program}: no such program")
        if not os.access(args.program[0], os.X_OK):
            raise _Usage(f"{program}: not executable")
    if args.exe and not os.path.isfile(args.exe):
        raise _Usage(f"{args.exe}: no such file")
    events = [item for item in args.events.split(",") if item]
    if not events or any(item not in ("cgocall", "cgocallback") for item in events):
        raise _Usage(f"--events {args.events}: a list of cgocall, cgocallback")
    if args.timeout is not None and args.timeout <= 0:
        raise _Usage("--timeout must be a positive number of seconds")
    try:
        args.report = report_options(args)
    except OptionError as error:
        raise _Usage(str(error)) from None
    if args.core is not None:
        _check_go_program(args.exe, needs_cgo=False)
    elif args.program:
        _check_go_program(args.program[0], needs_cgo=True)
    elif args.exe:
        _check_go_program(args.exe, needs_cgo=True)
    elif args.pid is not None:
        try:
            executable = os.readlink(f"/proc/{args.pid}/exe")
        except OSError as error:
            raise _Usage(f"--pid {args.pid}: {'no such process' if error.errno == errno.ENOENT else error.strerror}")
        _check_go_program(f"/proc/{args.pid}/exe", needs_cgo=True, shown=executable)


CGO_SYMBOLS = ("runtime.cgocall", "runtime.cgocallbackg")


def _check_go_program(path: str, needs_cgo: bool, shown: Optional[str] = None) -> None:
    """A usage error unless ``path`` is a Go executable with the symbols hiter-watch breaks on."""
    from elftools.common.exceptions import ELFError
    from ..core.program.elfinfo import NotAnExecutable, describe_executable, symbol_value
    from ..core.program.goversion import NotGoProgram
    from elftools.elf.elffile import ELFFile

    shown = shown or path
    try:
        facts = describe_executable(path)
    except (NotAnExecutable, NotGoProgram, ELFError) as error:
        text = str(error) if shown == path else f"{shown} ({path}): {error}"
        raise _Usage(text if "Go program" in text else f"{text}: not a Go program") from None
    except (OSError, ValueError) as error:
        raise _Usage(f"{shown}: cannot read it as a Go program ({error})") from None
    if not needs_cgo:
        return
    if not facts.symbols:
        raise _Usage(f"{shown}: has no symbol table (stripped): capture needs {', '.join(CGO_SYMBOLS)}")
    try:
        with open(path, "rb") as stream:
            missing = [name for name in CGO_SYMBOLS if symbol_value(ELFFile(stream), name) is None]
    except (OSError, ELFError) as error:
        raise _Usage(f"{shown}: cannot read its symbols ({error})") from None
    if missing:
        raise _Usage(f"{shown}: has no {', '.join(missing)}: not a program capture can watch")


def cmd_capture(args) -> int:
    if args.program and args.program[0] == "--":
        args.program = args.program[1:]
    guard = _SignalGuard()
    guard.install()             # from here on, Ctrl-C is one line and exit status 7, never a traceback
    try:
        try:
            _check_args(args)
        except _Usage as error:
            print(f"gdb-hiter: capture: {one_line(str(error))}", file=sys.stderr)
            return EXIT_USAGE
        return capture(args, guard)
    except _Interrupted as signalled:      # before the run began (checking the program, preparing DIR)
        print(f"gdb-hiter: capture: interrupted by {signalled} before gdb was started; no snapshot taken",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        guard.restore()


def add_capture_command(subparsers) -> None:
    """Register ``capture`` on the ``gdb-hiter`` parser's subcommands."""
    parser = subparsers.add_parser(
        "capture", help="run a program under gdb and snapshot its maps and iterators at every cgo transition",
        description="Run PROGRAM under gdb (or attach to --pid, or read --core), snapshot maps and map "
                    "iterators at every cgo call and callback, and leave in DIR the snapshots "
                    "(NNNN-<event>.json, written as taken), index.json and report.md.",
        epilog=EXIT_CODES_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map", action="append", default=[], metavar="EXPR",
                        help="a map to snapshot (a Go expression, resolved at each transition); repeatable")
    parser.add_argument("--iterators", action="store_true",
                        help="snapshot every map a live iterator of the calling goroutine walks "
                             "(the default without --map)")
    parser.add_argument("--events", default="cgocall,cgocallback", metavar="LIST",
                        help="cgocall, cgocallback or both (default: %(default)s)")
    parser.add_argument("--out", default="hiter-capture", metavar="DIR", help="where to write (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="replace the snapshots already in DIR")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds (exit status 4)")
    parser.add_argument("--pid", type=int, help="attach to a running process instead of starting one")
    parser.add_argument("--core", metavar="CORE", help="one snapshot (event core) of a core file; needs --exe")
    parser.add_argument("--exe", metavar="EXE", help="the executable, for --core (and optionally --pid)")
    parser.add_argument("--label", help="a label for the --core snapshot")
    add_report_options(parser, limit_help="keys listed per change of a map in report.md (default %(default)s; "
                                          "0 all); every entry is captured whatever it is")
    parser.add_argument("program", nargs=argparse.REMAINDER, metavar="-- PROGRAM ARGS",
                        help="the program to run and its arguments")
    parser.set_defaults(handler=cmd_capture)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="gdb-hiter")
    add_capture_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
