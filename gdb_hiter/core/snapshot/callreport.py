"""The report of a capture: what changed across each cgo call, short enough to paste into an issue.

Pure core (no gdb). ``CallReport`` takes the snapshot documents of a capture in
seq order, one at a time (``add``), pairs each ``cgocall-enter`` with its
``cgocall-return`` (per goroutine; a callback belongs to the innermost C call of
its goroutine that is open when it starts) and diffs each pair as soon as its
return arrives. It holds the documents of the calls still open and nothing else:
a finished call becomes a small effect record (a phrase per map and per loop,
the diff's one-line sentences, a few sample keys), and that record becomes a row
of the summary and a block of the details at once, kept only while they fit in
the report. So memory does not grow with the number of transitions.

The report (``finish``), at most ``max_chars`` characters whatever the run:

* a head: program, Go version, map implementation, counts, what was left out;
* a summary table, one row per run of consecutive C calls with the same effect
  (``2–8 | C.callC, all in callback main.goCallback | ... | each: main.gm: +1
  entry | loop over main.gm: unaffected``): function, call site, goroutine, what
  changed in each map, what changed in each live loop (from the snapshots'
  ``prediction``); callbacks whose effect is not their C call's get rows of
  their own (``↳ callback``);
* notes: each explanation of what a loop does after its map grew or was
  cleared, stated once, referred to by number;
* details per call: the diff's sentences, the first ``limit`` keys of each
  change and the ``gdb-hiter diff`` (or ``hiter-diff``) command that shows the
  rest; cut, when they do not fit, with one last line saying how many were
  left out and the command to see one.

Calls that change nothing are counted, not listed (``all_calls`` lists them);
cgo's own allocation helpers (``C._Cmalloc``, ``C.free``) are counted, not
listed, unless asked for.
"""

from __future__ import annotations

import heapq
import os
import shlex
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple

from ..messages import markdown_code, markdown_text, one_line, printable
from ..render.maptext import address_text
from .diff import SHOW_ERRORS, _map_summary, diff_snapshots, iterator_meaning, not_as_written

DEFAULT_MAX_CHARS = 60000
DEFAULT_LIMIT = 3                       # keys listed per change of a map
CGO_HELPERS = ("C._Cmalloc", "C.free")  # what C.CString and friends call: left out by default
MAX_NOTES = 12
MAX_CALLBACK_DETAILS = 10               # callbacks detailed per C call
FORMATS = ("markdown", "text")
TITLE = "gdb-hiter: what changed across each cgo call"
NEVER_RETURNED = "never returned while the capture ran (the program crashed, exited or was stopped inside it)"


