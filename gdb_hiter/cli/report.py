"""``gdb-hiter report DIR``: report.md rebuilt from a capture directory; the report options it shares with ``capture``.

The report itself is ``core/snapshot/callreport.py``; the snapshots are read one at
a time (``core/snapshot/capturedir.py``). Errors are one line on stderr, exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional

from ..core.files import read_regular, write_atomic
from ..core.messages import one_line
from ..core.snapshot.callreport import (
    CGO_HELPERS, DEFAULT_LIMIT, DEFAULT_MAX_CHARS, CallReport, ReportOptions, directory_diff_command,
)
from ..core.snapshot.capturedir import iter_capture_documents
from ..core.snapshot.document import snapshot_files

EXIT_OK = 0
EXIT_BAD_INPUT = 2
MIN_MAX_CHARS = 500
REPORT_NAME = "report.md"
INDEX_NAME = "index.json"


def add_report_options(parser, *, limit_help: Optional[str] = None) -> None:
    """``--max-chars``, ``--only-changed`` / ``--all-calls``, ``--cfunc``, ``--skip-cfunc``, ``--limit``."""
    group = parser.add_argument_group("report.md")
    group.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, metavar="N",
                       help="at most N characters, whatever the run (default %(default)s: a GitHub comment "
                            "holds 65536); details that do not fit are cut, and the last line says so")
    which = group.add_mutually_exclusive_group()
    which.add_argument("--only-changed", dest="all_calls", action="store_false", default=False,
                       help="list only the calls that changed something, count the others (the default)")
    which.add_argument("--all-calls", dest="all_calls", action="store_true",
                       help="list the calls that changed nothing too")
    group.add_argument("--cfunc", metavar="NAME,...",
                       help="only the C calls to these functions (C.f or f; a callback outside any C call "
                            "by its Go name)")
    group.add_argument("--skip-cfunc", metavar="NAME,...",
                       help=f"leave the C calls to these out, counted (default: {','.join(CGO_HELPERS)}, "
                            "cgo's own allocation helpers; '' leaves none out)")
    group.add_argument("--limit", type=int, default=DEFAULT_LIMIT, metavar="N",
                       help=limit_help or "keys listed per change of a map (default %(default)s; 0 all); "
                                          "gdb-hiter diff shows the rest")


class OptionError(ValueError):
    pass


def report_options(args) -> ReportOptions:
    """The options of ``add_report_options`` as ``ReportOptions``; ``OptionError`` for a bad value."""
    if args.max_chars < MIN_MAX_CHARS:
        raise OptionError(f"--max-chars {args.max_chars}: at least {MIN_MAX_CHARS}")
    if args.limit < 0:
        raise OptionError(f"--limit {args.limit}: 0 (all) or a positive number")
    return ReportOptions.from_lists(cfunc=args.cfunc, skip_cfunc=args.skip_cfunc, max_chars=args.max_chars,
                                    all_calls=args.all_calls, limit=args.limit)


def _fail(message: str) -> int:
    print(f"gdb-hiter: {one_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _capture_result(directory: str) -> Optional[str]:
    """How the capture ended, from its index.json, if there is a readable one."""
    path = os.path.join(directory, INDEX_NAME)
    try:
        index: Any = json.loads(read_regular(path).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    result = index.get("result") if isinstance(index, dict) else None
    return result if isinstance(result, str) else None


def cmd_report(args) -> int:
    directory = args.dir
    try:
        options = report_options(args)
    except OptionError as error:
        return _fail(f"report: {error}")
    if not os.path.isdir(directory):
        return _fail(f"{directory}: {'not a directory' if os.path.exists(directory) else 'no such directory'}")
    try:
        names = snapshot_files(directory)
    except OSError as error:
        return _fail(f"{directory}: {error.strerror or error}")
    if not names:
        return _fail(f"{directory}: a directory, but no snapshot files (NNNN-<event>.json) in it")
    unreadable: list = []
    builder = CallReport(options, "markdown", directory_diff_command(directory), _capture_result(directory))
    builder.unreadable = unreadable
    for name, doc in iter_capture_documents(directory, unreadable):
        builder.add(doc, name)
    if builder.snapshots == 0:
        return _fail(f"{directory}: no readable snapshot ({unreadable[0] if unreadable else 'none'})")
    text = builder.finish()
    out = args.out or os.path.join(directory, REPORT_NAME)
    if out == "-":
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except BrokenPipeError:
            pass
        return EXIT_OK
    try:
        write_atomic(out, text, follow_symlinks=False)
    except OSError as error:
        return _fail(f"{out}: cannot write: {error.strerror or error}")
    print(one_line(f"gdb-hiter: report: {out}: {len(text)} characters, {builder.calls} C call(s) in "
                   f"{builder.snapshots} snapshot(s)" + (f", {len(unreadable)} unreadable left out" if unreadable
                                                         else ""), 1000), file=sys.stderr)
    return EXIT_OK


def add_report_command(subparsers) -> None:
    """Register ``report`` on the ``gdb-hiter`` parser's subcommands."""
    parser = subparsers.add_parser(
        "report", help="rebuild report.md from a capture directory",
        description="Rebuild DIR/report.md from the snapshots of a capture directory (gdb-hiter capture, "
                    "hiter-watch --out, gdb-hiter redact DIR OUT): a summary table of the C calls, each "
                    "explanation once, then the details of each call, within --max-chars characters.")
    parser.add_argument("dir", metavar="DIR", help="a capture directory")
    parser.add_argument("--out", metavar="FILE", help="where to write it (default DIR/report.md; - for standard output)")
    add_report_options(parser)
    parser.set_defaults(handler=cmd_report)
