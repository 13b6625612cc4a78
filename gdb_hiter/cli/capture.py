"""``gdb-hiter capture``: run a program under the real gdb, snapshot every cgo transition, report.

Pure Python outside gdb: it drives ``gdb -nx -q`` through pexpect, loads
gdb-hiter with the generated loader, installs ``hiter-watch`` (which writes
each snapshot to DIR the moment it is taken) and lets the program run to its
end or the timeout. Then it writes, from the files in DIR alone,
``index.json`` (what was captured and how the run ended) and ``report.md``
(the diff across each C call). Whatever happens — the program crashes,
hangs, or gdb dies — the snapshots written so far stay, the index and the
report are written, and the exit status and one line on stderr say what
happened.

Exit status:

====  ==========================================================
0     the program exited with status 0 (core: the snapshot was taken)
1     the program exited with a non-zero status
2     bad usage (arguments, no such program, DIR not writable)
3     the program was killed by a signal
4     the timeout was hit (the program was killed, or detached with --pid)
5     gdb failed: it died, did not start, or did not answer
====  ==========================================================

``transition_report`` (the pairing of enter/return snapshots and their
diffs) is also what ``hiter-watch report`` prints inside gdb.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import sys
import time
from typing import Any, Dict, List, Optional, Sequence

from ..core.files import open_new_text, write_atomic
from ..core.snapshot.diff import diff_snapshots
from ..core.snapshot.report import render_diff
from ..core.snapshot.document import SnapshotError, read_snapshot, snapshot_files  # noqa: F401 (tests, watch)

EXIT_OK = 0
EXIT_PROGRAM_FAILED = 1
EXIT_USAGE = 2
EXIT_SIGNAL = 3
EXIT_TIMEOUT = 4
EXIT_GDB = 5

EXIT_CODES_HELP = """exit status:
  0  the program exited with status 0 (--core: the snapshot was taken)
  1  the program exited with a non-zero status
  2  bad usage (arguments, no such program, DIR not writable)
  3  the program was killed by a signal (SIGSEGV, SIGABRT, ...)
  4  the timeout was hit (the program was killed; with --pid, detached)
  5  gdb failed: it died, did not start, or stopped answering
