"""Go's ``==`` on map keys, as hashable identities: what a lookup "again in the live map" needs.

When a map grew or was cleared since a range loop started, the runtime
looks every key it meets in its old storage up again in the live map
(``mapaccessK`` for classic maps, ``Map.getWithKey`` for Swiss maps). To
replay that, the decoded live map is indexed by key, which needs keys that
compare as Go compares them, not byte by byte: strings by content, floats
by value (``+0 == -0``; NaN equals nothing, itself included), arrays and
structs element by element (blank ``_`` fields ignored, padding never
read), interfaces by dynamic type and value. ``KeyIdentity(key_type,
memory)(raw_key)`` is such an identity; no hash function is needed.

An identity is ``NOT_SELF_EQUAL`` for a key that is not equal to itself
(it contains a NaN): a lookup never finds it. ``UndecidableEquality`` is
raised where the type does not say enough (no key type, an interface
holding a struct): the caller then says its answer is not exact.
"""

from __future__ import annotations

import math
import struct
from typing import Any, Callable, Optional

from ..layouts.abitype import ABI_TYPE, kind_of
from ..memory import MemoryReader, UnreadableMemory
from ..render import gotypes
from ..render.gotypes import GoType

# The longest string key read whole for comparing; longer ones are undecidable, not truncated.
MAX_STRING_KEY_BYTES = 1 << 20


class UndecidableEquality(ValueError):
    """Go's == on these keys cannot be computed from what is known; one line."""


class _NotSelfEqual:
    """The identity of a key that is not equal to itself: never equal to anything."""

    __slots__ = ()

    def __eq__(self, other):
        return False

    def __hash__(self):
        return 0x4E614E

    def __repr__(self):
        return "NOT_SELF_EQUAL"


NOT_SELF_EQUAL = _NotSelfEqual()

# reflect.Kind numbers of the dynamic types an interface key can hold and we compare.
_ABI_KINDS = {1: gotypes.BOOL, 2: gotypes.INT, 3: gotypes.INT8, 4: gotypes.INT16, 5: gotypes.INT32,
              6: gotypes.INT64, 7: gotypes.UINT, 8: gotypes.UINT8, 9: gotypes.UINT16, 10: gotypes.UINT32,
              11: gotypes.UINT64, 12: gotypes.UINTPTR, 13: gotypes.FLOAT32, 14: gotypes.FLOAT64,
              15: gotypes.COMPLEX64, 16: gotypes.COMPLEX128, 18: gotypes.CHAN, 22: gotypes.POINTER,
              24: gotypes.STRING, 26: gotypes.UNSAFE_POINTER}
_WORD_KINDS = frozenset({gotypes.POINTER, gotypes.UNSAFE_POINTER, gotypes.CHAN})


class KeyIdentity:
    """``identity(raw key bytes)``: equal identities exactly when Go's ``==`` says equal."""

    def __init__(self, key_type: Optional[GoType], memory: Optional[MemoryReader]):
        self.key_type = key_type
        self.memory = memory
        self._compare: Optional[Callable[[bytes], Any]] = None
        if key_type is not None:
            self._compare = self._compiler(key_type, depth=0)

    def __call__(self, raw: bytes) -> Any:
        if self._compare is None:
            raise UndecidableEquality("the key type is not known (no DWARF for it)")
        value = self._compare(bytes(raw))
        return NOT_SELF_EQUAL if _contains_nan(value) else value

    # -- one comparer per type, built once --------------------------------

    def _compiler(self, gotype: GoType, depth: int) -> Callable[[bytes], Any]:
        if depth > 32:
            raise UndecidableEquality(f"key type {gotype.reflect_name} is nested too deep to compare")
        kind, size = gotype.kind, gotype.size
        if not gotype.expanded and kind in (gotypes.STRUCT, gotypes.ARRAY):
            return _undecidable(f"the fields of key type {gotype.reflect_name} are not known")
        if kind in (gotypes.BOOL,) or kind in gotypes.SIGNED_INTEGER_KINDS or kind in gotypes.UNSIGNED_INTEGER_KINDS \
                or kind in _WORD_KINDS:
            return lambda data: (b"", data[:size])   # the bytes are the value
        if kind in gotypes.FLOAT_KINDS:
            code = "<f" if size == 4 else "<d"
            return lambda data: ("f", struct.unpack(code, data[:size])[0] + 0.0)   # -0.0 + 0.0 == +0.0
        if kind in gotypes.COMPLEX_KINDS:
            code = "<2f" if size == 8 else "<2d"
            return lambda data: ("c",) + tuple(part + 0.0 for part in struct.unpack(code, data[:size]))
        if kind == gotypes.STRING:
            return self._string
        if kind == gotypes.ARRAY:
            element = self._compiler(gotype.elem, depth + 1)
            step = gotype.elem.size
            return lambda data: ("a",) + tuple(element(data[i * step:(i + 1) * step])
                                               for i in range(gotype.length))
        if kind == gotypes.STRUCT:
            parts = [(field.offset, field.type.size, self._compiler(field.type, depth + 1))
                     for field in gotype.fields if field.name != "_"]
            return lambda data: ("s",) + tuple(compare(data[offset:offset + width])
                                               for offset, width, compare in parts)
        if kind == gotypes.INTERFACE:
            return lambda data: self._interface(data, gotype.has_methods)
        return _undecidable(f"keys of kind {kind} ({gotype.reflect_name}) are not comparable")

    def _read(self, address: int, size: int) -> bytes:
        if self.memory is None:
            raise UndecidableEquality("no memory to read the key from")
        try:
            return self.memory.read(address, size)
        except UnreadableMemory as error:
            raise UndecidableEquality(f"a key cannot be read: {error}") from None

    def _string(self, data: bytes) -> Any:
        pointer, length = struct.unpack("<Qq", data[:16])
        if length == 0:
            return ("", b"")
        if length < 0 or length > MAX_STRING_KEY_BYTES:
            raise UndecidableEquality(f"a string key of length {length} is not compared")
        return ("", self._read(pointer, length))

    def _interface(self, data: bytes, has_methods: bool) -> Any:
        first, word = struct.unpack("<QQ", data[:16])
        if first == 0:
            return ("i", 0)
        descriptor = int.from_bytes(self._read(first + 8, 8), "little") if has_methods else first
        header = ABI_TYPE.parse(self._read(descriptor, ABI_TYPE.sizeof()))
        kind = _ABI_KINDS.get(kind_of(header.kind))
        if kind is None:
            raise UndecidableEquality(f"an interface key holds a type of kind {kind_of(header.kind)} "
                                      "(struct, array or interface), which is not compared")
        if kind in _WORD_KINDS:
            return ("i", descriptor, word)   # pointer-shaped values are stored in the data word
        value_type = GoType(kind=kind, name=kind, size=header.size)
        return ("i", descriptor, self._compiler(value_type, 1)(self._read(word, header.size)))


def _undecidable(why: str) -> Callable[[bytes], Any]:
    def compare(_data: bytes) -> Any:
        raise UndecidableEquality(why)
    return compare


def _contains_nan(value: Any) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, tuple):
        return any(_contains_nan(part) for part in value)
    return False
