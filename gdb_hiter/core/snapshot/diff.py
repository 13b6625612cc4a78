"""What changed between two snapshots: maps, entries, iterators, in data and in words.

Pure core (no gdb). ``diff_snapshots(a, b)`` returns the machine form (what
``gdb-hiter diff --format json`` prints); ``core.report`` renders it.

Pairing:

* maps by the address of their header (``hmap`` / ``maps.Map``), which is
  stable for the life of a map variable;
* entries by their rendered key (Go ``%#v`` text). A key whose text occurs
  more than once in a map (NaN keys: in Go ``NaN != NaN``, so every insert
  of a NaN key adds an entry) is paired as a multiset: equal values at equal
  locations first, then equal values (moved), the rest added / removed;
* iterators by address, then, for iterators left over, by the map they walk
  when exactly one is left on each side (the goroutine stack was copied and
  the iterator with it).

The plain-language sentences follow the runtime: ``mapiternext`` in
``runtime/map.go`` (classic) and ``Iter.Next`` in
``internal/runtime/maps/table.go`` (Swiss).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..messages import one_line
from ..render.maptext import address_text

DIFF_FORMAT = "gdb-hiter-diff"
DIFF_VERSION = 1


def _plural(count: int, word: str, plural: Optional[str] = None) -> str:
    return f"{count} {word if count == 1 else (plural or word + 's')}"


def snapshot_ref(doc: Dict[str, Any]) -> Dict[str, Any]:
    """What the diff says about each side."""
    go = doc.get("go") or {}
    return {
        "seq": doc.get("seq"),
        "label": doc.get("label"),
        "event": doc.get("event"),
        "taken_at": doc.get("taken_at"),
        "location": doc.get("location"),
        "goroutine": doc.get("goroutine"),
        "cfunc": doc.get("cfunc"),
        "go_version": go.get("go_version"),
        "map_impl": go.get("map_impl"),
        "program": (doc.get("program") or {}).get("path"),
        "redacted": bool(doc.get("redacted")),
    }


# ---------------------------------------------------------------------------
# Entries


def _entries_complete(doc: Dict[str, Any]) -> bool:
    if doc.get("entries_complete") is False:
        return False
    found = doc.get("entries_found")
    return found is None or found == len(doc.get("entries") or ())


def _group_by_key(entries: Sequence[Dict[str, Any]]) -> "OrderedDict[str, List[Dict[str, Any]]]":
    groups: "OrderedDict[str, List[Dict[str, Any]]]" = OrderedDict()
    for entry in entries:
        groups.setdefault(entry["key"], []).append(entry)
    return groups


def _take(pool: List[Dict[str, Any]], predicate) -> Optional[Dict[str, Any]]:
    for index, item in enumerate(pool):
        if predicate(item):
            return pool.pop(index)
    return None


def diff_entries(a_entries: Sequence[Dict[str, Any]], b_entries: Sequence[Dict[str, Any]]) -> Dict[str, Any]:
    """Entries added, removed, with a changed value, moved; keys seen more than once."""
    a_groups, b_groups = _group_by_key(a_entries), _group_by_key(b_entries)
    added: List[Dict[str, Any]] = []
    removed: List[Dict[str, Any]] = []
    changed: List[Dict[str, Any]] = []
    moved: List[Dict[str, Any]] = []
    duplicates: List[Dict[str, Any]] = []
    unchanged = 0
    keys = list(a_groups) + [key for key in b_groups if key not in a_groups]
    for key in keys:
        a_list, b_list = list(a_groups.get(key, ())), list(b_groups.get(key, ()))
        if len(a_list) > 1 or len(b_list) > 1:
            duplicates.append({"key": key, "a": len(a_list), "b": len(b_list)})
            # multiset: identical entries, then same value elsewhere; the rest are added / removed
            for entry in list(a_list):
                twin = _take(b_list, lambda other: other["value"] == entry["value"]
                             and other.get("location") == entry.get("location"))
                if twin is not None:
                    a_list.remove(entry)
                    unchanged += 1
            for entry in list(a_list):
                twin = _take(b_list, lambda other: other["value"] == entry["value"])
                if twin is not None:
                    a_list.remove(entry)
                    moved.append({"key": key, "value": entry["value"], "a": entry.get("location"),
                                  "b": twin.get("location")})
            removed += [{"key": key, "value": entry["value"], "location": entry.get("location")} for entry in a_list]
            added += [{"key": key, "value": entry["value"], "location": entry.get("location")} for entry in b_list]
            continue
        if not a_list:
            entry = b_list[0]
            added.append({"key": key, "value": entry["value"], "location": entry.get("location")})
        elif not b_list:
            entry = a_list[0]
            removed.append({"key": key, "value": entry["value"], "location": entry.get("location")})
        else:
            old, new = a_list[0], b_list[0]
            if old["value"] != new["value"]:
                changed.append({"key": key, "a": old["value"], "b": new["value"],
                                "location_a": old.get("location"), "location_b": new.get("location"),
                                "moved": old.get("location") != new.get("location")})
            elif old.get("location") != new.get("location"):
                moved.append({"key": key, "value": new["value"], "a": old.get("location"), "b": new.get("location")})
            else:
                unchanged += 1
    return {"added": added, "removed": removed, "changed": changed, "moved": moved, "unchanged": unchanged,
            "duplicate_keys": duplicates}


# ---------------------------------------------------------------------------
# Map headers and growth, in words


def _field_change(changes: List[Dict[str, Any]], name: str, old: Any, new: Any) -> None:
    if old != new:
        changes.append({"field": name, "a": old, "b": new})


def _growth(doc: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    growth = doc.get("growth")
    if growth is None and doc.get("growing"):
        return {}
    return growth


def _pending(doc: Dict[str, Any]) -> Tuple[Optional[int], Optional[int]]:
    """(old buckets not yet evacuated, old bucket count) of a growing classic map."""
    growth = _growth(doc) or {}
    total = growth.get("old_bucket_count")
    if total is None and doc.get("B") is not None:
        total = 1 << doc["B"] if growth.get("same_size") else 1 << max(doc["B"] - 1, 0)
    pending = growth.get("pending")
    if pending is not None:
        return len(pending), total
    if total is not None and growth.get("nevacuate") is not None:
        return max(total - growth["nevacuate"], 0), total
    return None, total


def _evacuation_words(doc: Dict[str, Any]) -> str:
    pending, total = _pending(doc)
    if pending is None:
        return "evacuation state unknown"
    return f"{pending} of {_plural(total, 'old bucket')} still to evacuate"


def _clear_seq(doc: Dict[str, Any]) -> Optional[int]:
    header = doc.get("header") or {}
    value = header.get("clearSeq", doc.get("clearSeq"))
    return value if isinstance(value, int) else None


def _classic_header(a: Dict[str, Any], b: Dict[str, Any], changes: List[Dict[str, Any]],
                    events: List[str]) -> None:
    a_growth, b_growth = _growth(a), _growth(b)
    for name in ("B", "buckets_address", "noverflow"):
        _field_change(changes, name, a.get(name), b.get(name))
    _field_change(changes, "oldbuckets", (a_growth or {}).get("oldbuckets"), (b_growth or {}).get("oldbuckets"))
    _field_change(changes, "nevacuate", (a_growth or {}).get("nevacuate"), (b_growth or {}).get("nevacuate"))
    _field_change(changes, "clearSeq", _clear_seq(a), _clear_seq(b))
    a_b, b_b = a.get("B"), b.get("B")
    if _clear_seq(a) is not None and _clear_seq(b) is not None and _clear_seq(a) != _clear_seq(b):
        events.append(f"the map was cleared (clearSeq {_clear_seq(a)} → {_clear_seq(b)})")
    same_size_b = bool((b_growth or {}).get("same_size"))
    if a_b != b_b:
        text = f"grew from B={a_b} to B={b_b}"
        if b_growth is not None and not same_size_b:
            text += f"; {_evacuation_words(b)}"
        elif a_growth is not None or b_growth is None:
            text += "; growth finished"
        events.append(text)
        if b_growth is not None and same_size_b:
            events.append(f"same-size grow started (B stays {b_b}); {_evacuation_words(b)}")
        return
    if a_growth is None and b_growth is not None:
        if same_size_b:
            events.append(f"same-size grow started (B stays {b_b}: too many overflow buckets, entries are "
                          f"being repacked); {_evacuation_words(b)}")
        else:
            events.append(f"growth started; {_evacuation_words(b)}")
    elif a_growth is not None and b_growth is None:
        kind = "same-size grow" if (a_growth or {}).get("same_size") else "growth"
        events.append(f"{kind} finished: every old bucket evacuated")
    elif a_growth is not None and b_growth is not None:
        if a_growth.get("oldbuckets") != b_growth.get("oldbuckets"):
            events.append(f"a new grow started (old buckets {address_text(a_growth.get('oldbuckets'))} → "
                          f"{address_text(b_growth.get('oldbuckets'))}); {_evacuation_words(b)}")
        elif _pending(a) != _pending(b) or a_growth.get("nevacuate") != b_growth.get("nevacuate"):
            events.append(f"evacuation progressed: {_evacuation_words(a)} → {_evacuation_words(b)}")
    elif a.get("buckets_address") != b.get("buckets_address") and a_b == b_b:
        events.append(f"the bucket array was replaced ({address_text(a.get('buckets_address'))} → "
                      f"{address_text(b.get('buckets_address'))}, B={b_b})")


def _table_key(table: Dict[str, Any]) -> int:
    return table.get("address", 0)


def _dir_range(table: Dict[str, Any]) -> Optional[Tuple[int, int]]:
    directory = table.get("directory")
    if isinstance(directory, (list, tuple)) and len(directory) == 2:
        return int(directory[0]), int(directory[1])
    return None


def _swiss_header(a: Dict[str, Any], b: Dict[str, Any], changes: List[Dict[str, Any]],
                  events: List[str]) -> Dict[str, Any]:
    for name in ("shape", "dirLen", "globalDepth", "dirPtr"):
        _field_change(changes, name, a.get(name), b.get(name))
    _field_change(changes, "clearSeq", _clear_seq(a), _clear_seq(b))
    if _clear_seq(a) is not None and _clear_seq(b) is not None and _clear_seq(a) != _clear_seq(b):
        events.append(f"the map was cleared (clearSeq {_clear_seq(a)} → {_clear_seq(b)})")
    a_shape, b_shape = a.get("shape"), b.get("shape")
    a_tables = {_table_key(table): table for table in a.get("tables") or ()}
    b_tables = {_table_key(table): table for table in b.get("tables") or ()}
    if a_shape != b_shape and a_shape in ("small", "empty") and b_shape == "tables":
        what = "a small map (one group)" if a_shape == "small" else "an empty map"
        events.append(f"switched from {what} to tables (dirLen {b.get('dirLen')}, "
                      f"{_plural(len(b_tables), 'table')})")
    elif a_shape != b_shape and a_shape is not None and b_shape is not None:
        events.append(f"shape changed from {a_shape} to {b_shape}")
    elif a_shape == b_shape == "small" and a.get("dirPtr") != b.get("dirPtr"):
        events.append(f"the small map's group was replaced ({address_text(a.get('dirPtr'))} → {address_text(b.get('dirPtr'))})")
    if a.get("dirLen") != b.get("dirLen") and a_shape == b_shape == "tables":
        events.append(f"directory grew from {a.get('dirLen')} to {b.get('dirLen')} entries "
                      f"(globalDepth {a.get('globalDepth')} → {b.get('globalDepth')})")
    # tables: kept (by address), replaced (grown in place or split), new
    a_depth, b_depth = a.get("globalDepth") or 0, b.get("globalDepth") or 0
    table_changes: List[Dict[str, Any]] = []
    claimed = set()
    for address, old in a_tables.items():
        new = b_tables.get(address)
        if new is not None:
            claimed.add(address)
            fields = []
            for name in ("used", "capacity", "localDepth", "index", "growthLeft"):
                if old.get(name) != new.get(name):
                    fields.append({"field": name, "a": old.get(name), "b": new.get(name)})
            if _dir_range(old) != _dir_range(new):
                fields.append({"field": "directory", "a": old.get("directory"), "b": new.get("directory")})
            if fields:
                table_changes.append({"address": address, "kind": "changed", "fields": fields})
            continue
        if b_shape != "tables" or a_shape != "tables":
            table_changes.append({"address": address, "kind": "gone", "into": []})
            continue
        # where its directory entries went, rescaled to the new directory
        successors: List[Dict[str, Any]] = []
        span = _dir_range(old)
        if span is not None and b_depth >= a_depth:
            shift = b_depth - a_depth
            first, last = span[0] << shift, ((span[1] + 1) << shift) - 1
            for candidate in b.get("tables") or ():
                candidate_span = _dir_range(candidate)
                if candidate_span and first <= candidate_span[0] and candidate_span[1] <= last:
                    successors.append(candidate)
        into = [table.get("address") for table in successors]
        claimed.update(into)
        if len(successors) >= 2:
            depths = sorted({table.get("localDepth") for table in successors})
            events.append(f"table {address_text(address)} split into {', '.join(address_text(t) for t in into)} "
                          f"(localDepth {old.get('localDepth')} → {'/'.join(str(d) for d in depths)})")
            kind = "split"
        elif len(successors) == 1:
            new = successors[0]
            if (new.get("capacity") or 0) > (old.get("capacity") or 0):
                events.append(f"table {address_text(address)} grew from capacity {old.get('capacity')} to "
                              f"{new.get('capacity')} (now {address_text(into[0])})")
                kind = "grew"
            else:
                events.append(f"table {address_text(address)} was replaced by {address_text(into[0])}")
                kind = "replaced"
        else:
            events.append(f"table {address_text(address)} is gone")
            kind = "gone"
        table_changes.append({"address": address, "kind": kind, "into": into})
    for address in b_tables:
        if address not in claimed and address not in a_tables:
            table_changes.append({"address": address, "kind": "new"})
            if a_shape == "tables":
                events.append(f"new table {address_text(address)}")
    return {"tables": table_changes}


def same_map_state(a: Dict[str, Any], b: Dict[str, Any]) -> bool:
    """Whether two map objects are known to be identical without comparing them: the same Python
    object (a reader that shares unchanged maps between documents), or both carrying a ``state``
    (the content digest snapshot format v2 puts on each map object; absent in v1) with equal values."""
    if a is b:
        return True
    return "state" in a and "state" in b and a["state"] is not None and a["state"] == b["state"]


def _unchanged_map(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
    """``diff_map`` of two maps known to be identical, without looking at their entries."""
    entries = b.get("entries")
    unchanged = len(entries) if isinstance(entries, list) else (b.get("count") or 0)
    result = {
        "address": b.get("address"),
        "type": b.get("type") or a.get("type"),
        "impl": b.get("impl") or a.get("impl"),
        "expression": b.get("expression") or a.get("expression"),
        "changed": False,
        "count": {"a": a.get("count"), "b": b.get("count")},
        "header": [],
        "flags": {"set": [], "cleared": []},
        "events": [],
        "entries": {"added": [], "removed": [], "changed": [], "moved": [], "unchanged": unchanged,
                    "duplicate_keys": [], "complete": _entries_complete(a) and _entries_complete(b)},
        "problems": {"new": [], "gone": []},
    }
    if result["impl"] != "classic":
        result["tables"] = []    # as _swiss_header gives for two equal headers
    return result


def diff_map(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
    """One map present in both snapshots.

    Fast path: maps known to be identical (``same_map_state``) are "unchanged" without their
    entries being compared (a 100k-entry comparison costs 0.1 to 5 s, and a run has thousands
    of transitions).
    """
    if same_map_state(a, b):
        return _unchanged_map(a, b)
    changes: List[Dict[str, Any]] = []
    events: List[str] = []
    _field_change(changes, "count", a.get("count"), b.get("count"))
    flags_a, flags_b = list(a.get("flags") or ()), list(b.get("flags") or ())
    flags = {"set": [name for name in flags_b if name not in flags_a],
             "cleared": [name for name in flags_a if name not in flags_b]}
    if flags["set"] or flags["cleared"]:
        changes.append({"field": "flags", "a": flags_a, "b": flags_b})
    extra: Dict[str, Any] = {}
    impl = b.get("impl") or a.get("impl")
    if a.get("impl") != b.get("impl"):
        events.append(f"the map implementation differs ({a.get('impl')} → {b.get('impl')}): "
                      "the snapshots are of different builds")
    elif impl == "classic":
        _classic_header(a, b, changes, events)
    else:
        extra = _swiss_header(a, b, changes, events)
    if "hashWriting" in flags["set"] or "writing" in flags["set"]:
        events.append("a map write is in progress (the writing flag is set)")
    entries = diff_entries(a.get("entries") or (), b.get("entries") or ())
    complete = _entries_complete(a) and _entries_complete(b)
    entries["complete"] = complete
    problems_a = [p for p in a.get("problems") or ()]
    problems_b = [p for p in b.get("problems") or ()]
    problems = {"new": [p for p in problems_b if p not in problems_a],
                "gone": [p for p in problems_a if p not in problems_b]}
    changed = bool(changes or events or entries["added"] or entries["removed"] or entries["changed"]
                   or entries["moved"] or problems["new"] or problems["gone"])
    result = {
        "address": b.get("address"),
        "type": b.get("type") or a.get("type"),
        "impl": impl,
        "expression": b.get("expression") or a.get("expression"),
        "changed": changed,
        "count": {"a": a.get("count"), "b": b.get("count")},
        "header": changes,
        "flags": flags,
        "events": events,
        "entries": entries,
        "problems": problems,
    }
    result.update(extra)
    return result


# ---------------------------------------------------------------------------
# Iterators


def _iter_b(doc: Dict[str, Any]) -> Optional[int]:
    """The B (log2 of bucket count) a classic iterator walks."""
    position = doc.get("position") or {}
    for value in (position.get("B"), (doc.get("fields") or {}).get("B")):
        if isinstance(value, int):
            return value
    count = doc.get("bucket_count") or position.get("bucket_count")
    if isinstance(count, int) and count > 0:
        return count.bit_length() - 1
    return None


def _wrapped(doc: Dict[str, Any]) -> Optional[bool]:
    position = doc.get("position") or {}
    value = position.get("wrapped", doc.get("wrapped"))
    return bool(value) if value is not None else None


def _walks(doc: Dict[str, Any]) -> Optional[str]:
    position = doc.get("position") or {}
    return position.get("walks", doc.get("walks"))


def _position_changes(a: Dict[str, Any], b: Dict[str, Any], prefix: str = "") -> List[Dict[str, Any]]:
    changes = []
    for key in sorted(set(a) | set(b)):
        old, new = a.get(key), b.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            changes += _position_changes(old, new, f"{prefix}{key}.")
        elif old != new:
            changes.append({"field": f"{prefix}{key}", "a": old, "b": new})
    return changes


def _map_now(iterator: Dict[str, Any], maps_b: Dict[int, Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return maps_b.get(iterator.get("map_address"))


def iterator_meaning(it: Dict[str, Any], map_doc: Optional[Dict[str, Any]] = None) -> List[str]:
    """What the state of ``it`` means for the rest of its ``range`` loop, in plain words."""
    words: List[str] = []
    state = it.get("state")
    if state == "finished":
        return ["the loop has finished: the iterator returns nothing more"]
    if state == "not-started":
        return ["the loop has not returned its first entry yet"]
    impl = it.get("impl")
    header = it.get("map") or {}
    remaining = it.get("remaining") or {}
    if impl == "classic":
        it_b = _iter_b(it)
        map_b = header.get("B", (map_doc or {}).get("B"))
        if it.get("stale") or it.get("map_grew_since_start"):
            where = "its old bucket array"
            if _walks(it) == "oldbuckets":
                where += " (still the map's oldbuckets: evacuation is not finished)"
            elif _walks(it) == "retired":
                where += " (retired: the map no longer references it)"
            grew = f" (B={it_b} → B={map_b})" if it_b is not None and map_b is not None and it_b != map_b else ""
            words.append(
                f"the map grew since the loop started{grew}: the loop keeps walking {where}"
                + (f" (B={it_b}, {1 << it_b} buckets)" if it_b is not None else "")
                + ". Entries not yet evacuated are returned from that array; entries already evacuated are "
                  "looked up again in the live map, so deleted keys are skipped and updated values are seen. "
                  "Keys inserted after the grow live only in the new array and are not visited by this loop")
        elif map_doc is not None and map_doc.get("growing") and it_b is not None and it_b == map_b:
            words.append("the loop started during a grow that is still in progress: for each new bucket not yet "
                         "filled it walks the old bucket and returns only the entries that will move into it")
    else:
        position = it.get("position") or {}
        mode = position.get("mode", it.get("mode"))
        if mode == "small" and (it.get("stale") or it.get("map_grew_since_start")):
            words.append("the map was small (one group) when the loop started and has since grown into tables: "
                         "the loop walks the rest of that old group only, looking each of its keys up again in "
                         "the tables, so deleted keys are skipped and updated values are seen; keys that were "
                         "never in that group are not received")
        elif it.get("stale"):
            words.append("the table the loop is walking was replaced since the loop started (it grew or split): "
                         "the loop finishes walking the old table and looks each of its keys up again in the live "
                         "map, so deleted keys are skipped and updated values are seen. Later tables are read from "
                         "the live directory")
        elif it.get("map_grew_since_start"):
            words.append("the map's directory grew since the loop started: Next rescales its position in the "
                         "directory, so no entry is returned twice")
    if it.get("cleared_since_start"):
        words.append("the map was cleared since the loop started: keys it held then are not returned any more "
                      "(each is looked up in the live map)")
    prediction = it.get("prediction")
    if prediction is not None:
        words.append(future_text(prediction))
    elif remaining.get("entries") is not None and remaining.get("exact"):
        words.append(f"entries still ahead: exactly {remaining['entries']}")
    return words


def future_text(prediction: Dict[str, Any]) -> str:
    """hiter-predict's count, as a snapshot keeps it, in words."""
    count = len(prediction.get("next") or ())
    entries = f"{count} entr{'y' if count == 1 else 'ies'}"
    if prediction.get("exact"):
        return f"if nothing changes the map from now on, the loop will still receive exactly {entries}"
    return f"the loop has {entries} ahead as far as the replay goes (not exact: {prediction.get('reason')})"


