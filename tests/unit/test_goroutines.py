"""The pure goroutine logic: offsets, allgs walking, the current g, what to scan."""

import struct

import pytest

from gdb_hiter.core.program import goroutines as gr
from gdb_hiter.core.memory import SegmentMemory

# Measured in the DWARF of the cgorange builds (tests/gdb/test_hiter.py re-checks them per build).
KNOWN = {  # minor: (atomicstatus, goid, syscallsp, m.curg, m.gsignal)
    19: (144, 152, 112, 192, 80), 21: (144, 152, 112, 192, 80), 22: (144, 152, 112, 192, 80),
    23: (152, 160, 112, 192, 80), 24: (152, 160, 112, 192, 80),
    25: (144, 152, 104, 184, 72), 26: (144, 152, 104, 184, 72), 27: (144, 152, 104, 184, 72),
}


@pytest.mark.parametrize("minor", sorted(KNOWN))
def test_offsets_match_known_values(minor):
    offsets, warning = gr.offsets_for(minor)
    assert warning is None
    assert (offsets.g_atomicstatus, offsets.g_goid, offsets.g_syscallsp, offsets.m_curg,
            offsets.m_gsignal) == KNOWN[minor]
    assert (offsets.g_stack_lo, offsets.g_stack_hi, offsets.g_m, offsets.g_sched_sp, offsets.m_g0) == (0, 8, 48, 56, 0)
    assert offsets.g_syscallpc == offsets.g_syscallsp + 8


def test_offset_table_is_contiguous_and_without_overlap():
    minors = [m for entry in gr.OFFSET_TABLE for m in range(entry.first_minor, entry.last_minor + 1)]
    assert minors == list(range(18, 28))


def test_offsets_outside_the_table_warn():
    newest, warning = gr.offsets_for(40)
    assert newest is gr.OFFSET_TABLE[-1] and "newer" in warning
    oldest, warning = gr.offsets_for(10)
    assert oldest is gr.OFFSET_TABLE[0] and "older" in warning


def test_status_names():
    assert gr.status_name(2) == "running"
    assert gr.status_name(0x1004) == "scan+waiting"
    assert gr.status_name(11) == "deadextra"
    assert gr.status_name(42) == "status 42"


def test_tls_offset():
    assert gr.tls_offset(0, 8, 8) == -8          # every Go-only binary
    assert gr.tls_offset(0, 20, 16) == -32       # more __thread variables from C
    assert gr.tls_offset(16, 20, 16) == -16


# --------------------------------------------------------------------------- fake runtime

OFFSETS, _ = gr.offsets_for(22)


def g_bytes(*, goid, status, lo, hi, m=0, sched_sp=0, syscallsp=0, offsets=OFFSETS):
    data = bytearray(offsets.g_read_size + 64)
    struct.pack_into("<QQ", data, 0, lo, hi)
    struct.pack_into("<Q", data, offsets.g_m, m)
    struct.pack_into("<Q", data, offsets.g_sched_sp, sched_sp)
    struct.pack_into("<Q", data, offsets.g_syscallsp, syscallsp)
    struct.pack_into("<I", data, offsets.g_atomicstatus, status)
    struct.pack_into("<Q", data, offsets.g_goid, goid)
    return bytes(data)


def m_bytes(*, g0, curg, gsignal=0, offsets=OFFSETS):
    data = bytearray(256)
    struct.pack_into("<Q", data, offsets.m_g0, g0)
    struct.pack_into("<Q", data, offsets.m_curg, curg)
    struct.pack_into("<Q", data, offsets.m_gsignal, gsignal)
    return bytes(data)


def allgs_memory(pointers, *, length=None, capacity=None, extra=()):
    memory = SegmentMemory()
    length = len(pointers) if length is None else length
    capacity = max(length, len(pointers)) if capacity is None else capacity
    memory.add(0x1000, struct.pack("<QQQ", 0x2000, length, capacity))
    memory.add(0x2000, struct.pack(f"<{len(pointers)}Q", *pointers))
    for address, data in extra:
        memory.add(address, data)
    return memory


G1 = g_bytes(goid=1, status=2, lo=0xC000100000, hi=0xC000108000, m=0x7000)
G2 = g_bytes(goid=2, status=4, lo=0xC000200000, hi=0xC000200800, sched_sp=0xC000200780)
G3_DEAD = g_bytes(goid=3, status=6, lo=0, hi=0)