def _plural(count: int, word: str, plural: Optional[str] = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def _names(text: Optional[str]) -> Optional[FrozenSet[str]]:
    """``--cfunc a,b`` as a set of names; a name without a package also matches ``C.<name>``."""
    if text is None:
        return None
    names = set()
    for name in (item.strip() for item in text.split(",")):
        if name:
            names.add(name)
            if "." not in name:
                names.add("C." + name)
    return frozenset(names)


@dataclass(frozen=True)
class ReportOptions:
    """What the report lists: ``--max-chars``, ``--all-calls``, ``--cfunc``, ``--skip-cfunc``, ``--limit``."""

    max_chars: int = DEFAULT_MAX_CHARS
    all_calls: bool = False
    cfuncs: Optional[FrozenSet[str]] = None          # only these (None: every function)
    skip_cfuncs: FrozenSet[str] = frozenset(CGO_HELPERS)
    limit: int = DEFAULT_LIMIT                       # keys listed per change of a map (0: all)

    @classmethod
    def from_lists(cls, *, cfunc: Optional[str] = None, skip_cfunc: Optional[str] = None, **others) -> "ReportOptions":
        """From the command line's comma-separated lists. Without ``--skip-cfunc`` the cgo helpers
        are skipped, except those ``--cfunc`` asks for."""
        cfuncs = _names(cfunc)
        skip = _names(skip_cfunc) if skip_cfunc is not None else frozenset(CGO_HELPERS) - (cfuncs or frozenset())
        return cls(cfuncs=cfuncs, skip_cfuncs=skip, **others)

    def shows(self, cfunc: Optional[str]) -> bool:
        return (self.cfuncs is None or cfunc in self.cfuncs) and cfunc not in self.skip_cfuncs


def session_diff_command(enter: Tuple[int, Optional[str], str], ret: Tuple[int, Optional[str], str]) -> str:
    """In gdb: ``hiter-diff A B`` of two session snapshots."""
    return f"hiter-diff {enter[0]} {ret[0]}"


def directory_diff_command(directory: str) -> Callable[..., str]:
    """``gdb-hiter diff DIR/A DIR/B`` of two snapshot files of a capture directory."""
    def command(enter, ret) -> str:
        files = [os.path.join(directory, name or f"{seq:04d}-{event}.json") for seq, name, event in (enter, ret)]
        return "gdb-hiter diff " + " ".join(shlex.quote(path) for path in files)
    return command


# ---------------------------------------------------------------------------
# What one transition did: phrases for the summary, sentences for the details


@dataclass
class _MapEffect:
    name: str                   # main.gm, or map 0x...
    phrase: str                 # +1 entry; grew 2^8→2^9; cleared; no change
    line: Optional[str]         # the diff's sentence (None: unchanged)
    samples: List[Tuple[str, List[str], int]] = field(default_factory=list)   # (kind, first keys, how many)


@dataclass
class _LoopEffect:
    name: str                   # loop over main.gm
    phrase: str                 # unaffected; will not receive the 1 inserted entry
    line: str                   # the diff's sentences about the iterator
    notes: Tuple[int, ...] = ()


@dataclass
class _Effect:
    kind: str                   # cgocall, cgocallback
    number: Optional[int]       # the C call's number in the report; None for a callback
    cfunc: str
    site: str
    goroutine: Any
    span: str                   # "#1 → #4"
    command: Optional[str]      # the diff command (None: it never returned)
    changed: bool
    maps: List[_MapEffect] = field(default_factory=list)
    loops: List[_LoopEffect] = field(default_factory=list)
    remarks: List[str] = field(default_factory=list)   # the diff's notes (other program, ...)
    callbacks: List["_Effect"] = field(default_factory=list)

    @property
    def returned(self) -> bool:
        return self.command is not None

    def own_key(self) -> Tuple:
        return (self.returned, tuple((m.name, m.phrase) for m in self.maps),
                tuple((l.name, l.phrase, l.notes) for l in self.loops))

    def all_inside(self) -> Optional["_Effect"]:
        """The one callback that did everything this call did, if there is one."""
        if len(self.callbacks) == 1 and self.returned and self.changed:
            callback = self.callbacks[0]
            if callback.own_key() == self.own_key() and not callback.callbacks:
                return callback
        return None

    def key(self) -> Tuple:
        inside = self.all_inside()
        callbacks = ("inside", inside.cfunc) if inside else tuple(cb.key() for cb in self.callbacks)
        return (self.kind, self.cfunc, self.site, self.goroutine) + self.own_key() + (callbacks,)

    def anything_changed(self) -> bool:
        return self.changed or not self.returned or any(cb.anything_changed() for cb in self.callbacks)


def _site(doc: Dict[str, Any]) -> str:
    location = doc.get("location") or {}
    if not location or not location.get("function"):
        return ""
    return printable(f"{location.get('function')} ({os.path.basename(location.get('file') or '?')}:"
                     f"{location.get('line')})")


def _map_display(item: Dict[str, Any]) -> str:
    return printable(str(item.get("expression") or f"map {address_text(item.get('address'))}"))


_EVENT_PHRASES = (
    ("the map was cleared", "cleared"),
    ("same-size grow started", "same-size grow started"),
    ("growth started", "growth started"),
    ("growth finished", "growth finished"),
    ("same-size grow finished", "same-size grow finished"),
    ("a new grow started", "a new grow started"),
    ("evacuation progressed", "evacuation progressed"),
    ("the bucket array was replaced", "bucket array replaced"),
    ("the map implementation differs", "another implementation"),
    ("the small map's group was replaced", "group replaced"),
    ("new table", "new table"),
    ("a map write is in progress", "a write in progress"),
    ("compared by header", "compared by required keys only"),
)


def _event_phrase(event: str, header: Dict[str, Dict[str, Any]]) -> str:
    if event.startswith("grew from B="):
        change = header.get("B") or {}
        old, new = change.get("a"), change.get("b")
        if isinstance(old, int) and isinstance(new, int) and new > old:
            return f"grew 2^{old}→2^{new}"
        return f"B {old}→{new}"
    if event.startswith("switched from "):
        where = event[event.rfind("(") + 1:event.rfind(")")] if event.endswith(")") else ""
        start = "small map" if "small map" in event else "empty map"
        return f"{start} → tables" + (f" ({where})" if where else "")
    if event.startswith("shape changed from "):
        return event[len("shape changed from "):].replace(" to ", " → ")
    if event.startswith("directory grew from "):
        words = event.split()
        return f"directory {words[3]}→{words[5]}" if len(words) > 5 else "directory grew"
    if event.startswith("table "):
        for marker, phrase in ((" split into ", "table split"), (" grew from capacity ", "table grew"),
                               (" was replaced by ", "table replaced"), (" is gone", "table gone")):
            if marker in event:
                return phrase
    for prefix, phrase in _EVENT_PHRASES:
        if event.startswith(prefix):
            return phrase
    return one_line(event, 60)


def _map_phrase(item: Dict[str, Any]) -> str:
    if not item.get("changed"):
        return "no change"
    header = {change["field"]: change for change in item["header"]}
    counts: Dict[str, int] = {}
    for event in item["events"]:
        phrase = _event_phrase(event, header)
        counts[phrase] = counts.get(phrase, 0) + 1
    events = [phrase if count == 1 else f"{phrase} ×{count}" for phrase, count in counts.items()]
    parts = [phrase for phrase in events if phrase == "cleared"]
    entries = item["entries"]
    complete = entries.get("complete", True)
    if not complete:      # cut at capture (--limit of older captures): added / removed would be skewed
        count = item["count"]
        if count["a"] != count["b"]:
            parts.append(f"count {count['a']}→{count['b']}")
    else:
        if entries["added"]:
            parts.append("+" + _plural(len(entries["added"]), "entry", "entries"))
        if entries["removed"]:
            parts.append("−" + _plural(len(entries["removed"]), "entry", "entries"))
        if entries["changed"]:
            parts.append(_plural(len(entries["changed"]), "value") + " changed")
    parts += [phrase for phrase in events if phrase != "cleared"]
    if item["problems"]["new"]:
        parts.append(_plural(len(item["problems"]["new"]), "new problem"))
    if not parts:
        if entries["moved"]:
            parts.append(_plural(len(entries["moved"]), "entry", "entries") + " moved")
        elif item["header"]:
            parts.append("header changed (" + ", ".join(change["field"] for change in item["header"]) + ")")
        else:
            parts.append("changed")
    if not complete:
        parts.append("entry lists cut at capture")
    return ", ".join(parts)


def _first(rows: List[Dict[str, Any]], limit: int) -> List[Dict[str, Any]]:
    """The first ``limit`` rows in the order of their keys (as the diff's own samples), all for 0."""
    if limit <= 0:
        return sorted(rows, key=lambda row: row["key"])
    return heapq.nsmallest(limit, rows, key=lambda row: row["key"])


def _samples(item: Dict[str, Any], limit: int) -> List[Tuple[str, List[str], int]]:
    entries = item["entries"]
    samples = []
    for kind in ("added", "removed"):
        if entries[kind]:
            samples.append((kind, [printable(row["key"]) for row in _first(entries[kind], limit)],
                            len(entries[kind])))
    if entries["changed"]:
        samples.append(("changed", [printable(f"{row['key']}: {row['a']} → {row['b']}")
                                    for row in _first(entries["changed"], limit)], len(entries["changed"])))
    return samples


def _map_effects(diff: Dict[str, Any], limit: int) -> List[_MapEffect]:
    effects = []
    for item in diff["maps"]:
        effects.append(_MapEffect(_map_display(item), _map_phrase(item),
                                  printable(_map_summary(item)) if item["changed"] else None,
                                  _samples(item, limit) if item["changed"] else []))
    for side, items, phrase in (("A", diff["maps_only_in_a"], "gone"), ("B", diff["maps_only_in_b"], "appeared")):
        for item in items:
            name = _map_display(item)
            effects.append(_MapEffect(name, f"{phrase} (count {item.get('count')})",
                                      printable(f"{name} is only in {side} (count {item.get('count')})")))
    return effects


class _Notes:
    """Each explanation once, numbered in the order first met."""

    def __init__(self):
        self.texts: List[str] = []
        self.numbers: Dict[str, int] = {}
        self.dropped = 0

    def number(self, text: str) -> Optional[int]:
        if text not in self.numbers:
            if len(self.texts) >= MAX_NOTES:
                self.dropped += 1
                return None
            self.texts.append(text)
            self.numbers[text] = len(self.texts)
        return self.numbers[text]


def _explanations(iterator: Dict[str, Any], map_doc: Optional[Dict[str, Any]]) -> List[str]:
    """What the loop does since its map grew or was cleared (without the per-stop counts)."""
    if not (iterator.get("stale") or iterator.get("map_grew_since_start") or iterator.get("cleared_since_start")):
        return []
    bare = dict(iterator, prediction=None, remaining={})
    sentences = iterator_meaning(bare, map_doc)
    return [printable(sentence[:1].upper() + sentence[1:]) for sentence in sentences]


def _future(before: Dict[str, Any], after: Dict[str, Any], map_item: Optional[Dict[str, Any]]) -> str:
    """How what the loop will still receive changed, from the two predictions."""
    ahead_a, ahead_b = list(before.get("next") or ()), list(after.get("next") or ())
    set_a, set_b = set(ahead_a), set(ahead_b)
    dropped = [key for key in ahead_a if key not in set_b]
    new = [key for key in ahead_b if key not in set_a]
    removed, added = set(), []
    complete = False
    if map_item is not None:
        entries = map_item["entries"]
        removed = {row["key"] for row in entries["removed"]}
        added = [row["key"] for row in entries["added"]]
        complete = entries.get("complete", True)
    pieces = []
    deleted = sum(1 for key in dropped if key in removed)
    if deleted:
        pieces.append(f"{deleted} ahead deleted")
    if len(dropped) - deleted:
        pieces.append(f"{len(dropped) - deleted} ahead no longer received")
    added_set = set(added)
    received = sum(1 for key in new if key in added_set)
    if received:
        pieces.append(f"will also receive {_plural(received, 'inserted entry', 'inserted entries')}")
    if len(new) - received:
        pieces.append(f"{len(new) - received} more ahead")
    if [key for key in ahead_a if key in set_b] != [key for key in ahead_b if key in set_a]:
        pieces.append("order changed")
    text = ", ".join(pieces) or "same entries ahead"
    missed = [key for key in added if key not in set_b] if complete else []
    if missed:
        inserted = "entry" if len(added) == 1 else "entries"
        text += (f", will not receive the {len(added)} inserted {inserted}" if len(missed) == len(added)
                 else f", will not receive {len(missed)} of the {len(added)} inserted entries")
    if not (before.get("exact") and after.get("exact")):
        text += " (predictions not exact)"
    return text


def _loop_phrase(item: Dict[str, Any], it_a: Dict[str, Any], it_b: Dict[str, Any],
                 map_item: Optional[Dict[str, Any]]) -> str:
    parts = []
    state_a, state_b = it_a.get("state"), it_b.get("state")
    if state_a != state_b:
        parts.append("finished" if state_b == "finished" else f"{state_a} → {state_b}")
    if it_a.get("address") != it_b.get("address"):
        parts.append("moved with its stack")
    if it_a.get("map_address") != it_b.get("map_address"):
        parts.append("walks another map now")
    storage = "bucket array" if it_b.get("impl") == "classic" else "group or table"
    if not it_a.get("stale") and it_b.get("stale"):
        parts.append(f"now walks an old {storage}")
    elif it_a.get("stale") and not it_b.get("stale"):
        parts.append(f"walks the map's current {storage} again")
    if not it_a.get("cleared_since_start") and it_b.get("cleared_since_start"):
        parts.append("its map was cleared")
    for event in item["events"]:
        if event.startswith("its start position changed"):
            parts.append("another range loop in its slot")
        elif event.startswith("it wrapped around"):
            parts.append("wrapped around")
        elif event.startswith("it moved on to another entry") or event.startswith("it has no current entry"):
            parts.append("moved on")
    before, after = it_a.get("prediction"), it_b.get("prediction")
    if state_a == state_b == "in-progress" and isinstance(before, dict) and isinstance(after, dict):
        future = _future(before, after, map_item)
        parts.append(future)
        if parts == ["same entries ahead"]:
            parts = ["unaffected"]
    elif item["changed"] and not parts:
        parts.append("changed: " + one_line(item["events"][0], 80) if item["events"] else "position changed")
    return ", ".join(parts) or "unaffected"


def _loop_effects(diff: Dict[str, Any], a: Dict[str, Any], b: Dict[str, Any], notes: _Notes) -> List[_LoopEffect]:
    iters_a = {it.get("address"): it for it in a.get("iterators") or ()}
    iters_b = {it.get("address"): it for it in b.get("iterators") or ()}
    maps_b = {item.get("address"): item for item in b.get("maps") or ()}
    map_items = {item.get("address"): item for item in diff["maps"]}
    on_map: Dict[Any, int] = {}
    for it in b.get("iterators") or ():
        on_map[it.get("map_address")] = on_map.get(it.get("map_address"), 0) + 1

    def name(map_address, address) -> str:
        map_doc = maps_b.get(map_address)
        over = _map_display(map_doc) if map_doc else f"map {address_text(map_address)}"
        extra = f" (iterator {address_text(address)})" if on_map.get(map_address, 0) > 1 else ""
        return printable(f"loop over {over}{extra}")

    effects = []
    for item in diff["iterators"]:
        it_a, it_b = iters_a.get(item.get("address_a")) or {}, iters_b.get(item.get("address")) or {}
        title = f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])}"
        line = printable(f"{title}: " + "; ".join(item["events"] or ["unchanged"]))
        try:
            phrase = _loop_phrase(item, it_a, it_b, map_items.get(it_b.get("map_address")))
            numbers = tuple(n for n in (notes.number(text) for text in
                                        _explanations(it_b, maps_b.get(it_b.get("map_address"))))
                            if n is not None)
        except SHOW_ERRORS as error:
            phrase, numbers = f"cannot be described: {not_as_written(error)}", ()
        effects.append(_LoopEffect(name(item.get("map_address"), item.get("address")), phrase, line, numbers))
    for items, phrase, where in ((diff["iterators_only_in_a"], "loop ended (or its frame returned)", "A"),
                                 (diff["iterators_only_in_b"], "loop started", "B")):
        for item in items:
            title = f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])}"
            effects.append(_LoopEffect(name(item.get("map_address"), item.get("address")),
                                       phrase if where == "A" else f"{phrase} ({item.get('state')})",
                                       printable(f"{title} is only in {where}: {phrase}")))
    return effects


