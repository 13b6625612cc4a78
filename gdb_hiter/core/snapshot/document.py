"""Snapshots: the maps and iterators of one program at one moment, as a JSON document.

Pure core (no gdb). The format is ``gdb-hiter-snapshot`` version 2, described
field by field in docs/snapshot-format.md and checked by the JSON Schema
``schema/snapshot-v2.schema.json`` (compiled once with fastjsonschema).
Version 2 is version 1 plus stored objects: in a capture directory a big map
or iterator object may be a reference to chunks of ``chunks.sqlite``
(``store.py``), which ``read_snapshot`` resolves. Version-1 files are read
and checked against ``snapshot-v1.schema.json``. Reading a snapshot only
ever parses JSON: nothing in a file is evaluated.

``write_snapshot`` is atomic: the document is validated, written to a
temporary file in the target's directory, fsynced and renamed over the
target, so a crash leaves either the old file or the new one, never half of
one.
"""

from __future__ import annotations

import datetime
import errno
import functools
import json
import math
import os
import re
from importlib import resources
from typing import Any, Dict, List, Optional, Sequence

from ..files import MAX_INPUT_BYTES, read_regular, write_atomic
from .store import STORE_NAME, StoreError, is_reference, references_in, resolve_stored, stored_document

FORMAT = "gdb-hiter-snapshot"
VERSION = 2
READ_VERSIONS = (1, 2)
EVENTS = ("manual", "cgocall-enter", "cgocall-return", "cgocallback-enter", "cgocallback-return", "core")
SCHEMA_NAME = "snapshot-v2.schema.json"


class SnapshotError(ValueError):
    """A snapshot that cannot be written or read; the message is one line."""


# ---------------------------------------------------------------------------
# Schema


@functools.lru_cache(maxsize=None)
def load_schema(version: int = VERSION) -> Dict[str, Any]:
    """The JSON Schema of a format version (package data)."""
    name = f"snapshot-v{version}.schema.json"
    text = resources.files("gdb_hiter.core.snapshot.schema").joinpath(name).read_text(encoding="utf-8")
    return json.loads(text)


@functools.lru_cache(maxsize=None)
def _validator(version: int = VERSION):
    import fastjsonschema  # imported late: only snapshots need it
    return fastjsonschema.compile(load_schema(version))


def _json_path(name: str) -> str:
    """fastjsonschema's ``data.maps[0].count`` as ``$.maps[0].count``."""
    return "$" + name[len("data"):] if name.startswith("data") else name


@functools.lru_cache(maxsize=None)
def _part_validator(definition: str):
    import fastjsonschema
    schema = load_schema()
    return fastjsonschema.compile({"$id": schema["$id"], "definitions": schema["definitions"],
                                   "$ref": f"#/definitions/{definition}"})


def validate_snapshot(doc: Any, *, parsed: bool = False, version: Optional[int] = None) -> None:
    """Raise ``SnapshotError`` ("$.maps[0].count: must be integer") unless ``doc`` is a valid snapshot.

    ``version``: the format version to check against (default: the document's own,
    if this reads it, else the current one). ``parsed``: ``doc`` comes from ``loads``,
    whose parser already refused NaN and infinities.
    """
    if version is None:
        own = doc.get("version") if isinstance(doc, dict) else None
        version = own if own in READ_VERSIONS and type(own) is int else VERSION
    _validate(_validator(version), doc, check_numbers=not parsed)


def validate_part(definition: str, item: Any, where: str) -> None:
    """``SnapshotError`` unless ``item`` is a valid object of the schema's ``definition`` ("map", "iterator")."""
    _validate(_part_validator(definition), item, where, check_numbers=True)


def validate_stub(doc: Dict[str, Any]) -> None:
    """Check a snapshot whose big objects are stored (``store.py``): everything but those objects.

    The stored objects' text is gdb-hiter's own rendering of what it decoded
    (a capture's hot path checks their structure where it makes them); only
    the document around them and its inline objects are validated here.
    """
    shell = dict(doc, maps=[], iterators=[])
    _validate(_validator(), shell, check_numbers=True)
    for part, definition in (("maps", "map"), ("iterators", "iterator")):
        for index, item in enumerate(doc[part]):
            if not is_reference(item):
                _validate(_part_validator(definition), item, f"$.{part}[{index}]", check_numbers=True)


