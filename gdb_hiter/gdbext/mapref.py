"""From what the user typed (or a ``gdb.Value``) to a decodable map: ``MapRef``.

A Go map variable is a pointer to the runtime's header (``runtime.hmap`` for
classic maps, ``internal/runtime/maps.Map`` for Swiss tables); its DWARF
type is the typedef ``map[K]V`` of a pointer to the synthesized ``hash<K,V>``
or ``map<K,V>`` struct. Accepted:

* a map value: ``main.gm``, ``m``, ``*&m`` (the ``map[K]V`` typedef);
* a pointer to one: ``&main.gm``;
* the header struct or a pointer to it: ``*main.gm`` (``hash<K,V>``);
* with ``type_name="map[K]V"``: an integer address, ``*(runtime.hmap*)ADDR``,
  ``(internal/runtime/maps.Map*)ADDR``, or any of the above.

The map type descriptor (needed for slot geometry) is found from the map
type's DWARF DW_AT_go_runtime_type, so a binary without DWARF cannot be
used here; iterators carry their own type pointer (hiter-show).

Every failure is a one-line ``UserError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional, Tuple

import gdb  # type: ignore[import-not-found]

from ..core.render import values as render
from ..core.render.gotypes import GoType
from ..core.maps.implementations import for_report
from ..core.maps.interface import MapImplementation
from ..core.memory import UnreadableMemory
from ..core.maps.model import DecodedMap
from . import gotypes_gdb
from .command import UserError
from .expressions import evaluate
from .memory import InferiorMemory
from .program import version_report

_HEADER_STRUCT_PREFIXES = ("hash<", "map<")
_RUNTIME_HEADER_NAMES = ("runtime.hmap", "internal/runtime/maps.Map")


@dataclass
class MapRef:
    """A map found in the inferior, with everything needed to decode and render it."""

    expression: str
    address: int                 # of the hmap / maps.Map
    implementation: MapImplementation      # decodes this program's maps
    maptype: Any                 # classic.MapType | swiss.SwissMapType
    key_type: GoType
    elem_type: GoType
    type_name: str               # "map[K]V" as DWARF spells it
    descriptor_address: int
    gdb_type: Any                # the gdb.Type of the map[K]V typedef

    def decode(self, limit: Optional[int] = None, memory=None) -> DecodedMap:
        memory = memory or InferiorMemory()
        try:
            return self.implementation.decode_map(memory, self.address, self.maptype, limit=limit)
        except UnreadableMemory as error:
            raise UserError(f"{self.expression}: cannot read the map: {error}") from None
        except ValueError as error:
            raise UserError(f"{self.expression}: {error}") from None

    def renderers(self, memory=None, limits: render.RenderLimits = render.DEFAULT_LIMITS):
        """(render_key, render_value) for ``Entry.to_json``."""
        memory = memory or InferiorMemory()
        return render.entry_renderers(self.key_type, self.elem_type, memory, limits=limits,
                                      type_names=gotypes_gdb.runtime_type_names(memory))


# ---------------------------------------------------------------------------
# The program's map implementation, cached per program


_program_cache: dict = {}


def _program_key() -> Tuple:
    inferior = gdb.selected_inferior()
    connection = getattr(inferior, "connection", None)
    return (gdb.current_progspace().filename, inferior.pid, connection.type if connection else None)


def map_implementation() -> MapImplementation:
    """The program's ``MapImplementation`` (from its Go version), cached per executable and process."""
    key = _program_key()
    cached = _program_cache.get(key)
    if cached is None:
        report = version_report()
        cached = _program_cache[key] = (for_report(report), report.dwarf, report.program.kind)
    return cached[0]


def _program_facts() -> Tuple[MapImplementation, bool, str]:
    map_implementation()
    return _program_cache[_program_key()]


# ---------------------------------------------------------------------------


def resolve_map(expression: str, type_name: Optional[str] = None) -> MapRef:
    """The map that ``expression`` denotes; see the module docstring for what is accepted."""
    implementation, dwarf, kind = _check_program(expression)
    return _resolve(evaluate(expression), expression, type_name, implementation)


def resolve_value(value: "gdb.Value", expression: str = "the value", type_name: Optional[str] = None) -> MapRef:
    """Like ``resolve_map`` for a ``gdb.Value`` (printers, convenience functions)."""
    implementation, _, _ = _check_program(expression)
    return _resolve(value, expression, type_name, implementation)


def _check_program(expression: str) -> Tuple[MapImplementation, bool, str]:
    implementation, dwarf, kind = _program_facts()
    if kind == "executable":
        raise UserError(f"no process: start the program (`run`, `start`) or load a core file to read {expression}")
    if not dwarf:
        raise UserError(f"the program has no DWARF (built with -ldflags=-w?): DWARF is needed to find "
                        f"the map {expression} and its types; without it, use an iterator (hiter-show)")
    return implementation, dwarf, kind