# ---------------------------------------------------------------------------
# Rendering pieces, markdown or text


def _cell(text: str, markdown: bool) -> str:
    return markdown_text(text, starts_block=False) if markdown else text


def _code(text: str, markdown: bool) -> str:
    return markdown_code(text) if markdown else text


def _note_refs(numbers: Sequence[int]) -> str:
    if not numbers:
        return ""
    return f" (note{'s' if len(numbers) > 1 else ''} {', '.join(str(n) for n in numbers)})"


def _maps_cell(effect: _Effect, markdown: bool, each: bool) -> str:
    if not effect.returned:
        return _cell(NEVER_RETURNED, markdown)
    text = "; ".join(f"{m.name}: {m.phrase}" for m in effect.maps) or "no map"
    return _cell(("each: " if each else "") + text, markdown)


def _loops_cell(effect: _Effect, markdown: bool) -> str:
    if not effect.returned:
        return ""
    return _cell("; ".join(f"{l.name}: {l.phrase}{_note_refs(l.notes)}" for l in effect.loops) or "no loop",
                 markdown)


def _function_cell(effect: _Effect, markdown: bool) -> str:
    text = _code(effect.cfunc, markdown)
    inside = effect.all_inside()
    if effect.kind == "cgocallback":
        text += _cell(" (outside any captured C call)", markdown)
    if inside is not None:
        text += _cell(", all in callback ", markdown) + _code(inside.cfunc, markdown)
    elif effect.callbacks:
        text += _cell(f", {_plural(len(effect.callbacks), 'callback')}", markdown)
    return text