Snapshots written before any failure stay in DIR, with index.json and report.md."""

PROMPT = "(hiter-capture) "
INDEX_NAME = "index.json"
REPORT_NAME = "report.md"


# ---------------------------------------------------------------------------
# The report: what happened during each C call


def _where(doc: Dict[str, Any]) -> str:
    location = doc.get("location") or {}
    if not location:
        return ""
    return f" from {location.get('function')} ({os.path.basename(location.get('file') or '?')}:{location.get('line')})"


def pair_transitions(docs: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """C calls as ``{enter, return (or None), callbacks: [{enter, return}]}`` in order, per goroutine.

    A callback pairs with the innermost C call of the same goroutine that
    was open when it started; an enter whose return was never captured has
    ``return`` None.
    """
    calls: List[Dict[str, Any]] = []
    stacks: Dict[Any, List[Dict[str, Any]]] = {}
    loose: List[Dict[str, Any]] = []
    for doc in sorted(docs, key=lambda d: d["seq"]):
        event, stack = doc["event"], stacks.setdefault(doc.get("goroutine"), [])
        kind, _, phase = event.rpartition("-")
        if kind not in ("cgocall", "cgocallback"):
            continue
        if phase == "enter":
            item = {"kind": kind, "enter": doc, "return": None, "callbacks": []}
            if kind == "cgocall":
                calls.append(item)
            else:
                owner = next((open_ for open_ in reversed(stack) if open_["kind"] == "cgocall"), None)
                (owner["callbacks"] if owner else loose).append(item)
            stack.append(item)
        else:
            for index in range(len(stack) - 1, -1, -1):
                if stack[index]["kind"] == kind:
                    stack[index]["return"] = doc
                    del stack[index:]
                    break
    for item in loose:   # callbacks outside any captured C call (a C thread, or --events cgocallback)
        calls.append({"kind": "cgocallback", "enter": item["enter"], "return": item["return"], "callbacks": []})
    calls.sort(key=lambda item: item["enter"]["seq"])
    return calls


def _demote(markdown: str, levels: int) -> str:
    prefix = "#" * levels
    return "\n".join(prefix + line if line.startswith("#") else line for line in markdown.splitlines()) + "\n"


def _indent(text: str, by: str = "    ") -> str:
    return "".join(by + line if line.strip() else line for line in text.splitlines(True))


def transition_report(docs: Sequence[Dict[str, Any]], fmt: str = "markdown") -> str:
    """For each C call (cgocall-enter .. -return): what changed during it, and during each callback in it.

    First a summary (one entry per C call and callback: the diff's own
    summary sentences), then each diff in full.
    """
    calls = pair_transitions(docs)
    markdown = fmt == "markdown"
    first = docs[0] if docs else {}
    go = first.get("go") or {}
    program = (first.get("program") or {}).get("path")
    count = sum(1 for item in calls if item["kind"] == "cgocall")
    head = (f"{len(docs)} snapshot(s) of {program or 'the program'} ({go.get('go_version')}, "
            f"{go.get('map_impl')} maps); {count} C call(s)")
    sections = []     # (level, title, diff or None)
    number = 0
    for item in calls:
        enter, ret = item["enter"], item["return"]
        if item["kind"] == "cgocall":
            number += 1
            title = f"C call {number}: {enter.get('cfunc')}{_where(enter)}, goroutine {enter.get('goroutine')}"
        else:
            title = f"Callback {enter.get('cfunc')} (outside any captured C call), goroutine {enter.get('goroutine')}"
        span = f"#{enter['seq']} → #{ret['seq']}" if ret else f"#{enter['seq']} → (no return captured)"
        sections.append((1, f"{title} ({span})", diff_snapshots(enter, ret) if ret else None))
        for callback in item["callbacks"]:
            cb_enter, cb_return = callback["enter"], callback["return"]
            cb_span = (f"#{cb_enter['seq']} → #{cb_return['seq']}" if cb_return
                       else f"#{cb_enter['seq']} → (no return captured)")
            sections.append((2, f"Callback {cb_enter.get('cfunc')} inside it ({cb_span})",
                             diff_snapshots(cb_enter, cb_return) if cb_return else None))
    never = {1: "The call never returned while the capture ran (the program crashed, exited or was "
                "stopped inside it).", 2: "The callback never returned while the capture ran."}

    out: List[str] = []
    if markdown:
        out.append("# gdb-hiter: what changed across each cgo call\n\n" + head + ".\n\n## Summary\n")
    else:
        out.append("gdb-hiter: what changed across each cgo call\n" + head + ".\n\nSummary\n")
    for level, title, diff in sections:
        indent = "  " * (level - 1)
        out.append(f"\n{indent}- {'**' + title + '**' if markdown else title}\n" if markdown or level == 1
                   else f"{indent}- {title}\n")
        for sentence in (diff["summary"] if diff else [never[level]]):
            out.append(f"{indent}  - {sentence}\n")
    for level, title, diff in sections:
        if markdown:
            out.append(("\n## " if level == 1 else "\n### ") + title + "\n")
        else:
            out.append(("\n== " if level == 1 else "\n  -- ") + title + "\n")
        if diff is None:
            out.append("\n" + never[level] + "\n")
            continue
        body = render_diff(diff, fmt if markdown else "text")
        out.append("\n" + (_demote(body, level) if markdown else _indent(body, "    " * level)))
    return "".join(out)


# ---------------------------------------------------------------------------
# DIR: snapshots, index.json, report.md


def read_captured(directory: str):
    """(documents, index entries, notes) of the snapshot files in ``directory``."""
    docs, entries, notes = [], [], []
    for name in snapshot_files(directory):
        try:
            doc = read_snapshot(os.path.join(directory, name))
        except SnapshotError as error:
            notes.append(str(error))
            continue
        docs.append(doc)
        entries.append({"file": name, "seq": doc["seq"], "event": doc["event"], "label": doc.get("label"),
                        "cfunc": doc.get("cfunc"), "goroutine": doc.get("goroutine"),
                        "maps": len(doc["maps"]), "iterators": len(doc["iterators"])})
    return docs, entries, notes


def finish_directory(directory: str, outcome: Dict[str, Any]) -> Dict[str, Any]:
    """Write index.json and report.md from what is in ``directory``; return the index."""
    docs, entries, notes = read_captured(directory)
    index = {"format": "gdb-hiter-capture", "version": 1, **outcome, "snapshots": entries,
             "unreadable": notes}
    write_atomic(os.path.join(directory, INDEX_NAME), json.dumps(index, indent=2, sort_keys=True) + "\n",
                 follow_symlinks=False)
    if docs and any(doc["event"] != "core" for doc in docs):
        report = transition_report(docs, "markdown")
    elif docs:
        from ..core.snapshot.report import render_snapshot
        report = render_snapshot(docs[0], "markdown")
    else:
        report = "# gdb-hiter capture\n\nNo snapshot was taken.\n"
    report += f"\n---\n\nCapture: {outcome.get('result')}\n"
    write_atomic(os.path.join(directory, REPORT_NAME), report, follow_symlinks=False)
    return index


# ---------------------------------------------------------------------------
# Driving gdb


class GdbFailed(Exception):
    pass


class Session:
    """gdb under pexpect with a prompt of our own."""

    def __init__(self, argv: List[str], log, env: Dict[str, str]):
        import pexpect
        self.pexpect = pexpect
        self.log = log
        self.child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", codec_errors="replace",
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


_EXITED = re.compile(r"\[Inferior \d+ \(process (\d+)\) exited (normally|with code (\d+))\]")
_TERMINATED = re.compile(r"Program terminated with signal (SIG\w+)")
_RECEIVED = re.compile(r"(?:Program|Thread \d+ \"[^\"]*\") received signal (SIG\w+)")


def _gdb_argv(loader: str) -> List[str]:
    gdb = shutil.which("gdb")
    if gdb is None:
        raise GdbFailed("gdb is not installed")
    return [gdb, "-nx", "-q",
            "-iex", "set pagination off", "-iex", "set confirm off", "-iex", "set width 0",
            "-iex", "set height 0", "-iex", "set style enabled off", "-iex", "set startup-with-shell off",
            "-iex", f"set prompt {PROMPT}",
            "-ex", f"source {loader}", "-ex", "set print thread-events off",
            "-ex", "set print inferior-events on"]


def _signal_handling(session: Session) -> None:
    # Go uses these itself (preemption, profiling, broken pipes): let them through silently.
    for signal in ("SIGURG", "SIGPIPE", "SIGPROF", "SIGCHLD", "SIGWINCH", "SIGUSR1", "SIGUSR2", "SIGALRM"):
        session.command(f"handle {signal} nostop noprint pass")


def _watch_line(args) -> str:
    parts = ["hiter-watch"] + [shlex.quote(expr) for expr in args.map]
    if args.iterators or not args.map:
        parts.append("--iterators")
    parts += ["--out", shlex.quote(args.out), "--events", args.events]
    if args.limit:
        parts += ["--limit", str(args.limit)]
    return " ".join(parts)


def _run_program(session: Session, args, deadline: float, attach: bool) -> Dict[str, Any]:
    """Continue until the program exits, dies, or the deadline; what happened, for index.json."""
    outcome: Dict[str, Any] = {"program_exit": None, "program_signal": None, "signals_received": [],
                               "timeout": False}
    line = "continue"
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise TimeoutError
        session.child.sendline(line)
        text = session.wait_prompt(remaining)
        exited = _EXITED.search(text)
        if exited:
            outcome["program_exit"] = int(exited.group(3)) if exited.group(3) else 0
            return outcome
        terminated = _TERMINATED.search(text)
        if terminated:
            outcome["program_signal"] = terminated.group(1)
            return outcome
        received = _RECEIVED.search(text)
        if received:                     # pass it on: the program (or the Go runtime) handles it
            outcome["signals_received"].append(received.group(1))
            line = "continue"
            continue
        if "The program is not being run" in text or "No such process" in text or "no longer exists" in text:
            # gdb may report how the process ended only after its prompt
            try:
                index = session.child.expect([_EXITED, _TERMINATED], timeout=10)
            except (session.pexpect.TIMEOUT, session.pexpect.EOF):
                return outcome
            match = session.child.match
            if index == 0:
                outcome["program_exit"] = int(match.group(3)) if match.group(3) else 0
            else:
                outcome["program_signal"] = match.group(1)
            return outcome
        # a stop we did not ask for (a user breakpoint?): go on
        line = "continue"


def capture(args) -> int:
    from . import loader as loader_module

    out = args.out = os.path.abspath(args.out)
    try:
        os.makedirs(out, exist_ok=True)
        stale = snapshot_files(out)
        if stale and not args.force:
            print(f"gdb-hiter: capture: {out} already holds snapshots ({stale[0]}, ...): "
                  f"choose another --out or pass --force", file=sys.stderr)
            return EXIT_USAGE
        for name in stale:
            os.unlink(os.path.join(out, name))
    except OSError as error:
        print(f"gdb-hiter: capture: --out {out}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    mode = "core" if args.core else ("attach" if args.pid else "run")
    outcome: Dict[str, Any] = {
        "mode": mode, "command": list(args.program) if mode == "run" else None, "pid": args.pid,
        "core": os.path.abspath(args.core) if args.core else None,
        "executable": os.path.abspath(args.exe or args.program[0]) if (args.exe or args.program) else None,
        "events": args.events.split(","), "maps": list(args.map), "iterators": bool(args.iterators or not args.map),
        "timeout_seconds": args.timeout, "timeout": False, "program_exit": None, "program_signal": None,
        "signals_received": [], "gdb_exit": None, "exit_code": None, "result": None,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    log_path = os.path.join(out, "gdb.log")
    code, result = EXIT_GDB, "gdb failed"
    session = None
    env = dict(os.environ, TERM="dumb", NO_COLOR="1")
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        log_file = open_new_text(log_path, encoding="utf-8", errors="replace")
    except OSError as error:
        print(f"gdb-hiter: capture: {log_path}: {error.strerror or error}", file=sys.stderr)
        return EXIT_USAGE
    with log_file as log:
        try:
            argv = _gdb_argv(str(loader_module.write_loader()))
            if mode == "core":
                argv += [outcome["executable"], outcome["core"]]
            elif mode == "attach":
                argv += ["-p", str(args.pid), outcome["executable"]] if args.exe else ["-p", str(args.pid)]
            else:
                argv += ["--args"] + list(args.program)
            session = Session(argv, log, env)
            if "gdb-hiter" not in session.child.before + (session.command("help gdb-hiter") or ""):
                raise GdbFailed("gdb-hiter did not load (see gdb.log)")
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
                    text = session.command("starti", timeout=60)
                    if "process" not in text and "Program stopped" not in text:
                        raise GdbFailed("the program did not start: " + (text.strip().splitlines() or ["?"])[-1])
                elif "ptrace" in session.child.before or "Could not attach" in session.child.before:
                    raise GdbFailed("could not attach to process " + str(args.pid))
                text = session.command(_watch_line(args))
                if "hiter-watch: watching" not in text:
                    raise GdbFailed("hiter-watch failed: " + (text.strip().splitlines() or ["?"])[-1])
                ran = _run_program(session, args, deadline, mode == "attach")
                outcome.update(ran)
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
            code, result = EXIT_TIMEOUT, f"timeout after {args.timeout:g}s: " + _stop_after_timeout(session, mode)
        except GdbFailed as error:
            code, result = EXIT_GDB, str(error)
        except loader_module.LoaderError as error:
            code, result = EXIT_GDB, str(error)
        except OSError as error:
            code, result = EXIT_GDB, f"cannot run gdb: {error}"
        finally:
            if session is not None:
                outcome["gdb_exit"] = session.close()
    if code == EXIT_GDB and outcome["gdb_exit"] not in (None, 0) and "gdb exited" in result:
        result += f" (status {outcome['gdb_exit']})"
    outcome["exit_code"], outcome["result"] = code, result
    try:
        index = finish_directory(out, outcome)
    except OSError as error:   # a full disk: the snapshots taken are there, the index is not
        print(f"gdb-hiter: capture: {result}; cannot write index.json/report.md in {out}: "
              f"{error.strerror or error}", file=sys.stderr)
        return code if code != EXIT_OK else EXIT_GDB
    count = len(index["snapshots"])
    print(f"gdb-hiter: capture: {result}; {count} snapshot(s) in {out} (report.md, index.json)",
          file=sys.stderr)
    return code


def _stop_after_timeout(session: Optional[Session], mode: str) -> str:
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
    if args.exe and not os.path.isfile(args.exe):
        raise _Usage(f"{args.exe}: no such file")
    events = [item for item in args.events.split(",") if item]
    if not events or any(item not in ("cgocall", "cgocallback") for item in events):
        raise _Usage(f"--events {args.events}: a list of cgocall, cgocallback")
    if args.timeout is not None and args.timeout <= 0:
        raise _Usage("--timeout must be a positive number of seconds")


def cmd_capture(args) -> int:
    if args.program and args.program[0] == "--":
        args.program = args.program[1:]
    try:
        _check_args(args)
    except _Usage as error:
        print(f"gdb-hiter: capture: {error}", file=sys.stderr)
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
    parser.add_argument("--limit", type=int, metavar="N", help="at most N entries per map (default: all)")
    parser.add_argument("--out", default="hiter-capture", metavar="DIR", help="where to write (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="replace the snapshots already in DIR")
    parser.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds (exit status 4)")
    parser.add_argument("--pid", type=int, help="attach to a running process instead of starting one")
    parser.add_argument("--core", metavar="CORE", help="one snapshot (event core) of a core file; needs --exe")
    parser.add_argument("--exe", metavar="EXE", help="the executable, for --core (and optionally --pid)")
    parser.add_argument("--label", help="a label for the --core snapshot")
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