def _resolve(value: "gdb.Value", expression: str, type_name: Optional[str], implementation: MapImplementation) -> MapRef:
    map_type, address = _map_type_and_address(value, expression, type_name)
    name = gotypes_gdb.map_type_name(map_type) or type_name or str(map_type)
    if address == 0:
        raise UserError(f"{expression} is a nil map")
    memory = InferiorMemory()
    try:
        memory.read(address, 8)
    except UnreadableMemory as error:
        raise UserError(f"{expression}: cannot read the map header at {address:#x}: {error}") from None
    cache_key = (_program_key(), name)
    cached = _type_cache.get(cache_key)
    if cached is None:
        cached = _type_cache[cache_key] = _map_type_facts(map_type, name, implementation, memory)
    descriptor, maptype, key_type, elem_type = cached
    return MapRef(expression, address, implementation, maptype, key_type, elem_type, name, descriptor, map_type)


# (program, map type name) -> (descriptor address, maptype, key GoType, elem GoType)
_type_cache: dict = {}


def _map_type_facts(map_type: "gdb.Type", name: str, implementation: MapImplementation, memory) -> Tuple:
    descriptor = gotypes_gdb.map_type_descriptor_address(map_type)
    if descriptor is None:
        raise UserError(f"cannot find the runtime type descriptor of {name} "
                        "(no DW_AT_go_runtime_type for it in the DWARF)")
    try:
        maptype = implementation.parse_maptype(memory, descriptor)
    except UnreadableMemory as error:
        raise UserError(f"cannot read the type descriptor of {name}: {error}") from None
    except ValueError as error:
        raise UserError(f"{name}: {error}") from None
    try:
        key_type, elem_type = gotypes_gdb.map_key_elem_types(map_type)
    except (ValueError, gdb.error) as error:
        raise UserError(f"{name}: cannot work out the key and element types: {error}") from None
    return descriptor, maptype, key_type, elem_type


def _map_type_and_address(value: "gdb.Value", expression: str, type_name: Optional[str]):
    """(the gdb.Type of the map[K]V typedef, header address) for ``value``."""
    declared = _lookup_map_type(type_name) if type_name else None
    gdb_type = value.type
    stripped = gdb_type.strip_typedefs()
    try:
        if gotypes_gdb.map_type_name(gdb_type) and stripped.code == gdb.TYPE_CODE_PTR:
            return declared or gdb_type, _pointer_value(value)
        if stripped.code == gdb.TYPE_CODE_PTR:
            target = stripped.target()
            if gotypes_gdb.map_type_name(target) and target.strip_typedefs().code == gdb.TYPE_CODE_PTR:
                return declared or target, _pointer_value(value.dereference())  # &m
            target_name = target.strip_typedefs().name or ""
            if target_name.startswith(_HEADER_STRUCT_PREFIXES):            # (*hash<K,V>)
                return declared or _map_type_for_header(target, expression), _pointer_value(value)
            if declared is not None and (target_name in _RUNTIME_HEADER_NAMES or target.code == gdb.TYPE_CODE_VOID):
                return declared, _pointer_value(value)
        if stripped.code == gdb.TYPE_CODE_STRUCT:
            struct_name = stripped.name or ""
            if struct_name.startswith(_HEADER_STRUCT_PREFIXES):           # *m
                return declared or _map_type_for_header(stripped, expression), _struct_address(value, expression)
            if declared is not None and struct_name in _RUNTIME_HEADER_NAMES:
                return declared, _struct_address(value, expression)
            if struct_name in _RUNTIME_HEADER_NAMES:
                raise UserError(f"{expression} is a bare {struct_name}: give the map's type with "
                                f"--type 'map[K]V' to decode it")
        if stripped.code in (gdb.TYPE_CODE_INT,) and declared is not None:
            return declared, int(value) & (1 << 64) - 1
    except gdb.MemoryError as error:
        raise UserError(f"{expression}: cannot read memory: {error}") from None
    hint = " (an address needs --type 'map[K]V')" if stripped.code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_PTR) else ""
    raise UserError(f"{expression} is not a map (its type is {gotypes_gdb.go_type_name(gdb_type)}){hint}")


def _pointer_value(value: "gdb.Value") -> int:
    return int(value)


def _struct_address(value: "gdb.Value", expression: str) -> int:
    if value.address is None:
        raise UserError(f"{expression} is a map header that is not in memory (no address)")
    return int(value.address)


def _lookup_map_type(type_name: str) -> "gdb.Type":
    if not type_name.startswith("map["):
        raise UserError(f"--type must be a map type like 'map[string]int', not {type_name!r}")
    try:
        found = gdb.lookup_type(type_name)
    except gdb.error:
        raise UserError(f"no type {type_name} in the program's DWARF (the program never uses it?)") from None
    if gotypes_gdb.map_type_name(found) is None:
        raise UserError(f"{type_name} is not a map type in the program's DWARF")
    return found


def _map_type_for_header(header: "gdb.Type", expression: str) -> "gdb.Type":
    """The ``map[K]V`` typedef for the synthesized ``hash<K,V>`` / ``map<K,V>`` struct."""
    name = header.strip_typedefs().name or ""
    inner = name[name.index("<") + 1:-1]
    depth = 0
    for index, char in enumerate(inner):
        if char in "[({<":
            depth += 1
        elif char in "])}>":
            depth -= 1
        elif char == "," and depth == 0:
            map_name = f"map[{inner[:index]}]{inner[index + 1:]}"
            try:
                return _lookup_map_type(map_name)
            except UserError:
                break
    raise UserError(f"{expression}: cannot find the map type of {name}: give it with --type 'map[K]V'")
