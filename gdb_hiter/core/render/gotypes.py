"""A small immutable model of Go types: what a key or element *is*.

Decoders hand out raw bytes; this model says how to read them. It is built
from DWARF inside gdb (``gdbext/gotypes_gdb.py``) or from JSON (snapshots,
tests), and consumed by ``core/render/values.py``.

Names are kept as DWARF spells them: full import path for named types
(``example.com/pkg.T``), Go syntax for the rest (``[17]int64``,
``struct { A int32; B string }``). ``reflect_name`` turns that into what
``reflect.Type.String()`` (and so ``%#v``) prints.

Recursive types (``type Node struct { Kids []Node }``) are cut with *stubs*:
a GoType with ``expanded=False`` keeps kind, name and size but no children.
A converter emits a stub where a type refers back to one of its ancestors,
and for the target of a pointer that is not the root (``%#v`` only follows
a pointer at the top level, so nothing deeper is ever needed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

# Kind names are reflect.Kind.String() values, so a Go program can emit them as is.
BOOL = "bool"
INT, INT8, INT16, INT32, INT64 = "int", "int8", "int16", "int32", "int64"
UINT, UINT8, UINT16, UINT32, UINT64 = "uint", "uint8", "uint16", "uint32", "uint64"
UINTPTR = "uintptr"
FLOAT32, FLOAT64 = "float32", "float64"
COMPLEX64, COMPLEX128 = "complex64", "complex128"
STRING = "string"
POINTER = "ptr"
UNSAFE_POINTER = "unsafe.Pointer"
STRUCT = "struct"
ARRAY = "array"
SLICE = "slice"
INTERFACE = "interface"
MAP = "map"
CHAN = "chan"
FUNC = "func"

SIGNED_INTEGER_KINDS = frozenset({INT, INT8, INT16, INT32, INT64})
UNSIGNED_INTEGER_KINDS = frozenset({UINT, UINT8, UINT16, UINT32, UINT64, UINTPTR})
FLOAT_KINDS = frozenset({FLOAT32, FLOAT64})
COMPLEX_KINDS = frozenset({COMPLEX64, COMPLEX128})
# Kinds whose value is one machine word that %#v prints as "(T)(0x...)".
POINTER_SHAPED_KINDS = frozenset({POINTER, UNSAFE_POINTER, MAP, CHAN, FUNC})
ALL_KINDS = (frozenset({BOOL, STRING, STRUCT, ARRAY, SLICE, INTERFACE})
             | SIGNED_INTEGER_KINDS | UNSIGNED_INTEGER_KINDS | FLOAT_KINDS
             | COMPLEX_KINDS | POINTER_SHAPED_KINDS)

POINTER_SIZE = 8  # linux/amd64 only, like the rest of the project

SIGNED_KIND_BY_SIZE = {1: INT8, 2: INT16, 4: INT32, 8: INT64}
UNSIGNED_KIND_BY_SIZE = {1: UINT8, 2: UINT16, 4: UINT32, 8: UINT64}


@dataclass(frozen=True)
class StructField:
    name: str                 # as declared; for an embedded field, the type's name
    type: "GoType"
    offset: int               # bytes from the start of the struct
    embedded: bool = False

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"name": self.name, "offset": self.offset, "type": self.type.to_json()}
        if self.embedded:
            data["embedded"] = True
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "StructField":
        return cls(name=data["name"], type=GoType.from_json(data["type"]),
                   offset=int(data["offset"]), embedded=bool(data.get("embedded", False)))


@dataclass(frozen=True)
class GoType:
    kind: str                                  # one of the kind constants above
    name: str                                  # Go type name, DWARF spelling
    size: int                                  # bytes
    align: int = 0                             # bytes; 0 when the source did not say
    elem: Optional["GoType"] = None            # ptr, slice, array, chan: element; map: value
    key: Optional["GoType"] = None             # map only
    length: int = 0                            # array only
    fields: Tuple[StructField, ...] = ()       # struct only
    has_methods: bool = False                  # interface only: first word is an *itab, not a *_type
    expanded: bool = True                      # False for a stub (see module doc)

    def __post_init__(self) -> None:
        if self.kind not in ALL_KINDS:
            raise ValueError(f"unknown Go kind {self.kind!r} for type {self.name!r}")
        if self.size < 0:
            raise ValueError(f"negative size for Go type {self.name!r}")

    # -- constructors for the common shapes -------------------------------

    @classmethod
    def basic(cls, kind: str, name: Optional[str] = None) -> "GoType":
        """A bool, number or string type; ``name`` for a named one like ``main.MyInt``."""
        return cls(kind=kind, name=name or kind, size=BASIC_SIZES[kind], align=BASIC_ALIGNS[kind])

    @classmethod
    def pointer_to(cls, elem: "GoType", name: Optional[str] = None) -> "GoType":
        return cls(kind=POINTER, name=name or "*" + elem.name, size=POINTER_SIZE,
                   align=POINTER_SIZE, elem=elem)

    @classmethod
    def slice_of(cls, elem: "GoType", name: Optional[str] = None) -> "GoType":
        return cls(kind=SLICE, name=name or "[]" + elem.name, size=3 * POINTER_SIZE,
                   align=POINTER_SIZE, elem=elem)

    @classmethod
    def array_of(cls, elem: "GoType", length: int, name: Optional[str] = None) -> "GoType":
        return cls(kind=ARRAY, name=name or f"[{length}]{elem.name}", size=elem.size * length,
                   align=elem.align, elem=elem, length=length)

    @classmethod
    def struct(cls, name: str, size: int, fields: Tuple[StructField, ...], align: int = 0) -> "GoType":
        return cls(kind=STRUCT, name=name, size=size, align=align, fields=tuple(fields))

    def stub(self) -> "GoType":
        """This type without its children: kind, name and size only."""
        return GoType(kind=self.kind, name=self.name, size=self.size, align=self.align,
                      length=self.length, has_methods=self.has_methods, expanded=False)

    # -- questions -------------------------------------------------------------

    @property
    def is_named(self) -> bool:
        """A defined type (``main.Key``, ``time.Duration``) rather than a type literal.

        Predeclared names (``int``, ``string``, ``error``...) count as named too.
        """
        return not self.name.startswith(_TYPE_LITERAL_PREFIXES)

    @property
    def reflect_name(self) -> str:
        return reflect_name(self.name)

    # -- JSON -------------------------------------------------------------------

    def to_json(self) -> Dict[str, Any]:
        """A plain dict; fields at their default value are left out."""
        data: Dict[str, Any] = {"kind": self.kind, "name": self.name, "size": self.size}
        if self.align:
            data["align"] = self.align
        if self.elem is not None:
            data["elem"] = self.elem.to_json()
        if self.key is not None:
            data["key"] = self.key.to_json()
        if self.kind == ARRAY:
            data["length"] = self.length
        if self.fields:
            data["fields"] = [field.to_json() for field in self.fields]
        if self.has_methods:
            data["has_methods"] = True
        if not self.expanded:
            data["expanded"] = False
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "GoType":
        return cls(
            kind=data["kind"],
            name=data["name"],
            size=int(data["size"]),
            align=int(data.get("align", 0)),
            elem=cls.from_json(data["elem"]) if data.get("elem") is not None else None,
            key=cls.from_json(data["key"]) if data.get("key") is not None else None,
            length=int(data.get("length", 0)),
            fields=tuple(StructField.from_json(field) for field in data.get("fields", ())),
            has_methods=bool(data.get("has_methods", False)),
            expanded=bool(data.get("expanded", True)),
        )


BASIC_SIZES = {
    BOOL: 1, INT: 8, INT8: 1, INT16: 2, INT32: 4, INT64: 8,
    UINT: 8, UINT8: 1, UINT16: 2, UINT32: 4, UINT64: 8, UINTPTR: 8,
    FLOAT32: 4, FLOAT64: 8, COMPLEX64: 8, COMPLEX128: 16,
    STRING: 2 * POINTER_SIZE, UNSAFE_POINTER: POINTER_SIZE,
}
BASIC_ALIGNS = {**BASIC_SIZES, COMPLEX64: 4, COMPLEX128: 8, STRING: POINTER_SIZE}

# How type literals start; every other name is a defined type ("int",
# "main.Key", "example.com/a/b.T[int]").
_TYPE_LITERAL_PREFIXES = ("*", "[", "map[", "chan ", "chan<- ", "<-chan ", "func(", "struct {", "interface {")

# An import-path-qualified identifier inside a type name: "example.com/a/pkg.T".
_QUALIFIED_RE = re.compile(r"[\w.\-~]*(?:/[\w.\-~]+)+\.(?=[^\W\d])")
# An unexported struct field name qualified by its package, as the linker
# spells anonymous struct types: "struct { runtime.lock runtime.mutex }".
_QUALIFIED_FIELD_RE = re.compile(r"(?<=[{;] )(?:[\w.\-~]+/)*[\w\-~]+\.([^\W\d]\w*)(?= [^}])")


def reflect_name(dwarf_name: str) -> str:
    """The type name as ``reflect.Type.String()`` prints it, from the DWARF name.

    DWARF qualifies named types by import path (``example.com/a/pkg.T``);
    reflect by package name (``pkg.T``). We only know the path, so the last
    path element stands in for the package name; they differ only for
    packages whose name is not their directory's (``gopkg.in/yaml.v3`` holds
    package ``yaml``: we print ``yaml.v3.Node`` where Go prints ``yaml.Node``).
    """
    name = _QUALIFIED_FIELD_RE.sub(r"\1", dwarf_name) if "struct {" in dwarf_name else dwarf_name
    return _QUALIFIED_RE.sub(lambda match: match.group(0).rsplit("/", 1)[1], name)


def split_map_name(map_name: str) -> Tuple[str, str]:
    """``map[K]V`` → (K, V), matching brackets so ``map[[2]int]map[string]int`` works."""
    if not map_name.startswith("map["):
        raise ValueError(f"not a map type name: {map_name!r}")
    depth = 0
    for index in range(3, len(map_name)):
        char = map_name[index]
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return map_name[4:index], map_name[index + 1:]
    raise ValueError(f"unbalanced brackets in map type name: {map_name!r}")