def _runs(effects: Sequence[_Effect]) -> List[List[_Effect]]:
    runs: List[List[_Effect]] = []
    for effect in effects:
        if runs and runs[-1][-1].key() == effect.key():
            runs[-1].append(effect)
        else:
            runs.append([effect])
    return runs


def _row(cells: Sequence[str], markdown: bool) -> str:
    if markdown:
        return "| " + " | ".join(cells) + " |\n"
    label, function, site, goroutine, maps, loops = cells
    head = f"  {label}: {function}" + (f"; {site}" if site else "") + (f"; goroutine {goroutine}" if goroutine else "")
    text = head + "\n"
    if maps:
        text += f"      maps:  {maps}\n"
    if loops:
        text += f"      loops: {loops}\n"
    return text


def _rows_of_run(run: List[_Effect], markdown: bool, all_calls: bool) -> str:
    first, last = run[0], run[-1]
    if first.number is not None:
        label = str(first.number) if len(run) == 1 else f"{first.number}–{last.number}"
        if not markdown:
            label = ("C call " if len(run) == 1 else "C calls ") + label
    else:
        label = "callback" if len(run) == 1 else f"{len(run)} callbacks"
    each = len(run) > 1
    goroutine = "" if first.goroutine is None else str(first.goroutine)
    text = _row([label, _function_cell(first, markdown), _cell(first.site, markdown), goroutine,
                 _maps_cell(first, markdown, each), _loops_cell(first, markdown)], markdown)
    if first.all_inside() is None:
        listed = [cb for cb in first.callbacks if all_calls or cb.anything_changed()]
        for callbacks in _runs(listed):
            sub = callbacks[0]
            sub_label = "↳ callback" if len(callbacks) == 1 else f"↳ {len(callbacks)} callbacks"
            text += _row([sub_label, _code(sub.cfunc, markdown), "", "",
                          _maps_cell(sub, markdown, len(callbacks) > 1 or each), _loops_cell(sub, markdown)],
                         markdown)
    return text


