"""What program gdb is looking at, and its Go version, read through gdb."""

from __future__ import annotations

import re
from typing import Optional

import gdb

from ..core.program.elfinfo import NotAnExecutable, describe_executable
from ..core.program.goversion import NotGoProgram, parse_build_version
from ..core.memory import read_go_string
from ..core.program.versioninfo import ProgramRef, VersionReport
from .command import UserError
from .memory import InferiorMemory

# `info address NAME`: "Symbol "runtime.types" is at 0x4a0000 in a file compiled without debugging.",
# "... is static storage at address 0x586da0.", "... is a function at address 0x49fb20."
_INFO_ADDRESS = re.compile(r"\b(?:is at|at address) (0x[0-9a-fA-F]+)")


def symbol_address(name: str) -> Optional[int]:
    """The address of the global symbol ``name`` (DWARF or ELF only), or None when there is none.

    Never through gdb's expression parser: in gdb 13.1 a quoted Go name
    (``&'runtime.types'``) leaves the Go parser in a state where the next
    unknown name the user types (``print main.nosuch``) ends gdb with a
    segmentation fault. ``info address`` looks the name up without parsing.
    """
    try:
        text = gdb.execute(f"info address {name}", to_string=True)
    except gdb.error:
        return None
    match = _INFO_ADDRESS.search(text)
    return int(match.group(1), 16) if match else None


def current_program() -> ProgramRef:
    inferior = gdb.selected_inferior()
    path = gdb.current_progspace().filename
    core = _core_file_name()
    if core is not None:
        return ProgramRef("core", path, core=core)
    if inferior.pid:
        return ProgramRef("process", path, pid=inferior.pid)
    if path is None:
        raise UserError("no program loaded: use `file PROGRAM`, `attach PID` or `core-file CORE` first")
    return ProgramRef("executable", path)


def _core_file_name() -> Optional[str]:
    connection = getattr(gdb.selected_inferior(), "connection", None)
    if connection is None or connection.type != "core":
        return None
    # gdb names the core in `info target`; the Python API does not expose it.
    for line in gdb.execute("info target", to_string=True).splitlines():
        line = line.strip()
        if line.startswith("Local core dump file:"):
            continue
        if line.startswith("`") and "', file type" in line:
            return line[1:line.index("', file type")]
    return "(core file)"


def _build_version_from_memory() -> Optional[str]:
    """``runtime.buildVersion`` as gdb sees it (the process, the core or the file).

    Looked up as a symbol, not parsed as an expression: with gdb's language
    set to Go, a C cast makes gdb search every compilation unit first
    (0.4-0.9 s on the first command of a session).
    """
    try:
        symbol = gdb.lookup_global_symbol("runtime.buildVersion")
        if symbol is None:
            return None  # stripped: no symbol
        address = int(symbol.value().address)
    except gdb.error:
        return None
    try:
        return read_go_string(InferiorMemory(), address, limit=256)
    except Exception:
        return None


def version_report() -> VersionReport:
    program = current_program()
    if program.path is None:
        raise UserError("the core file's executable is unknown: load it with `file PROGRAM` first")
    try:
        facts = describe_executable(program.path)
    except NotAnExecutable as error:
        raise UserError(str(error)) from None
    except NotGoProgram as error:
        raise UserError(str(error)) from None
    version, source = facts.version, facts.version_source
    live_text = _build_version_from_memory()
    if live_text:
        try:
            version, source = parse_build_version(live_text), "runtime.buildVersion"
        except NotGoProgram:
            pass
    return VersionReport.build(version, source, facts.dwarf, program)
