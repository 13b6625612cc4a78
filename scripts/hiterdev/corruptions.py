"""Corrupt map memory in a live fixture process and record what gdb-hiter then says, and how fast.

Run inside gdb (``source`` this file) while the mapstates fixture is stopped
in ``main.stopHere`` of its ``types`` scenario, with gdb-hiter loaded and
``GDB_HITER_CORRUPTIONS_OUT`` naming a JSON-lines file. For each case the
named bytes of ``main.mInt`` (100 entries) or ``main.mBool`` (a small map)
are overwritten, the commands a user would type are run, and the memory is
put back. ``main.mStr`` stays healthy: every snapshot must still hold it.
With ``GDB_HITER_CORRUPTIONS_MODE=iterator``, at a stop of the cgorange
fixture inside its range loop, the live iterator's fields are corrupted
instead and hiter-show --force, hiter-predict, hiter-find and
hiter-snapshot run. With ``GDB_HITER_CORRUPTIONS_MODE=as-is`` nothing is
patched: the commands are timed on memory as it is (a core file written
after the corruption).

tests/gdb/test_corrupt.py asserts on the outcomes; scripts/reliability
writes the times into docs/reliability.md. The cases follow the red-team
list of issue #13 (B, buckets, overflow chains, counts, growth fields;
directory, tables, groups, ctrl bytes, depths).
"""

from __future__ import annotations

import json
import os
import struct
import time

import gdb  # type: ignore[import-not-found]

from gdb_hiter.core.layouts import classic as classic_layouts
from gdb_hiter.core.layouts import swiss as swiss_layouts
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.gdbext.program import version_report

COMMANDS = ("hmap-show {map}", "print {map}", "print $maplen({map})", "hiter-snapshot {map} main.mStr --out {out}")
BUCKET_SIZE = 144          # map[int64]int64: 8 tophash + 8 keys + 8 elems + overflow pointer
UNMAPPED = 0x10


def _u64(value: int) -> bytes:
    return struct.pack("<Q", value & (1 << 64) - 1)


def _read(address: int, size: int) -> bytes:
    return bytes(gdb.selected_inferior().read_memory(address, size))


def _address(expression: str) -> int:
    return int(gdb.parse_and_eval(expression))


def classic_cases(offsets):
    """(name, map, patches(hmap) -> [(address, bytes)]) for classic maps."""
    def header(field, data):
        return lambda h: [(h + offsets[field][0], data)]

    def buckets(h):
        return int.from_bytes(_read(h + offsets["buckets"][0], 8), "little")

    def overflow_of_bucket0(target):
        return lambda h: [(buckets(h) + BUCKET_SIZE - 8, _u64(target(h)))]

    return [
        ("B = 20", "main.mInt", header("B", bytes([20]))),
        ("B = 24", "main.mInt", header("B", bytes([24]))),
        ("B = 30", "main.mInt", header("B", bytes([30]))),
        ("B = 40", "main.mInt", header("B", bytes([40]))),
        ("B = 41", "main.mInt", header("B", bytes([41]))),
        ("B = 255", "main.mInt", header("B", bytes([255]))),
        ("buckets unmapped", "main.mInt", header("buckets", _u64(UNMAPPED))),
        ("buckets = the hmap itself", "main.mInt", lambda h: [(h + offsets["buckets"][0], _u64(h))]),
        ("overflow cycle (bucket 0 -> itself)", "main.mInt", overflow_of_bucket0(buckets)),
        ("overflow into the array (bucket 0 -> bucket 1)", "main.mInt",
         overflow_of_bucket0(lambda h: buckets(h) + BUCKET_SIZE)),
        ("overflow pointer unmapped", "main.mInt", overflow_of_bucket0(lambda h: UNMAPPED)),
        ("tophash garbage in bucket 0", "main.mInt", lambda h: [(buckets(h), bytes(range(1, 9)))]),
        ("count = -1", "main.mInt", header("count", _u64(-1))),
        ("count = 2^40", "main.mInt", header("count", _u64(1 << 40))),
        ("oldbuckets unmapped (a fake grow)", "main.mInt", header("oldbuckets", _u64(UNMAPPED))),
        ("oldbuckets = buckets, nevacuate = 2^62", "main.mInt",
         lambda h: [(h + offsets["oldbuckets"][0], _u64(buckets(h))),
                    (h + offsets["nevacuate"][0], _u64(1 << 62))]),
        ("flags = 0xff", "main.mInt", header("flags", bytes([0xFF]))),
        ("extra unmapped", "main.mInt", header("extra", _u64(UNMAPPED))),
    ]


