"""``hiter-predict``: what a range loop will still receive, from the runtime's own iteration replayed.

The replay is the core's (``MapImplementation.predict``); this command finds
the iterators, decodes the map each one walks, and renders the keys and
values exactly as ``hmap-show`` does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import gdb

from ..core.maps.interface import IteratorError
from ..core.maps.model import DecodedMap, raw_text
from ..core.maps.prediction import Prediction
from ..core.memory import UnreadableMemory
from . import expressions, gotypes_gdb, hiter_cmd
from .command import HiterCommand, UserError
from .mapref import map_implementation, resolve_map
from .memory import InferiorMemory

DEFAULT_LIMIT = 20


@dataclass
class PredictedLoop:
    """One iterator's prediction with what it needs to be shown."""

    prediction: Prediction
    live: Optional[DecodedMap]
    render_key: Any
    render_value: Any
    found: Optional[hiter_cmd.Found] = None
    notes: Optional[List[str]] = None

    def snapshot_json(self) -> Dict[str, Any]:
        """What a snapshot keeps of it: the keys ahead in order (their values are the map's), the
        current entry, and the entries not received counted by reason. Values ahead are not rendered."""
        prediction, render_key = self.prediction, self.render_key
        current = None
        if prediction.current is not None:
            current = {"key": render_key(prediction.current.key), "value": self.render_value(prediction.current.value)}
            if prediction.current.maybe:
                current["maybe"] = True
        keys = [render_key(visit.key) for visit in prediction.next]
        return {"exact": prediction.exact, "reason": "; ".join(prediction.inexact) if prediction.inexact else None,
                "current": current, "next": keys,
                "maybe": [key for key, visit in zip(keys, prediction.next) if visit.maybe],
                "not_visited": prediction.not_visited_counts() if self.live is not None else {}}

    def to_json(self) -> Dict[str, Any]:
        data = self.prediction.to_json(self.render_key, self.render_value, self.live)
        data["goroutine"] = self.found.goroutine.goid if self.found else None
        data["function"] = self.found.frame.function if self.found and self.found.frame else None
        data["notes"] = list(self.notes or [])
        return data


def predict_iterator(memory, implementation, iterator, found: Optional[hiter_cmd.Found] = None,
                     live_map=None) -> PredictedLoop:
    """Decode the map ``iterator`` walks and replay the rest of its loop.

    ``live_map``: that map already decoded now, as ``_live_map`` gives it
    (decoded map, key GoType, (render_key, render_value)), so it is not decoded twice.
    """
    notes: List[str] = []
    live, key_type, renderers = live_map or _live_map(memory, implementation, iterator, notes)
    prediction = implementation.predict(memory, iterator, live, key_type)
    render_key, render_value = renderers
    return PredictedLoop(prediction, live, render_key, render_value, found, notes)


def _live_map(memory, implementation, iterator, notes: List[str]):
    """(the decoded map or None, its key GoType or None, (render_key, render_value) on bytes)."""
    address = iterator.map_address
    fields = iterator.fields
    descriptor = fields.get("t", fields.get("typ"))
    raw = (raw_text, raw_text)
    if not address or not descriptor:
        return None, None, raw
    names = gotypes_gdb.runtime_type_names(memory)
    name = names(descriptor) if names else None
    if name and name.startswith("map["):
        try:
            ref = resolve_map(f"{address:#x}", type_name=name)
            key_renderer, value_renderer = ref.renderers(memory)
            return ref.decode(memory=memory), ref.key_type, (key_renderer.one, value_renderer.one)
        except UserError as error:
            notes.append(f"map {address:#x} ({name}): {error}; keys are compared and shown as raw bytes")
    else:
        notes.append(f"map {address:#x}: its type has no name in the DWARF; keys are compared and shown as raw bytes")
    try:
        maptype = implementation.parse_maptype(memory, descriptor)
        return implementation.decode_map(memory, address, maptype), None, raw
    except (UnreadableMemory, ValueError) as error:
        notes.append(f"map {address:#x}: cannot decode it: {error}")
        return None, None, raw


