"""``hiter-version``: which Go built the program and which map layout that means."""

from __future__ import annotations

import json

import gdb

from .command import HiterCommand
from .program import version_report


class HiterVersion(HiterCommand):
    name = "hiter-version"
    summary = "Show the program's Go version, GOEXPERIMENTs, map layout and whether DWARF is present."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")

    def run(self, args):
        report = version_report()
        if args.json:
            gdb.write(json.dumps(report.to_json(), sort_keys=True) + "\n")
        else:
            gdb.write(report.to_text() + "\n")


def register() -> None:
    HiterVersion()