SAMPLE_KEYS = 3


def _sample(keys: List[str]) -> str:
    shown = ", ".join(keys[:SAMPLE_KEYS])
    return shown + (", ..." if len(keys) > SAMPLE_KEYS else "")


def _entry_keys(map_doc: Optional[Dict[str, Any]]) -> Optional[set]:
    """The rendered keys of a map document, or None when it does not hold them all."""
    if not map_doc or map_doc.get("entries") is None:
        return None
    entries = map_doc["entries"]
    count = map_doc.get("count")
    if count is not None and len(entries) < count:
        return None
    return {entry.get("key") for entry in entries}


def future_change(before: Dict[str, Any], after: Dict[str, Any], map_a: Optional[Dict[str, Any]],
                  map_b: Optional[Dict[str, Any]]) -> List[str]:
    """How the loop's future changed between two stops, from the two predictions: what it
    would still have received then, what of that it still will, what is new, what it will miss."""
    ahead_a, ahead_b = list(before.get("next") or ()), list(after.get("next") or ())
    set_a, set_b = set(ahead_a), set(ahead_b)
    kept = [key for key in ahead_a if key in set_b]
    dropped = [key for key in ahead_a if key not in set_b]
    new = [key for key in ahead_b if key not in set_a]
    keys_a, keys_b = _entry_keys(map_a), _entry_keys(map_b)
    words = []
    if not (before.get("exact") and after.get("exact")):
        reasons = "; ".join(str(p.get("reason")) for p in (before, after) if not p.get("exact"))
        words.append(f"(the predictions are not exact: {reasons})")
    missed_text = ""
    if keys_a is not None and keys_b is not None:
        missed = sorted(key for key in keys_b - keys_a if key not in set_b)
        if missed:
            missed_text = (f"; {len(missed)} inserted entr{'y' if len(missed) == 1 else 'ies'} will not be "
                           f"received ({_sample(missed)}: behind the loop or where it does not walk)")
    if ahead_a == ahead_b:
        words.append(f"the loop will still receive the same {len(ahead_b)} entries, in the same order" + missed_text)
        return [" ".join(words)]
    text = f"before, the loop would still have received {len(ahead_a)} entries; now {len(kept)} of those"
    if dropped and keys_b is None:
        # the map's entry list was cut (--limit): whether they were deleted is not known
        text += f" ({len(dropped)} no longer ahead: {_sample(dropped)})"
    elif dropped:
        deleted = [key for key in dropped if key not in keys_b]
        skipped = [key for key in dropped if key not in deleted]
        if deleted:
            text += f" ({len(deleted)} {'was' if len(deleted) == 1 else 'were'} deleted: {_sample(deleted)})"
        if skipped:
            text += (f" ({len(skipped)} {'is' if len(skipped) == 1 else 'are'} still in the map but will not be "
                     f"received: {_sample(skipped)})")
    if new:
        inserted = [key for key in new if keys_a is not None and key not in keys_a]
        text += (f", plus {len(new)} " + ("inserted" if len(inserted) == len(new) else "more")
                 + f" ({_sample(new)})")
    text += missed_text
    if not kept and ahead_a:
        text = text.replace("now 0 of those", "now none of those")
    words.append(text)
    return [" ".join(words)]


