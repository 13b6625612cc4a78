"""What ``hmap-show`` prints: a decoded map as one JSON document, and as text.

Pure core (no gdb). ``map_document`` turns a ``model.DecodedMap`` plus the
entries' renderers into a JSON-ready dict with the same keys for classic and
Swiss maps; ``map_text`` lays that dict out for a human: header, growth
state or directory and tables, the bucket or group table with each slot
classified, problems, then the entries with where they sit in memory.
"""

from __future__ import annotations

import json
import re
from itertools import groupby
from json.encoder import encode_basestring_ascii  # type: ignore[attr-defined]
from typing import Any, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

from ..gcpause import cyclic_gc_paused
from ..maps.model import DecodedMap, EntryColumns, raw_text
from ..maps.slotgrid import SLOTS   # slots (control bytes) per Swiss group

# Classic slot codes are the decoder's (layouts.classic.SLOT_CODES); Swiss
# control bytes are classified here with the same single-letter scheme.
CLASSIC_SLOT_LEGEND = "F full, 0 emptyRest, 1 emptyOne, 2 evacuatedX, 3 evacuatedY, 4 evacuatedEmpty"
SWISS_SLOT_LEGEND = "F full, E empty (0x80), D deleted (0xfe), ? invalid"
SWISS_SLOT_CODES = {"F": "full", "E": "empty", "D": "deleted", "?": "invalid"}

ENTRIES_PER_PIECE = 1 << 15  # entries per piece of map_json_parts (~4 MB of JSON)
DEFAULT_TEXT_LIMIT = 100     # entries (and bucket/group rows) hmap-show prints by default
MAX_COLUMN = 48              # a key or value wider than this does not widen its column further


# control byte -> slot code: full (0x00-0x7f), empty (0x80), deleted (0xfe), anything else invalid
SWISS_SLOT_CODE_TABLE = bytes.maketrans(bytes(range(256)), b"F" * 0x80 + b"E" + b"?" * 0x7D + b"D?")


def swiss_slot_codes(ctrl_hex: str) -> str:
    """One letter per control byte (slot 0 first): F full, E empty, D deleted, ? invalid.

    Several groups' control words may be given end to end (one translate for a whole table).
    """
    return bytes.fromhex(ctrl_hex).translate(SWISS_SLOT_CODE_TABLE).decode("ascii")


# ---------------------------------------------------------------------------
# JSON


