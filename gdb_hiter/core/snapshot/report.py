"""Rendering of diffs and snapshots: text (optionally coloured), markdown, JSON.

Pure core (no gdb). Every renderer is deterministic (same input, same
bytes): the golden-file tests depend on it.

* ``text``: for a terminal. The renderer produces (pygments token, text)
  pairs; with ``color=True`` they go through pygments' ``TerminalFormatter``,
  otherwise they are joined as they are (no escape codes at all).
* ``markdown``: for a GitHub issue. Summary first, then tables; long entry
  lists are folded in ``<details>``.
* ``json``: ``json.dumps(..., indent=2, sort_keys=True)``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from pygments.token import Token

from ..messages import display_safe, markdown_code, markdown_text
from ..render.maptext import address_text, location_text
from .diff import SHOW_ERRORS, required_map, not_as_written
from .document import describe

FORMATS = ("text", "markdown", "json")
FOLD_ROWS = 10          # markdown: more rows than this go into <details>
TEXT_ENTRY_ROWS = 50    # text diff: entries listed per kind before "... N more"

Line = List[Tuple[Any, str]]

HEADING = Token.Generic.Heading
SUBHEADING = Token.Generic.Subheading
ADDED = Token.Generic.Inserted
REMOVED = Token.Generic.Deleted
CHANGED = Token.Generic.Emph
NOTE = Token.Comment
PLAIN = Token.Text
PROBLEM = Token.Generic.Error


def _value(name: str, value: Any) -> str:
    """A header value for people: addresses in hex, lists joined, the rest as is."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) if value else "none"
    if isinstance(value, int) and not isinstance(value, bool) and (
            "address" in name or name in ("oldbuckets", "dirPtr", "buckets")):
        return address_text(value)
    if value is None:
        return "—"
    return str(value)


# Characters json leaves raw with ensure_ascii=False that a terminal may still act on (DEL, the C1
# controls such as CSI U+009B) or that end a line for some readers (U+2028, U+2029). In JSON text
# they can only be inside strings, where \uXXXX means the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029]")


def _json_safe(text: str) -> str:
    return _JSON_UNSAFE.sub(lambda match: f"\\u{ord(match.group(0)):04x}", text)


def _json(doc: Any) -> str:
    return _json_safe(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False)) + "\n"


def json_chunks(doc: Any) -> Iterator[str]:
    """``_json(doc)`` in pieces: a 10^6-entry document is written without holding its text (and the
    millions of fragments ``json.dumps`` joins) in memory at once."""
    for piece in json.JSONEncoder(indent=2, sort_keys=True, ensure_ascii=False).iterencode(doc):
        yield _json_safe(piece)
    yield "\n"


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


# ---------------------------------------------------------------------------
# Token streams -> text


def _emit(lines: Sequence[Line], color: bool) -> str:
    tokens: List[Tuple[Any, str]] = []
    for line in lines:
        tokens.extend(part for part in line if part[1])
        tokens.append((PLAIN, "\n"))
    if not color:
        return "".join(text for _, text in tokens)
    from pygments import format as pygments_format
    from pygments.formatters import TerminalFormatter
    return pygments_format(tokens, TerminalFormatter())


def _columns(rows: Sequence[Sequence[str]]) -> List[str]:
    widths = [0] * max(len(row) for row in rows)
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], min(len(cell), 48))
    return ["  ".join(cell.ljust(widths[index]) for index, cell in enumerate(row)).rstrip() for row in rows]


def _side(ref: Dict[str, Any]) -> str:
    text = describe(ref)
    location = ref.get("location") or {}
    if location.get("function"):
        text += f" in {location['function']}"
        if location.get("file"):
            text += f" at {location['file']}:{location.get('line')}"
    if ref.get("taken_at"):
        text += f", {ref['taken_at']}"
    if ref.get("redacted"):
        text += ", redacted"
    return text


# ---------------------------------------------------------------------------
# Diff: text


