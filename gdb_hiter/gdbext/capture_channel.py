"""The side channel of ``gdb-hiter capture``: how the run went, told on a pipe the program cannot reach.

``gdb-hiter capture`` passes gdb the write end of a pipe and, before the
program starts, calls ``open_channel(FD)``; from then on this module writes
one JSON object per line to it:

* ``{"event": "started", "pid": N}`` when capture asks (after ``starti``);
* ``{"event": "signal", "signal": "SIGSEGV"}`` for each stop by a signal
  (``gdb.events.stop``, a ``gdb.SignalEvent``);
* ``{"event": "exited", "exit_code": N | null, "signal": "SIGKILL" | null}``
  when the inferior ends (``gdb.events.exited``; the signal comes from
  gdb's ``$_exitsignal``);
* ``{"event": "died", "pid": N, "wait_status": S}`` when, at the end of a
  ``hiter-watch`` breakpoint's ``stop()``, the process is already a zombie:
  it was killed (only SIGKILL kills a process that ptrace holds stopped)
  while gdb was inside ``stop()``. gdb itself then fails to resume it
  ("Couldn't get registers: No such process"), reaps it and never reports
  how it ended, so this is the only record; ``wait_status`` is the raw
  ``waitpid`` status the kernel shows in ``/proc/PID/stat`` (field 52);
* ``{"event": "probe", "pid": N, "state": "S" | null, "wait_status": S | null}``
  when capture asks (``probe()``): the process state from ``/proc``
  (null: no such process);
* ``{"event": "watch-error", "message": M, "write": bool, "errno": "ENOSPC" | null}`` for the
  first ``MAX_WATCH_ERRORS`` errors of ``hiter-watch`` (a snapshot that
  could not be written, ...);
* ``{"event": "snapshot", "file": NAME, "seq": N, "kind": EVENT, "label": L, "cfunc": C,
  "goroutine": G, "maps": N, "iterators": N, "bytes": N, "timing": {...}}`` each time
  ``hiter-watch`` has written a snapshot (``snapshot_written``): capture builds
  index.json and its progress line from these while the run goes, without
  reading the snapshot files back. ``kind`` is the snapshot's event
  (``cgocall-enter``, ...), ``bytes`` what it added on disk, ``timing``
  (optional) seconds spent per step.

The channel is a pipe, not a file: it needs no disk (a full disk does not
lose how the program ended), the fd is made non-inheritable before the
program starts, and the program's own output goes to a terminal of its own
(``set inferior-tty``), so nothing the program prints can be taken for
gdb's words. Without ``open_channel`` every function here does nothing.
"""

from __future__ import annotations

import errno as errno_names
import json
import os
import signal
from typing import Any, Dict, Optional

import gdb

from ..core.messages import one_line

MAX_WATCH_ERRORS = 20

_fd: Optional[int] = None
_watch_errors = 0
_died_told = False


def open_channel(fd: int) -> None:
    global _fd
    os.set_inheritable(fd, False)   # the program that gdb forks must not hold it
    _fd = fd
    gdb.events.exited.connect(_on_exited)
    gdb.events.stop.connect(_on_stop)
    emit({"event": "ready"})


def is_open() -> bool:
    return _fd is not None


def emit(event: Dict[str, Any]) -> None:
    if _fd is None:
        return
    line = (json.dumps(event, sort_keys=True) + "\n").encode("utf-8")
    try:
        os.write(_fd, line)      # < PIPE_BUF: one atomic write
    except OSError:
        pass                     # capture has gone: nobody to tell


def signal_name(number: Optional[int]) -> Optional[str]:
    if number is None:
        return None
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _inferior_pid() -> int:
    try:
        return gdb.selected_inferior().pid
    except gdb.error:
        return 0


def proc_state(pid: int):
    """(state letter, raw wait status or None) of ``pid`` from /proc; (None, None) when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            text = stream.read().decode("ascii", "replace")
    except OSError:
        return None, None
    fields = text[text.rfind(")") + 2:].split()
    state = fields[0] if fields else "?"
    status = int(fields[49]) if len(fields) > 49 and fields[49].isdigit() else None
    return state, status


def _on_exited(event) -> None:
    code = getattr(event, "exit_code", None)
    number = None
    try:
        value = gdb.convenience_variable("_exitsignal")
        number = int(value) if value is not None else None
    except (gdb.error, AttributeError, ValueError, TypeError):
        pass
    emit({"event": "exited", "exit_code": None if code is None else int(code),
          "signal": signal_name(number) if code is None else None})


def _on_stop(event) -> None:
    if isinstance(event, gdb.SignalEvent):
        emit({"event": "signal", "signal": event.stop_signal})


def started() -> None:
    emit({"event": "started", "pid": _inferior_pid()})


def probe() -> None:
    pid = _inferior_pid()
    state, status = proc_state(pid) if pid else (None, None)
    emit({"event": "probe", "pid": pid, "state": state, "wait_status": status})


def after_stop() -> None:
    """At the end of a breakpoint's ``stop()``: tell capture if the process died meanwhile."""
    global _died_told
    if _fd is None or _died_told:
        return
    pid = _inferior_pid()
    if not pid:
        return
    state, status = proc_state(pid)
    if state is None or state in ("Z", "X"):
        _died_told = True
        emit({"event": "died", "pid": pid, "state": state, "wait_status": status})


def snapshot_info(doc: Dict[str, Any], path: Optional[str], added: Optional[int] = None,
                  timing: Optional[Dict[str, float]] = None) -> Dict[str, Any]:
    """What ``snapshot_written`` tells capture about ``doc``, just written to ``path``.

    ``added``: the bytes the snapshot added on disk (its file and the new
    chunks of the store); the file's size when not given.
    """
    size = added
    if size is None:
        try:
            size = os.stat(path).st_size if path else 0
        except OSError:
            size = 0
    info = {"file": os.path.basename(path) if path else None, "seq": doc.get("seq"), "kind": doc.get("event"),
            "label": doc.get("label"), "cfunc": doc.get("cfunc"), "goroutine": doc.get("goroutine"),
            "maps": len(doc.get("maps") or ()), "iterators": len(doc.get("iterators") or ()), "bytes": size}
    if timing:
        info["timing"] = {name: round(float(seconds), 6) for name, seconds in timing.items()}
    return info


def snapshot_written(info: Dict[str, Any]) -> None:
    """Tell capture a snapshot is on disk (``info``: see ``snapshot_info``); nothing without a channel."""
    if _fd is None:
        return
    emit({**info, "event": "snapshot"})


def watch_error(message: str, error: Optional[BaseException] = None) -> None:
    global _watch_errors
    if _fd is None:
        return
    _watch_errors += 1
    if _watch_errors > MAX_WATCH_ERRORS:
        return
    os_error = error if isinstance(error, OSError) else getattr(error, "os_error", None)
    code = getattr(os_error, "errno", None)
    emit({"event": "watch-error", "message": one_line(message, 300), "write": os_error is not None,
          "errno": errno_names.errorcode.get(code) if code else None})