def _validate(validator, doc: Any, prefix: str = "", *, check_numbers: bool = False) -> None:
    import fastjsonschema
    try:
        validator(doc)
    except fastjsonschema.JsonSchemaValueException as error:
        name = error.name or "data"
        where = prefix + _json_path(name)[1:] if prefix else _json_path(name)
        message = error.message
        # fastjsonschema words messages as "data.maps[0].count must be integer"
        if name and message.startswith(name):
            message = message[len(name):].strip()
        message = " ".join(message.split())
        if len(message) > 200:
            message = message[:197] + "..."
        raise SnapshotError(f"{where}: {message}") from None
    if check_numbers:
        _check_json_numbers(doc, prefix or "$")


def _check_json_numbers(doc: Any, path: str = "$") -> None:
    """No NaN or infinite floats (not JSON); the schema cannot say so.

    The walk that finds one carries no path (building a path per value cost
    more than the schema check on big maps); only a bad float is looked up again.
    """
    stack = [doc]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
        elif type(value) is float and (value != value or value in (math.inf, -math.inf)):
            raise SnapshotError(f"{_path_of(doc, value, path)}: {value} is not a JSON number")


def _path_of(doc: Any, bad: float, path: str) -> str:
    stack = [(doc, path)]
    while stack:
        value, where = stack.pop()
        if value is bad:
            return where
        if isinstance(value, dict):
            stack.extend((item, f"{where}.{key}") for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{index}]") for index, item in enumerate(value))
    return path


# ---------------------------------------------------------------------------
# Building

# What a map object must hold to be recorded at all; anything else of a map
# whose object breaks the schema (a corrupt header: dirLen < 0, globalDepth >
# 64) moves under "unrecorded", kept as read.
_MAP_CORE = ("address", "type", "expression", "impl", "layout", "count", "flags", "growing", "entries", "problems")
# kept too when valid: whether the entries are all of them (a diff needs it)
_MAP_COMPLETENESS = ("entries_found", "entries_shown", "entries_complete")


def recordable_map(item: Dict[str, Any], where: str = "$.maps[]") -> Dict[str, Any]:
    """``item`` if it is a valid map object, else the map reduced to what is valid, saying why.

    One corrupt map must not cost the snapshot its other maps and iterators.
    """
    try:
        _validate(_part_validator("map"), item, where)
        _check_json_numbers(item, where)
        return item
    except SnapshotError as error:
        why = str(error)
    reduced: Dict[str, Any] = {"address": item.get("address"), "type": str(item.get("type") or "?"),
                               "expression": item.get("expression") if isinstance(item.get("expression"), str) else None,
                               "impl": item.get("impl"), "layout": item.get("layout"), "count": item.get("count"),
                               "flags": item.get("flags"), "growing": item.get("growing"),
                               "entries": item.get("entries"), "problems": item.get("problems")}
    defaults = {"count": 0, "flags": [], "growing": False, "entries": [], "problems": [], "layout": None}
    for name, default in defaults.items():
        trial = dict(reduced, **{other: defaults[other] for other in defaults if other != name})
        try:
            _part_validator("map")(trial)
            _check_json_numbers(trial)
        except Exception:   # this field is what breaks the object
            reduced[name] = default
    for name in _MAP_COMPLETENESS:
        if name in item:
            trial = dict(reduced, **{name: item[name]})
            try:
                _part_validator("map")(trial)
            except Exception:   # not a valid count: left under "unrecorded" with the rest
                continue
            reduced[name] = item[name]
    reduced["problems"] = list(reduced["problems"]) + [{
        "what": "snapshot", "why": f"map object not valid ({why}): only its address, type and entries are "
                                   "recorded; the rest is under \"unrecorded\" as read"}]
    unrecorded = {name: value for name, value in item.items() if name not in _MAP_CORE and name not in reduced}
    if reduced["count"] != item.get("count"):
        unrecorded["count"] = item.get("count")
    try:
        _check_json_numbers(unrecorded)
    except SnapshotError:   # NaN or infinity is not JSON: keep it as text
        unrecorded = {name: json.dumps(value, default=repr) for name, value in unrecorded.items()}
    reduced["unrecorded"] = unrecorded
    reduced["complete"] = False
    _validate(_part_validator("map"), reduced, where)   # address, type or impl wrong: our own bug, say so
    return reduced


def now_iso() -> str:
    """The current time, UTC, ISO 8601 with milliseconds: ``2026-11-30T12:47:17.123Z``."""
    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"


