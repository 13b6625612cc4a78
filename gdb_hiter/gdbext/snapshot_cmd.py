"""``hiter-snapshot`` and ``hiter-diff``: the maps and iterators of the program, now, as a snapshot.

A snapshot (docs/snapshot-format.md) holds ``hmap-show --json`` objects for
maps and ``hiter-show --json`` objects for iterators. Without targets,
``hiter-snapshot`` takes every live iterator that ``hiter-find`` finds (in
the current goroutine, or all of them) and the maps they walk: such a map is
decoded by its address with the iterator's own map type descriptor
(``t`` / ``typ``); its key and element types come from DWARF through the
descriptor's name (``map[K]V``), else the entries are raw bytes.

Snapshots are numbered 1, 2, ... in the gdb session and kept in memory
(``SESSION``); ``hiter-watch`` adds its own to the same list. ``collect`` is
what both commands (and the watch breakpoints) call.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence

import gdb

from ..core.program import goroutines as core_goroutines
from ..core.maps.implementations import for_report
from ..core.maps.interface import IteratorError
from ..core.render import maptext
from ..core.snapshot.diff import diff_snapshots
from ..core.memory import UnreadableMemory
from ..core.snapshot.report import FORMATS, render_diff
from ..core.snapshot.document import SnapshotError, describe, make_snapshot, read_snapshot, write_snapshot
from . import expressions
from . import goroutines_gdb as gg
from . import gotypes_gdb
from . import hiter_cmd
from . import mapref
from . import predict_cmd
from . import settings
from .command import HiterCommand, UserError
from .memory import InferiorMemory
from .program import current_program, version_report


# ---------------------------------------------------------------------------
# The session's snapshots


@dataclass
class Taken:
    """One snapshot of the session: in memory, or only in its file (a watch with --out keeps
    its snapshots on disk, so that gdb's memory does not grow with the number of transitions)."""

    seq: int
    kept: Optional[Dict[str, Any]]
    path: Optional[str]
    summary: Dict[str, Any]

    @property
    def doc(self) -> Dict[str, Any]:
        if self.kept is not None:
            return self.kept
        try:
            return read_snapshot(self.path)
        except SnapshotError as error:
            raise UserError(str(error)) from None


SESSION: List[Taken] = []


def next_seq() -> int:
    return (SESSION[-1].seq + 1) if SESSION else 1


def remember(doc: Dict[str, Any], path: Optional[str], *, keep: bool = True) -> Taken:
    """Add a snapshot to the session; ``keep=False``: only its file and a summary are kept."""
    summary = {"label": doc.get("label"), "event": doc["event"], "cfunc": doc.get("cfunc"),
               "maps": len(doc["maps"]), "iterators": len(doc["iterators"])}
    taken = Taken(doc["seq"], doc if keep or path is None else None, path, summary)
    SESSION.append(taken)
    return taken


# ---------------------------------------------------------------------------
# Where the program is


# Frames that are not the user's Go code: the runtime, cgo's generated glue, C.
_SKIP_FUNCTION = re.compile(r"^(runtime\.|runtime/|internal/|_cgo_|_cgoexp_|crosscall|x_cgo|"
                            r"[\w./]*\._Cfunc_|[\w./]*\._cgo_)")


def go_location(max_frames: int = 64) -> Optional[Dict[str, Any]]:
    """``{function, file, line}`` of the innermost Go frame that is not the runtime's or cgo's."""
    try:
        frame = gdb.newest_frame()
    except gdb.error:
        return None
    for _ in range(max_frames):
        if frame is None:
            return None
        try:
            name = frame.name()
            sal = frame.find_sal()
        except gdb.error:
            name, sal = None, None
        filename = sal.symtab.filename if sal is not None and sal.symtab is not None else None
        if (name and not _SKIP_FUNCTION.match(name) and "." in name and filename
                and filename.endswith(".go") and not filename.endswith("_cgo_gotypes.go")):
            return {"function": name, "file": filename, "line": sal.line}
        try:
            frame = frame.older()
        except gdb.error:
            return None
    return None


def current_goroutine() -> Optional[core_goroutines.Goroutine]:
    """The goroutine the selected thread works for (``m.curg`` when it is on g0), or None."""
    memory = InferiorMemory()
    offsets, _warning = core_goroutines.offsets_for(version_report().version.minor)
    try:
        current, _state = gg.current_goroutine(memory, offsets)
    except (UserError, UnreadableMemory):
        return None
    return current.goroutine


# ---------------------------------------------------------------------------
# Maps and iterators


def find_iterators(all_goroutines: bool = False, map_address: Optional[int] = None,
                   notes: Optional[List[str]] = None) -> List[Dict[str, Any]]:
    """Every live iterator, as ``hiter-find --json`` lists them (``address``, ``map``, ``goroutine``, ``function``).

    What the search could not do (a corrupt allgs, an unreadable stack) is added to ``notes``.
    """
    search = hiter_cmd.find_iterators(all_goroutines=all_goroutines, map_address=map_address)
    if notes is not None:   # how the current goroutine was found is hiter-find's to say, not a snapshot's
        notes.extend(f"finding iterators: {note}" for note in search.notes[len(search.current.notes):])
    return [found.to_json() for found in search.results]


def _plain(doc: Any) -> Any:
    """A JSON-ready copy (bytes as hex), as ``hiter-show --json`` prints it."""
    return json.loads(json.dumps(doc, default=hiter_cmd.json_default))


def iterator_document(memory, implementation, found: Dict[str, Any]) -> Dict[str, Any]:
    decoded = implementation.decode_iterator(memory, found["address"])
    doc = _plain(decoded.to_json())
    doc["goroutine"] = found.get("goroutine")
    doc["function"] = found.get("function")
    try:
        doc["prediction"] = predict_cmd.predict_iterator(memory, implementation, decoded).snapshot_json()
    except UserError as error:
        doc["prediction"] = {"exact": False, "reason": str(error), "current": None, "next": [], "maybe": [],
                             "not_visited": {}}
    return doc


def map_document_for(expression: str, limit: Optional[int], type_name: Optional[str] = None) -> Dict[str, Any]:
    """The ``hmap-show --json`` object of a map, made JSON-plain for a snapshot.

    A map whose header is refused before any walk (a classic B or count that
    cannot be real, an unreadable header) is still a map of the snapshot: its
    address, type and the problem, so the file says what happened to it.
    """
    ref = mapref.resolve_map(expression, type_name)   # no such name, nil map: UserError, a note
    memory = InferiorMemory()
    try:
        decoded = ref.implementation.decode_map(memory, ref.address, ref.maptype)
    except (UnreadableMemory, ValueError) as error:
        report = version_report()
        return {"address": ref.address, "type": ref.type_name, "expression": expression, "impl": report.map_impl,
                "layout": report.layout, "count": 0, "flags": [], "growing": False, "entries": [],
                "entries_found": 0, "entries_shown": 0, "complete": False,
                "problems": [{"what": "header-refused", "why": str(error), "address": ref.address}]}
    render_key, render_value = ref.renderers(memory)
    return _plain(maptext.map_document(decoded, ref.type_name, render_key, render_value, expression=expression,
                                       show=limit))


def _descriptor_of(iterator: Dict[str, Any]) -> Optional[int]:
    fields = iterator.get("fields") or {}
    return fields.get("t", fields.get("typ"))


def map_of_iterator(memory, implementation, iterator: Dict[str, Any], limit: Optional[int],
                    notes: List[str]) -> Optional[Dict[str, Any]]:
    """The map an iterator walks, decoded by address with the iterator's type descriptor."""
    address, descriptor = iterator.get("map_address"), _descriptor_of(iterator)
    if not address or not descriptor:
        return None
    names = gotypes_gdb.runtime_type_names(memory)
    name = names(descriptor) if names else None
    if name and name.startswith("map["):
        try:
            doc = map_document_for(f"{address:#x}", limit, type_name=name)
            doc["expression"] = None
            return doc
        except UserError as error:
            notes.append(f"map {address:#x} ({name}): {error}; its entries are raw bytes")
    try:
        maptype = implementation.parse_maptype(memory, descriptor)
        decoded = implementation.decode_map(memory, address, maptype)
    except (UnreadableMemory, ValueError) as error:
        notes.append(f"map {address:#x}: cannot decode it: {error}")
        return None
    return _plain(maptext.map_document(decoded, name or "map[?]?", None, None, show=limit))


def collect(*, targets: Sequence[str] = (), iterators_too: bool = True, every_iterator: bool = False,
            all_goroutines: bool = False,
            limit: Optional[int] = None, event: str = "manual", label: Optional[str] = None,
            cfunc: Optional[str] = None, seq: Optional[int] = None,
            location: Optional[Dict[str, Any]] = None, goroutine: Any = "current") -> Dict[str, Any]:
    """Build (not store) a snapshot of the program now.

    ``targets``: map expressions or iterator addresses; with none, every live
    iterator (current goroutine, or all) and the maps they walk. With
    targets and ``iterators_too``, the iterators over the target maps are
    taken as well (``every_iterator``: all live iterators, as without targets). Problems with one target become ``limits.cut`` notes, so
    that a watch never stops on them.
    """
    memory = InferiorMemory()
    report = version_report()
    implementation = for_report(report)
    notes: List[str] = []
    maps: Dict[int, Dict[str, Any]] = {}
    iterators: Dict[int, Dict[str, Any]] = {}

    def add_iterator(found: Dict[str, Any]) -> None:
        if found["address"] in iterators:
            return
        try:
            iterators[found["address"]] = iterator_document(memory, implementation, found)
        except IteratorError as error:
            notes.append(f"iterator {found['address']:#x}: {error}")

    wanted_maps: List[int] = []
    for target in targets:
        if expressions.is_number(target):
            address = int(target, 0)
            try:
                implementation.check_iterator(memory, address)
            except IteratorError:
                pass
            else:
                add_iterator({"address": address, "goroutine": None, "function": None})
                continue
        try:
            doc = map_document_for(target, limit)
        except UserError as error:
            notes.append(f"{target}: {error}")
            continue
        maps.setdefault(doc["address"], doc)
        wanted_maps.append(doc["address"])

    if not targets or every_iterator or (iterators_too and wanted_maps):
        try:
            found_list = find_iterators(all_goroutines, notes=notes)
        except (gdb.error, ValueError, UserError, UnreadableMemory) as error:
            notes.append(f"finding iterators: {error}")
            found_list = []
        for found in found_list:
            if targets and not every_iterator and found["map"] not in wanted_maps:
                continue
            add_iterator(found)

    for iterator in list(iterators.values()):
        address = iterator.get("map_address")
        if address and address not in maps:
            doc = map_of_iterator(memory, implementation, iterator, limit, notes)
            if doc is not None:
                maps[address] = doc

    if goroutine == "current":
        g = current_goroutine()
        goroutine = g.goid if g is not None else None
    if location is None:
        location = go_location()
    cut = list(notes)
    if limit is not None:
        cut.insert(0, f"entries: at most {limit} per map (--limit)")
    return make_snapshot(
        seq=seq if seq is not None else next_seq(), event=event, label=label, cfunc=cfunc,
        location=location, goroutine=goroutine,
        go=report.to_json(), program=current_program().to_json(),
        maps=list(maps.values()), iterators=list(iterators.values()),
        limits={"entries": limit, "maps": None, "iterators": None, "cut": cut})


# ---------------------------------------------------------------------------
# hiter-snapshot


def _list_text() -> str:
    if not SESSION:
        return "No snapshots in this session (hiter-snapshot takes one)."
    rows = [("seq", "label", "event", "maps", "iterators", "file")]
    for taken in SESSION:
        summary = taken.summary
        event = summary["event"] + (f" ({summary['cfunc']})" if summary.get("cfunc") else "")
        rows.append((str(taken.seq), summary.get("label") or "-", event, str(summary["maps"]),
                     str(summary["iterators"]), taken.path or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows)


class HiterSnapshot(HiterCommand):
    name = "hiter-snapshot"
    summary = "Snapshot maps and map iterators now (kept in the session, or written with --out); --list lists them."

    def add_arguments(self, parser):
        parser.add_argument("targets", nargs="*", metavar="TARGET",
                            help="a map expression or an iterator address; none: every live iterator "
                                 "(hiter-find) and the maps they walk")
        parser.add_argument("--label", help="a name for the snapshot")
        parser.add_argument("--out", metavar="FILE", help="also write it to FILE (atomically)")
        parser.add_argument("--all-goroutines", action="store_true",
                            help="iterators of every goroutine, not only the current one's")
        parser.add_argument("--limit", type=int, metavar="N", help="at most N entries per map (default: all)")
        parser.add_argument("--list", action="store_true", help="list the session's snapshots")

    def run(self, args):
        if args.list:
            gdb.write(_list_text() + "\n")
            return
        program = current_program()
        if program.kind == "executable":
            raise UserError("no process: run the program, attach to it or load a core file first")
        if args.limit is not None and args.limit < 0:
            raise UserError("--limit must be 0 (all) or a positive number")
        limit = None if not args.limit else args.limit
        event = "core" if program.kind == "core" else "manual"
        doc = collect(targets=args.targets, all_goroutines=args.all_goroutines or event == "core" and not
                      args.targets, limit=limit, event=event, label=args.label)
        path = None
        if args.out:
            path = os.path.abspath(os.path.expanduser(args.out))
            try:
                write_snapshot(doc, path)
            except SnapshotError as error:
                raise UserError(str(error)) from None
        remember(doc, path)
        gdb.write(f"Snapshot {describe(doc)}: {len(doc['maps'])} map(s), {len(doc['iterators'])} iterator(s)"
                  + (f", written to {path}" if path else "") + "\n")
        for note in doc["limits"]["cut"]:
            gdb.write(f"  note: {note}\n")


# ---------------------------------------------------------------------------
# hiter-diff


def resolve_snapshot(ref: str) -> Dict[str, Any]:
    """A session snapshot number (``3``, ``#3``) or a snapshot file."""
    text = ref[1:] if ref.startswith("#") else ref
    if text.isdigit() and not os.path.exists(ref):
        seq = int(text)
        for taken in SESSION:
            if taken.seq == seq:
                return taken.doc
        raise UserError(f"no snapshot #{seq} in this session (hiter-snapshot --list)")
    try:
        return read_snapshot(os.path.expanduser(ref))
    except SnapshotError as error:
        raise UserError(str(error)) from None


class HiterDiff(HiterCommand):
    name = "hiter-diff"
    summary = "What changed between two snapshots (session numbers or files; default the last two)."

    def add_arguments(self, parser):
        parser.add_argument("a", nargs="?", metavar="A", help="the earlier snapshot: a session number or a file")
        parser.add_argument("b", nargs="?", metavar="B", help="the later one (default: the last snapshot)")
        parser.add_argument("--format", choices=FORMATS, default="text",
                            help="text (coloured per `set hiter color`), markdown, json")

    def run(self, args):
        if args.a is None:
            if len(SESSION) < 2:
                raise UserError("need two snapshots: take them with hiter-snapshot, or name files")
            a, b = SESSION[-2].doc, SESSION[-1].doc
        else:
            a = resolve_snapshot(args.a)
            if args.b is None:
                if not SESSION:
                    raise UserError("no snapshot in this session to compare with: name B")
                b = SESSION[-1].doc
            else:
                b = resolve_snapshot(args.b)
        diff = diff_snapshots(a, b)
        color = args.format == "text" and settings.use_color()
        gdb.write(render_diff(diff, args.format, color=color))


def register() -> None:
    HiterSnapshot()
    HiterDiff()
