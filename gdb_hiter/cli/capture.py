"""``gdb-hiter capture``: run a program under the real gdb, snapshot every cgo transition, report.

Pure Python outside gdb: it drives ``gdb -nx -q`` through pexpect, loads
gdb-hiter with the generated loader, installs ``hiter-watch`` (which writes
each snapshot to DIR the moment it is taken) and lets the program run to its
end or the timeout. Then it writes, from the files in DIR alone,
``index.json`` (what was captured and how the run ended) and ``report.md``
(what changed across each C call). Whatever happens — the program crashes, is
killed, hangs, gdb dies, the disk fills up, capture gets Ctrl-C — the
snapshots written so far stay, the index and the report are written if
they can be, and the exit status and one line on stderr say what happened.

Nothing the program prints can fool it. The program gets a terminal of its
own (``set inferior-tty``, a pseudo-terminal capture drains into
``DIR/program.out``), so gdb's terminal, where capture waits for its
prompt, carries only gdb's and gdb-hiter's words; and how the program ended
is never read from that text at all but from a pipe that gdb-hiter's Python
inside gdb writes JSON lines to (``gdbext/capture_channel.py``: gdb's exit
event and ``$_exitsignal``, the zombie's status in ``/proc`` when the
program is killed while gdb is inside a breakpoint's ``stop()``).

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
import sys
import threading
import time
from typing import Any, Dict, List, Optional, Sequence

from ..core.files import open_new_text, write_atomic
from ..core.messages import one_line
from ..core.snapshot.callreport import CallReport, ReportOptions, directory_diff_command
from ..core.snapshot.capturedir import iter_capture_documents
from ..core.snapshot.document import snapshot_files
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


def _index_entry(name: str, doc: Dict[str, Any]) -> Dict[str, Any]:
    return {"file": name, "seq": doc["seq"], "event": doc["event"], "label": doc.get("label"),
            "cfunc": doc.get("cfunc"), "goroutine": doc.get("goroutine"),
            "maps": len(doc["maps"]), "iterators": len(doc["iterators"])}


def finish_directory(directory: str, outcome: Dict[str, Any],
                     options: Optional[ReportOptions] = None) -> Dict[str, Any]:
    """Write index.json, then report.md, from what is in ``directory``; return the index.

    One pass over the snapshots, read one at a time: each gives its index entry
    and goes to the report, which keeps only the documents of the C calls still
    open. The index is written first (it is small, and says how the run ended).
    A report that cannot be written is added to the index's ``write_errors``
    (and ``exit_code`` becomes 6) if the index can be written again; an index
    that cannot be written raises ``OSError`` (after the report was tried).
    """
    entries: List[Dict[str, Any]] = []
    notes: List[str] = []
    builder = CallReport(options, "markdown", directory_diff_command(directory), outcome.get("result"))
    builder.unreadable = notes
    failed: Optional[str] = None       # the report's own failure: the index and the snapshots still count
    for name, doc in iter_capture_documents(directory, notes):
        entries.append(_index_entry(name, doc))
        if failed is None:
            try:
                builder.add(doc, name)
            except Exception as error:   # never lose the index over the report
                failed = f"{type(error).__name__}: {error}"
    index = {"format": "gdb-hiter-capture", "version": 1, **outcome, "snapshots": entries,
             "unreadable": notes}
    index_path = os.path.join(directory, INDEX_NAME)

    def write_index():
        write_atomic(index_path, json.dumps(index, indent=2, sort_keys=True) + "\n", follow_symlinks=False)

    index_error = None
    try:
        write_index()
    except OSError as error:
        index_error = error
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
        if index_error is None:
            try:
                write_index()
            except OSError:
                pass          # the first index stands; the exit status and stderr say the rest
    if index_error is not None:
        raise index_error
    return index


# ---------------------------------------------------------------------------
# Driving gdb


class GdbFailed(Exception):
    pass


class _Interrupted(BaseException):
    """SIGINT or SIGTERM reached capture itself (raised from the signal handler)."""


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
    """The read end of ``gdbext/capture_channel.py``'s pipe: what gdb's Python saw, as events."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        os.set_inheritable(self.write_fd, True)
        self.buffer = b""
        self.events: List[Dict[str, Any]] = []

    def poll(self, wait: float = 0.0) -> List[Dict[str, Any]]:
        """Read what is there (waiting up to ``wait`` seconds for something); every event so far."""
        import select
        if wait:
            select.select([self.read_fd], [], [], wait)
        while True:
            try:
                data = os.read(self.read_fd, 65536)
            except BlockingIOError:
                break
            except OSError:
                break
            if not data:
                break
            self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            try:
                event = json.loads(line.decode("utf-8", "replace"))
            except ValueError:
                continue
            if isinstance(event, dict):
                self.events.append(event)
        return self.events

    def wait_for(self, kind: str, seconds: float, since: int = 0) -> Optional[Dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while True:
            found = [event for event in self.poll()[since:] if event.get("event") == kind]
            if found:
                return found[-1]
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.poll(min(left, 0.5))

    def close_write_end(self) -> None:
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def close(self) -> None:
        self.close_write_end()
        os.close(self.read_fd)


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


def capture(args) -> int:
    from . import loader as loader_module

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

    interrupted: List[str] = []

    def on_signal(number, _frame):
        name = _signal_name(number)
        if not interrupted:
            interrupted.append(name)
            raise _Interrupted(name)
        # a second Ctrl-C while capture cleans up: the cleanup is bounded, let it finish

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            channel = _Channel()
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
            code, result = EXIT_TIMEOUT, f"timeout after {args.timeout:g}s: " + _stop_program(session, mode)
        except _Interrupted as signalled:
            outcome["interrupted"] = str(signalled)
            code, result = EXIT_INTERRUPTED, f"interrupted by {signalled}: " + _stop_program(session, mode)
        except GdbFailed as error:
            code, result = EXIT_GDB, str(error)
        except loader_module.LoaderError as error:
            code, result = EXIT_GDB, str(error)
        except OSError as error:
            code, result = EXIT_GDB, f"cannot run gdb: {error.strerror or error}"
        finally:
            interrupted.append("cleanup")      # from here on a signal is noted, not raised
            if session is not None:
                outcome["gdb_exit"] = session.close()
            if channel is not None:
                _collect_watch_errors(outcome, channel)
                channel.close()
            if terminal is not None:
                terminal.close()
            for sink in sinks:
                sink.close()
    except _Interrupted as signalled:       # landed between the handler's install and the inner try
        outcome["interrupted"] = str(signalled)
        code, result = EXIT_INTERRUPTED, f"interrupted by {signalled}"
    finally:
        interrupted.append("cleanup")
    try:
        return _finish(out, outcome, code, result, sinks, getattr(args, "report", None))
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _collect_watch_errors(outcome: Dict[str, Any], channel: _Channel) -> None:
    for event in channel.poll():
        if event.get("event") == "watch-error":
            outcome["watch_errors"].append({"message": event.get("message"), "errno": event.get("errno"),
                                            "write": bool(event.get("write"))})
    for event in outcome["watch_errors"]:
        if event["write"]:
            outcome["write_errors"].append(f"snapshot: {event['message']}")


def _finish(out: str, outcome: Dict[str, Any], code: int, result: str, sinks: List[_Sink],
            options: Optional[ReportOptions] = None) -> int:
    if code == EXIT_GDB and outcome["gdb_exit"] not in (None, 0) and "gdb exited" in result:
        result += f" (status {outcome['gdb_exit']})"
    outcome["write_errors"] += [sink.error for sink in sinks if sink.error]
    if outcome["write_errors"]:
        code = EXIT_WRITE
    outcome["exit_code"], outcome["result"] = code, result
    try:
        index = finish_directory(out, outcome, options)
        count, failed, lost = len(index["snapshots"]), index.get("write_errors") or [], None
    except OSError as error:
        count, failed = len(snapshot_files(out)), outcome["write_errors"]
        lost = f"{INDEX_NAME}: {error.strerror or error}"
    except Exception as error:   # never a traceback: a snapshot we cannot read, a report we cannot build
        count, failed = len(snapshot_files(out)), outcome["write_errors"]
        lost = f"{INDEX_NAME}: internal error: {type(error).__name__}: {error}"
    if failed or lost:
        code = EXIT_WRITE
        what = (f"{lost} (so no index)" if lost else f"{len(failed)} write error(s), listed in {INDEX_NAME}")
        first = f"; the first: {failed[0]}" if failed else ""
        print(one_line(f"gdb-hiter: capture: {result}; {out} is incomplete: {what}{first}; "
                       f"{count} snapshot(s) kept", 1000), file=sys.stderr)
        return code
    print(one_line(f"gdb-hiter: capture: {result}; {count} snapshot(s) in {out} (report.md, index.json)", 1000),
          file=sys.stderr)
    return code


def _stop_program(session: Optional[Session], mode: str) -> str:
    """Interrupt the program (Ctrl-C), then kill it (run) or detach (--pid)."""
    if session is None or not session.child.isalive():
        return "gdb was not running"
    try:
        session.child.sendintr()
        session.wait_prompt(15)
    except (TimeoutError, GdbFailed):
        pass
    try:
        session.command("hiter-watch off", timeout=15)
        if mode == "attach":
            session.command("detach", timeout=15)
            return "detached from the program (it goes on running)"
        session.command("kill", timeout=15)
        return "the program was killed"
    except (TimeoutError, GdbFailed):
        return "gdb did not answer; it was killed"


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
    try:
        _check_args(args)
    except _Usage as error:
        print(f"gdb-hiter: capture: {one_line(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    return capture(args)


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