def make_snapshot(*, seq: int, event: str, go: Dict[str, Any], program: Dict[str, Any],
                  maps: Sequence[Dict[str, Any]] = (), iterators: Sequence[Dict[str, Any]] = (),
                  label: Optional[str] = None, location: Optional[Dict[str, Any]] = None,
                  goroutine: Optional[int] = None, cfunc: Optional[str] = None,
                  taken_at: Optional[str] = None, limits: Optional[Dict[str, Any]] = None,
                  gdb_hiter_version: Optional[str] = None) -> Dict[str, Any]:
    """A v1 snapshot document (validated).

    A map object that breaks the schema is kept reduced (``recordable_map``);
    an iterator object that does is left out with a note in ``limits.cut``.

    ``go`` is the ``hiter-version --json`` object, ``program`` its
    ``program`` part (or the program as gdb sees it), ``maps`` a list of
    ``hmap-show --json`` objects, ``iterators`` a list of iterator JSON
    objects (``hiter-show --json``). ``location`` is ``{"function", "file",
    "line"}`` of the Go frame that made the call. ``limits`` says what was
    cut (``{"entries": N or null, "maps": ..., "iterators": ..., "cut": [...]}``).
    """
    if gdb_hiter_version is None:
        from ... import __version__ as gdb_hiter_version
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "seq": seq,
        "label": label,
        "event": event,
        "location": dict(location) if location is not None else None,
        "goroutine": goroutine,
        "cfunc": cfunc,
        "taken_at": taken_at or now_iso(),
        "program": dict(program),
        "go": dict(go),
        "maps": [dict(item) for item in maps],
        "iterators": [dict(item) for item in iterators],
        "limits": dict(limits) if limits is not None else {"entries": None, "maps": None, "iterators": None,
                                                           "cut": []},
        "gdb_hiter_version": gdb_hiter_version,
    }
    try:
        validate_snapshot(doc)
        return doc
    except SnapshotError:   # find what breaks it: validating parts costs more, so only now
        pass
    doc["maps"] = [recordable_map(item, f"$.maps[{index}]") for index, item in enumerate(doc["maps"])]
    iterators, doc["iterators"] = doc["iterators"], []
    for index, item in enumerate(iterators):
        try:
            _validate(_part_validator("iterator"), item, f"$.iterators[{index}]")
            _check_json_numbers(item, f"$.iterators[{index}]")
        except SnapshotError as error:
            address = item.get("address")
            name = f"{address:#x}" if isinstance(address, int) else "?"
            doc["limits"]["cut"] = list(doc["limits"].get("cut") or []) + [
                f"iterator {name}: not recorded, its object is not valid: {error}"]
            continue
        doc["iterators"].append(item)
    validate_snapshot(doc)
    return doc


# ---------------------------------------------------------------------------
# Writing and reading


def dumps(doc: Dict[str, Any]) -> str:
    """The file text of a snapshot: sorted keys, one line per top-level key group, trailing newline."""
    return json.dumps(doc, sort_keys=True, indent=1, allow_nan=False, ensure_ascii=False) + "\n"


def write_snapshot(doc: Dict[str, Any], path, *, follow_symlinks: bool = True) -> None:
    """Validate ``doc`` and write it to ``path`` atomically and durably (temp file + fsync + os.replace).

    ``follow_symlinks=False`` for names the tool chose inside a capture directory.
    """
    validate_snapshot(doc)
    try:
        write_atomic(path, dumps(doc), durable=True, follow_symlinks=follow_symlinks)
    except OSError as error:
        failure = SnapshotError(f"{os.fspath(path)}: cannot write: {error.strerror or error}")
        failure.os_error = error      # hiter-watch tells capture which (ENOSPC: a full disk)
        raise failure from None