def map_document(decoded: DecodedMap, type_name: str, render_key=None, render_value=None,
                 *, expression: Optional[str] = None, show: Optional[int] = None,
                 rows: bool = True) -> Dict[str, Any]:
    """The JSON-ready description of a decoded map (see docs/maps.md for the keys).

    ``show`` bounds the entries rendered into ``entries`` (the first ones in
    memory order); the walk itself is the caller's (hmap-show walks the whole
    map so that counts, buckets and problems are complete). ``rows=False``
    leaves ``buckets`` / ``old_buckets`` (classic) and ``groups`` (Swiss) as
    the markers map_json_parts fills in.
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
        _classic_document(decoded, doc, rows)
    else:
        _swiss_document(decoded, doc, rows)
    doc["problems"] = [problem.to_json() for problem in decoded.problems]
    entries = decoded.entries if show is None else decoded.entries[:show]
    doc["entries_found"] = len(decoded.entries)
    doc["entries_shown"] = len(entries)
    with cyclic_gc_paused():
        doc["entries"] = entry_documents(entries, render_key, render_value)
    return doc


def map_json(decoded: DecodedMap, type_name: str, render_key=None, render_value=None,
             *, expression: Optional[str] = None, show: Optional[int] = None) -> str:
    """``json.dumps(map_document(...))``, the same text, made fast for big maps (see map_json_parts)."""
    return "".join(map_json_parts(decoded, type_name, render_key, render_value, expression=expression, show=show))


def map_json_parts(decoded: DecodedMap, type_name: str, render_key=None, render_value=None,
                   *, expression: Optional[str] = None, show: Optional[int] = None) -> Iterator[str]:
    """``json.dumps(map_document(...))`` as pieces, to be written one after the other.

    The entries array is most of a big map's document (1M entries are
    ~140 MB of JSON): it is made from the columns without a dict per entry,
    ENTRIES_PER_PIECE entries at a time, so a big map never exists as one
    giant string; the rest of the document goes through ``json.dumps``.
    """
    entries = decoded.entries if show is None else decoded.entries[:show]
    if not isinstance(entries, EntryColumns):
        yield json.dumps(map_document(decoded, type_name, render_key, render_value,
                                      expression=expression, show=show))
        return
    doc = map_document(decoded, type_name, render_key, render_value, expression=expression, show=0, rows=False)
    doc["entries_shown"] = len(entries)
    growth = decoded.detail.get("growth") or {}
    writers = {"buckets": lambda: _records_json(decoded.detail.get("buckets", [])),
               "old_buckets": lambda: _records_json(growth.get("old_buckets", [])),
               "groups": lambda: _group_rows_json(decoded)}
    # the big lists of rows, in document order, written from what the decoder kept
    rows = {name: writers[name] for name, value in doc.items() if name in _ROWS_MARK and value == _ROWS_MARK[name]}
    head = json.dumps(doc)
    empty_tail = '"entries": []}'
    if not head.endswith(empty_tail):   # "entries" is map_document's last key
        raise AssertionError("map_document no longer ends with its entries")
    head = head[:-len(empty_tail)]
    for name, write in rows.items():
        before, mark, head = head.partition(json.dumps(doc[name]))
        if not mark:
            raise AssertionError(f"the {name} marker is not in the document")
        yield before
        yield write()
    yield head + '"entries": ['
    del doc, head, rows
    with cyclic_gc_paused():
        for first in range(0, len(entries), ENTRIES_PER_PIECE):
            piece = _entries_json(entries[first:first + ENTRIES_PER_PIECE], render_key, render_value)
            yield piece if first == 0 else ", " + piece
    yield "]}"


def _group_rows_json(decoded: DecodedMap) -> str:
    """json.dumps of the Swiss group rows (ints, a null table for a small map, hex and slot codes)."""
    columns = _swiss_group_columns(decoded)
    if columns[0][:1] == [None]:   # a small map: one group
        return json.dumps([dict(zip(GROUP_ROW_FIELDS, row)) for row in zip(*columns)])
    template = '{"table": %d, "group": %d, "address": %d, "ctrl": "%s", "slots": "%s"}'
    return "[" + ", ".join(map(template.__mod__, zip(*columns))) + "]"


def _records_json(records) -> str:
    """json.dumps of a list of row dicts, by the rows' own writer when they have one
    (classic.BucketRecords)."""
    writer = getattr(records, "json", None)
    return writer() if writer is not None else json.dumps(list(records))


def entry_documents(entries, render_key=None, render_value=None) -> List[Dict[str, Any]]:
    """``[entry.to_json(render_key, render_value) ...]`` for a list of Entry or an EntryColumns."""
    if not isinstance(entries, EntryColumns):
        return [entry.to_json(render_key, render_value) for entry in entries]
    return [{"key": key, "value": value, "location": location}
            for key, value, location in zip(_texts(render_key, entries, "keys"),
                                            _texts(render_value, entries, "values"), _locations(entries))]


def _locations(entries: EntryColumns) -> List[Dict[str, Any]]:
    names = entries.place_names
    return [dict(zip(names, place)) for place in zip(*entries.place_columns)]


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


def _json_column(renderer, entries: EntryColumns, side: str) -> Tuple[str, Sequence[Any]]:
    """(template part, items) so that ``part % items[i]`` is json.dumps of the i-th rendered text.

    Integers are formatted by ``%`` straight from their array; other
    rendered texts that need no escaping (``true``, ``1.5``) are quoted as
    they are; only the rest goes through json's string encoder.
    """
    printf_column = getattr(renderer, "printf_column", None)
    numbers = printf_column(getattr(entries, side)) if printf_column is not None else None
    if numbers is not None:
        return f'"{numbers[0]}"', numbers[1]
    texts = _texts(renderer, entries, side)
    joined = "".join(texts)
    if joined.isascii() and not _NEEDS_ESCAPE.search(joined):
        return '"%s"', texts
    return "%s", list(map(encode_basestring_ascii, texts))   # json.dumps's own string encoder


def _entries_json(entries: EntryColumns, render_key, render_value) -> str:
    """The entries as ``json.dumps`` writes them (default separators, ASCII), joined by ", ".

    One ``%`` template per map fills in key, value and every location field:
    no dict per entry.
    """
    key_part, keys = _json_column(render_key, entries, "keys")
    value_part, values = _json_column(render_value, entries, "values")
    location_part = _location_template(entries)
    if location_part is None:
        columns: List[Any] = [list(map(json.dumps, _locations(entries)))]
        location_part = "%s"
    else:
        columns = [_list_texts(column) if kind is list else column
                   for (_, kind), column in zip(entries.place_fields, entries.place_columns)]
    template = f'{{"key": {key_part}, "value": {value_part}, "location": {location_part}}}'
    return ", ".join(map(template.__mod__, zip(keys, values, *columns)))


def _list_texts(column: List[list]) -> List[str]:
    """``json.dumps`` of each list in ``column``, made once per run of the same list object
    (a Swiss table's directory span repeats for every entry of the table)."""
    texts: List[str] = []
    for _, run in groupby(column, key=id):
        run = list(run)
        texts += [json.dumps(run[0])] * len(run)
    return texts


def _location_template(entries: EntryColumns) -> Optional[str]:
    """A ``%`` template that writes a location's fields as json.dumps writes its dict.

    ``%s`` of an int is its JSON text (lists are given as their JSON text); a string
    field is quoted, which is exact only for plain identifiers: the decoders'
    strings are ("buckets", "oldbuckets"), checked here over the distinct values.
    """
    parts = []
    for (name, kind), column in zip(entries.place_fields, entries.place_columns):
        if kind is str:
            if not all(isinstance(value, str) and encode_basestring_ascii(value) == f'"{value}"'
                       for value in set(column)):
                return None
            parts.append(f'{encode_basestring_ascii(name)}: "%s"')
        elif kind in (int, list):   # an int's %s is its JSON; a list comes as its JSON text (_list_texts)
            parts.append(f"{encode_basestring_ascii(name)}: %s")
        else:
            return None
    return "{" + ", ".join(parts) + "}"


def _classic_document(decoded: DecodedMap, doc: Dict[str, Any], rows: bool = True) -> None:
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
        "buckets": list(detail.get("buckets", [])) if rows else _ROWS_MARK["buckets"],
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
        doc["old_buckets"] = list(growth.get("old_buckets", [])) if rows else _ROWS_MARK["old_buckets"]


GROUP_ROW_FIELDS = ("table", "group", "address", "ctrl", "slots")
# where map_json_parts writes the big lists of rows (json.dumps escapes the NULs)
_ROWS_MARK = {name: f"\x00{name}\x00" for name in ("buckets", "old_buckets", "groups")}


def _swiss_group_columns(decoded: DecodedMap) -> Tuple[list, ...]:
    """The group rows of a Swiss map as one list per GROUP_ROW_FIELDS field, in memory order."""
    detail = decoded.detail
    group_size = (detail.get("maptype") or {}).get("group_size", 0)
    columns: Tuple[list, ...] = ([], [], [], [], [])
    tables, indexes, addresses, ctrls, codes = columns
    small = detail.get("small_group")
    if small is not None:
        tables.append(None)
        indexes.append(0)
        addresses.append(small["address"])
        ctrls.append(small["ctrl"])
        codes.append(swiss_slot_codes(small["ctrl"]))
    for ordinal, table in enumerate(detail.get("tables", [])):
        group_ctrls = table.get("group_ctrls", [])
        count, data = len(group_ctrls), table["groups"]["data"]
        table_codes = swiss_slot_codes("".join(group_ctrls))
        tables += [ordinal] * count
        indexes += range(count)
        addresses += range(data, data + count * group_size, group_size)
        ctrls += group_ctrls
        codes += [table_codes[at:at + SLOTS] for at in range(0, len(table_codes), SLOTS)]
    return columns


def _swiss_document(decoded: DecodedMap, doc: Dict[str, Any], rows: bool = True) -> None:
    header, detail = decoded.header, decoded.detail
    flags = [name for name in ("writing", "tombstonePossible") if header.get(name)]
    tables: List[Dict[str, Any]] = []
    for ordinal, table in enumerate(detail.get("tables", [])):
        tables.append({
            "table": ordinal,
            "address": table["address"],
            "directory": list(table["directory"]),
            "localDepth": table["localDepth"],
            "index": table["index"],
            "used": table["used"],
            "capacity": table["capacity"],
            "growthLeft": table["growthLeft"],
            "groups_address": table["groups"]["data"],
            "group_count": table["groups"]["lengthMask"] + 1,
            "slots": dict(table.get("slots", {})),
            "stale": table.get("stale", False),
        })
    groups: Any = _ROWS_MARK["groups"]
    if rows:
        groups = [dict(zip(GROUP_ROW_FIELDS, row)) for row in zip(*_swiss_group_columns(decoded))]
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


def address_text(value: Any) -> str:
    """An address as every text of ours shows it: hex, ``nil`` for 0 or None (booleans as Go spells them)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None or value == 0:
        return "nil"
    if isinstance(value, int):
        return f"{value:#x}"
    return str(value)


def _classic_text(doc: Dict[str, Any], lines: List[str], limit: Optional[int]) -> None:
    header = doc["header"]
    lines.append(f"  B {doc['B']} ({doc['bucket_count']} buckets at {address_text(doc['buckets_address'])})   "
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
                     f"{address_text(growth['oldbuckets'])}, nevacuate {growth['nevacuate']}, "
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
        lines.append(f"Directory ({doc['dirLen']} entries at {address_text(doc['dirPtr'])}, {len(doc['tables'])} tables, "
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