def diff_iterator(a: Dict[str, Any], b: Dict[str, Any], maps_b: Dict[int, Dict[str, Any]],
                  paired_by: str = "address", maps_a: Optional[Dict[int, Dict[str, Any]]] = None) -> Dict[str, Any]:
    events: List[str] = []
    if a.get("state") != b.get("state"):
        events.append(f"state {a.get('state')} → {b.get('state')}")
    if a.get("address") != b.get("address"):
        events.append(f"the iterator moved from {address_text(a.get('address'))} to {address_text(b.get('address'))} "
                      "(the goroutine stack was copied)")
    if a.get("map_address") != b.get("map_address"):
        events.append(f"it walks another map now ({address_text(a.get('map_address'))} → {address_text(b.get('map_address'))}): "
                      "a new range loop reuses the stack slot")
    position = _position_changes(a.get("position") or {}, b.get("position") or {})
    starts = [change["field"] for change in position
              if change["field"] in ("start_bucket", "start_offset", "entry_offset", "start.entry_offset")]
    if starts:
        events.append("its start position changed (" + ", ".join(starts) + "): this is another range loop "
                      "using the same iterator slot, not the same loop later")
    wrapped_a, wrapped_b = _wrapped(a), _wrapped(b)
    if wrapped_a is False and wrapped_b is True:
        events.append("it wrapped around the end of the bucket array and continues from the start")
    if not a.get("stale") and b.get("stale"):
        events.append("it now walks a bucket array or table that is no longer the map's current one")
    elif a.get("stale") and not b.get("stale"):
        events.append("it walks the map's current bucket array or table again")
    if not a.get("map_grew_since_start") and b.get("map_grew_since_start"):
        events.append("the map grew during this interval")
    if not a.get("cleared_since_start") and b.get("cleared_since_start"):
        events.append("the map was cleared during this interval")
    current_a, current_b = a.get("current"), b.get("current")
    both_running = b.get("state") == "in-progress" and a.get("state") == "in-progress"
    # moved: the position changed (bucket/group, slot, entry index), not what it points at
    moved = [change["field"] for change in position if change["field"] not in starts] or (
        (current_a or {}).get("key_address") != (current_b or {}).get("key_address"))
    if both_running and (current_a is None) != (current_b is None):
        events.append("it moved on to another entry" if current_b else "it has no current entry now")
    elif both_running and current_b and moved:
        events.append("it moved on to another entry")
    remaining_a, remaining_b = a.get("remaining") or {}, b.get("remaining") or {}
    map_doc = maps_b.get(b.get("map_address"))
    if both_running and a.get("prediction") and b.get("prediction"):
        events.extend(future_change(a["prediction"], b["prediction"], (maps_a or {}).get(a.get("map_address")),
                                    map_doc))
    return {
        "address": b.get("address"),
        "address_a": a.get("address"),
        "paired_by": paired_by,
        "impl": b.get("impl"),
        "map_address": b.get("map_address"),
        "goroutine": b.get("goroutine", a.get("goroutine")),
        "function": b.get("function", a.get("function")),
        "state": {"a": a.get("state"), "b": b.get("state")},
        "stale": {"a": a.get("stale"), "b": b.get("stale")},
        "map_grew_since_start": {"a": a.get("map_grew_since_start"), "b": b.get("map_grew_since_start")},
        "cleared_since_start": {"a": a.get("cleared_since_start"), "b": b.get("cleared_since_start")},
        "wrapped": {"a": wrapped_a, "b": wrapped_b},
        "position": position,
        "current": {"a": current_a, "b": current_b},
        "remaining": {"a": remaining_a or None, "b": remaining_b or None},
        "problems": {"new": [p for p in b.get("problems") or () if p not in (a.get("problems") or ())],
                     "gone": [p for p in a.get("problems") or () if p not in (b.get("problems") or ())]},
        "changed": bool(events or position),
        "events": events,
        "meaning": iterator_meaning(b, map_doc),
    }