def _keys_line(kind: str, keys: List[str], total: int, markdown: bool) -> str:
    shown = ", ".join(_code(key, markdown) for key in keys)
    more = total - len(keys)
    return f"{kind}: {shown}" + (f", … ({more} more)" if more > 0 else "")


def _effect_lines(effect: _Effect, markdown: bool) -> List[Tuple[int, str]]:
    """(depth, text) of what the diff across ``effect`` says."""
    lines: List[Tuple[int, str]] = []
    if not effect.returned:
        return [(0, _cell(NEVER_RETURNED[:1].upper() + NEVER_RETURNED[1:], markdown))]
    for remark in effect.remarks:
        lines.append((0, _cell("note: " + remark, markdown)))
    for item in effect.maps:
        if item.line is None:
            continue
        lines.append((0, _cell(item.line, markdown)))
        for kind, keys, total in item.samples:
            lines.append((1, _keys_line(kind, keys, total, markdown)))
    for loop in effect.loops:
        lines.append((0, _cell(loop.line, markdown) + _note_refs(loop.notes)))
    if not lines:
        lines.append((0, _cell("no change", markdown)))
    return lines


def _bullets(lines: List[Tuple[int, str]], indent: int, markdown: bool) -> str:
    text = ""
    for depth, line in lines:
        if markdown:
            text += "  " * (indent + depth) + "- " + line + "\n"
        else:
            text += "  " * (indent + depth + 1) + "- " + line + "\n"
    return text


def _title(effect: _Effect) -> str:
    if effect.number is not None:
        title = f"C call {effect.number}: {effect.cfunc}"
    else:
        title = f"Callback {effect.cfunc} (outside any captured C call)"
    if effect.site:
        title += f" from {effect.site}"
    if effect.goroutine is not None:
        title += f", goroutine {effect.goroutine}"
    return printable(f"{title} ({effect.span})")


def _details(effect: _Effect, markdown: bool, all_calls: bool) -> str:
    title = _title(effect)
    out = f"\n### {markdown_text(title, starts_block=False)}\n\n" if markdown else f"\n{title}\n"
    if effect.command:
        out += (markdown_code(effect.command) + "\n\n") if markdown else f"  all of it: {effect.command}\n"
    own = _effect_lines(effect, markdown)
    out += _bullets(own, 0, markdown)
    callbacks = [cb for cb in effect.callbacks if all_calls or cb.anything_changed()]
    for callback in callbacks[:MAX_CALLBACK_DETAILS]:
        lines = _effect_lines(callback, markdown)
        where = f"callback {callback.cfunc} ({callback.span})"
        if lines == own and effect.returned:
            out += _bullets([(0, _cell(f"all of it inside {where}", markdown))], 0, markdown)
            continue
        command = f": {_code(callback.command, markdown)}" if callback.command else ""
        out += _bullets([(0, _cell(f"inside it, {where}", markdown) + command)], 0, markdown)
        out += _bullets(lines, 1, markdown)
    if len(callbacks) > MAX_CALLBACK_DETAILS:
        more = len(callbacks) - MAX_CALLBACK_DETAILS
        out += _bullets([(0, _cell(f"{_plural(more, 'more callback')} inside it, not detailed here", markdown))],
                        0, markdown)
    return out


# ---------------------------------------------------------------------------
# Pairing, streaming


