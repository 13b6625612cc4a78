"""Go types as gdb sees them (from DWARF) → ``core.render.gotypes.GoType``.

gdb 13.1 shows Go's DWARF like this (checked with go1.19 … go1.27.3):

* ``map[K]V``: a typedef of a pointer to ``hash<K,V>`` (classic) or
  ``map<K,V>`` (swiss); ``chan T``: a typedef of a pointer to ``hchan<T>``;
  ``func(...)``: a typedef of a TYPE_CODE_FUNC whose sizeof is 1 (the value
  is really one pointer).
* ``interface {}`` / ``error`` / any interface: a typedef of
  ``runtime.eface`` (empty) or ``runtime.iface`` (with methods).
* ``string``, and any named string type: a struct ``{str *uint8; len int}``;
  slices: a struct ``[]T`` (or the named type's name) ``{array *T; len int; cap int}``.
  We recognise them by that shape, as gdb's own Go support does
  (go-lang.c, go_classify_struct_type).
* a named struct ``main.Key``: a typedef ``main.Key`` of a struct also named
  ``main.Key``; named numbers, bools and floats are base types carrying the
  Go name (``main.MyInt``); ``unsafe.Pointer`` is a ``void *``.
* a map's bucket/group types hold K and V, or ``*K`` / ``*V`` when the
  runtime stores them indirectly (size > 128): ``map_key_elem_types`` tells
  the two apart by comparing with the names in ``map[K]V``.

gdb's Python API does not expose Go's own DWARF attributes (DW_AT_go_kind,
DW_AT_go_embedded_field...), so integer kinds of named types come from size
and signedness, and ``StructField.embedded`` is always False here.

This is the only module of the type/rendering work that imports gdb.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import gdb  # type: ignore[import-not-found]

from ..core.render import gotypes
from ..core.render import typedesc
from ..core.render.gotypes import GoType, StructField, split_map_name
from ..core.memory import MemoryReader
from .program import symbol_address

# The runtime stores keys and elements bigger than this behind a pointer
# (classic maxKeySize/maxElemSize, swiss maxKeySize/maxElemSize: both 128).
INDIRECT_SLOT_THRESHOLD = 128

_NAMED_INTEGER_KINDS = {name: name for name in gotypes.SIGNED_INTEGER_KINDS | gotypes.UNSIGNED_INTEGER_KINDS}
_NAMED_INTEGER_KINDS["byte"] = gotypes.UINT8
_NAMED_INTEGER_KINDS["rune"] = gotypes.INT32


def go_type_from_gdb(gdb_type: "gdb.Type") -> GoType:
    """The GoType of a value of this gdb type, as the root of a rendering.

    A root pointer's target is expanded (``%#v`` prints ``&T{...}`` for it);
    the targets of pointers further down are stubs.
    """
    return _Converter().convert(gdb_type, expand_pointer_target=True)


def map_key_elem_types(map_value_or_type) -> Tuple[GoType, GoType]:
    """(key type, element type) of a Go map, from a ``gdb.Value`` or ``gdb.Type``.

    Accepts the ``map[K]V`` typedef (what a map variable has) or the pointer
    to ``hash<K,V>`` / ``map<K,V>`` it stands for. Indirect slots are
    followed: the types are K and V themselves, never ``*K``.
    """
    map_type = _type_of(map_value_or_type)
    key_slot, elem_slot = _slot_types(_map_header_struct(map_type))
    map_name = map_type_name(map_type)
    key_name, elem_name = split_map_name(map_name) if map_name else (None, None)
    return (go_type_from_gdb(_without_indirection(key_slot, key_name)),
            go_type_from_gdb(_without_indirection(elem_slot, elem_name)))


def map_type_name(map_value_or_type) -> Optional[str]:
    """The DWARF name ``map[K]V`` of a map's type, following named map types."""
    gdb_type = _type_of(map_value_or_type)
    while gdb_type.code == gdb.TYPE_CODE_TYPEDEF:
        if gdb_type.name and gdb_type.name.startswith("map["):
            return gdb_type.name
        gdb_type = gdb_type.target()
    return None


