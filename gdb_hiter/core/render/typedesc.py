"""Finding a map's runtime type descriptor in the executable, without gdb.

A decoder needs the map's type descriptor (``maptype``: KeySize,
BucketSize, GroupSize, SlotSize, ElemOff, Flags...; reference §1.6, §2.7).
Go linkers do not write per-type ELF symbols (``type:map[K]V`` /
``type.map[K]V``): every descriptor lives inside the one symbol ``type:*``
(``type.*`` up to Go 1.19). What does exist is DWARF: the ``map[K]V``
typedef carries ``DW_AT_go_runtime_type`` (0x2904), the descriptor's offset
from the symbol ``runtime.types`` (reference §4.3).

Reading that attribute must be quick enough for an interactive command, yet
a Go binary has 30k-170k DIEs and a full pyelftools walk takes seconds. So
we search the decompressed ``.debug_info`` bytes for the type name (Go
writes names inline, DW_FORM_string), parse only the DIEs found there, and
fall back to walking the one compilation unit that holds the linker's types
(a CU named ``runtime`` whose first children include ``<unspecified>``).
Everything is cached per binary (path, mtime, size).

Also here: reading the *name* of any type descriptor (for interfaces'
dynamic types) and an ELF-backed memory reader for the read-only data
where descriptors live.
"""

from __future__ import annotations

import io
import os
import threading
from typing import Dict, Iterator, Optional, Tuple

from elftools.dwarf.die import DIE
from elftools.elf.elffile import ELFFile

from ..layouts.abitype import ABI_TYPE
from ..program.elfinfo import symbol_value
from ..memory import MemoryReader, UnreadableMemory

DW_AT_GO_KIND = 0x2900
DW_AT_GO_RUNTIME_TYPE = 0x2904
TYPES_BASE_SYMBOL = "runtime.types"

TFLAG_EXTRA_STAR = 0x2   # the name has a leading "*" to drop (abi.TFlagExtraStar)
_MAX_TYPE_NAME = 1 << 16


class _Binary:
    """What we know about one executable file; built once, then cached."""

    def __init__(self, path: str):
        with open(path, "rb") as handle:
            # Keep the bytes, not an open file: pyelftools reads lazily.
            self.elf = ELFFile(io.BytesIO(handle.read()))
        self.has_dwarf = any(self.elf.get_section_by_name(name) is not None
                             for name in (".debug_info", ".zdebug_info"))
        self._dwarf = None
        self._debug_info: Optional[bytes] = None
        self._offsets: Dict[str, Optional[int]] = {}
        self._all_map_offsets: Optional[Dict[str, int]] = None
        self.types_base = symbol_value(self.elf, TYPES_BASE_SYMBOL)

    @property
    def dwarf(self):
        if self._dwarf is None:
            self._dwarf = self.elf.get_dwarf_info()
            self._debug_info = self._dwarf.debug_info_sec.stream.getvalue()
        return self._dwarf

    def runtime_type_offset(self, type_name: str) -> Optional[int]:
        if type_name not in self._offsets:
            self._offsets[type_name] = self._find_runtime_type_offset(type_name)
        return self._offsets[type_name]

    def _find_runtime_type_offset(self, type_name: str) -> Optional[int]:
        if not self.has_dwarf:
            return None
        die = self._typedef_by_name_search(type_name)
        if die is not None:
            return _runtime_type_attribute(die)
        # Not found inline (a name kept in .debug_str, say): walk the types CU.
        return self.all_map_offsets().get(type_name)

    def _typedef_by_name_search(self, type_name: str) -> Optional[DIE]:
        dwarf = self.dwarf
        data = self._debug_info
        needle = type_name.encode() + b"\x00"
        position = data.find(needle)
        while position >= 0:
            # The name is a typedef's first attribute, right after its
            # ULEB128 abbreviation code (1 byte for Go's codes, 2 at most).
            for code_length in (1, 2):
                die = _die_at(dwarf, position - code_length)
                if (die is not None and die.tag == "DW_TAG_typedef" and "DW_AT_name" in die.attributes
                        and die.attributes["DW_AT_name"].offset == position
                        and die.attributes["DW_AT_name"].value == needle[:-1]):
                    return die
            position = data.find(needle, position + 1)
        return None

    def all_map_offsets(self) -> Dict[str, int]:
        """Every ``map[K]V`` typedef with a descriptor: name → offset from runtime.types."""
        if self._all_map_offsets is None:
            found: Dict[str, int] = {}
            if self.has_dwarf:
                for die in self._type_dies():
                    if die.tag != "DW_TAG_typedef" or "DW_AT_name" not in die.attributes:
                        continue
                    name = die.attributes["DW_AT_name"].value.decode(errors="replace")
                    offset = _runtime_type_attribute(die) if name.startswith("map[") else None
                    if offset is not None:
                        found[name] = offset
            self._all_map_offsets = found
        return self._all_map_offsets

    def _type_dies(self) -> Iterator[DIE]:
        types_unit = _linker_types_unit(self.dwarf)
        units = [types_unit] if types_unit is not None else list(self.dwarf.iter_CUs())
        for unit in units:
            yield from unit.get_top_DIE().iter_children()


def _die_at(dwarf, offset: int) -> Optional[DIE]:
    if offset < 0:
        return None
    try:
        return dwarf.get_DIE_from_refaddr(offset)
    except Exception:  # not a DIE boundary: pyelftools raises whatever its parser hits
        return None


def _runtime_type_attribute(die: DIE) -> Optional[int]:
    attribute = die.attributes.get(DW_AT_GO_RUNTIME_TYPE)
    # 0 means the linker wrote no descriptor for this type (it is unused).
    return attribute.value if attribute is not None and attribute.value else None