def _map_brief(doc: Dict[str, Any]) -> Dict[str, Any]:
    return {"address": doc.get("address"), "type": doc.get("type"), "impl": doc.get("impl"),
            "count": doc.get("count"), "expression": doc.get("expression")}


def _iter_brief(doc: Dict[str, Any], maps: Dict[int, Dict[str, Any]]) -> Dict[str, Any]:
    try:
        meaning = iterator_meaning(doc, maps.get(doc.get("map_address")))
    except SHOW_ERRORS as error:
        meaning = [f"cannot be described: {not_as_written(error)}"]
    return {"address": doc.get("address"), "impl": doc.get("impl"), "map_address": doc.get("map_address"),
            "state": doc.get("state"), "stale": doc.get("stale"), "goroutine": doc.get("goroutine"),
            "function": doc.get("function"), "meaning": meaning}


# The schema fixes what every reader relies on and leaves implementation
# details open; a file from elsewhere can hold any JSON there. Reading such a
# part fails with one of these, and the map or iterator is then compared (or
# shown) by its required keys only, saying so, instead of the command failing.
SHOW_ERRORS = (AttributeError, IndexError, KeyError, TypeError, ValueError)
_ITERATOR_REQUIRED = ("address", "impl", "layout", "map_address", "state", "stale", "map_grew_since_start",
                      "cleared_since_start", "problems")


