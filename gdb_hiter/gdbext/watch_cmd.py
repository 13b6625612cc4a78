"""``hiter-watch``: a snapshot at every cgo transition, written as it is taken.

Breakpoints (reference §5.2), each a ``gdb.Breakpoint`` whose ``stop()``
takes the snapshot and returns False, so the program runs on:

* Go calls C: the entry of ``runtime.cgocall``. RAX holds the C wrapper; only
  ``_cgo_<hash>_Cfunc_<name>`` wrappers are user calls (the runtime calls
  cgocall for itself too: ``_cgo_notify_runtime_init_done``, ...), ``cfunc``
  is ``C.<name>``. Event ``cgocall-enter``.
* C calls Go: the entry of ``runtime.cgocallbackg`` (the ABIInternal
  function, not its ABI0 wrapper). RAX holds ``_cgoexp_<hash>_<GoName>``;
  ``cfunc`` is ``main.<GoName>`` when the program has that symbol, else
  ``<GoName>``. Event ``cgocallback-enter``.
* A signal that arrives while gdb steps the thread over the breakpoint (Go's
  sysmon sends SIGURG to preempt a goroutine that seems to run for long: the
  time spent in ``stop()`` counts) makes the thread hit the same breakpoint
  again after its handler returns; a hit whose call (goroutine, stack
  pointer, return address) is still open is that, and is ignored.
* The returns: a breakpoint on the return address read from ``[rsp]`` at the
  entry (both functions are ``//go:nosplit``: no stack-growth prologue, so
  the entry is hit once per call and ``[rsp]`` is the caller's return
  address). A hit counts only for the goroutine that made the call (TLS g,
  or ``m.curg`` on g0), innermost call first. ``gdb.FinishBreakpoint`` is
  not used: it identifies the frame by its stack address, and a Go stack
  can be copied to a new address during the call (the callback grows it), so
  the finish breakpoint either never fires or fires out of scope; and gdb
  must unwind from cgocallbackg through the cgocallback asm to create one.
  Events ``cgocall-return``, ``cgocallback-return``.

The goroutine always comes from ``goroutines_gdb.current_goroutine`` (TLS g,
then ``m.curg`` when the thread is on g0), so it does not matter which stack
the thread is on when the breakpoint fires.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

import gdb

from ..core.program import goroutines as core_goroutines
from ..core.snapshot.document import SnapshotError, describe, snapshot_files
from . import capture_channel
from . import goroutines_gdb as gg
from . import snapshot_cmd
from . import transitions
from .command import HiterCommand, UserError
from .memory import InferiorMemory
from .program import current_program, symbol_address, version_report

EVENT_KINDS = ("cgocall", "cgocallback")
_CFUNC = re.compile(r"^_cgo_[0-9a-f]+_Cfunc_(\w+)$")
_CGOEXP = re.compile(r"^_cgoexp_[0-9a-f]+_(\w+)$")
_ENTRY_SYMBOLS = {"cgocall": "runtime.cgocall", "cgocallback": "runtime.cgocallbackg"}


def symbol_at(address: int) -> Optional[str]:
    """The ELF / DWARF symbol that starts at or contains ``address``."""
    try:
        text = gdb.format_address(address)          # "0x4db8c0 <_cgo_..._Cfunc_callC>"
    except (gdb.error, AttributeError):
        try:
            text = gdb.execute(f"info symbol {address:#x}", to_string=True)
            return text.split(" in section")[0].split(" + ")[0].strip() or None
        except gdb.error:
            return None
    if "<" not in text:
        return None
    return text[text.index("<") + 1:].rstrip(">").split("+")[0]


def required_symbol_address(name: str) -> int:
    """The address of an ELF symbol the watch needs (cgo's entry points)."""
    address = symbol_address(name)
    if address is None:
        raise UserError(f"no symbol {name} in the program: is it a cgo program?")
    return address & 0xFFFFFFFFFFFFFFFF


def _register(name: str) -> int:
    return int(gdb.newest_frame().read_register(name)) & 0xFFFFFFFFFFFFFFFF


@dataclass
class Pending:
    kind: str            # cgocall | cgocallback
    return_address: int
    cfunc: Optional[str]
    enter_seq: int
    entry_sp: int


@dataclass
class Watch:
    maps: List[str]
    iterators: bool
    out_dir: Optional[str]
    events: List[str]
    limit: Optional[int] = None
    breakpoints: List[gdb.Breakpoint] = field(default_factory=list)
    returns: Dict[int, gdb.Breakpoint] = field(default_factory=dict)
    pending: Dict[int, List[Pending]] = field(default_factory=dict)   # g address -> calls not yet returned
    taken: List[int] = field(default_factory=list)                     # seqs
    errors: List[str] = field(default_factory=list)
    cfunc_names: Dict[str, Optional[str]] = field(default_factory=dict)
    recorder: Optional[transitions.Recorder] = None

    def __post_init__(self):
        self.recorder = transitions.Recorder(targets=list(self.maps), every_iterator=self.iterators,
                                             out_dir=self.out_dir, limit=self.limit)

    # -- what a breakpoint does

    def goroutine(self):
        memory = InferiorMemory()
        offsets, _warning = core_goroutines.offsets_for(version_report().version.minor)
        current, _state = gg.current_goroutine(memory, offsets)
        return current.goroutine

    def cfunc(self, kind: str, fn: int) -> Optional[str]:
        """The user's C function / exported Go function, or None for the runtime's own cgo calls."""
        name = symbol_at(fn)
        if name is None:
            return None
        if kind == "cgocall":
            match = _CFUNC.match(name)
            return f"C.{match.group(1)}" if match else None
        match = _CGOEXP.match(name)
        if not match:
            return None
        go_name = match.group(1)
        if go_name not in self.cfunc_names:
            qualified = f"main.{go_name}"
            try:
                found = gdb.lookup_global_symbol(qualified) or gdb.lookup_static_symbol(qualified)
            except gdb.error:
                found = None
            self.cfunc_names[go_name] = qualified if found is not None else go_name
        return self.cfunc_names[go_name]

    def on_entry(self, kind: str) -> None:
        fn = _register("rax")
        cfunc = self.cfunc(kind, fn)
        if cfunc is None:
            return
        rsp = _register("rsp")
        return_address = struct.unpack("<Q", InferiorMemory().read(rsp, 8))[0]
        g = self.goroutine()
        calls = self.pending.setdefault(g.address, [])
        if calls and (calls[-1].kind, calls[-1].entry_sp, calls[-1].return_address) == (kind, rsp, return_address):
            # The same call again: its frame is still live, so this is not a new call but gdb
            # reporting the breakpoint once more (a signal, e.g. Go's preemption SIGURG, arrived
            # while gdb stepped over it, and the handler returned to the breakpoint address).
            return
        doc = self.take(f"{kind}-enter", cfunc, g.goid)
        calls.append(Pending(kind, return_address, cfunc, doc["seq"], rsp))
        if return_address not in self.returns:
            self.returns[return_address] = _ReturnBreakpoint(self, return_address)

    def on_return(self, address: int) -> None:
        g = self.goroutine()
        calls = self.pending.get(g.address) or []
        for index in range(len(calls) - 1, -1, -1):
            if calls[index].return_address == address:
                call = calls[index]
                del calls[index:]          # anything newer never returned normally (panic, Goexit)
                self.take(f"{call.kind}-return", call.cfunc, g.goid)
                return

    def take(self, event: str, cfunc: Optional[str], goid: Optional[int]) -> Dict[str, Any]:
        seq = snapshot_cmd.next_seq()
        path = os.path.join(self.out_dir, f"{seq:04d}-{event}.json") if self.out_dir else None
        doc, written, timing = self.recorder.take(seq=seq, event=event, cfunc=cfunc, goroutine=goid, path=path)
        self.last_timing, self.last_written = timing, written
        capture_channel.snapshot_written(capture_channel.snapshot_info(doc, path, written, timing.to_json()))
        snapshot_cmd.remember(doc, path, keep=path is None)
        self.taken.append(doc["seq"])
        gdb.write(f"hiter-watch: {describe(doc)}: {len(doc['maps'])} map(s), {len(doc['iterators'])} "
                  f"iterator(s){' -> ' + path if path else ''}\n")
        return doc

    def guarded(self, action, *args) -> bool:
        """Run a breakpoint action; never stop the program, never raise into gdb."""
        try:
            action(*args)
        except (UserError, SnapshotError, gdb.error, ValueError, OSError) as error:
            self.note(f"{error}", error)
        except Exception as error:   # a bug of ours: say so once per hit, keep the program running
            self.note(f"internal error: {type(error).__name__}: {error}", error)
        finally:
            # Under `gdb-hiter capture`: a SIGKILL that landed while we were in stop() leaves a
            # zombie that gdb will reap without ever reporting it; tell capture now.
            capture_channel.after_stop()
        return False

    def note(self, message: str, error: Optional[BaseException] = None) -> None:
        self.errors.append(message)
        gdb.write(f"hiter-watch: {message}\n")
        capture_channel.watch_error(message, error)

    # -- installing and removing

    def install(self) -> None:
        for kind in self.events:
            address = required_symbol_address(_ENTRY_SYMBOLS[kind])
            self.breakpoints.append(_EntryBreakpoint(self, kind, address))

    def remove(self) -> None:
        for bp in self.breakpoints + list(self.returns.values()):
            if bp.is_valid():
                bp.delete()
        self.breakpoints, self.returns, self.pending = [], {}, {}
        if self.recorder is not None:
            self.recorder.close()


class _EntryBreakpoint(gdb.Breakpoint):
    def __init__(self, watch: Watch, kind: str, address: int):
        super().__init__(f"*{address:#x}", gdb.BP_BREAKPOINT, internal=True)
        self.silent = True
        self.watch, self.kind = watch, kind

    def stop(self):
        return self.watch.guarded(self.watch.on_entry, self.kind)


class _ReturnBreakpoint(gdb.Breakpoint):
    def __init__(self, watch: Watch, address: int):
        super().__init__(f"*{address:#x}", gdb.BP_BREAKPOINT, internal=True)
        self.silent = True
        self.watch, self.address = watch, address

    def stop(self):
        if not any(self.watch.pending.values()):
            return False
        return self.watch.guarded(self.watch.on_return, self.address)


WATCH: Optional[Watch] = None


def _on_exit(event) -> None:
    if WATCH is not None:
        WATCH.pending = {}


# ---------------------------------------------------------------------------
# hiter-watch report


def watch_docs() -> List[Dict[str, Any]]:
    """The session's snapshots taken at cgo transitions, in order."""
    return [taken.doc for taken in snapshot_cmd.SESSION if taken.doc["event"] not in ("manual", "core")]


class HiterWatch(HiterCommand):
    name = "hiter-watch"
    summary = "Snapshot maps and iterators at every cgo call and callback (enter and return); report, off."

    def add_arguments(self, parser):
        parser.add_argument("maps", nargs="*", metavar="MAP-EXPR | report | off",
                            help="maps to snapshot (resolved at each transition); `report` prints the "
                                 "diff across each C call; `off` removes the breakpoints")
        parser.add_argument("--iterators", action="store_true",
                            help="also every map a live iterator of the calling goroutine walks "
                                 "(the default without MAP-EXPR)")
        parser.add_argument("--out", metavar="DIR", help="write each snapshot to DIR/NNNN-<event>.json as taken")
        parser.add_argument("--force", action="store_true",
                            help="with --out: delete the snapshots an earlier session left in DIR")
        parser.add_argument("--events", default="cgocall,cgocallback", metavar="LIST",
                            help="cgocall, cgocallback or both (default: %(default)s)")
        parser.add_argument("--limit", type=int, metavar="N", help="at most N entries per map (default: all)")
        parser.add_argument("--format", choices=("text", "markdown"), default="text",
                            help="for `report`: text or markdown (default: %(default)s)")

    def run(self, args):
        global WATCH
        if args.maps == ["off"]:
            if WATCH is None:
                gdb.write("hiter-watch: no watch is on.\n")
                return
            count = len(WATCH.taken)
            WATCH.remove()
            WATCH = None
            gdb.write(f"hiter-watch: off ({count} snapshot(s) taken).\n")
            return
        if args.maps == ["report"]:
            from ..core.snapshot.callreport import transition_report
            docs = watch_docs()
            if not docs:
                raise UserError("no snapshot taken at a cgo transition in this session")
            gdb.write(transition_report(docs, args.format))
            return
        events = [item.strip() for item in args.events.split(",") if item.strip()]
        bad = [item for item in events if item not in EVENT_KINDS]
        if bad or not events:
            raise UserError(f"--events: {', '.join(bad) or 'nothing'}: choose from {', '.join(EVENT_KINDS)}")
        if args.limit is not None and args.limit < 0:
            raise UserError("--limit must be 0 (all) or a positive number")
        out_dir = None
        if args.out:
            out_dir = os.path.abspath(os.path.expanduser(args.out))
            try:
                os.makedirs(out_dir, exist_ok=True)
                stale = _earlier_snapshots(out_dir)
                if stale and not args.force:
                    raise UserError(f"--out {out_dir} already holds snapshots of an earlier session ({stale[0]}, "
                                    f"...): choose another directory, or --force to replace them")
                for name in stale:
                    os.unlink(os.path.join(out_dir, name))
            except OSError as error:
                raise UserError(f"--out {out_dir}: {error.strerror or error}") from None
        current_program()   # a program must be loaded
        if WATCH is not None:
            WATCH.remove()
        WATCH = Watch(maps=list(args.maps), iterators=args.iterators or not args.maps, out_dir=out_dir,
                      events=events, limit=args.limit or None)
        try:
            WATCH.install()
        except UserError:
            WATCH.remove()
            WATCH = None
            raise
        what = ", ".join(args.maps) if args.maps else ""
        if WATCH.iterators:
            what = (what + " and " if what else "") + "the maps of live iterators"
        gdb.write(f"hiter-watch: watching {what} at {', '.join(events)} (enter and return)"
                  + (f"; snapshots go to {out_dir}" if out_dir else "") + ".\n")


def _earlier_snapshots(directory: str) -> List[str]:
    """Snapshot files in ``directory`` that this gdb session did not write (its numbering starts at 1 again)."""
    ours = {os.path.realpath(taken.path) for taken in snapshot_cmd.SESSION if taken.path}
    return [name for name in snapshot_files(directory)
            if os.path.realpath(os.path.join(directory, name)) not in ours]


_connected = False


def register() -> None:
    global _connected
    HiterWatch()
    if not _connected:
        gdb.events.exited.connect(_on_exit)
        _connected = True
