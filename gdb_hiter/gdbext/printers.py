"""Pretty-printers: ``print m`` shows a Go map's real contents.

The output has the shape of Go's own ``runtime-gdb.py``::

    $1 = map[string]int = {["a"] = 1, ["b"] = 2}

(display hint ``map``, children alternating key and value), but the entries
come from gdb-hiter's decoders, so deleted slots are not shown, a map in the
middle of a classic grow shows each entry once, and Swiss maps with several
tables (or a directory with shared entries) are complete. Keys and values are
rendered as Go's ``%#v`` would print them (``core.render.values``), passed to gdb as
ready-made strings: one rendering per entry, no ``gdb.Value`` per slot.

Entries are in memory order (buckets or groups in order), not in any order
Go's ``range`` would produce. ``set print elements N`` bounds the entries
decoded: gdb prints at most N children (N/2 entries) and the walk stops there.

The printers are registered at index 0 of every objfile's printer list, so
they win over ``runtime-gdb.py``'s (which appends to the Go objfile's list,
and may replace the list when it is auto-loaded after us: we re-check on
every stop and before every prompt).

A printer never raises: a map that cannot be decoded prints as
``<error: ...>`` on one line.

``runtime.hiter`` / ``internal/runtime/maps.Iter`` values get a one-line
summary (state, map, progress) in front of their usual fields.
"""

from __future__ import annotations

from typing import Iterator, Optional, Tuple

import gdb  # type: ignore[import-not-found]

from ..core.memory import UnreadableMemory
from ..core.messages import one_line
from . import mapref
from .command import UserError
from .memory import InferiorMemory

_HEADER_PREFIXES = ("hash<", "map<")


def _map_kind(value: "gdb.Value") -> Optional[str]:
    """'map' for a map[K]V value, 'header' for a hash<K,V> / map<K,V> struct, else None. Never raises."""
    try:
        gdb_type = value.type
        code = gdb_type.code
        if code == gdb.TYPE_CODE_TYPEDEF:
            name = gdb_type.name or ""
            if name.startswith("map["):
                return "map" if gdb_type.strip_typedefs().code == gdb.TYPE_CODE_PTR else None
            gdb_type = gdb_type.strip_typedefs()
            code = gdb_type.code
        if code == gdb.TYPE_CODE_STRUCT and (gdb_type.name or "").startswith(_HEADER_PREFIXES):
            return "header"
    except Exception:  # a printer lookup must never break `print`
        return None
    return None


def _print_elements() -> Optional[int]:
    try:
        value = gdb.parameter("print elements")
    except Exception:
        return 200
    if value is None or value <= 0:
        return None  # unlimited
    return int(value)


class MapPrinter:
    """A Go map (the map[K]V pointer or the header struct it points to)."""

    def __init__(self, value: "gdb.Value", kind: str):
        self.value = value
        self.kind = kind
        self._decoded = None
        self._error: Optional[str] = None
        self._problem: Optional[str] = None
        self._name = self._type_name()

    def _type_name(self) -> str:
        try:
            from . import gotypes_gdb
            return gotypes_gdb.map_type_name(self.value.type) or str(self.value.type.strip_typedefs())
        except Exception:
            return "map"

    def display_hint(self) -> str:
        return "map"

    def _decode(self) -> None:
        if self._decoded is not None or self._error is not None:
            return
        try:
            if self.kind == "map" and int(self.value) == 0:
                self._decoded = ((), None)
                return
            ref = mapref.resolve_value(self.value, self._name)
            elements = _print_elements()
            limit = None if elements is None else (elements + 1) // 2
            memory = InferiorMemory()
            decoded = ref.decode(limit=limit, memory=memory)
            if ref.type_name and not self._name.startswith("map["):
                self._name = ref.type_name
            self._decoded = (decoded.entries, ref.renderers(memory))
            self._problem = _problem_note(decoded)
        except UserError as error:
            self._error = str(error)
        except (UnreadableMemory, gdb.MemoryError) as error:
            self._error = f"cannot read memory: {error}"
        except Exception as error:  # never a traceback from print
            self._error = f"{type(error).__name__}: {error}"

    def to_string(self) -> str:
        self._decode()
        if self._error is not None:
            return f"<error: {self._error}>"
        if self.kind == "map" and self._decoded[1] is None:
            return f"{self._name}(nil)"
        if self._problem:
            return f"{self._name} <{self._problem}>"
        return self._name

    def children(self) -> Iterator[Tuple[str, str]]:
        self._decode()
        if self._error is not None or self._decoded[1] is None:
            return
        entries, (render_key, render_value) = self._decoded
        for index, entry in enumerate(entries):
            try:
                key, value = render_key(entry), render_value(entry)
            except Exception as error:
                key, value = f"<error: {error}>", "?"
            yield str(2 * index), key
            yield str(2 * index + 1), value


