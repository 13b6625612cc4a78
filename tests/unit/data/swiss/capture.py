"""gdb script: run prog/ and, at every stop, capture map and iterator memory.

The regions to save are found through gdb's DWARF types and the map type
descriptor's own fields, never through gdb_hiter's layouts, so the unit
tests check those layouts against something independent. Ground truth is
what the program printed ("GT ..." lines).

Run by regenerate.py: gdb -batch -nx -ex 'py OUT="file.json"' -x capture.py BINARY
"""
import json
import os
import sys

import gdb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dwarftypes import go_runtime_type_addresses  # noqa: E402

MAPS = "internal/runtime/maps."
OUT = globals()["OUT"]  # set before this script runs: gdb -ex 'python OUT = "file.json"'


def inferior():
    return gdb.selected_inferior()


def lookup(name):
    return gdb.lookup_type(name)


def u64(address):
    return int.from_bytes(bytes(inferior().read_memory(address, 8)), "little")


def dwarf_layout(name):
    t = lookup(name)
    return {"size": t.sizeof,
            "fields": {f.name: [f.bitpos // 8, f.type.sizeof, f.type.strip_typedefs().code == gdb.TYPE_CODE_FUNC]
                       for f in t.fields()}}


def maptype_dwarf_name():
    for name in ("internal/abi.SwissMapType", "internal/abi.MapType"):
        try:
            lookup(name)
            return name
        except gdb.error:
            pass
    raise RuntimeError("no Swiss map type in DWARF")


class Regions:
    """Address ranges to save; overlapping ranges are merged when read."""

    def __init__(self):
        self.ranges = set()

    def add(self, address, size):
        if address and size > 0:
            self.ranges.add((address, size))

    def read(self):
        merged = []
        for address, size in sorted(self.ranges):
            if merged and address <= merged[-1][0] + merged[-1][1]:
                merged[-1][1] = max(merged[-1][0] + merged[-1][1], address + size) - merged[-1][0]
            else:
                merged.append([address, size])
        return [[address, bytes(inferior().read_memory(address, size)).hex()] for address, size in merged]


def capture_maptype(regions, address):
    name = maptype_dwarf_name()
    descriptor = gdb.Value(address).cast(lookup(name).pointer()).dereference()
    regions.add(address, lookup(name).sizeof)
    info = {"address": address}
    for f in lookup(name).fields():
        if f.name == "Type":
            continue
        value = descriptor[f.name]
        info[f.name] = int(value.cast(lookup("uintptr"))) if f.name == "Hasher" else int(value)
    for which in ("Key", "Elem", "Group"):
        regions.add(info[which], lookup("internal/abi.Type").sizeof)
        info[which + "_size"] = int(gdb.Value(info[which]).cast(lookup("internal/abi.Type").pointer())
                                    .dereference()["Size_"])
    return info


def slot_offsets(info, slot):
    if "KeysOff" in info:
        return info["KeysOff"] + slot * info["KeyStride"], info["ElemsOff"] + slot * info["ElemStride"]
    key = 8 + slot * info["SlotSize"]
    return key, key + info["ElemOff"]


def capture_group(regions, group, info, string_keys):
    regions.add(group, info["GroupSize"])
    ctrl = bytes(inferior().read_memory(group, 8))
    for slot in range(8):
        if ctrl[slot] & 0x80:
            continue
        key_offset, elem_offset = slot_offsets(info, slot)
        key_address = group + key_offset
        if info["Flags"] & 4:
            key_address = u64(key_address)
            regions.add(key_address, info["Key_size"])
        if info["Flags"] & 8:
            regions.add(u64(group + elem_offset), info["Elem_size"])
        if string_keys:
            regions.add(u64(key_address), u64(key_address + 8))


def capture_table(regions, address, info, string_keys=False):
    table_type = lookup(MAPS + "table")
    regions.add(address, table_type.sizeof)
    table = gdb.Value(address).cast(table_type.pointer()).dereference()
    data, count = int(table["groups"]["data"]), int(table["groups"]["lengthMask"]) + 1
    regions.add(data, count * info["GroupSize"])
    for index in range(count):
        capture_group(regions, data + index * info["GroupSize"], info, string_keys)


def capture_map(regions, address, info, string_keys=False):
    map_type = lookup(MAPS + "Map")
    regions.add(address, map_type.sizeof)
    value = gdb.Value(address).cast(map_type.pointer()).dereference()
    header = {f.name: int(value[f.name]) for f in map_type.fields()}
    tables = []
    if header["dirPtr"] and header["dirLen"] == 0:
        capture_group(regions, header["dirPtr"], info, string_keys)
    elif header["dirPtr"]:
        regions.add(header["dirPtr"], 8 * header["dirLen"])
        for index in range(header["dirLen"]):
            table = u64(header["dirPtr"] + 8 * index)
            if table not in tables:
                tables.append(table)
                capture_table(regions, table, info, string_keys)
    return header, tables


def capture_iterator(regions, address, info):
    iter_type = lookup(MAPS + "Iter")
    regions.add(address, iter_type.sizeof)
    value = gdb.Value(address).cast(iter_type.pointer()).dereference()
    fields = {f.name: int(value[f.name]) if f.name != "group" else int(value["group"]["data"])
              for f in iter_type.fields()}
    if fields["tab"]:
        capture_table(regions, fields["tab"], info)
    if fields["group"]:
        capture_group(regions, fields["group"], info, False)
    return fields


iterator_addresses = {}  # range function name -> &Iter of its latest loop


class IterStart(gdb.Breakpoint):
    """runtime.mapIterStart(t, m, it): RCX is the caller's iterator (Go ABIInternal)."""

    def stop(self):
        caller = gdb.selected_frame().older().name()
        iterator_addresses[caller] = int(gdb.parse_and_eval("$rcx"))
        return False


# case: (global variable, map type, string keys)
GLOBAL_CASES = {
    "empty": ("gEmpty", "map[int64]int64", False),
    "small": ("gSmall", "map[int64]int64", False),
    "one": ("gOne", "map[int64]int64", False),
    "multi": ("gMulti", "map[int64]int64", False),
    "del": ("gDel", "map[int64]int64", False),
    "big": ("gBig", "map[main.BigKey]main.BigVal", False),
    "str": ("gStr", "map[string]int64", True),
    "cleared": ("gCleared", "map[int64]int64", False),
}
# stop name: (global variable, map type, function running the range loop)
ITER_CASES = {
    "itersmall": ("gIterSmall", "map[int64]int64", "main.iterSmall"),
    "itermulti": ("gMulti", "map[int64]int64", "main.iterMulti"),
    "itergrow": ("gIterGrow", "map[int64]int64", "main.iterGrow"),
    "iterclear": ("gIterClear", "map[int64]int64", "main.iterClear"),
    "itersplit": ("gIterSplit", "map[int32]int32", "main.iterSplit"),
}


def global_map(name):
    return u64(int(gdb.parse_and_eval("&'main.%s'" % name)))


def select_frame(name):
    frame = gdb.newest_frame()
    while frame is not None and frame.name() != name:
        frame = frame.older()
    frame.select()
    return frame


def go_string(address):
    return bytes(inferior().read_memory(u64(address), u64(address + 8))).decode()


def main():
    gdb.execute("set pagination off")
    gdb.execute("set confirm off")
    type_names = {t for _, t, _ in GLOBAL_CASES.values()} | {t for _, t, _ in ITER_CASES.values()}
    types = go_runtime_type_addresses(gdb.current_progspace().filename, type_names)
    gdb.Breakpoint("main.stopHere")
    IterStart("runtime.mapIterStart", internal=True)
    gdb.execute("run > %s.stdout" % OUT)
    out = {"version": go_string(int(gdb.parse_and_eval("&'runtime.buildVersion'"))), "dwarf": {}, "cases": {}}
    for name in (MAPS + "Map", MAPS + "table", MAPS + "Iter", MAPS + "groupsReference", maptype_dwarf_name()):
        out["dwarf"][name] = dwarf_layout(name)
    while inferior().pid:
        stop = go_string(int(gdb.parse_and_eval("&'main.current'")))
        if stop == "maps":
            for case, (variable, map_type, string_keys) in GLOBAL_CASES.items():
                regions = Regions()
                address = global_map(variable)
                info = capture_maptype(regions, types[map_type])
                header, tables = capture_map(regions, address, info, string_keys)
                out["cases"][case] = {"map": address, "maptype": info, "header": header, "tables": tables,
                                      "segments": regions.read()}
        elif stop == "stack":
            regions = Regions()
            select_frame("main.stackMap")
            address = int(gdb.parse_and_eval("m").cast(lookup("uintptr")))
            info = capture_maptype(regions, types["map[int64]int64"])
            header, tables = capture_map(regions, address, info)
            out["cases"]["stack"] = {"map": address, "maptype": info, "header": header, "tables": tables,
                                     "segments": regions.read()}
        elif stop in ITER_CASES:
            variable, map_type, function = ITER_CASES[stop]
            regions = Regions()
            address = global_map(variable)
            info = capture_maptype(regions, types[map_type])
            header, tables = capture_map(regions, address, info)
            iterator = iterator_addresses[function]
            fields = capture_iterator(regions, iterator, info)
            frame = select_frame(function)  # its whole frame, for the stack scan
            low, high = int(frame.read_register("rsp")), int(frame.older().read_register("rsp"))
            regions.add(low, high - low)
            out["cases"][stop] = {"map": address, "iter": iterator, "iter_fields": fields, "maptype": info,
                                  "header": header, "tables": tables, "stack": [low, high - low],
                                  "segments": regions.read()}
        gdb.execute("continue")
    with open(OUT + ".stdout") as stdout:
        out["truth"] = [line.rstrip("\n") for line in stdout if line.startswith("GT ")]
    os.unlink(OUT + ".stdout")
    with open(OUT, "w") as file:
        json.dump(out, file)
    print("WROTE", OUT)


main()
