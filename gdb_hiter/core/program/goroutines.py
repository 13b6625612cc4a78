"""Goroutines as the runtime keeps them: g/m offsets, allgs, the current g, stack ranges.

Pure: everything here reads through a ``MemoryReader`` and takes register
and TLS values as plain integers, so it is unit-tested without gdb (see
``gdbext/goroutines_gdb.py`` for where those values come from).

Facts (reference §5.3, every offset checked against each toolchain's DWARF
``runtime.g``, ``runtime.m``, ``runtime.stack`` and ``runtime.gobuf``):

* ``g.stack`` is ``{lo, hi}`` at offset 0 of ``runtime.g``; the live part of
  a goroutine stack is ``[sp, hi)`` (stacks grow down).
* In Go ABIInternal code R14 holds the current g; everywhere else (asm on
  g0, C frames of a cgo call) only the TLS slot ``fs_base + tlsoff`` is
  reliable. When that g is the M's g0 (or gsignal), the goroutine the thread
  is working for is ``g.m.curg``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..memory import MemoryReader, UnreadableMemory

POINTER_SIZE = 8
MAX_GOROUTINES = 1 << 20          # allgs longer than this is taken as garbage
MAX_STACK_SCAN = 64 << 20         # bytes of one stack read in one go
MAX_STACK_SIZE = 1 << 30          # runtime.maxstacksize on 64-bit
MAX_GOID = 1 << 48


@dataclass(frozen=True)
class RuntimeOffsets:
    """Byte offsets of the fields gdb-hiter reads in ``runtime.g`` and ``runtime.m``."""

    first_minor: int
    last_minor: int
    g_atomicstatus: int
    g_goid: int
    g_syscallsp: int
    g_syscallpc: int
    m_curg: int
    m_gsignal: int
    # identical in every version 1.18 - 1.27
    g_stack_lo: int = 0
    g_stack_hi: int = 8
    g_m: int = 48
    g_sched_sp: int = 56          # g.sched is a gobuf at 56; gobuf.sp is its first word
    g_sched_pc: int = 64
    m_g0: int = 0

    def g_fields(self) -> Dict[str, int]:
        return {"stack.lo": self.g_stack_lo, "stack.hi": self.g_stack_hi, "m": self.g_m,
                "sched.sp": self.g_sched_sp, "sched.pc": self.g_sched_pc, "syscallsp": self.g_syscallsp,
                "syscallpc": self.g_syscallpc, "atomicstatus": self.g_atomicstatus, "goid": self.g_goid}

    def m_fields(self) -> Dict[str, int]:
        return {"g0": self.m_g0, "gsignal": self.m_gsignal, "curg": self.m_curg}

    @property
    def g_read_size(self) -> int:
        """One read covers every g field used here."""
        return max(self.g_fields().values()) + POINTER_SIZE


# Verified with gdb against the DWARF of the cgorange builds of go1.19,
# 1.21.13, 1.22.10, 1.23.9, 1.24.11 (swiss and noswissmap), 1.25.5 (both),
# 1.26.6 and 1.27.3 (both); 1.18 and 1.20 are from reference §5.3.
# 1.23 inserted a word before atomicstatus (syncSafePoint moved); 1.25
# removed gobuf.ret (gobuf 56 -> 48 bytes), which shifts everything after
# g.sched by 8, and a word from runtime.m before curg.
OFFSET_TABLE: Tuple[RuntimeOffsets, ...] = (
    RuntimeOffsets(18, 22, g_atomicstatus=144, g_goid=152, g_syscallsp=112, g_syscallpc=120,
                   m_curg=192, m_gsignal=80),
    RuntimeOffsets(23, 24, g_atomicstatus=152, g_goid=160, g_syscallsp=112, g_syscallpc=120,
                   m_curg=192, m_gsignal=80),
    RuntimeOffsets(25, 27, g_atomicstatus=144, g_goid=152, g_syscallsp=104, g_syscallpc=112,
                   m_curg=184, m_gsignal=72),
)


def offsets_for(minor: int) -> Tuple[RuntimeOffsets, Optional[str]]:
    """The offsets for Go 1.``minor``, and a warning when the table does not cover it."""
    for entry in OFFSET_TABLE:
        if entry.first_minor <= minor <= entry.last_minor:
            return entry, None
    if minor > OFFSET_TABLE[-1].last_minor:
        return OFFSET_TABLE[-1], (f"go1.{minor} is newer than the g/m offset table (last go1."
                                  f"{OFFSET_TABLE[-1].last_minor}): using its newest offsets")
    return OFFSET_TABLE[0], (f"go1.{minor} is older than the g/m offset table (first go1."
                             f"{OFFSET_TABLE[0].first_minor}): using its oldest offsets")


# runtime/runtime2.go
G_SCAN = 0x1000
G_DEAD = 6
G_IDLE = 0
G_SYSCALL = 3
G_RUNNING = 2
STATUS_NAMES = {
    0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 5: "moribund",
    6: "dead", 7: "enqueue", 8: "copystack", 9: "preempted", 10: "leaked", 11: "deadextra",
}
G_DEADEXTRA = 11   # 1.26+: the g of an extra M (cgo callbacks on C threads), parked while unused


def status_name(status: int) -> str:
    base = STATUS_NAMES.get(status & ~G_SCAN, f"status {status & ~G_SCAN}")
    return f"scan+{base}" if status & G_SCAN else base


@dataclass(frozen=True)
class Goroutine:
    """The fields of one ``runtime.g`` that locate its stack."""

    address: int
    goid: int
    status: int
    stack_lo: int
    stack_hi: int
    m: int
    sched_sp: int
    sched_pc: int
    syscallsp: int
    syscallpc: int

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    @property
    def dead(self) -> bool:
        return self.status & ~G_SCAN in (G_DEAD, G_IDLE, G_DEADEXTRA)

    def holds(self, address: int) -> bool:
        return self.stack_lo <= address < self.stack_hi

    def to_json(self) -> dict:
        return {"g": self.address, "goid": self.goid, "status": self.status_name,
                "stack": {"lo": self.stack_lo, "hi": self.stack_hi}, "m": self.m}


class BadGoroutine(ValueError):
    """Memory at an address does not hold a plausible ``runtime.g``."""


def _u64(data: bytes, offset: int) -> int:
    return struct.unpack_from("<Q", data, offset)[0]


def read_g(memory: MemoryReader, offsets: RuntimeOffsets, address: int) -> Goroutine:
    """The ``runtime.g`` at ``address``, checked for plausibility (BadGoroutine otherwise)."""
    if not address or address % POINTER_SIZE:
        raise BadGoroutine(f"{address:#x} is not a g pointer")
    try:
        data = memory.read(address, offsets.g_read_size)
    except UnreadableMemory as error:
        raise BadGoroutine(f"g at {address:#x} unreadable: {error}") from None
    g = Goroutine(
        address=address,
        goid=_u64(data, offsets.g_goid),
        status=struct.unpack_from("<I", data, offsets.g_atomicstatus)[0],
        stack_lo=_u64(data, offsets.g_stack_lo), stack_hi=_u64(data, offsets.g_stack_hi),
        m=_u64(data, offsets.g_m),
        sched_sp=_u64(data, offsets.g_sched_sp), sched_pc=_u64(data, offsets.g_sched_pc),
        syscallsp=_u64(data, offsets.g_syscallsp), syscallpc=_u64(data, offsets.g_syscallpc),
    )
    why = _implausible(g)
    if why:
        raise BadGoroutine(f"g at {address:#x}: {why}")
    return g


def _implausible(g: Goroutine) -> Optional[str]:
    if g.status & ~G_SCAN not in STATUS_NAMES:
        return f"atomicstatus {g.status:#x} is not a goroutine status"
    if g.goid >= MAX_GOID:
        return f"goid {g.goid} is absurd"
    if g.dead:
        return None  # a dead g may have given its stack back: lo = hi = 0
    if g.m % POINTER_SIZE:
        return f"g.m {g.m:#x} is not a pointer"
    if g.stack_lo >= g.stack_hi and (g.stack_lo or g.stack_hi):
        return f"stack [{g.stack_lo:#x}, {g.stack_hi:#x}) is empty or inverted"
    if g.stack_hi - g.stack_lo > MAX_STACK_SIZE:
        return f"stack [{g.stack_lo:#x}, {g.stack_hi:#x}) is larger than the runtime allows"
    return None


# ---------------------------------------------------------------------------
# allgs


@dataclass
class AllGs:
    """The result of walking ``runtime.allgs``: what was read and why it stopped early."""

    goroutines: List[Goroutine] = field(default_factory=list)
    length: int = 0
    stopped: Optional[str] = None          # None when every entry was read
    bad: List[Tuple[int, str]] = field(default_factory=list)   # (index, why) of skipped entries

    def live(self) -> List[Goroutine]:
        return [g for g in self.goroutines if not g.dead]


def walk_allgs(memory: MemoryReader, offsets: RuntimeOffsets, slice_address: int, *,
               limit: int = MAX_GOROUTINES) -> AllGs:
    """Every g of the ``[]*g`` slice header at ``slice_address`` (``&runtime.allgs``).

    Bounded: an absurd length (more than ``limit``, or len > cap) stops the
    walk before reading, a g pointer seen twice stops it where the repetition
    starts (allgs never holds a g twice), an unreadable pointer array stops
    it; a single implausible g is skipped and recorded in ``bad``.
    """
    result = AllGs()
    try:
        pointer, length, capacity = struct.unpack("<QQQ", memory.read(slice_address, 3 * POINTER_SIZE))
    except UnreadableMemory as error:
        result.stopped = f"runtime.allgs unreadable: {error}"
        return result
    result.length = length
    if length > capacity or length > limit:
        result.stopped = f"allgs length {length} (cap {capacity}) is absurd (limit {limit})"
        return result
    if length == 0:
        return result
    try:
        raw = memory.read(pointer, length * POINTER_SIZE)
    except UnreadableMemory as error:
        result.stopped = f"allgs array unreadable: {error}"
        return result
    seen = set()
    for index, address in enumerate(struct.unpack(f"<{length}Q", raw)):
        if address in seen:
            result.stopped = f"allgs[{index}] = {address:#x} repeats an earlier entry (cycle): stopped there"
            break
        seen.add(address)
        try:
            result.goroutines.append(read_g(memory, offsets, address))
        except BadGoroutine as error:
            result.bad.append((index, str(error)))
    return result


# ---------------------------------------------------------------------------
# The current goroutine


def tls_offset(tlsg_value: int, tls_memsz: int, tls_align: int) -> int:
    """Where the g slot is relative to fs_base (x86-64 variant-II TLS, main executable)."""
    align = max(tls_align, 1)
    rounded = (tls_memsz + align - 1) // align * align
    return tlsg_value - rounded


@dataclass
class CurrentGoroutine:
    """Which goroutine a thread is running or working for, and how that was found."""

    goroutine: Goroutine                 # the user goroutine (m.curg when the thread is on g0)
    thread_g: int                        # the g the thread itself is on (TLS / R14)
    source: str                          # "tls" or "r14"
    on_goroutine_stack: bool             # the thread's sp is inside the goroutine's stack
    notes: List[str] = field(default_factory=list)


class NoGoroutine(ValueError):
    """The thread runs no goroutine that can be found."""


def _read_m(memory: MemoryReader, offsets: RuntimeOffsets, m: int) -> Dict[str, int]:
    data = memory.read(m, max(offsets.m_fields().values()) + POINTER_SIZE)
    return {name: _u64(data, offset) for name, offset in offsets.m_fields().items()}


def resolve_current(memory: MemoryReader, offsets: RuntimeOffsets, *, tls_g: Optional[int],
                    r14: Optional[int], sp: Optional[int]) -> CurrentGoroutine:
    """The goroutine of a thread, from its TLS g slot (preferred) or R14.

    The TLS slot is what the runtime itself uses, valid in Go, asm and C
    frames of threads Go created; R14 is only the g inside Go ABIInternal
    code, so it is used when the TLS slot cannot be read, and only if it
    points at a g whose M agrees (m.g0, m.curg or m.gsignal is that g).
    When the thread is on g0 or gsignal (asm on the system stack, C code of
    a cgo call, crosscall2), the goroutine is ``m.curg``.
    """
    notes: List[str] = []
    attempts = []
    if tls_g is not None:
        attempts.append(("tls", tls_g))
    if r14 is not None and r14 != tls_g:
        attempts.append(("r14", r14))
    if not attempts:
        raise NoGoroutine("neither the TLS g slot nor R14 could be read")
    failures = []
    for source, g_address in attempts:
        if not g_address:
            failures.append(f"{source} g is 0 (a thread that never ran Go code)")
            continue
        try:
            g = read_g(memory, offsets, g_address)
            m = _read_m(memory, offsets, g.m) if g.m else None
        except (BadGoroutine, UnreadableMemory) as error:
            failures.append(f"{source}: {error}")
            continue
        if m is None:
            failures.append(f"{source}: g {g_address:#x} has no M (not running on a thread)")
            continue
        if g_address not in (m["g0"], m["curg"], m["gsignal"]):
            failures.append(f"{source}: g {g_address:#x} is not g0, curg or gsignal of its M {g.m:#x}")
            continue
        if g_address in (m["g0"], m["gsignal"]) and g_address != m["curg"]:
            which = "g0" if g_address == m["g0"] else "gsignal"
            if not m["curg"]:
                raise NoGoroutine(f"the thread is on {which} of M {g.m:#x} and runs no goroutine (m.curg is 0)")
            notes.append(f"the thread is on {which} (system stack); its goroutine is m.curg")
            try:
                goroutine = read_g(memory, offsets, m["curg"])
            except BadGoroutine as error:
                failures.append(f"{source}: m.curg: {error}")
                continue
        else:
            goroutine = g
        if failures:
            notes.extend(failures)
        on_stack = sp is not None and goroutine.holds(sp)
        return CurrentGoroutine(goroutine, g_address, source, on_stack, notes)
    raise NoGoroutine("no goroutine found: " + "; ".join(failures))


# ---------------------------------------------------------------------------
# What part of a stack to scan


@dataclass(frozen=True)
class ScanPlan:
    """The live part of a goroutine stack: ``[start, end)``, read in one go."""

    start: int
    end: int
    basis: str             # what ``start`` came from
    truncated: bool        # the live part was larger than the limit; only its top was kept

    @property
    def size(self) -> int:
        return self.end - self.start

    def to_json(self) -> dict:
        return {"start": self.start, "end": self.end, "basis": self.basis, "truncated": self.truncated}


def scan_plan(g: Goroutine, *, thread_sp: Optional[int] = None, limit: int = MAX_STACK_SCAN) -> Optional[ScanPlan]:
    """Where the live frames of ``g`` are, or None when it has no stack.

    Stacks grow down, so the frames in use are ``[sp, stack.hi)``; memory
    below sp holds dead frames whose stale iterators must not be reported.
    sp is the thread's when the goroutine is running on that thread,
    ``g.syscallsp`` while it is in a syscall or a cgo call (the thread is on
    g0 then), else ``g.sched.sp`` (saved when it stopped running). If none of
    them is inside the stack, the whole stack is scanned.
    """
    if g.dead or not g.stack_hi or g.stack_lo >= g.stack_hi:
        return None
    if thread_sp is not None and g.holds(thread_sp):
        start, basis = thread_sp, "thread sp"
    elif g.status & ~G_SCAN == G_SYSCALL and g.holds(g.syscallsp):
        start, basis = g.syscallsp, "g.syscallsp"
    elif g.holds(g.sched_sp) and g.status & ~G_SCAN != G_RUNNING:
        start, basis = g.sched_sp, "g.sched.sp"
    elif g.holds(g.sched_sp):
        start, basis = g.sched_sp, "g.sched.sp (goroutine running elsewhere: may be stale)"
    else:
        start, basis = g.stack_lo, "stack.lo (no sp inside the stack)"
    start -= start % POINTER_SIZE
    truncated = g.stack_hi - start > limit
    if truncated:
        start = g.stack_hi - limit
    return ScanPlan(start, g.stack_hi, basis, truncated)


def frame_holding(address: int, frames: List[Tuple[int, int, object]]) -> Optional[object]:
    """The frame whose ``[sp, caller's sp)`` contains ``address``.

    ``frames`` are (sp, caller_sp, frame_info) from the newest frame outwards.
    """
    for sp, caller_sp, info in frames:
        if sp <= address < caller_sp:
            return info
    return None