def _problem_note(decoded) -> Optional[str]:
    """What to say before the entries when the walk met a problem, so a failed walk never looks empty."""
    if not decoded.problems:
        return None
    first = decoded.problems[0]
    more = f" (+{len(decoded.problems) - 1} more)" if len(decoded.problems) > 1 else ""
    return (f"{first.what}: {one_line(first.why, 160)}{more}; {len(decoded.entries)} of {decoded.count} "
            "entries decoded; hmap-show for details")


_ITERATOR_STRUCTS = ("runtime.hiter", "internal/runtime/maps.Iter")


def _is_iterator(value: "gdb.Value") -> bool:
    try:
        gdb_type = value.type.strip_typedefs()
        return gdb_type.code == gdb.TYPE_CODE_STRUCT and gdb_type.name in _ITERATOR_STRUCTS
    except Exception:
        return False


def iterator_summary(iterator) -> str:
    """One line about a decoded hiter / maps.Iter: state, map, where the walk is.

    Uses the iterator API common to both decoders (``state``, ``map_address``,
    ``problems``, ``to_json()``); implementation details are added when present.
    """
    map_address = getattr(iterator, "map_address", None)
    state = getattr(iterator, "state", None) or "?"
    parts = [state, f"map {map_address:#x}" if map_address else "no map"]
    interpretation = getattr(iterator, "interpretation", None)
    if isinstance(interpretation, dict) and "bucket_count" in interpretation:      # classic
        parts.append(f"next bucket {interpretation.get('next_bucket')} of {interpretation['bucket_count']}")
        if interpretation.get("buckets_remaining") is not None:
            parts.append(f"{interpretation['buckets_remaining']} buckets to go")
        if interpretation.get("walks"):
            parts.append(f"walks {interpretation['walks']}")
    else:                                                                           # swiss
        try:
            data = iterator.to_json()
        except Exception:
            data = {}
        remaining = data.get("remaining") or {}
        if remaining.get("entries") is not None:
            exact = "" if remaining.get("exact") else "at most "
            parts.append(f"{exact}{remaining['entries']} entries to go")
        if data.get("mode"):
            parts.append(f"mode {data['mode']}")
    problems = getattr(iterator, "problems", None) or []
    if problems:
        parts.append(f"{len(problems)} problem(s): {problems[0].what}")
    return ", ".join(parts)


class IteratorPrinter:
    """``runtime.hiter`` / ``maps.Iter``: a one-line summary, then the fields as usual."""

    def __init__(self, value: "gdb.Value"):
        self.value = value

    def to_string(self) -> str:
        name = self.value.type.strip_typedefs().name
        try:
            if self.value.address is None:
                return f"{name} (not in memory)"
            address = int(self.value.address)
            iterator = mapref.map_implementation().decode_iterator(InferiorMemory(), address)
            return f"{name} at {address:#x}: {iterator_summary(iterator)}"
        except Exception as error:  # never a traceback from print
            return f"{name} <error: {type(error).__name__}: {error}>"

    def children(self):
        for field in self.value.type.strip_typedefs().fields():
            try:
                yield field.name or "_", self.value[field]
            except gdb.error as error:
                yield field.name or "_", f"<error: {error}>"


class GdbHiterPrinters:
    """The lookup function, in the shape gdb.printing expects (``info pretty-printer`` lists it)."""

    name = "gdb-hiter"

    def __init__(self):
        self.enabled = True
        self.subprinters = None

    def __call__(self, value: "gdb.Value"):
        kind = _map_kind(value)
        if kind is not None:
            return MapPrinter(value, kind)
        if _is_iterator(value):
            return IteratorPrinter(value)
        return None


LOOKUP = GdbHiterPrinters()


def install(objfile) -> None:
    """Put our lookup first on ``objfile`` (idempotent)."""
    try:
        printers = objfile.pretty_printers
        if printers and printers[0] is LOOKUP:
            return
        while LOOKUP in printers:
            printers.remove(LOOKUP)
        printers.insert(0, LOOKUP)
    except Exception:
        pass


def install_everywhere(*_args) -> None:
    for objfile in gdb.objfiles():
        install(objfile)


def _on_new_objfile(event) -> None:
    install(event.new_objfile)


def register() -> None:
    install_everywhere()
    gdb.events.new_objfile.connect(_on_new_objfile)
    # runtime-gdb.py, auto-loaded for the Go objfile, resets that objfile's
    # list (``goobjfile.pretty_printers = []``); re-assert our place.
    gdb.events.stop.connect(install_everywhere)
    if hasattr(gdb.events, "before_prompt"):
        gdb.events.before_prompt.connect(install_everywhere)