def go_type_name(gdb_type: "gdb.Type") -> str:
    """The Go spelling of a gdb type's name (gdb prints ``*T`` as ``T *``)."""
    if gdb_type.name:
        return gdb_type.name
    code = gdb_type.code
    if code == gdb.TYPE_CODE_PTR:
        target = gdb_type.target()
        if target.code == gdb.TYPE_CODE_VOID:
            return gotypes.UNSAFE_POINTER
        return "*" + go_type_name(target)
    if code == gdb.TYPE_CODE_ARRAY:
        return f"[{_array_length(gdb_type)}]{go_type_name(gdb_type.target())}"
    return str(gdb_type)


def map_type_descriptor_address(map_value_or_type) -> Optional[int]:
    """Address of the map's runtime type descriptor in the inferior (core.typedesc, plus PIE bias)."""
    map_name = map_type_name(map_value_or_type)
    filename = gdb.current_progspace().filename
    if map_name is None or not filename:
        return None
    bias = _load_bias(filename)
    return typedesc.map_type_descriptor_address(filename, map_name, load_bias=bias or 0)


def runtime_type_names(memory: MemoryReader) -> Optional[typedesc.RuntimeTypeNames]:
    """A namer of type descriptors (for interfaces' dynamic types), or None without runtime info."""
    types_base = _runtime_types_base()
    return typedesc.RuntimeTypeNames(memory, types_base) if types_base else None


# ---------------------------------------------------------------------------


