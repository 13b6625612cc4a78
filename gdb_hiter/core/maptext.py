"""What ``hmap-show`` prints: a decoded map as one JSON document, and as text.

Pure core (no gdb). ``map_document`` turns a ``model.DecodedMap`` plus the
entries' renderers into a JSON-ready dict with the same keys for classic and
Swiss maps; ``map_text`` lays that dict out for a human: header, growth
state or directory and tables, the bucket or group table with each slot
classified, problems, then the entries with where they sit in memory.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import json
import re
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from operator import itemgetter

from .gcpause import cyclic_gc_paused
from .model import DecodedMap, EntryColumns, raw_text

# Classic slot codes are the decoder's (classic_layouts.SLOT_CODES); Swiss
# control bytes are classified here with the same single-letter scheme.
CLASSIC_SLOT_LEGEND = "F full, 0 emptyRest, 1 emptyOne, 2 evacuatedX, 3 evacuatedY, 4 evacuatedEmpty"
SWISS_SLOT_LEGEND = "F full, E empty (0x80), D deleted (0xfe), ? invalid"
SWISS_SLOT_CODES = {"F": "full", "E": "empty", "D": "deleted", "?": "invalid"}

DEFAULT_TEXT_LIMIT = 100     # entries (and bucket/group rows) hmap-show prints by default
MAX_COLUMN = 48              # a key or value wider than this does not widen its column further


def swiss_slot_codes(ctrl_hex: str) -> str:
    """One letter per control byte (slot 0 first): F full, E empty, D deleted, ? invalid."""
    codes = []
    for byte in bytes.fromhex(ctrl_hex):
        if byte < 0x80:
            codes.append("F")
        elif byte == 0x80:
            codes.append("E")
        elif byte == 0xFE:
            codes.append("D")
        else:
            codes.append("?")
    return "".join(codes)


# ---------------------------------------------------------------------------
# JSON


def map_document(decoded: DecodedMap, type_name: str, render_key=None, render_value=None,
                 *, expression: Optional[str] = None, show: Optional[int] = None) -> Dict[str, Any]:
    """The JSON-ready description of a decoded map (see docs/maps.md for the keys).

    ``show`` bounds the entries rendered into ``entries`` (the first ones in
    memory order); the walk itself is the caller's (hmap-show walks the whole
    map so that counts, buckets and problems are complete).
    """
    header = {name: value for name, value in decoded.header.items() if name not in ("flag_names", "address")}
    doc: Dict[str, Any] = {
        "expression": expression,
        "address": decoded.address,
        "type": type_name,
        "impl": decoded.impl,
        "layout": decoded.detail.get("layout"),
        "count": decoded.count,
        "complete": decoded.complete,
        "stopped": None,
        "header": header,
        "maptype": decoded.detail.get("maptype"),
    }
    if decoded.impl == "classic":
        _classic_document(decoded, doc)
    else:
        _swiss_document(decoded, doc)
    doc["problems"] = [problem.to_json() for problem in decoded.problems]
    entries = decoded.entries if show is None else decoded.entries[:show]
    doc["entries_found"] = len(decoded.entries)
    doc["entries_shown"] = len(entries)
    with cyclic_gc_paused():
        doc["entries"] = entry_documents(entries, render_key, render_value)
    return doc


def map_json(decoded: DecodedMap, type_name: str, render_key=None, render_value=None,
             *, expression: Optional[str] = None, show: Optional[int] = None) -> str:
    """``json.dumps(map_document(...))``, the same text, made fast for big maps.

    The entries array is most of a big map's document (1M entries are
    ~140 MB of JSON): it is written from the columns without a dict per
    entry, and the rest of the document goes through ``json.dumps``.
    """
    entries = decoded.entries if show is None else decoded.entries[:show]
    if not isinstance(entries, EntryColumns):
        return json.dumps(map_document(decoded, type_name, render_key, render_value,
                                       expression=expression, show=show))
    doc = map_document(decoded, type_name, render_key, render_value, expression=expression, show=0)
    doc["entries_shown"] = len(entries)
    head = json.dumps(doc)
    empty_tail = '"entries": []}'
    if not head.endswith(empty_tail):   # "entries" is map_document's last key
        raise AssertionError("map_document no longer ends with its entries")
    with cyclic_gc_paused():
        return f"{head[:-len(empty_tail)]}\"entries\": [{_entries_json(entries, render_key, render_value)}]}}"


def entry_documents(entries, render_key=None, render_value=None) -> List[Dict[str, Any]]:
    """``[entry.to_json(render_key, render_value) ...]`` for a list of Entry or an EntryColumns."""
    if not isinstance(entries, EntryColumns):
        return [entry.to_json(render_key, render_value) for entry in entries]
    names = entries.place_names
    return [{"key": key, "value": value, "location": dict(zip(names, place))}
            for key, value, place in zip(_texts(render_key, entries, "keys"), _texts(render_value, entries, "values"),
                                         entries.places)]


def _texts(renderer, entries: EntryColumns, side: str) -> List[str]:
    """The rendered keys (side "keys") or values ("values") of ``entries``."""
    datas = getattr(entries, side)
    if renderer is None:
        return [raw_text(data) for data in datas]
    many = getattr(renderer, "many", None)
    if many is not None:
        return many(datas)
    return [renderer(entry) for entry in entries]   # a plain callable on Entry


# What json.dumps would escape in a string (ensure_ascii): quote, backslash, control characters.
_NEEDS_ESCAPE = re.compile(r'[\x00-\x1f"\\]')


def _json_string_template(texts: List[str]) -> Tuple[str, List[str]]:
    """(template part, texts) so that ``part % text`` is ``json.dumps(text)`` for every text.

    Rendered scalars (digits, ``true``, ``0x1f``) need no escaping: then the
    part is ``"%s"`` and nothing is encoded per text.
    """
    joined = "".join(texts)
    if joined.isascii() and not _NEEDS_ESCAPE.search(joined):
        return '"%s"', texts
    return "%s", list(map(encode_basestring_ascii, texts))   # json.dumps's own string encoder


def _entries_json(entries: EntryColumns, render_key, render_value) -> str:
    """The entries as ``json.dumps`` writes them (default separators, ASCII), joined by ", ".

    One ``%`` template per map fills in key, value and every location field:
    no dict per entry.
    """
    key_part, keys = _json_string_template(_texts(render_key, entries, "keys"))
    value_part, values = _json_string_template(_texts(render_value, entries, "values"))
    location_part = _location_template(entries)
    if location_part is None or not entries.places:
        locations = [json.dumps(location) for location in entry_documents_locations(entries)]
        columns: List[Any] = [locations]
        location_part = "%s"
    else:
        columns = [list(map(itemgetter(index), entries.places)) for index in range(len(entries.place_fields))]
    template = f'{{"key": {key_part}, "value": {value_part}, "location": {location_part}}}'
    return ", ".join(map(template.__mod__, zip(keys, values, *columns)))


def entry_documents_locations(entries: EntryColumns):
    names = entries.place_names
    return (dict(zip(names, place)) for place in entries.places)


def _location_template(entries: EntryColumns) -> Optional[str]:
    """A ``%`` template that writes a place's fields as json.dumps writes its location dict.

    ``%s`` of an int, and of a list of ints, is their JSON text; a string
    field is quoted, which is exact only for plain identifiers: the decoders'
    strings are ("buckets", "oldbuckets"), checked here over the distinct values.
    """
    parts = []
    for index, (name, kind) in enumerate(entries.place_fields):
        if kind is str:
            if not all(isinstance(value, str) and encode_basestring_ascii(value) == f'"{value}"'
                       for value in set(map(itemgetter(index), entries.places))):
                return None
            parts.append(f'{encode_basestring_ascii(name)}: "%s"')
        elif kind in (int, list):
            parts.append(f"{encode_basestring_ascii(name)}: %s")
        else:
            return None
    return "{" + ", ".join(parts) + "}"


def _classic_document(decoded: DecodedMap, doc: Dict[str, Any]) -> None:
    header, detail = decoded.header, decoded.detail
    growth = detail.get("growth")
    doc.update({
        "flags": list(header.get("flag_names", [])),
        "growing": growth is not None,
        "stopped": detail.get("stopped"),
        "slot_codes": CLASSIC_SLOT_LEGEND,
        "B": header.get("B"),
        "bucket_count": detail.get("bucket_count"),
        "noverflow": header.get("noverflow"),
        "overflow_buckets": detail.get("overflow_buckets"),
        "buckets_address": header.get("buckets"),
        "growth": None,
        "buckets": list(detail.get("buckets", [])),
        "old_buckets": [],
        "extra": detail.get("extra"),
    })
    if growth is not None:
        doc["growth"] = {
            "same_size": growth["same_size"],
            "oldbuckets": growth["oldbuckets"],
            "old_bucket_count": growth["old_bucket_count"],
            "nevacuate": growth["nevacuate"],
            "pending": list(growth["pending"]),
        }
        doc["old_buckets"] = list(growth.get("old_buckets", []))


def _swiss_document(decoded: DecodedMap, doc: Dict[str, Any]) -> None:
    header, detail = decoded.header, decoded.detail
    flags = [name for name in ("writing", "tombstonePossible") if header.get(name)]
    group_size = (detail.get("maptype") or {}).get("group_size", 0)
    tables: List[Dict[str, Any]] = []
    groups: List[Dict[str, Any]] = []
    small = detail.get("small_group")
    if small is not None:
        groups.append({"table": None, "group": 0, "address": small["address"], "ctrl": small["ctrl"],
                       "slots": swiss_slot_codes(small["ctrl"])})
    for ordinal, table in enumerate(detail.get("tables", [])):
        group_data = table["groups"]["data"]
        ctrls = table.get("group_ctrls", [])
        tables.append({
            "table": ordinal,
            "address": table["address"],
            "directory": list(table["directory"]),
            "localDepth": table["localDepth"],
            "index": table["index"],
            "used": table["used"],
            "capacity": table["capacity"],
            "growthLeft": table["growthLeft"],
            "groups_address": group_data,
            "group_count": table["groups"]["lengthMask"] + 1,
            "slots": dict(table.get("slots", {})),
            "stale": table.get("stale", False),
        })
        groups += [{"table": ordinal, "group": index, "address": group_data + index * group_size,
                    "ctrl": ctrl, "slots": swiss_slot_codes(ctrl)} for index, ctrl in enumerate(ctrls)]
    directory = detail.get("directory")
    doc.update({
        "flags": flags,
        "growing": False,   # Swiss maps grow and split tables inside one insert: never half-done
        "stopped": None if decoded.complete else "problem",
        "slot_codes": SWISS_SLOT_LEGEND,
        "shape": detail.get("shape"),
        "dirLen": header.get("dirLen", 0),
        "globalDepth": header.get("globalDepth", 0),
        "dirPtr": header.get("dirPtr", 0),
        "directory": directory,
        "tables": tables,
        "groups": groups,
        "slots": detail.get("slots"),
    })


# ---------------------------------------------------------------------------
# Text


def location_text(location: Any) -> str:
    """A short readable form of an entry's location (classic or Swiss).

    Tolerant of missing keys: reports render locations read from snapshot files.
    """
    if not isinstance(location, dict):
        return "—"
    if "array" in location:
        text = f"{location['array']}[{location.get('bucket')}]"
        if location.get("overflow"):
            text += f" overflow {location['overflow']}"
        return f"{text} slot {location.get('slot')}"
    parts = []
    if location.get("table") is not None:
        parts.append(f"table {location['table']}")
    if "group" in location:
        parts.append(f"group {location['group']}")
    parts.append(f"slot {location.get('slot')}")
    return " ".join(parts)


def map_text(doc: Dict[str, Any], *, limit: Optional[int] = DEFAULT_TEXT_LIMIT) -> str:
    """``doc`` (from ``map_document``) for a human; at most ``limit`` entries and table rows."""
    lines: List[str] = []
    title = f"{doc['expression']}: " if doc.get("expression") else ""
    lines.append(f"{title}{doc['type']} at {doc['address']:#x}")
    flags = ", ".join(doc.get("flags") or []) or "none"
    lines.append(f"  impl {doc['impl']} (layout {doc.get('layout')})   count {doc['count']}   flags {flags}")
    if doc["impl"] == "classic":
        _classic_text(doc, lines, limit)
    else:
        _swiss_text(doc, lines, limit)
    lines.append("")
    _problems_text(doc, lines)
    lines.append("")
    _entries_text(doc, lines, limit)
    return "\n".join(lines)


def _hex(value: Optional[int]) -> str:
    return "nil" if not value else f"{value:#x}"


def _classic_text(doc: Dict[str, Any], lines: List[str], limit: Optional[int]) -> None:
    header = doc["header"]
    lines.append(f"  B {doc['B']} ({doc['bucket_count']} buckets at {_hex(doc['buckets_address'])})   "
                 f"noverflow {doc['noverflow']}   overflow buckets walked {doc['overflow_buckets']}   "
                 f"hash0 {header.get('hash0', 0):#x}")
    growth = doc.get("growth")
    if growth is None:
        lines.append("  growth: none")
    else:
        kind = "same-size grow" if growth["same_size"] else \
            f"doubling, B {doc['B'] - 1} -> {doc['B']}"
        pending = _ranges(growth["pending"]) or "none"
        lines.append(f"  growth: in progress ({kind}): {growth['old_bucket_count']} old buckets at "
                     f"{_hex(growth['oldbuckets'])}, nevacuate {growth['nevacuate']}, "
                     f"not yet evacuated: {pending}")
    lines.append("")
    lines.append(f"Buckets (slots: {doc['slot_codes']}):")
    _bucket_rows(doc["buckets"], lines, limit, None)
    if growth is not None:
        lines.append("Old buckets:")
        pending = set(growth["pending"])
        _bucket_rows(doc["old_buckets"], lines, limit, pending)


def _ranges(numbers: Sequence[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts: List[str] = []
    start = previous = None
    for number in list(numbers) + [None]:
        if start is not None and number == previous + 1:
            previous = number
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = number
    return ", ".join(parts)


_EMPTY_BUCKET = "0" * 8


def _bucket_rows(records: Sequence[Dict[str, Any]], lines: List[str], limit: Optional[int],
                 pending: Optional[set]) -> None:
    """Bucket rows with their overflow chains; empty new buckets are counted, not listed."""
    rows = [["bucket", "overflow", "address", "tophash", "slots"] + (["state"] if pending is not None else [])]
    shown = 0
    hidden = 0
    empty = 0
    for record in records:
        if pending is None and record["slots"] == _EMPTY_BUCKET and not record.get("overflow"):
            empty += 1
            continue
        if limit is not None and shown >= limit:
            hidden += 1
            continue
        shown += 1
        state = [("pending" if record["index"] in pending else "evacuated")] if pending is not None else []
        rows.append([str(record["index"]), "", f"{record['address']:#x}", record["tophash"], record["slots"]]
                     + state)
        for overflow in record.get("overflow", ()):
            rows.append(["", str(overflow["depth"]), f"{overflow['address']:#x}", overflow["tophash"],
                         overflow["slots"]] + ([""] if pending is not None else []))
    lines += ["  " + line for line in _columns(rows, right={0, 1})]
    if empty:
        lines.append(f"  ({empty} empty buckets not listed)")
    if hidden:
        lines.append(f"  ... {hidden} more buckets not shown (--limit)")


def _swiss_text(doc: Dict[str, Any], lines: List[str], limit: Optional[int]) -> None:
    header = doc["header"]
    lines.append(f"  shape {doc.get('shape')}   dirLen {doc['dirLen']}   globalDepth {doc['globalDepth']}   "
                 f"globalShift {header.get('globalShift', 0)}   seed {header.get('seed', 0):#x}   "
                 f"clearSeq {header.get('clearSeq', 0)}")
    slots = doc.get("slots") or {}
    if slots:
        lines.append("  slots " + "   ".join(f"{name} {count}" for name, count in slots.items()))
    if doc["tables"]:
        lines.append("")
        shared = sum(1 for table in doc["tables"] if table["directory"][1] > table["directory"][0])
        lines.append(f"Directory ({doc['dirLen']} entries at {_hex(doc['dirPtr'])}, {len(doc['tables'])} tables, "
                     f"{shared} filling more than one entry):")
        rows = [["table", "directory", "address", "localDepth", "index", "used", "capacity", "growthLeft",
                 "groups", "full", "deleted", "empty"]]
        for table in doc["tables"]:
            first, last = table["directory"]
            counts = table["slots"]
            rows.append([str(table["table"]), f"{first}" if first == last else f"{first}..{last}",
                         f"{table['address']:#x}", str(table["localDepth"]), str(table["index"]),
                         str(table["used"]), str(table["capacity"]), str(table["growthLeft"]),
                         f"{table['group_count']} at {table['groups_address']:#x}",
                         str(counts.get("full", "")), str(counts.get("deleted", "")), str(counts.get("empty", ""))])
        lines += ["  " + line for line in _columns(rows, right={0, 3, 4, 5, 6, 7, 9, 10, 11})]
    if doc["groups"]:
        lines.append("")
        lines.append(f"Groups (slots: {doc['slot_codes']}):")
        rows = [["table", "group", "address", "ctrl", "slots"]]
        hidden = 0
        for group in doc["groups"]:
            if limit is not None and len(rows) > limit:
                hidden += 1
                continue
            table = "small" if group["table"] is None else str(group["table"])
            rows.append([table, str(group["group"]), f"{group['address']:#x}", group["ctrl"], group["slots"]])
        lines += ["  " + line for line in _columns(rows, right={0, 1})]
        if hidden:
            lines.append(f"  ... {hidden} more groups not shown (--limit)")


def _problems_text(doc: Dict[str, Any], lines: List[str]) -> None:
    problems = doc.get("problems") or []
    if not problems:
        lines.append("Problems: none")
        return
    lines.append(f"Problems ({len(problems)}):")
    for problem in problems:
        where = f" at {problem['address']:#x}" if problem.get("address") is not None else ""
        lines.append(f"  {problem['what']}{where}: {problem['why']}")


def _entries_text(doc: Dict[str, Any], lines: List[str], limit: Optional[int]) -> None:
    entries = doc["entries"]
    shown = entries if limit is None else entries[:limit]
    total = doc.get("entries_found", len(entries))
    lines.append(f"Entries: {len(shown)} shown of {total} found (memory order)")
    if shown:
        rows = [["key", "value", "location"]]
        rows += [[entry["key"], entry["value"], location_text(entry["location"])] for entry in shown]
        lines += ["  " + line for line in _columns(rows, right=set())]
    more = total - len(shown)
    if more > 0:
        lines.append(f"  ... {more} more entries not shown (--limit N shows N, --limit 0 all)")


def _columns(rows: Sequence[Sequence[str]], right: Iterable[int]) -> List[str]:
    """Rows of cells as aligned lines: numbers right-aligned, the rest left; no trailing blanks."""
    right = set(right)
    widths = [0] * max(len(row) for row in rows)
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], min(len(cell), MAX_COLUMN))
    lines = []
    for row in rows:
        cells = [cell.rjust(widths[index]) if index in right else cell.ljust(widths[index])
                 for index, cell in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    return lines
