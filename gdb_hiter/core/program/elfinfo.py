"""What an executable file says about itself: Go version, DWARF, symbols.

Reads the file with pyelftools, never the process, so it works for a live
program, a core file's executable and an executable alone. Stripped
binaries (``-ldflags='-s -w'``) lose ``.symtab`` and DWARF but keep
``.go.buildinfo``, so the version survives stripping.
"""

from __future__ import annotations

import functools
import struct
import os
from dataclasses import dataclass
from typing import Optional, Tuple

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile

from .goversion import (
    BuildInfo, GoVersion, NotGoProgram, find_buildinfo, parse_build_version, parse_buildinfo,
)

DWARF_SECTIONS = (".debug_info", ".zdebug_info")
BUILD_VERSION_SYMBOL = "runtime.buildVersion"
MAX_SCAN_BYTES = 64 << 20  # a data segment larger than this is not scanned for build info


class NotAnExecutable(Exception):
    """The file cannot be read as an ELF executable."""


@dataclass(frozen=True)
class ExecutableFacts:
    path: str
    version: GoVersion
    version_source: str       # "runtime.buildVersion" or ".go.buildinfo"
    dwarf: bool
    symbols: bool             # has .symtab
    buildinfo: Optional[BuildInfo]


def symbol_value(elf: ELFFile, name: str) -> Optional[int]:
    """A symbol's value from .symtab, by scanning the raw table.

    pyelftools' get_symbol_by_name builds a dict of every symbol first
    (50-170 ms on a Go binary); matching the name's string-table offsets
    takes a few ms.
    """
    symtab = elf.get_section_by_name(".symtab")
    if symtab is None or symtab.header.sh_entsize != 24:
        return None
    strings = elf.get_section(symtab.header.sh_link).data()
    wanted = name.encode() + b"\x00"
    name_offsets = set()
    position = strings.find(wanted)
    while position >= 0:
        if position == 0 or strings[position - 1] == 0:
            name_offsets.add(position)
        position = strings.find(wanted, position + 1)
    if not name_offsets:
        return None
    # Elf64_Sym: st_name u32, st_info u8, st_other u8, st_shndx u16, st_value u64, st_size u64.
    for st_name, _info, _other, _shndx, st_value, _size in struct.iter_unpack("<IBBHQQ", symtab.data()):
        if st_name in name_offsets:
            return st_value
    return None



class _Image:
    """An open ELF file with address-to-file-offset translation."""

    def __init__(self, stream):
        self.elf = ELFFile(stream)
        self.stream = stream

    def section_names(self):
        return {section.name for section in self.elf.iter_sections()}

    def symbol_address(self, name: str) -> Optional[int]:
        return symbol_value(self.elf, name)

    def read_virtual(self, address: int, size: int) -> bytes:
        for segment in self.elf.iter_segments():
            if segment["p_type"] != "PT_LOAD":
                continue
            start = segment["p_vaddr"]
            if start <= address and address + size <= start + segment["p_filesz"]:
                self.stream.seek(segment["p_offset"] + address - start)
                return self.stream.read(size)
        raise NotGoProgram(f"address {address:#x} is not in the file's loaded segments")

    def buildinfo_blob(self) -> Optional[bytes]:
        section = self.elf.get_section_by_name(".go.buildinfo")
        if section is not None:
            return section.data()
        # No section headers (or renamed): the magic sits 16-byte aligned in a data segment.
        for segment in self.elf.iter_segments():
            if segment["p_type"] != "PT_LOAD" or segment["p_filesz"] > MAX_SCAN_BYTES:
                continue
            data = segment.data()
            offset = find_buildinfo(data)
            if offset is not None:
                return data[offset:]
        return None

    def read_go_string_header(self, address: int) -> str:
        header = self.read_virtual(address, 16)
        pointer = int.from_bytes(header[:8], "little")
        length = int.from_bytes(header[8:], "little")
        return self.read_virtual(pointer, length).decode("utf-8", "replace")


def _describe(path: str) -> ExecutableFacts:
    try:
        stream = open(path, "rb")
    except OSError as error:
        raise NotAnExecutable(f"cannot open {path}: {error.strerror}") from None
    with stream:
        try:
            image = _Image(stream)
        except ELFError as error:
            raise NotAnExecutable(f"{path} is not an ELF file ({error})") from None
        names = image.section_names()
        dwarf = any(name in names for name in DWARF_SECTIONS)
        buildinfo = None
        blob = image.buildinfo_blob()
        if blob is not None:
            buildinfo = parse_buildinfo(blob, image.read_go_string_header)
        symbol = image.symbol_address(BUILD_VERSION_SYMBOL)
        if symbol:
            version = parse_build_version(image.read_go_string_header(symbol))
            source = BUILD_VERSION_SYMBOL
        elif buildinfo is not None:
            version = parse_build_version(buildinfo.version)
            source = ".go.buildinfo"
        else:
            raise NotGoProgram(f"{path} is not a Go program: it has neither {BUILD_VERSION_SYMBOL} nor .go.buildinfo")
        return ExecutableFacts(path, version, source, dwarf, ".symtab" in names, buildinfo)


@functools.lru_cache(maxsize=16)
def _describe_cached(path: str, mtime_ns: int, size: int) -> ExecutableFacts:
    return _describe(path)


def describe_executable(path: str) -> ExecutableFacts:
    """Facts about the Go executable at ``path`` (cached while the file is unchanged)."""
    try:
        status = os.stat(path)
    except OSError as error:
        raise NotAnExecutable(f"cannot open {path}: {error.strerror}") from None
    return _describe_cached(os.path.realpath(path), status.st_mtime_ns, status.st_size)


def version_and_source(path: str) -> Tuple[GoVersion, str]:
    facts = describe_executable(path)
    return facts.version, facts.version_source
