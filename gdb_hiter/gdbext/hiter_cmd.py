"""``hiter-find`` and ``hiter-show``: map iterators on goroutine stacks.

A ``for k, v := range m`` iterator is a compiler temporary in the frame of
the ranging function with no DWARF variable (reference §3), so it is found
by scanning the live part of goroutine stacks with the decoders' validating
scanner (``MapImplementation.scan_for_iterators``), then decoded where it stands.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

import gdb

from ..core.program import goroutines as core
from ..core.maps.implementations import for_report
from ..core.maps.interface import IteratorError, MapImplementation
from ..core.maps.model import raw_text
from ..core.memory import UnreadableMemory
from . import goroutines_gdb as gg
from .command import HiterCommand, UserError
from .expressions import evaluate
from .memory import InferiorMemory
from .program import current_program, version_report


def _need_process() -> None:
    program = current_program()
    if program.kind == "executable":
        raise UserError("no process: run the program, attach to it or load a core file first")


def _implementation() -> MapImplementation:
    return for_report(version_report())


def _offsets() -> core.RuntimeOffsets:
    offsets, _warning = core.offsets_for(version_report().version.minor)
    return offsets


def evaluate_address(expression: str, what: str) -> int:
    """An address from a gdb expression: a number, a pointer, a Go map variable."""
    text = expression.strip()
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        value = evaluate(text, what)
    except UserError:
        # A package-qualified Go name that C mode cannot parse, looked up by name: never retried
        # quoted, as a quoted name makes gdb 13.1 crash on the next unknown name (program.symbol_address).
        value = _global_variable(text)
        if value is None:
            raise
    kind = value.type.strip_typedefs().code
    if kind in (gdb.TYPE_CODE_PTR, gdb.TYPE_CODE_INT):
        return int(value) & 0xFFFFFFFFFFFFFFFF
    raise UserError(f"{what} {expression!r} is a {value.type}, not a pointer or an address")


def _global_variable(name: str) -> Optional["gdb.Value"]:
    if "." not in name or not name.replace(".", "").replace("_", "").isalnum():
        return None
    symbol = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    if symbol is None or not symbol.is_variable:
        return None
    try:
        return symbol.value()
    except gdb.error:
        return None


@dataclass
class Found:
    goroutine: core.Goroutine
    address: int
    map_address: int
    state: str
    frame: Optional[gg.FrameName]

    def to_json(self) -> Dict[str, Any]:
        return {
            "goroutine": self.goroutine.goid,
            "g": self.goroutine.address,
            "stack": {"lo": self.goroutine.stack_lo, "hi": self.goroutine.stack_hi},
            "function": self.frame.function if self.frame else None,
            "function_source": self.frame.source if self.frame else None,
            "frame": self.frame.level if self.frame else None,
            "address": self.address,
            "map": self.map_address,
            "state": self.state,
        }


@dataclass
class IteratorSearch:
    """What one stack scan found, and what it looked at."""

    results: List[Found]
    scanned: List[Tuple[core.Goroutine, Any]]
    current: core.CurrentGoroutine
    notes: List[str]


def find_iterators(all_goroutines: bool = False, map_address: Optional[int] = None) -> IteratorSearch:
    """Every live iterator on the current goroutine's stack (or every goroutine's).

    hiter-find prints this; hiter-snapshot and hiter-watch call it directly,
    since a breakpoint's stop() cannot run a command through gdb.execute
    (gdb then reports the same hit again).
    """
    implementation, offsets = _implementation(), _offsets()
    memory = InferiorMemory()
    current, state = gg.current_goroutine(memory, offsets)
    notes = list(current.notes)
    if all_goroutines:
        walk = core.walk_allgs(memory, offsets, gg.allgs_address())
        if walk.stopped:
            notes.append(f"allgs: {walk.stopped}")
        notes.extend(f"allgs[{index}] skipped: {why}" for index, why in walk.bad)
        goroutines = walk.live()
        if all(g.address != current.goroutine.address for g in goroutines):
            # a corrupt or cut allgs must not cost the goroutine the user is looking at
            goroutines.insert(0, current.goroutine)
            if walk.stopped or walk.bad:
                notes.append(f"goroutine {current.goroutine.goid} (the current one) scanned although allgs "
                             "did not list it")
        sps = gg.running_sps(memory, offsets)
    else:
        goroutines = [current.goroutine]
        sps = {current.goroutine.address: (state.sp, state.number)} if current.on_goroutine_stack else {}
    results: List[Found] = []
    scanned = []
    for g in goroutines:
        thread_sp = sps.get(g.address, (None, None))[0]
        plan = core.scan_plan(g, thread_sp=thread_sp)
        if plan is None:
            continue
        scanned.append((g, plan))
        try:
            data = memory.read(plan.start, plan.size)
        except UnreadableMemory as error:
            notes.append(f"goroutine {g.goid}: stack unreadable: {error}")
            continue
        found = implementation.scan_for_iterators(memory, data, plan.start, map_address=map_address)
        if not found:
            continue
        frames = gg.thread_frames(g.stack_lo, g.stack_hi) if g.address == current.goroutine.address \
            and current.on_goroutine_stack else []
        ranges = gg.text_ranges()
        for iterator in found:
            frame = core.frame_holding(iterator.address, frames) or gg.function_by_return_address(
                memory, data, plan.start, iterator.address, ranges)
            results.append(Found(g, iterator.address, iterator.map_address, iterator.state, frame))
    return IteratorSearch(results, scanned, current, notes)


class HiterFind(HiterCommand):
    name = "hiter-find"
    summary = "Find map iterators (range loops in progress) on the current goroutine's stack, or on every one's."

    def add_arguments(self, parser):
        parser.add_argument("map", nargs="?", metavar="MAP-EXPR",
                            help="only iterators over this map (a Go map variable, a pointer or an address)")
        parser.add_argument("--all-goroutines", action="store_true",
                            help="scan every goroutine that is not dead, not only the current one")
        parser.add_argument("--json", action="store_true", help="print a JSON list instead of text")

    def run(self, args):
        _need_process()
        map_address = evaluate_address(args.map, "MAP-EXPR") if args.map else None
        search = find_iterators(all_goroutines=args.all_goroutines, map_address=map_address)
        results, scanned, current, notes = search.results, search.scanned, search.current, search.notes
        if args.json:
            gdb.write(json.dumps([found.to_json() for found in results]) + "\n")
            return
        gdb.write(_find_text(results, scanned, current, notes, map_address) + "\n")


def _find_text(results: List[Found], scanned, current: core.CurrentGoroutine, notes: List[str],
               map_address: Optional[int]) -> str:
    what = f"over map {map_address:#x}" if map_address is not None else ""
    lines = []
    count = len(results)
    places = f"{len(scanned)} goroutine stack{'s' if len(scanned) != 1 else ''}"
    lines.append(f"{count} map iterator{'s' if count != 1 else ''}{' ' + what if what else ''} "
                 f"on {places}:" if count else f"No map iterator{' ' + what if what else ''} on {places}.")
    for found in results:
        g = found.goroutine
        where = "an unknown function (no symbol for its frame)"
        if found.frame and found.frame.function:
            where = found.frame.function
            if found.frame.level is not None:
                where += f" (frame #{found.frame.level})"
            elif found.frame.source == "return-address":
                where += " (best effort: from a return address on the stack)"
        lines.append(f"  goroutine {g.goid} ({g.status_name}): iterator at {found.address:#x} "
                     f"over map {found.map_address:#x}, {found.state}, in {where}")
    for g, plan in scanned:
        lines.append(f"  scanned goroutine {g.goid} ({g.status_name}) stack [{plan.start:#x}, {plan.end:#x}) "
                     f"{plan.size} bytes from {plan.basis}{', truncated' if plan.truncated else ''}")
    lines.extend(f"  note: {note}" for note in notes)
    return "\n".join(lines)


class HiterShow(HiterCommand):
    name = "hiter-show"
    summary = "Decode the map iterator at ADDR (as hiter-find reports it) and show where it stands."

    def add_arguments(self, parser):
        parser.add_argument("address", metavar="ADDR|EXPR", help="the iterator's address (a number or an expression)")
        parser.add_argument("--json", action="store_true",
                            help="print the iterator's JSON object (the common keys plus the decoder's own)")
        parser.add_argument("--force", action="store_true",
                            help="decode even what does not pass the checks hiter-find applies")

    def run(self, args):
        _need_process()
        implementation = _implementation()
        address = evaluate_address(args.address, "ADDR")
        memory = InferiorMemory()
        try:
            if args.force:
                iterator = implementation.decode_iterator(memory, address)
            else:
                iterator = implementation.check_iterator(memory, address)
        except IteratorError as error:
            hint = " (--force decodes it anyway)" if error.implausible else ""
            raise UserError(f"no iterator at {address:#x}: {error}{hint}") from None
        data = iterator.to_json()
        from . import predict_cmd      # it builds on this module
        loop = predict_cmd.predict_iterator(memory, implementation, iterator)
        if args.json:
            data["prediction"] = loop.to_json()
            gdb.write(json.dumps(data, default=json_default) + "\n")
            return
        gdb.write(show_text(data, memory, loop) + "\n")


def json_default(value):
    """How iterator JSON shows what json cannot: bytes as hex (hiter-show --json, snapshots)."""
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _hex(value) -> str:
    return f"{value:#x}" if isinstance(value, int) else str(value)


def _key_text(memory: InferiorMemory, pointer: int, size: int) -> str:
    if not pointer or not size:
        return "-"
    try:
        raw = memory.read(pointer, size)
    except UnreadableMemory:
        return f"{pointer:#x} (unreadable)"
    text = raw.hex()
    if size == 8:
        text += f" (as int64: {int.from_bytes(raw, 'little', signed=True)})"
    return f"{pointer:#x} -> {text}"


def show_text(data: Dict[str, Any], memory: InferiorMemory, loop=None) -> str:
    """Where the iterator stands, for a human (from its ``to_json()``)."""
    if data["impl"] == "classic":
        return _classic_text(data, memory, loop)
    return _swiss_text(data, memory, loop)


def _classic_text(data: Dict[str, Any], memory: InferiorMemory, loop) -> str:
    fields, header = data["fields"], data.get("map")
    lines = [f"runtime.hiter at {data['address']:#x} ({data['layout']}): {data['state']}"]
    lines.append(f"  map {_hex(data['map_address'] or 0)}, type descriptor {fields['t']:#x}")
    if header:
        lines.append(f"  map now: count {header.get('count')}, B {header.get('B')}, buckets "
                     f"{_hex(header.get('buckets'))}, oldbuckets {_hex(header.get('oldbuckets'))}")
    lines.append(f"  iterator walks: {1 << fields['B']} bucket(s) (B {fields['B']}) at {fields['buckets']:#x}"
                 + (f", which is the map's {data['walks']}" if data.get("walks") in ("buckets", "oldbuckets") else
                    (" — an array the map no longer uses (it grew since the loop started)"
                     if data.get("walks") == "retired" else "")))
    lines.append(f"  started at bucket {data.get('start_bucket')}, slot offset {data.get('start_offset')}; "
                 f"next bucket {data.get('next_bucket')}, wrapped {'yes' if data.get('wrapped') else 'no'}, "
                 f"{data.get('buckets_remaining')} bucket(s) still to start")
    check = data.get("check_bucket") or {}
    if check:
        lines.append(f"  checkBucket: {check.get('meaning')}")
    current = data.get("current")
    if current:
        where = current.get("bptr_in") or {}
        lines.append(f"  current entry: bucket {current.get('bucket')} slot {current.get('slot')} "
                     f"(bptr {_hex(current.get('bptr'))}"
                     + (f" = {where.get('array')}[{where.get('index')}]" if where.get("index") is not None
                        else (f", {where.get('array')}" if where else "")) + f"), next i {current.get('next_i')}")
        lines.extend(_current_lines(loop, _bytes_text(current, 'key'), _bytes_text(current, 'elem')))
    lines.extend(_remaining_lines(data, loop))
    lines.extend(_since_start_lines(data))
    lines.extend(_problem_lines(data))
    return "\n".join(lines)


def _swiss_text(data: Dict[str, Any], memory: InferiorMemory, loop) -> str:
    fields, header, maptype = data["fields"], data.get("map"), data.get("maptype") or {}
    lines = [f"maps.Iter at {data['address']:#x} ({data['layout']}): {data['state']}"]
    lines.append(f"  map {_hex(data['map_address'] or 0)}, type descriptor {fields['typ']:#x}")
    if header:
        kind = "small (one group)" if header.get("dirLen") == 0 else f"{header.get('dirLen')} directory slot(s)"
        lines.append(f"  map now: used {header.get('used')}, {kind}, dirPtr {_hex(header.get('dirPtr'))}, "
                     f"globalDepth {header.get('globalDepth')}")
    mode = data.get("mode")
    if mode == "small":
        group = data.get("group") or {}
        lines.append(f"  iterator walks: the one group {_hex(group.get('address'))} the map had when the loop started"
                     + (" — the map has since grown into tables, so each key is looked up again in them"
                        if group.get("map_grown_to_tables") else
                        ("" if group.get("is_map_group") else " (no longer the map's group)")))
        start = data.get("start") or {}
        following = data.get("next")
        lines.append(f"  started at slot {start.get('first_slot')}; " + (
            f"next: slot {following['slot']} ({following['entry_idx']} of the group's 8 slots walked)"
            if following else "no slot left in the group"))
    elif mode == "tables":
        growth = data.get("directory_growth") or {}
        directory = data.get("directory") or {}
        lines.append(f"  iterator walks: the directory; globalDepth at start {growth.get('iterator_global_depth')}, "
                     f"now {growth.get('map_global_depth')}" + (" (the directory grew)" if growth.get("grew") else ""))
        lines.append(f"  directory position: dirIdx {directory.get('dir_idx')} (effective "
                     f"{directory.get('effective_dir_idx')}) of {directory.get('length')}")
        table = data.get("table")
        if table:
            lines.append(f"  current table {table['address']:#x}" + (" — stale (replaced by a split or grow; "
                         "keys are looked up again in the live map)" if table.get("stale") else "")
                         + _table_next(table.get("next")))
    current = data.get("current")
    if current:
        if current.get("group_address") is None:   # the map could not be read: only the key/elem pointers are
            lines.append("  current entry: its group is unknown (the map could not be read)")
        else:
            slot = current.get("slot")
            lines.append(f"  current entry: group {_hex(current.get('group_address'))} slot "
                         + ("unknown (the group could not be read)" if slot is None else str(slot)))
        lines.extend(_current_lines(loop, _key_text(memory, current['key_address'], maptype.get('key_size', 0)),
                                    _key_text(memory, current['elem_address'], maptype.get('elem_size', 0))))
    lines.extend(_remaining_lines(data, loop))
    lines.extend(_since_start_lines(data))
    lines.extend(_problem_lines(data))
    return "\n".join(lines)


def _bytes_text(current: Dict[str, Any], name: str) -> str:
    """The current key or element as the classic decoder read it: ``maptype.key_size`` /
    ``elem_size`` bytes at ``key_address`` / ``elem_address`` (the real K and V, also when
    the bucket slot holds a pointer)."""
    pointer = current[f"{name}_address"]
    if not pointer:
        return "-"
    if f"{name}_bytes" not in current:
        return f"{pointer:#x} (size unknown: the type descriptor could not be read)"
    hex_bytes = current[f"{name}_bytes"]
    if hex_bytes is None:
        return f"{pointer:#x} (unreadable)"
    text = hex_bytes or "(0 bytes)"
    if len(hex_bytes) == 16:
        text += f" (as int64: {int.from_bytes(bytes.fromhex(hex_bytes), 'little', signed=True)})"
    return f"{pointer:#x} -> {text}"


def _current_lines(loop, key_bytes: str, elem_bytes: str) -> List[str]:
    """The current key and element as hmap-show renders them, with where they are; raw
    bytes only when the map's types are unknown."""
    current = loop.prediction.current if loop is not None else None
    if current is None or loop.render_key is raw_text:
        return [f"  current key:  {key_bytes}", f"  current elem: {elem_bytes}"]
    return [f"  current key:  {loop.render_key(current.key)}   (at {current.key_address:#x})",
            f"  current elem: {loop.render_value(current.value)}   (at {current.value_address:#x})"]