class _Open:
    """A C call or callback whose return has not been seen yet."""

    __slots__ = ("kind", "doc", "name", "order", "number", "shown", "callbacks", "owner", "cfunc", "seq", "event")

    def __init__(self, kind, doc, name, shown, owner):
        self.kind, self.name, self.shown, self.owner = kind, name, shown, owner
        self.doc = doc if shown else None          # only what will be diffed is held
        self.cfunc = printable(str(doc.get("cfunc") or "?"))
        self.seq, self.event = doc.get("seq"), doc.get("event")
        self.order = self.number = None
        self.callbacks: List[_Effect] = []


class CallReport:
    """The report of a capture, built from its documents in seq order (``add``), then ``finish``."""

    def __init__(self, options: Optional[ReportOptions] = None, fmt: str = "markdown",
                 diff_command: Callable[..., str] = session_diff_command, result: Optional[str] = None):
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
        self.options = options or ReportOptions()
        self.markdown = fmt == "markdown"
        self.diff_command = diff_command
        self.result = result
        self.notes = _Notes()
        self.unreadable: List[str] = []
        self.snapshots = 0
        self.transitions = 0
        self.first: Optional[Dict[str, Any]] = None       # program, Go version: from the first document
        self.only_core: Optional[Dict[str, Any]] = None   # the first document while every one is a core snapshot
        self.calls = self.callbacks = 0
        self.numbered = 0
        self.not_shown: Dict[Tuple[str, str], int] = {}   # (why, cfunc) -> C calls / callbacks left out by name
        self.unchanged = 0
        self._stacks: Dict[Any, List[_Open]] = {}
        self._orders = 0
        self._next_order = 1
        self._finished: Dict[int, _Effect] = {}
        self._run: List[_Effect] = []
        # kept while they fit in the report: (text, first and last C call numbers) and (text, diff command)
        self._rows: List[Tuple[str, Optional[int], Optional[int]]] = []
        self._rows_chars = 0
        self._rows_cut: List[Tuple[Optional[int], Optional[int]]] = []     # first and last cut run only
        self._rows_cut_count = 0
        self._blocks: List[Tuple[str, Optional[str]]] = []
        self._blocks_chars = 0
        self._blocks_cut = 0
        self._first_cut_command: Optional[str] = None
        self.listed = 0

    # -- input ---------------------------------------------------------------

    def add(self, doc: Dict[str, Any], name: Optional[str] = None) -> None:
        """One snapshot document (the next in seq order); ``name`` is its file name, if it has one."""
        self.snapshots += 1
        if self.first is None:
            self.first = {"go": doc.get("go") or {}, "program": doc.get("program") or {},
                          "redacted": bool(doc.get("redacted"))}
            self.only_core = doc if doc.get("event") == "core" else None
        elif self.only_core is not None and doc.get("event") != "core":
            self.only_core = None
        kind, _, phase = str(doc.get("event")).rpartition("-")
        if kind not in ("cgocall", "cgocallback") or phase not in ("enter", "return"):
            return
        self.only_core = None
        self.transitions += 1
        stack = self._stacks.setdefault(doc.get("goroutine"), [])
        if phase == "enter":
            self._enter(kind, doc, name, stack)
            return
        for index in range(len(stack) - 1, -1, -1):
            if stack[index].kind == kind:
                closing = stack[index]
                for above in reversed(stack[index + 1:]):   # opened inside it, never returned
                    self._close(above, None, None)
                del stack[index:]
                self._close(closing, doc, name)
                break

    def _enter(self, kind: str, doc: Dict[str, Any], name: Optional[str], stack: List[_Open]) -> None:
        owner = None
        if kind == "cgocallback":
            self.callbacks += 1
            owner = next((item for item in reversed(stack) if item.kind == "cgocall"), None)
        else:
            self.calls += 1
        cfunc = doc.get("cfunc")
        if owner is not None:
            shown = owner.shown
        else:
            shown = self.options.shows(cfunc)
            if not shown:   # by --cfunc first: --skip-cfunc '' would not show it
                label = ("cfunc" if self.options.cfuncs is not None and cfunc not in self.options.cfuncs else "skip",
                         printable(str(cfunc or "?")))
                self.not_shown[label] = self.not_shown.get(label, 0) + 1
        item = _Open(kind, doc, name, shown, owner)
        if shown and owner is None:
            self._orders += 1
            item.order = self._orders
            if kind == "cgocall":
                self.numbered += 1
                item.number = self.numbered
        stack.append(item)

    def _close(self, item: _Open, ret: Optional[Dict[str, Any]], name: Optional[str]) -> None:
        if not item.shown:
            return
        effect = self._effect(item, ret, name)
        if item.owner is not None:
            item.owner.callbacks.append(effect)
            return
        self._finished[item.order] = effect
        while self._next_order in self._finished:
            self._emit(self._finished.pop(self._next_order))
            self._next_order += 1

    def _effect(self, item: _Open, ret: Optional[Dict[str, Any]], name: Optional[str]) -> _Effect:
        enter = item.doc
        span = f"#{item.seq} → #{ret.get('seq')}" if ret is not None else f"#{item.seq} → (no return captured)"
        effect = _Effect(item.kind, item.number, item.cfunc, _site(enter), enter.get("goroutine"), span,
                         None, False, callbacks=item.callbacks)
        item.doc = None
        if ret is None:
            return effect
        effect.command = self.diff_command((item.seq, item.name, item.event),
                                           (ret.get("seq"), name, ret.get("event")))
        diff = diff_snapshots(enter, ret)
        effect.remarks = [printable(note) for note in diff["notes"]]
        effect.maps = _map_effects(diff, self.options.limit)
        effect.loops = _loop_effects(diff, enter, ret, self.notes)
        # not the diff's own "changed": that counts the sentence "the loop will still receive the same N
        # entries", said of every live loop
        effect.changed = (any(item.phrase != "no change" for item in effect.maps)
                          or any(loop.phrase != "unaffected" for loop in effect.loops))
        return effect

    # -- output while the run goes: rows and blocks kept while they fit ----------

    def _emit(self, effect: _Effect) -> None:
        if not self.options.all_calls and not effect.anything_changed():
            self.unchanged += 1
            self._close_run()
            return
        self.listed += 1
        if self._run and not self._follows(self._run[-1], effect):
            self._close_run()
        self._run.append(effect)
        block = _details(effect, self.markdown, self.options.all_calls)
        command = effect.command or next((cb.command for cb in effect.callbacks if cb.command), None)
        if self._blocks_chars + len(block) <= self.options.max_chars and not self._blocks_cut:
            self._blocks.append((block, command))
            self._blocks_chars += len(block)
        else:
            self._blocks_cut += 1
            if self._first_cut_command is None:
                self._first_cut_command = command

    @staticmethod
    def _follows(previous: _Effect, effect: _Effect) -> bool:
        if previous.key() != effect.key():
            return False
        if effect.number is None:
            return previous.number is None
        return previous.number is not None and effect.number == previous.number + 1

    def _close_run(self) -> None:
        if not self._run:
            return
        run, self._run = self._run, []
        text = _rows_of_run(run, self.markdown, self.options.all_calls)
        if self._rows_chars + len(text) <= self.options.max_chars and not self._rows_cut_count:
            self._rows.append((text, run[0].number, run[-1].number))
            self._rows_chars += len(text)
        else:
            self._rows_cut_count += 1
            span = (run[0].number, run[-1].number)
            self._rows_cut = [self._rows_cut[0], span] if self._rows_cut else [span]

    # -- the report -----------------------------------------------------------

    def finish(self) -> str:
        """The report: every call still open is closed as never returned."""
        for stack in self._stacks.values():
            for item in reversed(stack):
                self._close(item, None, None)
            stack.clear()
        for order in sorted(self._finished):
            self._emit(self._finished.pop(order))
        self._close_run()
        if self.snapshots == 0:
            return self._fit(self._heading() + "No snapshot was taken.\n" + self._tail())
        if self.only_core is not None:
            return self._core_report()
        return self._compose()

    def _heading(self) -> str:
        return f"# {TITLE}\n\n" if self.markdown else f"{TITLE}\n"

    def _tail(self) -> str:
        if not self.result:
            return ""
        text = f"Capture: {printable(self.result)}"
        return f"\n---\n\n{markdown_text(text)}\n" if self.markdown else f"\n{text}\n"

    def _item(self, text: str) -> str:
        return f"- {text}\n" if self.markdown else f"  {text}\n"

    def _head(self) -> str:
        md = self.markdown
        go = self.first["go"] if self.first else {}
        program = (self.first or {}).get("program", {}).get("path") or "the program"
        lines = [_cell("program ", md) + _code(printable(str(program)), md)
                 + _cell(f" ({printable(str(go.get('go_version')))}, {printable(str(go.get('map_impl')))} maps)", md)]
        counts = (f"{_plural(self.snapshots, 'snapshot')}: {_plural(self.calls, 'C call')}, "
                  f"{_plural(self.callbacks, 'callback')}")
        lines.append(_cell(counts, md))
        if self.first and self.first.get("redacted"):
            lines.append(_cell("redacted: keys and values are salted hash tokens", md))
        if self.not_shown:
            helpers = sorted(name for why, name in self.not_shown if why == "skip")
            others = sorted(name for why, name in self.not_shown if why == "cfunc")
            if helpers:
                count = sum(self.not_shown["skip", name] for name in helpers)
                lines.append(_cell(f"{_plural(count, 'call')} to ", md) + ", ".join(_code(name, md) for name in helpers)
                             + _cell(" not shown; ", md)
                             + _code("--skip-cfunc ''", md) + _cell(" shows " + ("it" if count == 1 else "them"), md))
            if others:
                count = sum(self.not_shown["cfunc", name] for name in others)
                shown = ", ".join(_code(name, md) for name in others[:5]) + (", ..." if len(others) > 5 else "")
                lines.append(_cell(f"{_plural(count, 'call')} to ", md) + shown + _cell(" not shown (not in ", md)
                             + _code("--cfunc", md) + _cell(")", md))
        if self.unchanged:
            what = _plural(self.unchanged, "call")
            lines.append(_cell(f"{what} changed nothing (not listed; ", md) + _code("--all-calls", md)
                         + _cell(" lists them)", md))
        if self.unreadable:
            lines.append(_cell(f"{_plural(len(self.unreadable), 'snapshot file')} could not be read and "
                               f"{'is' if len(self.unreadable) == 1 else 'are'} left out (the first: "
                               f"{one_line(self.unreadable[0], 200)})", md))
        if self.result:
            lines.append(_cell(f"capture: {printable(self.result)}", md))
        return "".join(self._item(line) for line in lines)

    def _table_head(self) -> str:
        if not self.markdown:
            return "\nSummary\n"
        return ("\n## Summary\n\n| C call | function | call site | goroutine | maps | loops |\n"
                "|---|---|---|---|---|---|\n")

    def _notes_text(self) -> str:
        if not self.notes.texts:
            return ""
        out = "\n## Notes\n\n" if self.markdown else "\nNotes\n"
        for number, text in enumerate(self.notes.texts, 1):
            out += f"{number}. {markdown_text(text, starts_block=False)}\n" if self.markdown else f"  {number}. {text}\n"
        if self.notes.dropped:
            out += self._item(_cell(f"{self.notes.dropped} more explanations are in the diffs", self.markdown))
        return out

    def _cut_line(self, left: int, command: Optional[str]) -> str:
        text = (f"The details of {left} of the {_plural(self.listed, 'listed call')} were left out "
                f"(the report is kept within {self.options.max_chars} characters)")
        if command and self.markdown:
            return "\n" + markdown_text(text + "; to see one: ") + markdown_code(command) + "\n"
        return "\n" + text + (f"; to see one: {command}" if command else "") + "\n"

    def _rows_cut_line(self, count: int, spans: List[Tuple[Optional[int], Optional[int]]]) -> str:
        numbers = [number for span in spans for number in span if number is not None]
        calls = ""
        if numbers:
            first, last = min(numbers), max(numbers)
            calls = f" (C call {first})" if first == last else f" (C calls {first}–{last})"
        text = (f"{_plural(count, 'more row')} of the summary left out{calls}: the report is kept within "
                f"{self.options.max_chars} characters")
        return ("\n" if self.markdown else "") + _cell(text, self.markdown) + "\n"

    def _compose(self) -> str:
        md = self.markdown
        limit = self.options.max_chars
        head = self._heading() + self._head()
        if self.transitions == 0:
            return self._fit(head + "\n" + _cell("No C call or callback was captured.", md) + "\n")
        if not self.listed:
            return self._fit(head + "\n" + _cell("Nothing to list (see above).", md) + "\n")
        notes = self._notes_text()
        rows, cut_spans, cut_rows = list(self._rows), list(self._rows_cut), self._rows_cut_count
        reserve = 600 + 2 * len(self._first_cut_command or "")   # room for the lines that say what was cut
        fixed = len(head) + len(self._table_head()) + len(notes) + reserve
        size = sum(len(text) for text, _, _ in rows)
        while rows and fixed + size > limit:
            text, first, last = rows.pop()
            size -= len(text)
            cut_spans = [(first, last)] + cut_spans
            cut_rows += 1
        body = head + self._table_head() + "".join(text for text, _, _ in rows)
        if cut_rows:
            body += self._rows_cut_line(cut_rows, cut_spans)
        body += notes
        left, command = self._blocks_cut, self._first_cut_command
        details_head = "\n## Details\n" if md else "\nDetails\n"
        room = limit - len(body) - len(details_head) - reserve
        kept, size = [], 0
        for block, block_command in self._blocks:
            if size + len(block) > room:
                break
            kept.append(block)
            size += len(block)
        if len(kept) < len(self._blocks):
            left += len(self._blocks) - len(kept)
            command = self._blocks[len(kept)][1] or command
        if kept:
            body += details_head + "".join(kept)
        if left:
            body += self._cut_line(left, command)
        return self._fit(body)

    def _fit(self, text: str) -> str:
        """``text`` within ``max_chars``, whatever it is: cut at a line, said on the last line."""
        limit = self.options.max_chars
        if len(text) <= limit:
            return text
        last = f"\n[cut at {limit} characters]\n"
        keep = max(limit - len(last), 0)
        cut = text[:keep]
        if "\n" in cut:
            cut = cut[:cut.rfind("\n")]
        return (cut + last)[:limit]

    def _core_report(self) -> str:
        from .report import render_snapshot
        body = render_snapshot(self.only_core, "markdown" if self.markdown else "text")
        return self._fit(body + self._tail())


