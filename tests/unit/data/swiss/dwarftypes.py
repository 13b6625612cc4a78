"""Type descriptor addresses by DWARF type name, for capture.py.

Go 1.21+ binaries have no per-type ELF symbols (``type:map[K]V`` is merged
into ``type:*``), so the descriptor address is ``runtime.types`` plus the
DWARF attribute DW_AT_go_runtime_type (0x2904) of the ``map[K]V`` typedef.
"""
from elftools.elf.elffile import ELFFile

DW_AT_GO_RUNTIME_TYPE = 0x2904


def go_runtime_type_addresses(path, names):
    offsets = {}
    with open(path, "rb") as file:
        elf = ELFFile(file)
        for unit in elf.get_dwarf_info().iter_CUs():
            for die in unit.iter_DIEs():
                name = die.attributes.get("DW_AT_name")
                if name is not None and name.value.decode() in names and DW_AT_GO_RUNTIME_TYPE in die.attributes:
                    offsets[name.value.decode()] = die.attributes[DW_AT_GO_RUNTIME_TYPE].value
        types = elf.get_section_by_name(".symtab").get_symbol_by_name("runtime.types")[0]["st_value"]
    return {name: types + offset for name, offset in offsets.items()}