def swiss_cases(offsets):
    """(name, map, patches(map) -> [(address, bytes)]) for Swiss maps."""
    table_offsets = field_offsets(swiss_layouts.TABLE)

    def header(field, data):
        return lambda m: [(m + offsets[field][0], data)]

    def directory(m):
        return int.from_bytes(_read(m + offsets["dirPtr"][0], 8), "little")

    def table0(m):
        return int.from_bytes(_read(directory(m), 8), "little")

    def table(field, data):
        return lambda m: [(table0(m) + table_offsets[field][0], data)]

    def groups(m):
        return int.from_bytes(_read(table0(m) + table_offsets["groups"][0], 8), "little")

    return [
        ("dirLen = -1", "main.mInt", header("dirLen", _u64(-1))),
        ("dirLen = 2^30", "main.mInt", header("dirLen", _u64(1 << 30))),
        ("dirLen = 3 (not a power of two)", "main.mInt", header("dirLen", _u64(3))),
        ("globalDepth = 70", "main.mInt", header("globalDepth", bytes([70]))),
        ("globalDepth = 255", "main.mInt", header("globalDepth", bytes([255]))),
        ("dirPtr unmapped", "main.mInt", header("dirPtr", _u64(UNMAPPED))),
        ("dirPtr = the map itself", "main.mInt", lambda m: [(m + offsets["dirPtr"][0], _u64(m))]),
        ("directory[0] unmapped", "main.mInt", lambda m: [(directory(m), _u64(UNMAPPED))]),
        ("directory[0] = the directory (a cycle)", "main.mInt", lambda m: [(directory(m), _u64(directory(m)))]),
        ("table lengthMask = 2^40 - 1", "main.mInt",
         lambda m: [(table0(m) + table_offsets["groups"][0] + 8, _u64((1 << 40) - 1))]),
        ("table capacity = 65535", "main.mInt", table("capacity", struct.pack("<H", 0xFFFF))),
        ("table used = 65535", "main.mInt", table("used", struct.pack("<H", 0xFFFF))),
        ("table groups.data = 0", "main.mInt", lambda m: [(table0(m) + table_offsets["groups"][0], _u64(0))]),
        ("table groups.data unmapped", "main.mInt",
         lambda m: [(table0(m) + table_offsets["groups"][0], _u64(UNMAPPED))]),
        ("table index = -1 (stale)", "main.mInt", table("index", _u64(-1))),
        ("table localDepth = 200", "main.mInt", table("localDepth", bytes([200]))),
        ("ctrl word of group 0 garbage", "main.mInt", lambda m: [(groups(m), bytes([0x01, 0x7F, 0x80, 0xFE, 0xFF,
                                                                                      0x00, 0x33, 0x81]))]),
        ("used = 2^62", "main.mInt", header("used", _u64(1 << 62))),
        ("small map: dirPtr unmapped", "main.mBool", header("dirPtr", _u64(UNMAPPED))),
        ("small map: ctrl word garbage", "main.mBool", lambda m: [(directory(m), bytes([0x01, 0x7F, 0x80, 0xFE,
                                                                                       0xFF, 0x00, 0x33, 0x81]))]),
        ("small map: used = 200", "main.mBool", header("used", _u64(200))),
    ]