class HiterPredict(HiterCommand):
    name = "hiter-predict"
    summary = ("List what a range loop will still receive, in order, if nothing changes its map from now on "
               "(the runtime's iteration replayed over memory).")

    def add_arguments(self, parser):
        parser.add_argument("target", nargs="?", metavar="ADDR|MAP-EXPR",
                            help="an iterator's address (as hiter-find prints it), or a map: every live "
                                 "iterator over it; default: every live iterator of the current goroutine")
        parser.add_argument("--all-goroutines", action="store_true",
                            help="look for iterators on every goroutine's stack")
        parser.add_argument("--limit", type=nonnegative_int, default=DEFAULT_LIMIT, metavar="N",
                            help=f"entries listed in text output (default {DEFAULT_LIMIT}; --json lists all)")
        parser.add_argument("--json", action="store_true",
                            help="print a JSON list, one object per iterator: address, map, exact, reason, "
                                 "current, next, not_visited, goroutine, function, notes")

    def run(self, args):
        hiter_cmd._need_process()
        loops = predict_loops(args.target, all_goroutines=args.all_goroutines)
        if args.json:
            gdb.write(json.dumps([loop.to_json() for loop in loops]) + "\n")
            return
        if not loops:
            where = "on any goroutine's stack" if args.all_goroutines else "on the current goroutine's stack"
            gdb.write(f"No live map iterator {where}"
                      + (f" over {args.target}" if args.target else "") + ".\n")
            return
        gdb.write("\n".join(prediction_text(loop, args.limit) for loop in loops) + "\n")


def nonnegative_int(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(text) from None
    if value < 0:
        raise ValueError(text)
    return value


def predict_loops(target: Optional[str] = None, *, all_goroutines: bool = False) -> List[PredictedLoop]:
    """The prediction of every iterator ``target`` names (see ``hiter-predict``); also usable
    from a breakpoint's ``stop()``, where commands cannot run."""
    implementation = map_implementation()
    memory = InferiorMemory()
    return [predict_iterator(memory, implementation, iterator, found)
            for iterator, found in _iterators(target, all_goroutines, implementation, memory)]


def _iterators(target: Optional[str], all_goroutines: bool, implementation, memory):
    """[(decoded iterator, Found or None)] that the arguments name."""
    map_address = None
    not_an_iterator = None
    if target:
        address = hiter_cmd.evaluate_address(target, "ADDR|MAP-EXPR")
        try:
            return [(implementation.check_iterator(memory, address), None)]
        except IteratorError as error:
            map_address = address   # not an iterator: a map, whose iterators are wanted
            not_an_iterator = error
    search = hiter_cmd.find_iterators(all_goroutines=all_goroutines, map_address=map_address)
    if not search.results and not_an_iterator is not None and expressions.is_number(target):
        # an address that is no iterator; a map expression gets "No live map iterator ... over it" instead
        where = "any goroutine's stack" if all_goroutines else "the current goroutine's stack"
        raise UserError(f"{target}: not a live iterator ({not_an_iterator}), and no iterator on {where} walks "
                        "a map at that address (hiter-show ADDR --force decodes an iterator anyway)")
    result = []
    for found in search.results:
        try:
            result.append((implementation.decode_iterator(memory, found.address), found))
        except IteratorError as error:
            raise UserError(f"iterator at {found.address:#x}: {error}") from None
    return result


def prediction_text(loop: PredictedLoop, limit: int) -> str:
    """hiter-predict's text for one iterator."""
    prediction = loop.prediction
    render_key, render_value = loop.render_key, loop.render_value
    where = ""
    if loop.found is not None:
        where = f" (goroutine {loop.found.goroutine.goid}"
        if loop.found.frame and loop.found.frame.function:
            where += f", in {loop.found.frame.function}"
        where += ")"
    map_text = f"map {prediction.map_address:#x}" if prediction.map_address else "no map"
    lines = [f"iterator at {prediction.iterator:#x} over {map_text}{where}"]
    if prediction.current is not None:
        lines.append(f"  current: {render_key(prediction.current.key)}: {render_value(prediction.current.value)}")
    else:
        lines.append("  current: none")
    count = len(prediction.next)
    if prediction.exact:
        lines.append(f"  the loop will still receive {count} entr{'y' if count == 1 else 'ies'}"
                     + (" if nothing changes the map from now on" if count else "") + (":" if count and limit else ""))
    else:
        lines.append(f"  not exact: {'; '.join(prediction.inexact)}")
        lines.append(f"  {count} entr{'y' if count == 1 else 'ies'} ahead as far as the replay goes"
                     + (":" if count and limit else ""))
    for visit in prediction.next[:limit]:
        lines.append(f"    {render_key(visit.key)}: {render_value(visit.value)}" + ("   (maybe)" if visit.maybe else ""))
    if count > limit and limit:
        lines.append(f"    ... {count - limit} more (--limit N, or --json for all)")
    counts = prediction.not_visited_counts()
    if counts:
        total = sum(counts.values())
        lines.append(f"  {total} entr{'y' if total == 1 else 'ies'} of the map it will not receive:")
        for reason, number in sorted(counts.items(), key=lambda item: -item[1]):
            lines.append(f"    {number}: {reason}")
    for note in loop.notes or []:
        lines.append(f"  note: {note}")
    return "\n".join(lines)


def register() -> None:
    HiterPredict()
