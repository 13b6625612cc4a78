"""Goroutines through gdb: registers, the TLS g slot, runtime.allgs, frames.

Everything that decides (offsets, plausibility, which g is current, what
to scan) is in ``core/program/goroutines.py``; this module only fetches the values:
``$fs_base``, ``$r14`` and ``$rsp`` of a thread's newest frame, the ELF
PT_TLS segment and ``runtime.tlsg`` symbol of the executable (pyelftools),
the address of ``runtime.allgs``, and gdb's frames for naming the function
that holds a stack address.
"""

from __future__ import annotations

import functools
import os
import struct
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import gdb

from ..core.program import goroutines as core
from ..core.memory import UnreadableMemory
from .command import UserError
from .memory import InferiorMemory
from .program import symbol_address

MAX_FRAMES = 4096
RETURN_ADDRESS_WINDOW = 64 << 10   # how far below a stack address to look for its frame's return address


# ---------------------------------------------------------------------------
# TLS


@dataclass(frozen=True)
class TlsInfo:
    offset: int          # g slot = fs_base + offset
    how: str


@functools.lru_cache(maxsize=8)
def _tls_info(path: str, mtime_ns: int) -> TlsInfo:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        segment = next((s for s in elf.iter_segments() if s["p_type"] == "PT_TLS"), None)
        if segment is None:
            return TlsInfo(-8, "no PT_TLS segment: assumed -8")
        symtab = elf.get_section_by_name(".symtab")
        symbols = symtab.get_symbol_by_name("runtime.tlsg") if symtab is not None else None
        tlsg = symbols[0]["st_value"] if symbols else 0
        offset = core.tls_offset(tlsg, segment["p_memsz"], segment["p_align"])
        how = "PT_TLS and runtime.tlsg" if symbols else "PT_TLS (no runtime.tlsg symbol: assumed at 0)"
        return TlsInfo(offset, how)


def tls_info() -> TlsInfo:
    path = gdb.current_progspace().filename
    if not path or not os.path.exists(path):
        return TlsInfo(-8, "executable unknown: assumed -8")
    try:
        return _tls_info(path, os.stat(path).st_mtime_ns)
    except Exception as error:  # not an ELF file we can read: the usual value
        return TlsInfo(-8, f"cannot read the executable's TLS segment ({error}): assumed -8")


# ---------------------------------------------------------------------------
# Threads


@dataclass(frozen=True)
class ThreadState:
    number: int           # gdb's thread number
    fs_base: Optional[int]
    tls_g: Optional[int]
    r14: Optional[int]
    sp: Optional[int]


def _register(frame, name: str) -> Optional[int]:
    try:
        return int(frame.read_register(name)) & 0xFFFFFFFFFFFFFFFF
    except (gdb.error, ValueError):
        return None


def _thread_state(thread, memory: InferiorMemory, tls: TlsInfo) -> ThreadState:
    frame = gdb.newest_frame()
    fs_base = _register(frame, "fs_base")
    tls_g = None
    if fs_base:
        try:
            tls_g = struct.unpack("<Q", memory.read(fs_base + tls.offset, 8))[0]
        except UnreadableMemory:
            tls_g = None
    return ThreadState(thread.num, fs_base, tls_g, _register(frame, "r14"), _register(frame, "rsp"))


def current_thread_state(memory: InferiorMemory) -> ThreadState:
    thread = gdb.selected_thread()
    if thread is None:
        raise UserError("no thread selected")
    return _thread_state(thread, memory, tls_info())


def all_thread_states(memory: InferiorMemory) -> List[ThreadState]:
    """The registers of every thread; the selected thread and frame are restored."""
    selected_thread = gdb.selected_thread()
    try:
        selected_frame = gdb.selected_frame()
    except gdb.error:
        selected_frame = None
    tls = tls_info()
    states = []
    try:
        for thread in sorted(gdb.selected_inferior().threads(), key=lambda t: t.num):
            if not thread.is_valid() or thread.is_running():
                continue
            thread.switch()
            states.append(_thread_state(thread, memory, tls))
    finally:
        if selected_thread is not None and selected_thread.is_valid():
            selected_thread.switch()
            if selected_frame is not None and selected_frame.is_valid():
                selected_frame.select()
    return states


# ---------------------------------------------------------------------------
# Goroutines


def allgs_address() -> int:
    symbol = gdb.lookup_global_symbol("runtime.allgs") or gdb.lookup_static_symbol("runtime.allgs")
    if symbol is not None:
        return int(symbol.value().address)
    address = symbol_address("runtime.allgs")   # an ELF symbol without DWARF
    if address is not None:
        return address
    raise UserError("runtime.allgs is not known (stripped binary?): --all-goroutines needs the symbol")


def current_goroutine(memory: InferiorMemory, offsets: core.RuntimeOffsets,
                      state: Optional[ThreadState] = None) -> Tuple[core.CurrentGoroutine, ThreadState]:
    state = state or current_thread_state(memory)
    try:
        current = core.resolve_current(memory, offsets, tls_g=state.tls_g, r14=state.r14, sp=state.sp)
    except core.NoGoroutine as error:
        raise UserError(f"thread {state.number}: {error}") from None
    return current, state