def not_as_written(error: Exception) -> str:
    return (f"the file's object is not as gdb-hiter writes it ({type(error).__name__}: "
            f"{one_line(str(error), 120)})")


def required_map(doc: Dict[str, Any]) -> Dict[str, Any]:
    return {name: doc.get(name) for name in ("address", "type", "expression", "impl", "layout", "count", "flags",
                                             "growing", "entries", "problems")}


def _required_iterator(doc: Dict[str, Any]) -> Dict[str, Any]:
    reduced = {name: doc.get(name) for name in _ITERATOR_REQUIRED}
    reduced.update(position={}, current=None, remaining={}, fields={}, map=None)
    return reduced


def _diff_map_or_required(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
    try:
        return diff_map(a, b)
    except SHOW_ERRORS as error:
        item = diff_map(required_map(a), required_map(b))
        item["events"].insert(0, f"compared by header, entries and problems only: {not_as_written(error)}")
        return item


def _diff_iterator_or_required(a, b, maps_b, paired_by, maps_a) -> Dict[str, Any]:
    try:
        return diff_iterator(a, b, maps_b, paired_by, maps_a)
    except SHOW_ERRORS as error:
        item = diff_iterator(_required_iterator(a), _required_iterator(b), {}, paired_by, {})
        item["events"].insert(0, f"compared by state only: {not_as_written(error)}")
        item["changed"] = True
        return item


# ---------------------------------------------------------------------------
# The whole diff


def _map_name(item: Dict[str, Any]) -> str:
    name = f"map {address_text(item.get('address'))}"
    if item.get("expression"):
        name = f"{item['expression']} ({name}"
        return f"{name}, {item.get('type')})" if item.get("type") else name + ")"
    return f"{name} ({item.get('type')})" if item.get("type") else name


def _map_summary(item: Dict[str, Any]) -> str:
    parts = []
    count = item["count"]
    if count["a"] != count["b"]:
        parts.append(f"count {count['a']} → {count['b']}")
    parts += item["events"]
    entries = item["entries"]
    tallies = [f"{len(entries[name])} {name}" for name in ("added", "removed", "changed", "moved") if entries[name]]
    if tallies:
        parts.append("entries: " + ", ".join(tallies))
    if entries["duplicate_keys"]:
        parts.append(f"{_plural(len(entries['duplicate_keys']), 'key')} occur more than once (e.g. NaN), paired as "
                     "a multiset")
    if not entries["complete"]:
        parts.append("entry lists were cut (--limit): added / removed are among the listed entries only")
    if item["problems"]["new"]:
        parts.append(f"{_plural(len(item['problems']['new']), 'new problem')}")
    return f"{_map_name(item)}: " + "; ".join(parts or ["no change"])


def diff_snapshots(a: Dict[str, Any], b: Dict[str, Any]) -> Dict[str, Any]:
    """The differences between snapshot ``a`` (before) and ``b`` (after); JSON-ready and deterministic."""
    notes: List[str] = []
    ref_a, ref_b = snapshot_ref(a), snapshot_ref(b)
    if ref_a["program"] != ref_b["program"]:
        notes.append(f"the snapshots are of different programs ({ref_a['program']} and {ref_b['program']})")
    if ref_a["go_version"] != ref_b["go_version"] or ref_a["map_impl"] != ref_b["map_impl"]:
        notes.append(f"the snapshots are of different Go builds ({ref_a['go_version']} {ref_a['map_impl']}, "
                     f"{ref_b['go_version']} {ref_b['map_impl']})")
    if ref_a["redacted"] != ref_b["redacted"]:
        notes.append("only one of the snapshots is redacted: keys and values cannot be paired")
    if (a.get("seq") is not None and b.get("seq") is not None and a.get("seq") > b.get("seq")
            and a.get("taken_at", "") > b.get("taken_at", "")):
        notes.append("A was taken after B: the diff reads backwards in time")
    maps_a = {item["address"]: item for item in a.get("maps") or ()}
    maps_b = {item["address"]: item for item in b.get("maps") or ()}
    map_diffs = [_diff_map_or_required(maps_a[address], maps_b[address])
                 for address in sorted(set(maps_a) & set(maps_b))]
    only_a = [_map_brief(maps_a[address]) for address in sorted(set(maps_a) - set(maps_b))]
    only_b = [_map_brief(maps_b[address]) for address in sorted(set(maps_b) - set(maps_a))]

    iters_a = {item["address"]: item for item in a.get("iterators") or ()}
    iters_b = {item["address"]: item for item in b.get("iterators") or ()}
    pairs: List[Tuple[Dict[str, Any], Dict[str, Any], str]] = [
        (iters_a[address], iters_b[address], "address") for address in sorted(set(iters_a) & set(iters_b))]
    left_a = [iters_a[address] for address in sorted(set(iters_a) - set(iters_b))]
    left_b = [iters_b[address] for address in sorted(set(iters_b) - set(iters_a))]
    for map_address in sorted({item.get("map_address") or 0 for item in left_a}):
        on_a = [item for item in left_a if (item.get("map_address") or 0) == map_address]
        on_b = [item for item in left_b if (item.get("map_address") or 0) == map_address]
        if map_address and len(on_a) == 1 and len(on_b) == 1:
            pairs.append((on_a[0], on_b[0], "map"))
            left_a.remove(on_a[0])
            left_b.remove(on_b[0])
    pairs.sort(key=lambda pair: (pair[1].get("address") or 0))
    iter_diffs = [_diff_iterator_or_required(old, new, maps_b, paired_by, maps_a) for old, new, paired_by in pairs]
    iters_only_a = [_iter_brief(item, maps_a) for item in left_a]
    iters_only_b = [_iter_brief(item, maps_b) for item in left_b]

    summary: List[str] = list(notes)
    for item in map_diffs:
        if item["changed"]:
            summary.append(_map_summary(item))
    unchanged_maps = sum(1 for item in map_diffs if not item["changed"])
    if unchanged_maps:
        summary.append(f"{_plural(unchanged_maps, 'map')} unchanged")
    for item in only_a:
        summary.append(f"{_map_name(item)} is only in A (count {item['count']})")
    for item in only_b:
        summary.append(f"{_map_name(item)} is only in B (count {item['count']})")
    for item in iter_diffs:
        if item["changed"] or item["stale"]["b"]:
            text = f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])}: "
            text += "; ".join(item["events"] or ["unchanged"])
            if item["meaning"] and (item["stale"]["b"] or item["map_grew_since_start"]["b"]
                                    or item["cleared_since_start"]["b"]):
                meaning = item["meaning"][0]
                text += ". " + meaning[:1].upper() + meaning[1:]
            summary.append(text)
    for item in iters_only_a:
        summary.append(f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])} is only in A "
                       f"(its loop ended or its frame returned)")
    for item in iters_only_b:
        summary.append(f"iterator {address_text(item['address'])} over map {address_text(item['map_address'])} is only in B "
                       f"(a loop started), {item['state']}")
    changed = bool(any(item["changed"] for item in map_diffs) or only_a or only_b
                   or any(item["changed"] for item in iter_diffs) or iters_only_a or iters_only_b)
    if not changed:
        summary.append("no change")
    return {
        "format": DIFF_FORMAT,
        "version": DIFF_VERSION,
        "a": ref_a,
        "b": ref_b,
        "notes": notes,
        "changed": changed,
        "maps": map_diffs,
        "maps_only_in_a": only_a,
        "maps_only_in_b": only_b,
        "iterators": iter_diffs,
        "iterators_only_in_a": iters_only_a,
        "iterators_only_in_b": iters_only_b,
        "summary": summary,
    }