def _remaining_lines(data: Dict[str, Any], loop=None) -> List[str]:
    if loop is not None and data["state"] == "in-progress":
        prediction = loop.prediction
        count = len(prediction.next)
        if prediction.exact:
            return [f"  entries still ahead: {count}, if nothing changes the map from now on "
                    "(hiter-predict lists them)"]
        return [f"  entries still ahead: {count} as far as the replay goes, not exact: "
                + "; ".join(prediction.inexact)]
    remaining = data["remaining"]
    if remaining["entries"] is None:
        if data["state"] == "in-progress":
            return ["  entries still ahead: unknown (the map changed since the loop started: "
                    "the rest is looked up in it)"]
        return []
    if not remaining["exact"]:
        return []
    return [f"  entries still ahead: {remaining['entries']}"]


def _since_start_lines(data: Dict[str, Any]) -> List[str]:
    if data["map"] is None:
        return []
    lines = [f"  map grew since the loop started: {'yes' if data['map_grew_since_start'] else 'no'}"]
    if data["cleared_since_start"] is not None:
        lines.append(f"  map cleared since the loop started: {'yes' if data['cleared_since_start'] else 'no'}")
    return lines


def _table_next(following) -> str:
    if not following:
        return "; no slot left in it"
    return (f"; next: group {following.get('group')} slot {following.get('slot')} "
            f"({following.get('entry_idx')} slots walked)")


def _problem_lines(data: Dict[str, Any]) -> List[str]:
    return [f"  problem: {problem.get('what', '')}: {problem.get('why', problem)}"
            for problem in data.get("problems") or []]


def register() -> None:
    HiterFind()
    HiterShow()