def running_sps(memory: InferiorMemory, offsets: core.RuntimeOffsets) -> Dict[int, Tuple[int, int]]:
    """g address -> (sp, thread number) for each goroutine a thread is running on its own stack."""
    result: Dict[int, Tuple[int, int]] = {}
    for state in all_thread_states(memory):
        try:
            current = core.resolve_current(memory, offsets, tls_g=state.tls_g, r14=state.r14, sp=state.sp)
        except core.NoGoroutine:
            continue
        if current.on_goroutine_stack:
            result[current.goroutine.address] = (state.sp, state.number)
    return result


# ---------------------------------------------------------------------------
# Which function's frame holds an address


@dataclass(frozen=True)
class FrameName:
    function: Optional[str]
    level: Optional[int]      # gdb frame number (current thread only)
    source: str               # "frame" | "return-address"


def _frame_function(frame) -> Optional[str]:
    try:
        symbol = frame.function()
        if symbol is not None:
            return symbol.name
        return frame.name()
    except gdb.error:
        return None


def thread_frames(stack_lo: int, stack_hi: int) -> List[Tuple[int, int, FrameName]]:
    """(sp, caller's sp, name) of the selected thread's frames that lie inside [stack_lo, stack_hi].

    Inlined frames share their caller's sp, so their range is empty and the
    physical function is the one that matches.
    """
    frames = []
    try:
        frame = gdb.newest_frame()
    except gdb.error:
        return frames
    sp = _register(frame, "rsp")
    for _ in range(MAX_FRAMES):
        try:
            older = frame.older()
        except gdb.error:
            break
        if older is None or sp is None:
            break
        caller_sp = _register(older, "rsp")
        if caller_sp is None or caller_sp < sp:
            break
        if stack_lo <= sp and caller_sp <= stack_hi:
            frames.append((sp, caller_sp, FrameName(_frame_function(frame), frame.level(), "frame")))
        frame, sp = older, caller_sp
    return frames


def _physical_function(pc: int) -> Optional[str]:
    try:
        block = gdb.current_progspace().block_for_pc(pc)
    except RuntimeError:
        block = None
    best = None
    while block is not None and not block.is_static and not block.is_global:
        if block.function is not None:
            best = block.function.name    # the outermost function block: not an inlined callee
        block = block.superblock
    if best:
        return best
    try:
        text = gdb.format_address(pc)   # "0x... <symbol+offset>"
    except (gdb.error, AttributeError):
        return None
    if "<" in text:
        return text[text.index("<") + 1:].rstrip(">").split("+")[0]
    return None


def _follows_call(memory: InferiorMemory, pc: int) -> bool:
    """Is ``pc`` a return address: right after an amd64 CALL?"""
    try:
        code = memory.read(pc - 6, 6)
    except UnreadableMemory:
        return False
    if code[1] == 0xE8:                                        # call rel32
        return True
    if code[4] == 0xFF and 0xD0 <= code[5] <= 0xD7:           # call *%reg
        return True
    if code[3] == 0xFF and (code[4] & 0x38) == 0x10 and (code[4] >> 6) == 1:   # call *disp8(%reg)
        return True
    if code[0] == 0xFF and (code[1] & 0x38) == 0x10 and (code[1] >> 6) in (0, 2):   # disp32 / rip
        return True
    return False


def function_by_return_address(memory: InferiorMemory, data: bytes, base: int, address: int,
                               text_ranges) -> Optional[FrameName]:
    """Best effort for stacks gdb cannot unwind (another goroutine, the thread on g0).

    A function's locals sit above the return address its callee pushed, and
    that return address points into the function itself: so the nearest
    word below ``address`` that points right after a CALL names the function
    whose frame holds ``address`` (when that function is calling something,
    which a function with a live range loop that is stopped always is).
    """
    offset = address - base
    offset -= offset % 8
    lowest = max(0, offset - RETURN_ADDRESS_WINDOW)
    at = offset - 8
    while at >= lowest:
        word = struct.unpack_from("<Q", data, at)[0]
        if any(lo <= word < hi for lo, hi in text_ranges) and _follows_call(memory, word):
            name = _physical_function(word)
            if name:
                return FrameName(name, None, "return-address")
        at -= 8
    return None


@functools.lru_cache(maxsize=8)
def _text_ranges_of(path: str, mtime_ns: int) -> Tuple[Tuple[int, int], ...]:
    from elftools.elf.elffile import ELFFile

    with open(path, "rb") as stream:
        elf = ELFFile(stream)
        return tuple((s["p_vaddr"], s["p_vaddr"] + s["p_memsz"]) for s in elf.iter_segments()
                     if s["p_type"] == "PT_LOAD" and s["p_flags"] & 1)


def text_ranges() -> Tuple[Tuple[int, int], ...]:
    path = gdb.current_progspace().filename
    try:
        return _text_ranges_of(path, os.stat(path).st_mtime_ns)
    except Exception:
        return ((0x400000, 0x7FFFFFFFFFFF),)
