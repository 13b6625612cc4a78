"""gdb script: stop one scenario of main.go and save what the classic decoder reads.

Run by generate.sh as
    gdb -batch -nx -ex 'file BIN' -x capture.py
with SCENARIO, TOOLCHAIN, LAYOUT, WORK and REPO in the environment. Writes
$WORK/dumps/<toolchain>-<scenario>.json and prints one "SUMMARY {...}" line.

The decoder runs through a reader that records every read; those regions are
saved, plus 1.5 KiB of goroutine stack around the live iterator. The ground
truth is the program's own (written before it stopped), never the decoder's.
"""

import base64
import json
import os
import sys
import zlib

import gdb

REPO = os.environ["REPO"]
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, ".venv/lib/python3.11/site-packages"))

from gdb_hiter.core.maps import classic  # noqa: E402
from gdb_hiter.core.memory import UnreadableMemory  # noqa: E402

SCENARIO = os.environ["SCENARIO"]
TOOLCHAIN = os.environ["TOOLCHAIN"]
LAYOUT = os.environ["LAYOUT"]
WORK = os.environ["WORK"]
TRUTH = f"{WORK}/truth-{TOOLCHAIN}-{SCENARIO}.json"
OUT = f"{WORK}/dumps/{TOOLCHAIN}-{SCENARIO}.json"
STACK_WINDOW = 768   # bytes each side of the iterator


def inferior_bytes(address, size):
    return bytes(gdb.selected_inferior().read_memory(address, size))


def inferior_word(address):
    return int.from_bytes(inferior_bytes(address, 8), "little")


class RecordingMemory:
    def __init__(self):
        self.reads = []

    def read(self, address, size):
        try:
            data = inferior_bytes(address, size)
        except (gdb.MemoryError, OverflowError, ValueError) as error:
            raise UnreadableMemory(address, size, str(error)) from None
        self.reads.append((address, size))
        return data


iterator_steps = []   # (it, it.h, g.stack.hi) at every runtime.mapiternext


class IterNext(gdb.Breakpoint):
    """mapiternext(it) with RAX = it and R14 = g (ABIInternal). A stack copy
    keeps offsets from stack.hi, so the iterator's address at the stop is
    it - stack.hi(then) + stack.hi(now)."""

    def stop(self):
        frame = gdb.selected_frame()
        it = int(frame.read_register("rax"))
        g = int(frame.read_register("r14"))
        iterator_steps.append((it, inferior_word(it + 24), inferior_word(g + 8)))
        return False


def merged(reads):
    result = []
    for address, size in sorted(reads):
        if result and address <= result[-1][0] + result[-1][1]:
            result[-1][1] = max(result[-1][1], address + size - result[-1][0])
        else:
            result.append([address, size])
    return [[address, base64.b64encode(zlib.compress(inferior_bytes(address, size), 9)).decode()]
            for address, size in result]


def capture_types(memory):
    truth = json.load(open(TRUTH))
    for known in truth["types"]:
        parsed = classic.parse_maptype(memory, known["maptype"], LAYOUT)
        assert (parsed.key_size, parsed.elem_size) == (known["key_size"], known["elem_size"]), known
    return {"types": truth["types"], "segments": merged(memory.reads)}, {"types": len(truth["types"])}


def capture_map(memory):
    truth = json.load(open(TRUTH))
    # stopHere(h): the hmap as of now (a non-escaping hmap moves with the stack)
    truth["hmap"] = int(gdb.selected_frame().read_var("h"))
    frame = gdb.selected_frame()
    g = int(frame.read_register("r14"))
    stack_hi_now = inferior_word(g + 8)
    hiter = None
    for it, h, stack_hi_then in iterator_steps:
        if h == truth["hmap"]:
            hiter = it - stack_hi_then + stack_hi_now
    maptype = classic.parse_maptype(memory, truth["maptype"], LAYOUT)
    decoded = classic.decode_map(memory, truth["hmap"], maptype, LAYOUT)
    summary = {"entries": len(decoded.entries), "count": decoded.count,
               "problems": [problem.to_json() for problem in decoded.problems]}
    window = None
    if hiter is not None:
        summary["iterator"] = classic.decode_iterator(memory, hiter, LAYOUT).to_json()
        start, end = (hiter - STACK_WINDOW) & ~7, (hiter + STACK_WINDOW) & ~7
        window = [start, end - start]
        # scanning the window records what the scanner's checks read, for the scan tests
        found = classic.scan_for_iterators(memory, memory.read(start, end - start), start, LAYOUT)
        summary["scan_window"] = [candidate.address for candidate in found]
    # the whole live stack of this goroutine, scanned: only the real iterator may pass
    sp = int(frame.read_register("rsp"))
    scanned = classic.scan_for_iterators(RecordingMemory(), inferior_bytes(sp, stack_hi_now - sp), sp, LAYOUT)
    summary["scan_full"] = [candidate.address for candidate in scanned]
    summary["hiter"] = hiter
    record = {
        "hmap": truth["hmap"], "maptype": truth["maptype"], "hiter": hiter, "stack_window": window,
        "truth": {k: truth[k] for k in ("len", "B", "flags", "noverflow", "oldbuckets", "nevacuate",
                                          "entries", "visited")},
        "segments": merged(memory.reads),
    }
    return record, summary


gdb.execute("set pagination off")
gdb.execute("set confirm off")
IterNext("*'runtime.mapiternext'", internal=True)
gdb.execute("break 'main.stopHere'")
gdb.execute(f"run {SCENARIO} {TRUTH} > /dev/null")
memory = RecordingMemory()
record, summary = (capture_types if SCENARIO == "types" else capture_map)(memory)
record.update({"toolchain": TOOLCHAIN, "layout": LAYOUT, "scenario": SCENARIO})
with open(OUT, "w") as handle:
    json.dump(record, handle)
print("SUMMARY " + json.dumps(summary))
gdb.execute("kill")