def _diff_text_lines(diff: Dict[str, Any]) -> List[Line]:
    lines: List[Line] = []
    lines.append([(HEADING, "gdb-hiter diff")])
    lines.append([(PLAIN, "  A: "), (PLAIN, _side(diff["a"]))])
    lines.append([(PLAIN, "  B: "), (PLAIN, _side(diff["b"]))])
    for note in diff["notes"]:
        lines.append([(NOTE, f"  note: {note}")])
    for item in diff["maps"]:
        lines.append([])
        lines.append([(SUBHEADING, _map_title(item))])
        if not item["changed"]:
            lines.append([(NOTE, "  unchanged")])
            continue
        for change in item["header"]:
            lines.append([(PLAIN, f"  {change['field']}: "), (REMOVED, _value(change["field"], change["a"])),
                          (PLAIN, " → "), (ADDED, _value(change["field"], change["b"]))])
        for event in item["events"]:
            lines.append([(CHANGED, f"  * {event}")])
        entries = item["entries"]
        lines.append([(PLAIN, "  entries: " + _entry_tally(entries))])
        for kind, sign, token in (("added", "+", ADDED), ("removed", "-", REMOVED)):
            for row in entries[kind][:TEXT_ENTRY_ROWS]:
                lines.append([(token, f"    {sign} {row['key']}: {row['value']}"),
                              (NOTE, f"  ({location_text(row['location'])})")])
            if len(entries[kind]) > TEXT_ENTRY_ROWS:
                lines.append([(NOTE, f"    ... {len(entries[kind]) - TEXT_ENTRY_ROWS} more {kind}")])
        for row in entries["changed"][:TEXT_ENTRY_ROWS]:
            moved = (f"  ({location_text(row['location_a'])} → {location_text(row['location_b'])})"
                     if row["moved"] else f"  ({location_text(row['location_b'])})")
            lines.append([(CHANGED, f"    ~ {row['key']}: "), (REMOVED, row["a"]), (CHANGED, " → "),
                          (ADDED, row["b"]), (NOTE, moved)])
        if len(entries["changed"]) > TEXT_ENTRY_ROWS:
            lines.append([(NOTE, f"    ... {len(entries['changed']) - TEXT_ENTRY_ROWS} more changed")])
        for row in entries["moved"][:TEXT_ENTRY_ROWS]:
            lines.append([(PLAIN, f"    > {row['key']}: {row['value']}"),
                          (NOTE, f"  ({location_text(row['a'])} → {location_text(row['b'])})")])
        if len(entries["moved"]) > TEXT_ENTRY_ROWS:
            lines.append([(NOTE, f"    ... {len(entries['moved']) - TEXT_ENTRY_ROWS} more moved")])
        for dup in entries["duplicate_keys"]:
            lines.append([(NOTE, f"    key {dup['key']} occurs {dup['a']} time(s) in A and {dup['b']} in B "
                                 "(not equal to itself, e.g. NaN): paired as a multiset")])
        if not entries["complete"]:
            lines.append([(NOTE, "    entry lists were cut (--limit): added / removed are among the listed "
                                 "entries only")])
        for problem in item["problems"]["new"]:
            lines.append([(PROBLEM, f"  new problem: {problem['what']}: {problem['why']}")])
        for problem in item["problems"]["gone"]:
            lines.append([(NOTE, f"  problem gone: {problem['what']}: {problem['why']}")])
    for title, items in (("only in A", diff["maps_only_in_a"]), ("only in B", diff["maps_only_in_b"])):
        for item in items:
            lines.append([])
            lines.append([(SUBHEADING, f"{_map_title(item)}: {title}, count {item['count']}")])
    for item in diff["iterators"]:
        lines.append([])
        lines.append([(SUBHEADING, _iter_title(item))])
        for event in item["events"]:
            lines.append([(CHANGED, f"  * {event}")])
        for change in item["position"]:
            lines.append([(PLAIN, f"  position.{change['field']}: "), (REMOVED, _value(change["field"], change["a"])),
                          (PLAIN, " → "), (ADDED, _value(change["field"], change["b"]))])
        for sentence in item["meaning"]:
            lines.append([(NOTE, f"  means: {sentence}")])
        for problem in item["problems"]["new"]:
            lines.append([(PROBLEM, f"  new problem: {problem['what']}: {problem['why']}")])
    for title, items in (("only in A", diff["iterators_only_in_a"]), ("only in B", diff["iterators_only_in_b"])):
        for item in items:
            lines.append([])
            lines.append([(SUBHEADING, f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])}: "
                                       f"{title}, {item['state']}")])
            for sentence in item["meaning"]:
                lines.append([(NOTE, f"  means: {sentence}")])
    lines.append([])
    lines.append([(HEADING, "Summary")])
    for sentence in diff["summary"]:
        lines.append([(PLAIN, f"  - {sentence}")])
    return lines