class _Converter:
    def __init__(self) -> None:
        # Named types being expanded, outermost first: meeting one again
        # means the type is recursive, and a stub ends the recursion.
        self.expanding: List[str] = []

    def convert(self, gdb_type: "gdb.Type", expand_pointer_target: bool = False, shallow: bool = False) -> GoType:
        name = go_type_name(gdb_type)
        underlying = gdb_type
        typedef_names = []
        while underlying.code == gdb.TYPE_CODE_TYPEDEF:
            typedef_names.append(underlying.name or "")
            underlying = underlying.target()
        word = gotypes.POINTER_SIZE

        special = self._word_or_interface_kind(name, typedef_names, underlying)
        if special == gotypes.INTERFACE:
            has_methods = "runtime.iface" in typedef_names or underlying.name == "runtime.iface"
            return GoType(kind=gotypes.INTERFACE, name=name, size=2 * word, align=word, has_methods=has_methods)
        if special is not None:
            return GoType(kind=special, name=name, size=word, align=word)

        if shallow or (name in self.expanding):
            return self._stub(name, underlying)
        code = underlying.code
        if code == gdb.TYPE_CODE_PTR:
            target = underlying.target()
            if target.code == gdb.TYPE_CODE_VOID:
                return GoType(kind=gotypes.UNSAFE_POINTER, name=name, size=word, align=word)
            elem = self.convert(target, shallow=not expand_pointer_target)
            return GoType(kind=gotypes.POINTER, name=name, size=word, align=word, elem=elem)
        if code == gdb.TYPE_CODE_STRUCT:
            return self._struct_like(name, underlying)
        if code == gdb.TYPE_CODE_ARRAY:
            elem = self.convert(underlying.target())
            return GoType(kind=gotypes.ARRAY, name=name, size=underlying.sizeof, align=elem.align,
                          elem=elem, length=_array_length(underlying))
        return _basic(name, underlying)

    @staticmethod
    def _word_or_interface_kind(name: str, typedef_names: List[str], underlying: "gdb.Type") -> Optional[str]:
        """MAP, CHAN, FUNC or INTERFACE when the type is one, from names and the shape below them."""
        if "runtime.eface" in typedef_names or "runtime.iface" in typedef_names \
                or underlying.name in ("runtime.eface", "runtime.iface"):
            return gotypes.INTERFACE
        names = [name] + typedef_names
        if any(n.startswith("map[") for n in names):
            return gotypes.MAP
        if any(n.startswith(("chan ", "<-chan ", "chan<- ")) for n in names):
            return gotypes.CHAN
        if underlying.code == gdb.TYPE_CODE_FUNC or any(n.startswith("func(") for n in names):
            return gotypes.FUNC
        if underlying.code == gdb.TYPE_CODE_PTR:
            # A named map or chan type: its typedef points straight at the runtime struct.
            target_name = underlying.target().strip_typedefs().name or ""
            if target_name.startswith(("hash<", "map<")):
                return gotypes.MAP
            if target_name.startswith("hchan<"):
                return gotypes.CHAN
        return None

    def _stub(self, name: str, underlying: "gdb.Type") -> GoType:
        code = underlying.code
        if code == gdb.TYPE_CODE_PTR:
            kind = gotypes.UNSAFE_POINTER if underlying.target().code == gdb.TYPE_CODE_VOID else gotypes.POINTER
        elif code == gdb.TYPE_CODE_STRUCT:
            kind = _struct_shape(underlying) or gotypes.STRUCT
        elif code == gdb.TYPE_CODE_ARRAY:
            return GoType(kind=gotypes.ARRAY, name=name, size=underlying.sizeof,
                          length=_array_length(underlying), expanded=False)
        else:
            return _basic(name, underlying)
        return GoType(kind=kind, name=name, size=underlying.sizeof, expanded=False)

    def _struct_like(self, name: str, struct_type: "gdb.Type") -> GoType:
        shape = _struct_shape(struct_type)
        if shape == gotypes.STRING:
            return GoType(kind=gotypes.STRING, name=name, size=struct_type.sizeof, align=gotypes.POINTER_SIZE)
        self.expanding.append(name)
        try:
            if shape == gotypes.SLICE:
                elem = self.convert(struct_type.fields()[0].type.strip_typedefs().target())
                return GoType(kind=gotypes.SLICE, name=name, size=struct_type.sizeof,
                              align=gotypes.POINTER_SIZE, elem=elem)
            fields = tuple(StructField(name=field.name or "_", type=self.convert(field.type),
                                       offset=field.bitpos // 8)
                           for field in struct_type.fields())
            align = max((field.type.align for field in fields), default=1)
            return GoType(kind=gotypes.STRUCT, name=name, size=struct_type.sizeof, align=align, fields=fields)
        finally:
            self.expanding.pop()


def _struct_shape(struct_type: "gdb.Type") -> Optional[str]:
    """STRING or SLICE when the struct is a Go string or slice header, else None."""
    fields = struct_type.fields()
    names = [field.name for field in fields]
    if names == ["str", "len"] and fields[0].type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return gotypes.STRING
    if names == ["array", "len", "cap"] and fields[0].type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        return gotypes.SLICE
    return None


def _basic(name: str, base: "gdb.Type") -> GoType:
    code = base.code
    size = base.sizeof
    if code == gdb.TYPE_CODE_BOOL:
        kind = gotypes.BOOL
    elif code in (gdb.TYPE_CODE_INT, gdb.TYPE_CODE_CHAR):
        kind = _NAMED_INTEGER_KINDS.get(base.name or "")
        if kind is None:  # a named integer type: its size and signedness are all gdb tells
            kind = (gotypes.SIGNED_KIND_BY_SIZE if _is_signed(base) else gotypes.UNSIGNED_KIND_BY_SIZE)[size]
    elif code == gdb.TYPE_CODE_FLT:
        kind = gotypes.FLOAT32 if size == 4 else gotypes.FLOAT64
    elif code == gdb.TYPE_CODE_COMPLEX:
        kind = gotypes.COMPLEX64 if size == 8 else gotypes.COMPLEX128
    else:
        raise ValueError(f"gdb type {base} (code {code}) is not a Go type this module knows")
    return GoType(kind=kind, name=name, size=size, align=gotypes.BASIC_ALIGNS.get(kind, size))


def _is_signed(base: "gdb.Type") -> bool:
    try:
        return bool(base.is_signed)  # gdb >= 12
    except AttributeError:
        return not (base.name or "").startswith(("uint", "byte"))


def _array_length(array_type: "gdb.Type") -> int:
    low, high = array_type.range()
    return high - low + 1


def _type_of(value_or_type) -> "gdb.Type":
    return value_or_type.type if isinstance(value_or_type, gdb.Value) else value_or_type


def _map_header_struct(map_type: "gdb.Type") -> "gdb.Type":
    """``hash<K,V>`` / ``map<K,V>`` from the map typedef or the pointer to it."""
    header = map_type.strip_typedefs()
    if header.code == gdb.TYPE_CODE_PTR:
        header = header.target().strip_typedefs()
    if header.code != gdb.TYPE_CODE_STRUCT:
        raise ValueError(f"{map_type} is not a Go map type")
    return header


def _field_names(struct_type: "gdb.Type") -> List[str]:
    return [field.name for field in struct_type.fields()]


def _pointee(gdb_type: "gdb.Type") -> "gdb.Type":
    return gdb_type.strip_typedefs().target().strip_typedefs()


def _slot_types(header: "gdb.Type") -> Tuple["gdb.Type", "gdb.Type"]:
    """The key and element slot types from the linker's synthesized map types (reference §4.1, §4.2)."""
    names = _field_names(header)
    if "buckets" in names:
        bucket = _pointee(header["buckets"].type)
        return bucket["keys"].type.strip_typedefs().target(), bucket["values"].type.strip_typedefs().target()
    if "dirPtr" in names:
        table = _pointee(_pointee(header["dirPtr"].type))     # dirPtr is typed table<K,V>**
        group = _pointee(table["groups"].type.strip_typedefs()["data"].type)
        if "slots" in _field_names(group):
            slot = group["slots"].type.strip_typedefs().target().strip_typedefs()
            return slot["key"].type, slot["elem"].type
        # GOEXPERIMENT=mapsplitgroup (1.27): {ctrl; keys [8]K; elems [8]V}.
        return group["keys"].type.strip_typedefs().target(), group["elems"].type.strip_typedefs().target()
    raise ValueError(f"{header} has neither buckets nor dirPtr: not a map header gdb-hiter knows")


def _without_indirection(slot_type: "gdb.Type", declared_name: Optional[str]) -> "gdb.Type":
    """K from a slot typed ``*K`` when the runtime stores K indirectly; the slot type otherwise."""
    stripped = slot_type.strip_typedefs()
    if slot_type.code != gdb.TYPE_CODE_PTR and stripped.code != gdb.TYPE_CODE_PTR:
        return slot_type
    if slot_type.code == gdb.TYPE_CODE_TYPEDEF:
        return slot_type  # a named pointer type, map or chan: stored as is
    target = stripped.target()
    if declared_name is not None:
        # map[K]*T has slots *T; map[BigK]V has slots *BigK. The name says which.
        return target if go_type_name(target) == declared_name else slot_type
    return target if target.sizeof > INDIRECT_SLOT_THRESHOLD else slot_type


def _runtime_types_base() -> Optional[int]:
    """moduledata.types of the executable (runtime.firstmoduledata has DWARF; runtime.types only a symbol)."""
    symbol = gdb.lookup_global_symbol("runtime.firstmoduledata")
    if symbol is not None:
        try:
            return int(symbol.value()["types"])
        except gdb.error:
            pass
    return symbol_address(typedesc.TYPES_BASE_SYMBOL)


def _load_bias(filename: str) -> Optional[int]:
    """Where the program was loaded minus where it was linked (0 unless PIE)."""
    linked = typedesc.runtime_types_address(filename)
    loaded = symbol_address(typedesc.TYPES_BASE_SYMBOL)
    if linked is None or loaded is None:
        return None
    return loaded - linked
