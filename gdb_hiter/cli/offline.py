"""The offline subcommands of ``gdb-hiter`` (no gdb needed): ``show``, ``diff``, ``export``, ``redact``.

``add_offline_commands(subparsers)`` registers them on the ``gdb-hiter``
parser (each sets ``handler``). Errors are one line on stderr, ``gdb-hiter: FILE: problem``, exit
status 2; success is 0.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from typing import Any, Dict, Iterable, Optional, TextIO, Union

from ..core.messages import one_line
from ..core.snapshot.diff import diff_snapshots
from ..core.files import read_regular
from ..core.snapshot.redact import RedactError, RedactMemo, redact_snapshot, token
from ..core.snapshot.store import INLINE_CHARS, STORE_NAME, ChunkStore, StoredObject
from ..core.snapshot.report import FORMATS, json_chunks, render_diff, render_snapshot
from ..core.snapshot.document import (
    SnapshotError, dumps, read_snapshot, snapshot_files, validate_snapshot, write_snapshot, write_stored_snapshot,
)

EXIT_OK = 0
EXIT_BAD_INPUT = 2
SALT_ENV = "GDB_HITER_SALT"


def _fail(message: str) -> int:
    print(f"gdb-hiter: {one_line(message)}", file=sys.stderr)
    return EXIT_BAD_INPUT


def use_color(choice: str, stream: Optional[TextIO] = None) -> bool:
    """``--color``: on, off, or auto (the stream is a terminal and NO_COLOR is not set)."""
    if choice == "on":
        return True
    if choice == "off":
        return False
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _write(text: Union[str, Iterable[str]]) -> None:
    try:
        if isinstance(text, str):
            sys.stdout.write(text)
        else:   # pieces, gathered into writes of about 1 MiB
            batch, size = [], 0
            for piece in text:
                batch.append(piece)
                size += len(piece)
                if size >= 1 << 20:
                    sys.stdout.write("".join(batch))
                    batch, size = [], 0
            sys.stdout.write("".join(batch))
        sys.stdout.flush()
    except BrokenPipeError:   # `gdb-hiter diff ... | head`
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass


def cmd_show(args) -> int:
    try:
        doc = read_snapshot(args.file)
    except SnapshotError as error:
        return _fail(str(error))
    limit = None if args.limit == 0 else args.limit
    if args.format == "json":
        _write(json_chunks(doc))
        return EXIT_OK
    _write(render_snapshot(doc, args.format, color=use_color(getattr(args, "color", "off")), limit=limit))
    return EXIT_OK


def cmd_diff(args) -> int:
    try:
        a = read_snapshot(args.a)
        b = read_snapshot(args.b)
    except SnapshotError as error:
        return _fail(str(error))
    diff = diff_snapshots(a, b)
    _write(render_diff(diff, args.format, color=args.format == "text" and use_color(args.color)))
    return EXIT_OK


def cmd_redact(args) -> int:
    salt = args.salt if args.salt is not None else os.environ.get(SALT_ENV)
    generated = salt is None
    if generated:
        salt = secrets.token_hex(16)
    if os.path.isdir(args.input):
        code = _redact_directory(args.input, args.output, salt, args.force)
    else:
        code = _redact_file(args, salt)
    if code == EXIT_OK and generated:
        print(f"gdb-hiter: redact: salt {salt} (redact the other snapshots of this report with "
              f"--salt {salt} so that their keys match; keep it private)", file=sys.stderr)
    return code


def _redact_file(args, salt: str) -> int:
    try:
        doc = read_snapshot(args.input)
    except SnapshotError as error:
        return _fail(str(error))
    try:
        redacted = redact_snapshot(doc, salt)
    except RedactError as error:
        return _fail(f"{args.input}: {error}")
    if os.path.abspath(args.output) == os.path.abspath(args.input) and not args.force:
        return _fail(f"{args.output}: refusing to overwrite the input (pass --force)")
    if args.output == "-":
        validate_snapshot(redacted)
        _write(dumps(redacted))
    else:
        try:
            write_snapshot(redacted, args.output)
        except SnapshotError as error:
            return _fail(str(error))
    return EXIT_OK


def _redact_directory(source: str, target: str, salt: str, force: bool) -> int:
    """A capture directory redacted whole: each snapshot with one salt, index.json and report.md
    rebuilt from the redacted snapshots; gdb.log and any other file left out, and said so."""
    from .capture import INDEX_NAME, PROGRAM_OUTPUT, REPORT_NAME, finish_directory
    source, target = os.path.abspath(source), os.path.abspath(target)
    # by what the paths are, not how they are spelt: a symlink or bind mount to DIR is DIR
    real_source, real_target = os.path.realpath(source), os.path.realpath(target)
    if (real_target == real_source or real_target.startswith(real_source + os.sep)
            or real_source.startswith(real_target + os.sep)
            or (os.path.isdir(target) and os.path.samefile(source, target))):
        return _fail(f"{target}: the redacted capture must go outside {source}, and not hold it")
    try:
        names = snapshot_files(source)
        if os.path.lexists(target) and (not os.path.isdir(target) or os.path.islink(target)):
            return _fail(f"{target}: exists and is not a directory")
        os.makedirs(target, exist_ok=True)
        present = os.listdir(target)
        if present and not force:
            return _fail(f"{target}: not empty ({sorted(present)[0]}, ...): choose a new directory or pass --force")
        # --force: what an earlier capture or redaction left there goes, so nothing in clear stays
        for name in snapshot_files(target) + [n for n in (INDEX_NAME, REPORT_NAME, PROGRAM_OUTPUT, "gdb.log")
                                              if os.path.lexists(os.path.join(target, n))]:
            os.unlink(os.path.join(target, name))
    except OSError as error:
        return _fail(f"{error.filename or target}: {error.strerror or error}")
    if not names:
        return _fail(f"{source}: a directory, but no snapshot files (NNNN-<event>.json) in it")
    outcome = {}
    index_path = os.path.join(source, INDEX_NAME)
    if os.path.lexists(index_path):
        try:
            outcome = json.loads(read_regular(index_path).decode("utf-8"))
        except (OSError, ValueError, RecursionError) as error:
            return _fail(f"{index_path}: cannot read: {getattr(error, 'strerror', None) or error}")
        if not isinstance(outcome, dict):
            return _fail(f"{index_path}: not a capture index")
    skipped = []
    memo = RedactMemo()
    # a capture with a store is redacted into one: what did not change is redacted and stored once
    store = ChunkStore(target, write=True) if os.path.isfile(os.path.join(source, STORE_NAME)) else None
    texts = RedactMemo()
    try:
        for name in names:
            path = os.path.join(source, name)
            try:
                redacted = redact_snapshot(read_snapshot(path), salt, memo)
            except (SnapshotError, RedactError) as error:   # an unreadable snapshot of a capture: left out, said
                skipped.append(name)
                print(f"gdb-hiter: redact: left out "
                      f"{one_line(str(error) if path in str(error) else f'{path}: {error}')}", file=sys.stderr)
                continue
            try:
                if store is None:
                    write_snapshot(redacted, os.path.join(target, name), follow_symlinks=False)
                else:
                    write_stored_snapshot(_as_stored(redacted, texts), os.path.join(target, name), store)
            except SnapshotError as error:
                return _fail(str(error))
    finally:
        if store is not None:
            store.close()
    others = sorted(set(os.listdir(source)) - set(names) - {INDEX_NAME, REPORT_NAME, STORE_NAME}
                    - {STORE_NAME + "-wal", STORE_NAME + "-shm"})
    left_out = others + skipped
    for key in ("format", "version", "snapshots", "unreadable"):
        outcome.pop(key, None)
    if isinstance(outcome.get("command"), list):   # the program's arguments may be data too
        outcome["command"] = [outcome["command"][0]] + [token(salt, "a", str(arg)) for arg in outcome["command"][1:]]
    outcome["redacted"] = {"method": "hmac-sha256", "salted": True, "from": source, "left_out": left_out}
    try:
        finish_directory(target, outcome)
    except OSError as error:
        return _fail(f"{target}: cannot write: {error.strerror or error}")
    if others:
        print(f"gdb-hiter: redact: left out {', '.join(others)} (not snapshots: "
              "gdb.log holds keys and values in clear)", file=sys.stderr)
    return EXIT_OK


def _as_stored(doc: Dict[str, Any], texts: RedactMemo) -> Dict[str, Any]:
    """``doc`` with each big object as a ``StoredObject``, one per distinct object (so stored once)."""
    out = dict(doc)
    for part in ("maps", "iterators"):
        items = []
        for item in doc[part]:
            stored = texts.get(item)
            if stored is None:
                text = json.dumps(item, allow_nan=False)
                stored = texts.put(item, StoredObject(text, key=(part, item.get("address"))) if len(text) >= INLINE_CHARS
                                   else item)
            items.append(stored)
        out[part] = items
    return out


def cmd_export(args) -> int:
    try:
        doc = read_snapshot(args.file)
    except SnapshotError as error:
        return _fail(str(error))
    if os.path.lexists(args.output) and not args.force:
        return _fail(f"{args.output}: exists (pass --force to replace it)")
    try:
        write_snapshot(doc, args.output)
    except SnapshotError as error:
        return _fail(str(error))
    return EXIT_OK


def add_offline_commands(subparsers) -> None:
    """Register ``show``, ``diff`` and ``redact`` on an ``add_subparsers()`` object."""
    show = subparsers.add_parser("show", help="print a snapshot file (text, markdown or JSON)")
    show.add_argument("file", help="a snapshot written by hiter-snapshot")
    show.add_argument("--format", choices=FORMATS, default="text")
    show.add_argument("--limit", type=int, default=100, metavar="N",
                      help="entries and bucket/group rows per map in text (default %(default)s, 0 all)")
    show.add_argument("--color", choices=("auto", "on", "off"), default="auto",
                      help="colour the text output (auto: stdout is a terminal and NO_COLOR is unset)")
    show.set_defaults(handler=cmd_show)

    diff = subparsers.add_parser("diff", help="what changed between two snapshots: maps, entries, iterators")
    diff.add_argument("a", metavar="A", help="the earlier snapshot")
    diff.add_argument("b", metavar="B", help="the later snapshot")
    diff.add_argument("--format", choices=FORMATS, default="text",
                      help="text for a terminal, markdown for a GitHub issue, json for programs")
    diff.add_argument("--color", choices=("auto", "on", "off"), default="auto",
                      help="colour the text output (auto: stdout is a terminal and NO_COLOR is unset)")
    diff.set_defaults(handler=cmd_diff)

    export = subparsers.add_parser(
        "export", help="write one snapshot of a capture directory as a self-contained file",
        description="Read FILE (a snapshot; in a capture directory its big maps and iterators are kept in "
                    "DIR/chunks.sqlite) and write OUT.json holding the whole document, as hiter-snapshot "
                    "--out writes it: one file to attach to a bug report.")
    export.add_argument("file", metavar="FILE", help="a snapshot file, e.g. DIR/0003-cgocallback-return.json")
    export.add_argument("output", metavar="OUT", help="the file to write")
    export.add_argument("--force", action="store_true", help="replace OUT if it exists")
    export.set_defaults(handler=cmd_export)

    redact = subparsers.add_parser(
        "redact", help="replace every key and value of a snapshot by a salted hash token",
        description="Replace every map key and value (and the iterators' key/element bytes and the hash seeds) "
                    "by salted HMAC-SHA256 tokens. Use the same --salt for every snapshot of one report so that "
                    "their diff still pairs entries; without --salt (or $GDB_HITER_SALT) a random salt is "
                    "generated and printed on stderr. IN may be a capture directory: OUT is then a new "
                    "directory with every snapshot redacted and index.json and report.md rebuilt from them "
                    "(gdb.log is left out).")
    redact.add_argument("input", metavar="IN", help="a snapshot file, or a capture directory (hiter-watch --out, "
                                                   "gdb-hiter capture)")
    redact.add_argument("output", metavar="OUT", help="the redacted snapshot to write (- for standard output), "
                                                     "or for a directory a new directory")
    redact.add_argument("--salt", help=f"the secret salt (default: ${SALT_ENV}, else a random one, printed)")
    redact.add_argument("--force", action="store_true",
                        help="allow OUT to be IN (a file), or OUT to be a directory that is not empty")
    redact.set_defaults(handler=cmd_redact)

