"""Check gotypes_gdb + render in real gdb against what a real Go program printed.

Build gdbcheck_prog.go with any toolchain and variant, then run this inside gdb:

    cp tests/unit/data/render/gdbcheck_prog.go /tmp/x/main.go && cd /tmp/x && go build -o prog main.go
    gdb -batch -nx -x tests/unit/data/render/gdbcheck.py /tmp/x/prog

For every map the program printed a line for, it finds the one entry in
memory (classic: the single bucket; swiss: the single group), converts the
map's key and element types with map_key_elem_types, renders the entry's
bytes and compares with the printed text. It also checks the descriptor
found by map_type_descriptor_address (kind, key and element sizes, name).
Last line: "N passed, M failed". Checked with go1.19 … go1.27.3, -N -l and
optimised, noswissmap, mapsplitgroup and PIE builds.
"""

import glob
import os
import struct
import sys
import tempfile

import gdb

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
sys.path.insert(0, REPO)
sys.path[1:1] = glob.glob(os.path.join(REPO, ".venv", "lib", "python3*", "site-packages"))

from gdb_hiter.core.abitype import ABI_TYPE, KIND_MAP, kind_of  # noqa: E402
from gdb_hiter.core.memory import UnreadableMemory  # noqa: E402
from gdb_hiter.core.render import RenderLimits, render  # noqa: E402
from gdb_hiter.gdbext import gotypes_gdb as gg  # noqa: E402


class InferiorMemory:
    def read(self, address, size):
        try:
            return bytes(gdb.selected_inferior().read_memory(address, size))
        except gdb.MemoryError as error:
            raise UnreadableMemory(address, size, str(error))


MEMORY = InferiorMemory()
UNLIMITED = RenderLimits(max_string_bytes=1 << 20, max_elements=1 << 20, max_total_elements=1 << 20)


def word(address):
    return struct.unpack("<Q", MEMORY.read(address, 8))[0]


def single_entry(map_value):
    """(key address, element address) of the map's only entry, indirect slots followed."""
    header = gg._map_header_struct(map_value.type)
    key_slot, elem_slot = gg._slot_types(header)
    key_name, elem_name = gg.split_map_name(gg.map_type_name(map_value))
    key_indirect = gg._without_indirection(key_slot, key_name) != key_slot
    elem_indirect = gg._without_indirection(elem_slot, elem_name) != elem_slot
    hmap = map_value.dereference()
    found = []
    if "buckets" in gg._field_names(header):
        assert int(hmap["B"]) == 0, "one entry: one bucket"
        bucket = hmap["buckets"].dereference()
        for i in range(8):
            if int(bucket["tophash"][i]) >= 5:  # minTopHash
                found.append((int(bucket["keys"][i].address), int(bucket["values"][i].address)))
    else:
        assert int(hmap["dirLen"]) == 0, "one entry: dirPtr is a single group"
        table = gg._pointee(gg._pointee(header["dirPtr"].type))
        group_type = gg._pointee(table["groups"].type.strip_typedefs()["data"].type)
        group = gdb.Value(int(hmap["dirPtr"])).cast(group_type.pointer()).dereference()
        ctrl = int(group["ctrl"])
        for j in range(8):
            if (ctrl >> (8 * j)) & 0x80 == 0:  # full slot
                if "slots" in gg._field_names(group_type):
                    slot = group["slots"][j]
                    found.append((int(slot["key"].address), int(slot["elem"].address)))
                else:
                    found.append((int(group["keys"][j].address), int(group["elems"][j].address)))
    assert len(found) == 1, found
    key_address, elem_address = found[0]
    return (word(key_address) if key_indirect else key_address,
            word(elem_address) if elem_indirect else elem_address)


def main():
    with tempfile.NamedTemporaryFile(prefix="gdbcheck-", suffix=".txt", delete=False) as handle:
        output = handle.name
    gdb.execute(f"run > {output} 2>/dev/null", to_string=True)  # stops at runtime.Breakpoint's SIGTRAP
    with open(output) as lines:
        expected = [line.rstrip("\n").split("\t") for line in lines]
    os.unlink(output)
    names = gg.runtime_type_names(MEMORY)
    failed = 0
    for name, want_key, want_elem in expected:
        map_value = gdb.parse_and_eval(f"'main.{name}'")
        key_type, elem_type = gg.map_key_elem_types(map_value)
        key_address, elem_address = single_entry(map_value)
        got_key = render(key_type, MEMORY.read(key_address, key_type.size), MEMORY, limits=UNLIMITED, type_names=names)
        got_elem = render(elem_type, MEMORY.read(elem_address, elem_type.size), MEMORY, limits=UNLIMITED,
                          type_names=names)
        descriptor = gg.map_type_descriptor_address(map_value)
        problems = []
        if (got_key, got_elem) != (want_key, want_elem):
            problems.append(f"go printed {want_key} / {want_elem}\n    we print {got_key} / {got_elem}")
        if descriptor is None:
            problems.append("no type descriptor found")
        else:
            sizes = (ABI_TYPE.parse(MEMORY.read(word(descriptor + 48), 48)).size,
                     ABI_TYPE.parse(MEMORY.read(word(descriptor + 56), 48)).size)
            if kind_of(ABI_TYPE.parse(MEMORY.read(descriptor, 48)).kind) != KIND_MAP:
                problems.append(f"descriptor {descriptor:#x} is not a map type")
            if sizes != (key_type.size, elem_type.size):
                problems.append(f"descriptor sizes {sizes} != converted {key_type.size, elem_type.size}")
            if names(descriptor) != gg.map_type_name(map_value):
                problems.append(f"descriptor named {names(descriptor)!r}")
        if problems:
            failed += 1
            print(f"FAIL {name}:\n  " + "\n  ".join(problems))
    print(f"{len(expected) - failed} passed, {failed} failed")


main()