def iterator_cases(offsets, classic: bool):
    """(name, expression, patches(iterator) -> [(address, bytes)]) for the live iterator of the cgo fixture."""
    def field(name, data):
        return lambda it: [(it + offsets[name][0], data)]

    if classic:
        return [
            ("startBucket = 2^64 - 1", field("startBucket", _u64(-1))),
            ("bucket = 2^63", field("bucket", _u64(1 << 63))),
            ("B = 255", field("B", bytes([255]))),
            ("i = 255, offset = 255", lambda it: [(it + offsets["i"][0], bytes([255])),
                                                  (it + offsets["offset"][0], bytes([255]))]),
            ("wrapped = 7", field("wrapped", bytes([7]))),
            ("h unmapped", field("h", _u64(UNMAPPED))),
            ("t unmapped", field("t", _u64(UNMAPPED))),
            ("buckets unmapped", field("buckets", _u64(UNMAPPED))),
            ("bptr unmapped", field("bptr", _u64(UNMAPPED))),
            ("overflow unmapped", field("overflow", _u64(UNMAPPED))),
            ("checkBucket = 2^40", field("checkBucket", _u64(1 << 40))),
        ]
    return [
        ("entryOffset = 2^64 - 1", field("entryOffset", _u64(-1))),
        ("dirOffset = 2^64 - 1", field("dirOffset", _u64(-1))),
        ("dirIdx = 2^62", field("dirIdx", _u64(1 << 62))),
        ("entryIdx = 2^62", field("entryIdx", _u64(1 << 62))),
        ("globalDepth = 200", field("globalDepth", bytes([200]))),
        ("m unmapped", field("m", _u64(UNMAPPED))),
        ("typ unmapped", field("typ", _u64(UNMAPPED))),
        ("tab unmapped", field("tab", _u64(UNMAPPED))),
        ("group unmapped", field("group", _u64(UNMAPPED))),
        ("clearSeq = 2^62", field("clearSeq", _u64(1 << 62))),
    ]


ITERATOR_COMMANDS = ("hiter-show {it} --force", "hiter-predict {it}", "hiter-find",
                     "hiter-snapshot --all-goroutines --out {out}")


def cases():
    report = version_report()
    if report.map_impl == "classic":
        return classic_cases(field_offsets(classic_layouts.classic_layout(report.layout).hmap))
    return swiss_cases(field_offsets(swiss_layouts.swiss_layout(report.layout, report.version.minor).map_header))


def run_iterator_cases(out, out_dir: str) -> None:
    """At a stop of the cgo fixture inside its range loop: corrupt the live iterator's fields."""
    report = version_report()
    classic = report.map_impl == "classic"
    layout = classic_layouts.classic_layout(report.layout).hiter if classic else swiss_layouts.ITER
    found = json.loads(gdb.execute("hiter-find --json", to_string=True))
    address = found[0]["address"]
    for index, (name, patches) in enumerate(iterator_cases(field_offsets(layout), classic)):
        record = run_case(name, hex(address), lambda _: patches(address), out_dir, index, ITERATOR_COMMANDS,
                          placeholder="it")
        record.update(go=report.version.release, impl=report.map_impl, iterator=True)
        out.write(json.dumps(record) + "\n")
        out.flush()


def run_case(name: str, expression: str, patches, out_dir: str, index: int, commands=COMMANDS,
             placeholder: str = "map"):
    address = _address(expression)
    patch_list = patches(address)
    saved = [(where, _read(where, len(data))) for where, data in patch_list]
    inferior = gdb.selected_inferior()
    for where, data in patch_list:
        inferior.write_memory(where, data)
    results = []
    try:
        for template in commands:
            out = os.path.join(out_dir, f"case-{index:02d}.json")
            command = template.format(out=out, **{placeholder: expression})
            started = time.perf_counter()
            try:
                text = gdb.execute(command, to_string=True)
            except gdb.error as error:   # our commands' one-line errors come this way
                text = f"error: {error}\n"
            results.append({"command": command, "seconds": round(time.perf_counter() - started, 3),
                            "output": text})
    finally:
        for where, data in reversed(saved):
            inferior.write_memory(where, data)
    return {"case": name, "map": expression, "results": results,
            "snapshot": os.path.join(out_dir, f"case-{index:02d}.json")}


def main() -> None:
    out_path = os.environ["GDB_HITER_CORRUPTIONS_OUT"]
    out_dir = os.path.dirname(out_path)
    report = version_report()
    with open(out_path, "w", encoding="utf-8") as out:
        mode = os.environ.get("GDB_HITER_CORRUPTIONS_MODE", "map")
        if mode == "iterator":
            run_iterator_cases(out, out_dir)
            return
        if mode == "as-is":   # a core file corrupted before it was written: time the commands on it
            record = run_case(os.environ.get("GDB_HITER_CORRUPTIONS_CASE", "as is"), "main.mInt", lambda _: [],
                              out_dir, 0, commands=COMMANDS[:2] + COMMANDS[3:])
            record.update(go=report.version.release, impl=report.map_impl)
            out.write(json.dumps(record) + "\n")
            return
        for index, (name, expression, patches) in enumerate(cases()):
            record = run_case(name, expression, patches, out_dir, index)
            record.update(go=report.version.release, impl=report.map_impl)
            out.write(json.dumps(record) + "\n")
            out.flush()


main()