def write_stored_snapshot(doc: Dict[str, Any], path, store) -> int:
    """Write ``doc`` into a capture directory: its big objects (dicts, or ``StoredObject`` texts) into
    ``store`` (a ``store.ChunkStore``) first, then the file naming them; the bytes added to disk.

    The file is renamed into place whole but not fsynced: a killed gdb or capture (the crash this
    guards against) loses nothing written, and an fsync per cgo transition would cost more than the
    snapshot. Capture syncs the directory once at its end.
    """
    import sqlite3
    try:
        stub, added = stored_document(doc, store)
    except sqlite3.Error as error:
        failure = SnapshotError(f"{store.path}: cannot store chunks: {error}")
        if "full" in str(error):
            failure.os_error = OSError(errno.ENOSPC, str(error))
        raise failure from None
    validate_stub(stub)
    text = json.dumps(stub, sort_keys=True, indent=1, allow_nan=False, ensure_ascii=False) + "\n"
    try:
        added += write_atomic(path, text, follow_symlinks=False)
    except OSError as error:
        failure = SnapshotError(f"{os.fspath(path)}: cannot write: {error.strerror or error}")
        failure.os_error = error
        raise failure from None
    return added


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    """A JSON number as a float; 1e400 would be infinity, which no writer of JSON can give back."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text[:40]} is too large for a JSON number")
    return value


def loads(text: str, name: str = "<snapshot>", directory: Optional[str] = None) -> Dict[str, Any]:
    """Parse and check snapshot text; ``SnapshotError`` ("NAME: problem") otherwise.

    ``directory``: where the file is, whose ``chunks.sqlite`` holds its stored objects.
    """
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        if not text.strip():
            raise SnapshotError(f"{name}: empty file, not a snapshot") from None
        stripped = text.strip()
        if (error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string")
                or (stripped.startswith("{") and not stripped.endswith("}"))):
            raise SnapshotError(f"{name}: truncated: the JSON ends early (line {error.lineno}, "
                                f"column {error.colno}): {error.msg}") from None
        raise SnapshotError(f"{name}: not JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except (ValueError, RecursionError) as error:
        raise SnapshotError(f"{name}: not JSON: {str(error).splitlines()[0]}") from None
    check_loaded(doc, name, directory)
    return doc


def check_loaded(doc: Any, name: str, directory: Optional[str] = None) -> None:
    """The checks of ``read_snapshot`` on an already parsed document (stored objects resolved in place)."""
    if not isinstance(doc, dict):
        raise SnapshotError(f"{name}: not a gdb-hiter snapshot (the JSON is a {type(doc).__name__}, "
                            f"not an object)")
    if doc.get("format") != FORMAT:
        found = doc.get("format")
        what = f"its format is {found!r}" if isinstance(found, str) else "it has no \"format\": \"gdb-hiter-snapshot\""
        raise SnapshotError(f"{name}: not a gdb-hiter snapshot ({what})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SnapshotError(f"{name}: snapshot version {version!r} is not a number")
    readable = " and ".join(str(number) for number in READ_VERSIONS)
    if version > VERSION:
        raise SnapshotError(f"{name}: written by a newer gdb-hiter: version {version}; this reads versions {readable}")
    if version not in READ_VERSIONS:
        raise SnapshotError(f"{name}: snapshot version {version} is not supported; this reads versions {readable}")
    if version >= 2 and references_in(doc):
        if directory is None:
            raise SnapshotError(f"{name}: its big objects are stored in a capture directory's {STORE_NAME}: "
                                "read it from there (gdb-hiter export makes a single file)")
        try:
            resolve_stored(doc, directory, MAX_INPUT_BYTES)
        except StoreError as error:
            raise SnapshotError(f"{name}: {error}") from None
    try:
        validate_snapshot(doc, parsed=True, version=version)
    except SnapshotError as error:
        raise SnapshotError(f"{name}: invalid snapshot: {error}") from None


def read_snapshot(path) -> Dict[str, Any]:
    """Read, parse (JSON only, never evaluated) and validate the snapshot at ``path``."""
    name = os.fspath(path)
    try:
        raw = read_regular(name)
    except OSError as error:
        raise SnapshotError(f"{name}: cannot read: {error.strerror or error}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise SnapshotError(f"{name}: not JSON: not UTF-8 text (byte {error.start})") from None
    return loads(text, name, os.path.dirname(os.path.abspath(name)))


# hiter-watch --out and gdb-hiter capture name each snapshot NNNN-<event>.json
SNAPSHOT_FILE = re.compile(r"^(\d{4,})-([a-z-]+)\.json$")


def snapshot_files(directory: str) -> List[str]:
    """The snapshot files of a watch or capture directory, in the order they were taken."""
    names = [name for name in os.listdir(directory) if SNAPSHOT_FILE.match(name)]
    return sorted(names, key=lambda name: int(SNAPSHOT_FILE.match(name).group(1)))


def map_entries_complete(doc: Dict[str, Any]) -> bool:
    """Whether a map object lists every entry the walk found (no ``--limit`` cut)."""
    if doc.get("entries_complete") is False:
        return False
    found = doc.get("entries_found")
    return found is None or found == len(doc.get("entries", ()))


def describe(doc: Dict[str, Any]) -> str:
    """A one-line name of a snapshot: ``#3 "before" (cgocall-enter, C.fill)``."""
    parts: List[str] = [f"#{doc.get('seq')}"]
    if doc.get("label"):
        parts.append(json.dumps(doc["label"], ensure_ascii=False))
    event = doc.get("event", "?")
    if doc.get("cfunc"):
        event += f", {doc['cfunc']}"
    parts.append(f"({event})")
    return " ".join(parts)
