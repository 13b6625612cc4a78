"""gdb-hiter without gdb: the loader line, version reports, snapshots, diffs.

``gdb-hiter gdbinit`` prints the ``source`` line that loads this install
into gdb; ``gdb-hiter version FILE`` reports a Go binary's version offline.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .. import __version__
from ..core.messages import one_line
from ..core.program.elfinfo import NotAnExecutable, describe_executable
from ..core.program.goversion import NotGoProgram
from ..core.program.versioninfo import ProgramRef, VersionReport
from . import loader
from .capture import add_capture_command
from .offline import add_offline_commands
from .report import add_report_command


def _gdbinit(args) -> int:
    try:
        path = loader.write_loader()
        if args.install:
            gdbinit = Path(args.gdbinit).expanduser()
            changed = loader.install_in_gdbinit(gdbinit)
    except loader.LoaderError as error:
        print(f"gdb-hiter: gdbinit: {one_line(str(error))}", file=sys.stderr)
        return 1
    if args.install:
        state = "added to" if changed else "already in"
        print(f"`{loader.gdb_directory_line(loader.loader_dir())}` {state} {gdbinit}; in gdb, `source gdb_hiter` "
              f"now loads gdb-hiter", file=sys.stderr)
    print(f"source {path}")
    return 0


def _version(args) -> int:
    try:
        facts = describe_executable(args.file)
    except (NotAnExecutable, NotGoProgram) as error:
        print(f"gdb-hiter: {error}", file=sys.stderr)
        return 1
    report = VersionReport.build(facts.version, facts.version_source, facts.dwarf,
                                 ProgramRef("executable", facts.path))
    print(json.dumps(report.to_json(), sort_keys=True) if args.json else report.to_text())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gdb-hiter", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--version", action="version", version=f"gdb-hiter {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    gdbinit = commands.add_parser("gdbinit", help="print the gdb `source` line that loads this install")
    gdbinit.add_argument("--install", action="store_true",
                         help="also add the loader's directory to ~/.gdbinit so that `source gdb_hiter` works")
    gdbinit.add_argument("--gdbinit", default="~/.gdbinit", help="the gdbinit file to change (default: %(default)s)")
    gdbinit.set_defaults(handler=_gdbinit)

    version = commands.add_parser("version", help="report a Go executable's version and map layout")
    version.add_argument("file")
    version.add_argument("--json", action="store_true")
    version.set_defaults(handler=_version)

    add_offline_commands(commands)
    add_report_command(commands)
    add_capture_command(commands)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)