def build_report(items: Iterable[Any], options: Optional[ReportOptions] = None, fmt: str = "markdown", *,
                 diff_command: Callable[..., str] = session_diff_command, result: Optional[str] = None,
                 unreadable: Sequence[str] = ()) -> str:
    """The report of ``items``: documents, or (file name, document) pairs, in seq order."""
    builder = CallReport(options, fmt, diff_command, result)
    for item in items:
        if isinstance(item, tuple):
            builder.add(item[1], item[0])
        else:
            builder.add(item)
    builder.unreadable = list(unreadable)
    return builder.finish()


def transition_report(docs: Sequence[Dict[str, Any]], fmt: str = "markdown",
                      options: Optional[ReportOptions] = None) -> str:
    """The report of a list of documents (``hiter-watch report``: the session's snapshots, diffed with
    ``hiter-diff``), in seq order."""
    return build_report(sorted(docs, key=lambda doc: doc.get("seq") or 0), options, fmt)


def report_directory(directory: str, options: Optional[ReportOptions] = None, fmt: str = "markdown", *,
                     result: Optional[str] = None) -> str:
    """The report of a capture directory, its snapshots read one at a time."""
    from .capturedir import iter_capture_documents
    unreadable: List[str] = []
    builder = CallReport(options, fmt, directory_diff_command(directory), result)
    builder.unreadable = unreadable          # filled as the files are read
    for name, doc in iter_capture_documents(directory, unreadable):
        builder.add(doc, name)
    return builder.finish()