def test_walk_allgs_reads_every_g_and_keeps_the_live_ones():
    memory = allgs_memory([0x10000, 0x11000, 0x12000],
                          extra=[(0x10000, G1), (0x11000, G2), (0x12000, G3_DEAD)])
    walk = gr.walk_allgs(memory, OFFSETS, 0x1000)
    assert walk.stopped is None and walk.bad == []
    assert [g.goid for g in walk.goroutines] == [1, 2, 3]
    assert [(g.goid, g.status_name) for g in walk.live()] == [(1, "running"), (2, "waiting")]


def test_walk_allgs_stops_on_a_cycle():
    memory = allgs_memory([0x10000, 0x11000, 0x10000, 0x11000], extra=[(0x10000, G1), (0x11000, G2)])
    walk = gr.walk_allgs(memory, OFFSETS, 0x1000)
    assert [g.goid for g in walk.goroutines] == [1, 2]
    assert "allgs[2] = 0x10000 repeats an earlier entry (cycle)" in walk.stopped


@pytest.mark.parametrize("length, capacity, limit", [(1 << 40, 1 << 40, gr.MAX_GOROUTINES), (5, 2, 100), (11, 11, 10)])
def test_walk_allgs_refuses_an_absurd_length_without_reading(length, capacity, limit):
    memory = allgs_memory([0x10000], length=length, capacity=capacity, extra=[(0x10000, G1)])
    walk = gr.walk_allgs(memory, OFFSETS, 0x1000, limit=limit)
    assert walk.goroutines == [] and "is absurd" in walk.stopped


def test_walk_allgs_skips_an_implausible_g_and_says_why():
    garbage = g_bytes(goid=7, status=0x77, lo=1, hi=2)
    memory = allgs_memory([0x10000, 0x13000, 0x14000], extra=[(0x10000, G1), (0x13000, garbage)])
    walk = gr.walk_allgs(memory, OFFSETS, 0x1000)
    assert [g.goid for g in walk.goroutines] == [1]
    assert [index for index, _ in walk.bad] == [1, 2]
    assert "atomicstatus 0x77" in walk.bad[0][1] and "unreadable" in walk.bad[1][1]
    assert walk.stopped is None


def test_walk_allgs_unreadable_header():
    walk = gr.walk_allgs(SegmentMemory(), OFFSETS, 0x1000)
    assert walk.goroutines == [] and walk.stopped.startswith("runtime.allgs unreadable")


def test_read_g_rejects_inverted_and_huge_stacks():
    memory = SegmentMemory([(0x10000, g_bytes(goid=1, status=2, lo=0x9000, hi=0x8000)),
                            (0x11000, g_bytes(goid=1, status=2, lo=0x1000, hi=0x1000 + (2 << 30)))])
    with pytest.raises(gr.BadGoroutine, match="inverted"):
        gr.read_g(memory, OFFSETS, 0x10000)
    with pytest.raises(gr.BadGoroutine, match="larger than the runtime allows"):
        gr.read_g(memory, OFFSETS, 0x11000)


# --------------------------------------------------------------------------- current g

G0 = 0x20000
CURG = 0x21000
M = 0x7000


def runtime_memory(*, curg_status=3, offsets=OFFSETS, curg=CURG):
    return SegmentMemory([
        (G0, g_bytes(goid=0, status=0, lo=0x7FFF0000, hi=0x7FFF8000, m=M, offsets=offsets)),
        (CURG, g_bytes(goid=1, status=curg_status, lo=0xC000100000, hi=0xC000108000, m=M,
                       syscallsp=0xC000107C00, sched_sp=0xC000107B00, offsets=offsets)),
        (M, m_bytes(g0=G0, curg=curg, offsets=offsets)),
    ])


@pytest.mark.parametrize("minor", [19, 23, 27])
def test_current_g_in_go_code_is_the_goroutine(minor):
    offsets, _ = gr.offsets_for(minor)
    memory = runtime_memory(curg_status=2, offsets=offsets)
    current = gr.resolve_current(memory, offsets, tls_g=CURG, r14=CURG, sp=0xC000107000)
    assert (current.goroutine.goid, current.source, current.on_goroutine_stack, current.notes) == (1, "tls", True, [])