def _map_title(item: Dict[str, Any]) -> str:
    title = f"map {address_text(item.get('address'))}"
    if item.get("type"):
        title += f" {item['type']}"
    if item.get("expression"):
        title = f"{item['expression']}: {title}"
    if item.get("impl"):
        title += f" ({item['impl']})"
    return title


def _iter_title(item: Dict[str, Any]) -> str:
    title = f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])}"
    if item.get("paired_by") == "map":
        title += f" (was at {address_text(item.get('address_a'))})"
    state = item["state"]
    title += f": {state['a']}" if state["a"] == state["b"] else f": {state['a']} → {state['b']}"
    if item["stale"]["b"]:
        title += ", stale"
    return title


def _entry_tally(entries: Dict[str, Any]) -> str:
    parts = [f"{len(entries[name])} {name}" for name in ("added", "removed", "changed", "moved")]
    parts.append(f"{entries['unchanged']} unchanged")
    return ", ".join(parts)


# ---------------------------------------------------------------------------
# Diff: markdown


def md_cell(text: Any) -> str:
    """A GitHub table cell holding ``text`` verbatim as code."""
    return markdown_code(str(text))


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> List[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _md_folded(summary: str, table: List[str], rows: int) -> List[str]:
    if rows <= FOLD_ROWS:
        return table + [""]
    return [f"<details><summary>{summary}</summary>", ""] + table + ["", "</details>", ""]


def _md_side(name: str, ref: Dict[str, Any]) -> str:
    return f"- **{name}**: {markdown_text(_side(ref), starts_block=False)}"


def _render_diff_markdown(diff: Dict[str, Any]) -> str:
    out: List[str] = ["## gdb-hiter diff", "", "**Summary**", ""]
    out += [f"- {markdown_text(sentence)}" for sentence in diff["summary"]]
    out += ["", _md_side("A", diff["a"]), _md_side("B", diff["b"]), ""]
    for item in diff["maps"]:
        out.append(f"### {markdown_text(_map_title(item))}")
        out.append("")
        if not item["changed"]:
            out += ["Unchanged.", ""]
            continue
        if item["header"]:
            rows = [[markdown_text(change["field"]), md_cell(_value(change["field"], change["a"])),
                     md_cell(_value(change["field"], change["b"]))] for change in item["header"]]
            out += _md_table(["field", "A", "B"], rows) + [""]
        out += [f"- {markdown_text(event)}" for event in item["events"]]
        if item["events"]:
            out.append("")
        entries = item["entries"]
        out += [f"Entries: {_entry_tally(entries)}.", ""]
        for kind in ("added", "removed"):
            rows = [[md_cell(row["key"]), md_cell(row["value"]), markdown_text(location_text(row["location"]))]
                    for row in entries[kind]]
            if rows:
                out += _md_folded(f"{len(rows)} {kind}", [f"{kind.capitalize()}:", ""]
                                  + _md_table(["key", "value", "location"], rows), len(rows))
        rows = [[md_cell(row["key"]), md_cell(row["a"]), md_cell(row["b"]),
                 markdown_text(location_text(row["location_a"]) + (f" → {location_text(row['location_b'])}" if row["moved"] else ""))]
                for row in entries["changed"]]
        if rows:
            out += _md_folded(f"{len(rows)} changed", ["Value changed:", ""]
                              + _md_table(["key", "A", "B", "location"], rows), len(rows))
        rows = [[md_cell(row["key"]), md_cell(row["value"]), markdown_text(location_text(row["a"])),
                 markdown_text(location_text(row["b"]))]
                for row in entries["moved"]]
        if rows:
            out += _md_folded(f"{len(rows)} moved", ["Moved (same key and value, new location):", ""]
                              + _md_table(["key", "value", "A", "B"], rows), len(rows))
        for dup in entries["duplicate_keys"]:
            out.append(f"- key {md_cell(dup['key'])} occurs {dup['a']} time(s) in A and {dup['b']} in B "
                       "(not equal to itself, e.g. NaN): paired as a multiset")
        if not entries["complete"]:
            out.append("- entry lists were cut (`--limit`): added / removed are among the listed entries only")
        for problem in item["problems"]["new"]:
            out.append(f"- **new problem** {md_cell(problem['what'])}: {markdown_text(str(problem['why']))}")
        for problem in item["problems"]["gone"]:
            out.append(f"- problem gone {md_cell(problem['what'])}: {markdown_text(str(problem['why']))}")
        if out[-1] != "":
            out.append("")
    for title, items in (("only in A", diff["maps_only_in_a"]), ("only in B", diff["maps_only_in_b"])):
        if items:
            out += [f"### Maps {title}", ""]
            out += _md_table(["map", "type", "count"], [[md_cell(address_text(item["address"])), md_cell(item["type"]),
                                                         markdown_text(str(item["count"]))] for item in items]) + [""]
    for item in diff["iterators"]:
        out += [f"### {markdown_text(_iter_title(item))}", ""]
        out += [f"- {markdown_text(event)}" for event in item["events"]]
        if item["position"]:
            out += ([""] if item["events"] else []) + _md_table(
                ["position", "A", "B"], [[markdown_text(change["field"]), md_cell(_value(change["field"], change["a"])),
                                          md_cell(_value(change["field"], change["b"]))]
                                         for change in item["position"]])
        out.append("")
        if item["meaning"]:
            out += ["What it means for the rest of the loop:", ""] + [f"- {markdown_text(s)}" for s in item["meaning"]] + [""]
    for title, items in (("only in A", diff["iterators_only_in_a"]), ("only in B", diff["iterators_only_in_b"])):
        if items:
            out += [f"### Iterators {title}", ""]
            out += _md_table(["iterator", "map", "state", "stale"],
                             [[md_cell(address_text(item["address"])), md_cell(address_text(item["map_address"])),
                               markdown_text(str(item["state"])), markdown_text(str(item["stale"]).lower())] for item in items]) + [""]
            for item in items:
                if item["meaning"]:
                    out += [f"Iterator {md_cell(address_text(item['address']))}:", ""]
                    out += [f"- {markdown_text(sentence)}" for sentence in item["meaning"]] + [""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def render_diff(diff: Dict[str, Any], fmt: str = "text", color: bool = False) -> str:
    """``diff`` (from ``diff_snapshots``) as text, markdown or JSON; colour only for text."""
    _check_format(fmt)
    if fmt == "json":
        return _json(diff)
    diff = display_safe(diff)
    if fmt == "markdown":
        return _render_diff_markdown(diff)
    return _emit(_diff_text_lines(diff), color)


# ---------------------------------------------------------------------------
# Snapshots


def _snapshot_header(doc: Dict[str, Any]) -> List[str]:
    go = doc.get("go") or {}
    program = doc.get("program") or {}
    where = program.get("path") or "?"
    if program.get("pid") is not None:
        where += f" (process {program['pid']})"
    if program.get("core"):
        where += f" (core {program['core']})"
    location = doc.get("location") or {}
    rows = [
        f"snapshot {describe(doc)}, taken {doc.get('taken_at')}",
        f"program {where}, Go {go.get('go_version')} ({go.get('map_impl')}, layout {go.get('layout')})",
    ]
    if location:
        rows.append(f"at {location.get('function')} ({location.get('file')}:{location.get('line')})"
                    + (f", goroutine {doc['goroutine']}" if doc.get("goroutine") is not None else ""))
    if doc.get("redacted"):
        rows.append("redacted: keys and values are salted hash tokens")
    rows.append(f"{len(doc.get('maps') or ())} map(s), {len(doc.get('iterators') or ())} iterator(s); "
                f"written by gdb-hiter {doc.get('gdb_hiter_version')}")
    return rows


def _map_short(item: Dict[str, Any]) -> str:
    text = f"{_map_title(item)}: count {item.get('count')}, flags {', '.join(item.get('flags') or []) or 'none'}"
    if item.get("impl") == "classic":
        text += f", B {item.get('B')}" + (", growing" if item.get("growing") else "")
    elif item.get("shape"):
        text += f", {item.get('shape')}, dirLen {item.get('dirLen')}, globalDepth {item.get('globalDepth')}"
    return text


def _iter_short(item: Dict[str, Any]) -> str:
    text = (f"iterator {address_text(item.get('address'))} over map {address_text(item.get('map_address'))} ({item.get('impl')}): "
            f"{item.get('state')}")
    if item.get("stale"):
        text += ", stale"
    if item.get("map_grew_since_start"):
        text += ", map grew since start"
    if item.get("cleared_since_start"):
        text += ", map cleared since start"
    prediction = item.get("prediction")
    remaining = item.get("remaining") or {}
    if prediction is not None:
        text += f", {len(prediction.get('next') or ())} entries ahead" + ("" if prediction.get("exact") else " (not exact)")
    elif remaining.get("entries") is not None and remaining.get("exact"):
        text += f", {remaining['entries']} entries ahead"
    return text


def _iterator_lines(item: Dict[str, Any], maps: Dict[Any, Dict[str, Any]], indent: str) -> List[str]:
    """An iterator's title line and what it means for the loop (indented), or why it cannot be shown."""
    from .diff import iterator_meaning
    try:
        return [_iter_short(item)] + [indent + sentence
                                      for sentence in iterator_meaning(item, maps.get(item.get("map_address")))]
    except SHOW_ERRORS as error:
        return [f"iterator {address_text(item.get('address'))} over map {address_text(item.get('map_address'))}: "
                f"{item.get('state')}", indent + f"cannot be described: {not_as_written(error)}"]


def _snapshot_text(doc: Dict[str, Any], limit: Optional[int]) -> str:
    from ..render import maptext
    lines = list(_snapshot_header(doc))
    maps = {item.get("address"): item for item in doc.get("maps") or ()}
    for item in doc.get("maps") or ():
        lines.append("")
        try:
            lines.append(maptext.map_text(item, limit=limit))
        except SHOW_ERRORS as error:   # a map object with only the common keys, or details not as we write them
            lines.append(_map_short(item))
            if set(item) - set(required_map(item)):
                lines.append(f"  shown by its required keys only: {not_as_written(error)}")
            for entry in (item.get("entries") or ())[:limit]:
                lines.append(f"  {entry['key']}: {entry['value']}  ({location_text(entry.get('location'))})")
    for item in doc.get("iterators") or ():
        lines.append("")
        lines += _iterator_lines(item, maps, "  ")
    return "\n".join(lines) + "\n"


def _snapshot_markdown(doc: Dict[str, Any]) -> str:
    out = ["## gdb-hiter snapshot", ""] + [f"- {markdown_text(row)}" for row in _snapshot_header(doc)] + [""]
    maps = {item.get("address"): item for item in doc.get("maps") or ()}
    if doc.get("maps"):
        out += _md_table(["map", "type", "impl", "count", "flags", "shape"],
                         [[md_cell(address_text(item.get("address"))), md_cell(item.get("type")), markdown_text(str(item.get("impl"))),
                           markdown_text(str(item.get("count"))),
                           markdown_text(", ".join(map(str, item.get("flags") or [])) or "none"),
                           markdown_text((f"B {item.get('B')}" + (", growing" if item.get("growing") else ""))
                                         if item.get("impl") == "classic" else
                                         f"{item.get('shape')}, dirLen {item.get('dirLen')}")]
                          for item in doc["maps"]]) + [""]
    for item in doc.get("maps") or ():
        rows = [[md_cell(entry["key"]), md_cell(entry["value"]), markdown_text(location_text(entry.get("location")))]
                for entry in item.get("entries") or ()]
        out += [f"### {markdown_text(_map_title(item))}", ""]
        for problem in item.get("problems") or ():
            out.append(f"- **problem** {md_cell(problem['what'])}: {markdown_text(str(problem['why']))}")
        if item.get("problems"):
            out.append("")
        if rows:
            out += _md_folded(f"{len(rows)} entries", _md_table(["key", "value", "location"], rows), len(rows))
    for item in doc.get("iterators") or ():
        title, *sentences = _iterator_lines(item, maps, "")
        out += [f"### {markdown_text(title)}", ""]
        out += [f"- {markdown_text(sentence)}" for sentence in sentences] + [""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def render_snapshot(doc: Dict[str, Any], fmt: str = "text", color: bool = False, *,
                    limit: Optional[int] = 100) -> str:
    """A snapshot for ``gdb-hiter show``: text (maps as hmap-show prints them), markdown or JSON."""
    _check_format(fmt)
    if fmt == "json":
        return _json(doc)
    doc = display_safe(doc)
    if fmt == "markdown":
        return _snapshot_markdown(doc)
    text = _snapshot_text(doc, limit)
    if not color:
        return text
    lines: List[Line] = [[(HEADING if index == 0 else PLAIN, line)] for index, line in
                         enumerate(text.rstrip("\n").split("\n"))]
    return _emit(lines, True)