def _linker_types_unit(dwarf):
    """The CU the Go linker fills with type DIEs (checked for go1.19 … go1.27).

    It is named ``runtime`` like several others; unlike them its first
    children include the ``<unspecified>`` DW_TAG_unspecified_type.
    """
    for unit in dwarf.iter_CUs():
        top = unit.get_top_DIE()
        name = top.attributes.get("DW_AT_name")
        if name is None or name.value != b"runtime":
            continue
        for index, child in enumerate(top.iter_children()):
            if child.tag == "DW_TAG_unspecified_type":
                return unit
            if index >= 3:
                break
    return None

_cache: Dict[Tuple[str, int, int], _Binary] = {}
_cache_lock = threading.Lock()


def _binary(elf_path: str) -> _Binary:
    real = os.path.realpath(elf_path)
    stat = os.stat(real)
    key = (real, stat.st_mtime_ns, stat.st_size)
    with _cache_lock:
        binary = _cache.get(key)
        if binary is None:
            for stale in [cached for cached in _cache if cached[0] == real]:
                del _cache[stale]
            binary = _cache[key] = _Binary(real)
        return binary


# -- public API ------------------------------------------------------------------


def dwarf_present(elf_path: str) -> bool:
    """Whether the executable has DWARF (false after ``-ldflags=-w`` or ``strip``)."""
    return _binary(elf_path).has_dwarf


def runtime_types_address(elf_path: str, load_bias: int = 0) -> Optional[int]:
    """The address of ``runtime.types`` (= moduledata.types of the executable), from .symtab."""
    base = _binary(elf_path).types_base
    return base + load_bias if base is not None else None


def map_type_descriptor_offset(elf_path: str, map_type_name: str) -> Optional[int]:
    """``DW_AT_go_runtime_type`` of the ``map[K]V`` typedef: offset from runtime.types."""
    return _binary(elf_path).runtime_type_offset(map_type_name)


def map_type_descriptor_address(elf_path: str, map_type_name: str, load_bias: int = 0) -> Optional[int]:
    """Address of the runtime type descriptor of ``map_type_name`` (DWARF spelling, e.g.
    ``map[string]int``, ``map[example.com/pkg.Key]int``), or None when the
    binary has no DWARF, no symbol table, or no descriptor for that type.

    ``load_bias`` is what the loader added to link-time addresses: 0 for the
    usual non-PIE Go executable.
    """
    binary = _binary(elf_path)
    offset = binary.runtime_type_offset(map_type_name)
    if offset is None or binary.types_base is None:
        return None
    return binary.types_base + offset + load_bias


def map_type_descriptors(elf_path: str, load_bias: int = 0) -> Dict[str, int]:
    """Every map type with a descriptor in the executable: DWARF name → descriptor address."""
    binary = _binary(elf_path)
    if binary.types_base is None:
        return {}
    return {name: binary.types_base + offset + load_bias for name, offset in binary.all_map_offsets().items()}


class ElfImageMemory:
    """A MemoryReader over the file-backed bytes of an executable's PT_LOAD segments.

    Type descriptors are read-only data, identical in the file and in the
    process, so decoders can read a descriptor without a live process.
    Bytes that are not in the file (.bss, the heap) are unreadable.
    """

    def __init__(self, elf_path: str, load_bias: int = 0):
        self._segments = []
        elf = _binary(elf_path).elf
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]:
                self._segments.append((segment["p_vaddr"] + load_bias, segment.data()))

    def read(self, address: int, size: int) -> bytes:
        for start, data in self._segments:
            if start <= address and address + size <= start + len(data):
                return data[address - start:address - start + size]
        raise UnreadableMemory(address, size, "not in the executable's file-backed segments")


class RuntimeTypeNames:
    """Names runtime type descriptors: ``names(address) -> "main.Key"`` or None.

    The descriptor's ``str`` field is an offset from its module's types
    base (runtime.types for the executable) to an ``abi.Name``: a flags
    byte, a varint length, the bytes (Go ≥ 1.17). With TFlagExtraStar the
    stored name has a leading ``*`` that is not part of it.
    Descriptors of plugins and shared libraries are named wrongly or not at all.
    """

    def __init__(self, memory: MemoryReader, types_base: int):
        self._memory = memory
        self._types_base = types_base
        self._names: Dict[int, Optional[str]] = {}

    def __call__(self, descriptor_address: int) -> Optional[str]:
        if descriptor_address not in self._names:
            self._names[descriptor_address] = self._read_name(descriptor_address)
        return self._names[descriptor_address]

    def _read_name(self, descriptor_address: int) -> Optional[str]:
        try:
            header = ABI_TYPE.parse(self._memory.read(descriptor_address, ABI_TYPE.sizeof()))
            name_address = self._types_base + header.str
            length, varint_size = _read_varint(self._memory, name_address + 1)
            if length > _MAX_TYPE_NAME:
                return None
            name = self._memory.read(name_address + 1 + varint_size, length).decode("utf-8", errors="replace")
        except UnreadableMemory:
            return None
        if header.tflag & TFLAG_EXTRA_STAR and name.startswith("*"):
            name = name[1:]
        return name


def _read_varint(memory: MemoryReader, address: int) -> Tuple[int, int]:
    value = 0
    for index in range(10):
        byte = memory.read(address + index, 1)[0]
        value |= (byte & 0x7F) << (7 * index)
        if byte < 0x80:
            return value, index + 1
    raise UnreadableMemory(address, 10, "varint longer than 10 bytes")