def test_on_g0_the_goroutine_is_m_curg():
    """crosscall2 / C code of a cgo call: TLS holds g0, R14 is whatever C left there."""
    memory = runtime_memory()
    current = gr.resolve_current(memory, OFFSETS, tls_g=G0, r14=0xDEADBEEF, sp=0x7FFF7000)
    assert current.goroutine.address == CURG and current.thread_g == G0
    assert current.on_goroutine_stack is False
    assert current.notes == ["the thread is on g0 (system stack); its goroutine is m.curg"]


def test_r14_is_used_when_tls_is_unreadable_but_only_if_it_checks_out():
    memory = runtime_memory(curg_status=2)
    assert gr.resolve_current(memory, OFFSETS, tls_g=None, r14=CURG, sp=None).source == "r14"
    with pytest.raises(gr.NoGoroutine, match="r14"):
        gr.resolve_current(memory, OFFSETS, tls_g=None, r14=0x123458, sp=None)


def test_r14_rescues_a_bad_tls_value():
    memory = runtime_memory(curg_status=2)
    current = gr.resolve_current(memory, OFFSETS, tls_g=0x55550, r14=CURG, sp=None)
    assert current.source == "r14" and any(note.startswith("tls:") for note in current.notes)


def test_g0_without_curg_is_an_error():
    memory = runtime_memory(curg=0)
    with pytest.raises(gr.NoGoroutine, match="m.curg is 0"):
        gr.resolve_current(memory, OFFSETS, tls_g=G0, r14=None, sp=None)


def test_c_thread_that_never_ran_go():
    with pytest.raises(gr.NoGoroutine, match="never ran Go code"):
        gr.resolve_current(SegmentMemory(), OFFSETS, tls_g=0, r14=None, sp=None)


def test_a_g_its_m_disowns_is_rejected():
    memory = runtime_memory()
    memory.add(M, m_bytes(g0=0x30000, curg=0x31000))
    with pytest.raises(gr.NoGoroutine, match="not g0, curg or gsignal"):
        gr.resolve_current(memory, OFFSETS, tls_g=CURG, r14=None, sp=None)


# --------------------------------------------------------------------------- scan plan

def goroutine(status, **kw):
    values = dict(address=CURG, goid=1, status=status, stack_lo=0xC000100000, stack_hi=0xC000108000, m=M,
                  sched_sp=0xC000107B00, sched_pc=0, syscallsp=0xC000107C00, syscallpc=0)
    values.update(kw)
    return gr.Goroutine(**values)


def test_scan_plan_uses_the_thread_sp_when_running_here():
    plan = gr.scan_plan(goroutine(2), thread_sp=0xC000107A04)
    assert (plan.start, plan.end, plan.basis, plan.truncated) == (0xC000107A00, 0xC000108000, "thread sp", False)


def test_scan_plan_in_a_cgo_call_uses_syscallsp():
    plan = gr.scan_plan(goroutine(3), thread_sp=0x7FFF7000)   # the thread is on g0
    assert (plan.start, plan.basis) == (0xC000107C00, "g.syscallsp")


def test_scan_plan_of_a_parked_goroutine_uses_sched_sp():
    assert gr.scan_plan(goroutine(4)).basis == "g.sched.sp"
    assert "stale" in gr.scan_plan(goroutine(2)).basis            # running on a thread we did not see


def test_scan_plan_without_sp_scans_the_whole_stack_bounded():
    plan = gr.scan_plan(goroutine(4, sched_sp=0), limit=0x1000)
    assert (plan.start, plan.end, plan.truncated) == (0xC000107000, 0xC000108000, True)
    assert plan.basis.startswith("stack.lo")


def test_scan_plan_of_a_dead_goroutine_is_none():
    assert gr.scan_plan(goroutine(6)) is None
    assert gr.scan_plan(goroutine(4, stack_lo=0, stack_hi=0)) is None


def test_frame_holding():
    frames = [(0x100, 0x140, "leaf"), (0x140, 0x140, "inlined"), (0x140, 0x200, "outer")]
    assert gr.frame_holding(0x120, frames) == "leaf"
    assert gr.frame_holding(0x140, frames) == "outer"
    assert gr.frame_holding(0x200, frames) is None
