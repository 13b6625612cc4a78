"""Member offsets of named struct types in a Go binary's DWARF (pyelftools)."""
import json
import sys

from elftools.elf.elffile import ELFFile

WANTED = {"runtime.hmap", "runtime.mapextra", "runtime.hiter", "runtime.maptype",
          "internal/abi.MapType", "internal/abi.OldMapType", "runtime.bmap"}


def struct_offsets(path, wanted=WANTED):
    found = {}
    with open(path, "rb") as handle:
        dwarf = ELFFile(handle).get_dwarf_info()
        for unit in dwarf.iter_CUs():
            for die in unit.iter_DIEs():
                if die.tag != "DW_TAG_structure_type":
                    continue
                name_attr = die.attributes.get("DW_AT_name")
                if not name_attr:
                    continue
                name = name_attr.value.decode()
                if name not in wanted or name in found:
                    continue
                members = {}
                for child in die.iter_children():
                    if child.tag == "DW_TAG_member":
                        members[child.attributes["DW_AT_name"].value.decode()] = child.attributes["DW_AT_data_member_location"].value
                found[name] = {"size": die.attributes["DW_AT_byte_size"].value, "members": members}
    return found


if __name__ == "__main__":
    print(json.dumps({path: struct_offsets(path) for path in sys.argv[1:]}, indent=1))
