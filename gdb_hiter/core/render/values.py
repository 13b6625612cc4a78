"""Turn the raw bytes of a Go value into text, as ``fmt.Sprintf("%#v", v)`` does.

``render(gotype, data, memory)`` prints what a Go program would print for a
variable of static type ``gotype`` whose bytes are ``data``; strings,
slices and top-level pointers are followed through ``memory``. The few
places where we print something else (maps, interfaces, cut values,
unreadable memory) are listed in docs/rendering.md. Rendering never raises
for bad data or unreadable memory: it prints a ``<...>`` marker instead.

The ``depth`` rules are fmt's (fmt/print.go, printValue): at depth 0 a
non-nil pointer to an array, slice, struct or map prints as ``&`` plus the
value it points to, deeper it prints as ``(*T)(0x...)``; an unnamed
``[]byte`` prints as ``[]byte{...}`` at depth 0 (printArg's fast path) and
as ``[]uint8{...}`` deeper.
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from . import gotypes
from .gotypes import GoType
from ..memory import MemoryReader, UnreadableMemory
from ..maps.model import Entry, raw_text


@dataclass(frozen=True)
class RenderLimits:
    """Bounds on how much one rendering reads and prints."""

    max_string_bytes: int = 1024     # bytes of one string read and shown
    max_elements: int = 64           # elements of one slice or array shown
    max_total_elements: int = 1024   # elements shown in the whole value, nested ones included


DEFAULT_LIMITS = RenderLimits()

# A callable that names the runtime type descriptor at an address
# ("main.Key", "*errors.errorString"), or returns None; see typedesc.RuntimeTypeNames.
TypeNamer = Callable[[int], Optional[str]]


def render(gotype: Optional[GoType], data: bytes, memory: Optional[MemoryReader] = None, *,
           limits: RenderLimits = DEFAULT_LIMITS, type_names: Optional[TypeNamer] = None) -> str:
    """The ``%#v`` text of the value whose bytes are ``data``.

    Without a type (no DWARF) the bytes are shown in hex (``model.raw_text``).
    """
    if gotype is None:
        return raw_text(data)
    return _Renderer(memory, limits, type_names).value(gotype, bytes(data), depth=0)


def entry_renderers(key_type: Optional[GoType], elem_type: Optional[GoType],
                    memory: Optional[MemoryReader] = None, *, limits: RenderLimits = DEFAULT_LIMITS,
                    type_names: Optional[TypeNamer] = None) -> Tuple["EntryRenderer", "EntryRenderer"]:
    """(render_key, render_value): callables on a ``model.Entry``, with ``many`` for columns.

    Keys and values of a scalar kind (bools, integers, floats) take a direct
    path: a map has up to millions of them, and building a renderer per value
    dominated hmap-show's time. The text is the same as ``render`` gives.
    """
    return (EntryRenderer(key_type, "key", memory, limits, type_names),
            EntryRenderer(elem_type, "value", memory, limits, type_names))


class EntryRenderer:
    """The ``%#v`` text of one side (key or value) of map entries.

    ``renderer(entry)`` renders one entry's key or value; ``renderer.many(datas)``
    renders a column of raw byte strings (``EntryColumns.keys`` / ``.values``)
    at once, which for scalar kinds is one ``array`` over the joined bytes.
    """

    def __init__(self, gotype: Optional[GoType], attribute: str, memory: Optional[MemoryReader],
                 limits: RenderLimits, type_names: Optional[TypeNamer]):
        self.gotype = gotype
        self.attribute = attribute
        self.memory = memory
        self.limits = limits
        self.type_names = type_names
        self.size = gotype.size if gotype is not None else 0
        self.scalar = _scalar_formatter(gotype)
        self.column = _scalar_column(gotype) if self.scalar is not None else None
        # %d writes a signed integer as str() does, %#x an unsigned one as hex() does
        self.printf, self.array_code = None, None
        if self.scalar is not None and sys.byteorder == "little" and (
                gotype.kind in gotypes.SIGNED_INTEGER_KINDS or gotype.kind in gotypes.UNSIGNED_INTEGER_KINDS):
            signed = gotype.kind in gotypes.SIGNED_INTEGER_KINDS
            self.array_code = _array_code(signed, self.size)
            if self.array_code is not None:
                self.printf = "%d" if signed else "%#x"

    def one(self, data: bytes) -> str:
        if self.scalar is not None and len(data) >= self.size:
            return self.scalar(data[:self.size])
        return render(self.gotype, data, self.memory, limits=self.limits, type_names=self.type_names)

    def __call__(self, entry: Entry) -> str:
        return self.one(getattr(entry, self.attribute))

    def many(self, datas: List[bytes]) -> List[str]:
        numbers = self.printf_column(datas)
        if numbers is not None:
            return list(map(numbers[0].__mod__, numbers[1]))
        joined = self._joined(datas)
        if self.column is not None and joined is not None:
            return self.column(joined)
        return [self.one(data) for data in datas]

    def printf_column(self, datas: List[bytes]) -> Optional[Tuple[str, Sequence[int]]]:
        """(format, numbers) such that ``format % numbers[i] == self.one(datas[i])``, for
        integer kinds (the numbers are one ``array`` over the column); None for other kinds."""
        if self.printf is None:
            return None
        joined = self._joined(datas)
        return None if joined is None else (self.printf, array(self.array_code, joined))

    def _joined(self, datas: List[bytes]) -> Optional[bytes]:
        """The column's bytes end to end, when every value has the type's exact size."""
        if self.scalar is None:
            return None
        joined = b"".join(datas)
        if len(joined) != self.size * len(datas) or not set(map(len, datas)) <= {self.size}:
            return None   # some value has a bad size: ``one`` says what is wrong with it
        return joined


def _array_code(signed: bool, size: int) -> Optional[str]:
    for code in ("bhilq" if signed else "BHILQ"):
        if array(code).itemsize == size:
            return code
    return None


def _scalar_column(gotype: GoType):
    """A joined-bytes -> list of texts function for bools and floats (integers: ``printf_column``)."""
    kind, size = gotype.kind, gotype.size
    if kind == gotypes.BOOL and size == 1:
        return lambda joined: [_bool_text(byte) for byte in joined]
    if kind in gotypes.FLOAT_KINDS and size in (4, 8) and sys.byteorder == "little":
        code, bits = ("f", 32) if size == 4 else ("d", 64)
        return lambda joined: [format_float(value, bits) for value in array(code, joined)]
    return None


def _scalar_formatter(gotype: Optional[GoType]):
    """A bytes -> text function for bool, integer and float types, else None."""
    if gotype is None or not gotype.expanded or gotype.size < _MINIMUM_SIZES.get(gotype.kind, 0):
        return None
    kind = gotype.kind
    if kind == gotypes.BOOL:
        return lambda data: _bool_text(data[0])
    if kind in gotypes.SIGNED_INTEGER_KINDS:
        return lambda data: str(int.from_bytes(data, "little", signed=True))
    if kind in gotypes.UNSIGNED_INTEGER_KINDS:
        return lambda data: hex(int.from_bytes(data, "little"))
    if kind in gotypes.FLOAT_KINDS:
        bits = gotype.size * 8
        return lambda data: format_float(_unpack_float(data), bits)
    return None


class _Renderer:
    """One rendering: carries the memory, the limits and the element budget."""

    def __init__(self, memory: Optional[MemoryReader], limits: RenderLimits,
                 type_names: Optional[TypeNamer]):
        self.memory = memory
        self.limits = limits
        self.type_names = type_names
        self.elements_left = limits.max_total_elements
        # Expanded named types met so far, by name: a stub met below its
        # own definition (type Node struct { Kids []Node }) is resolved here.
        self.definitions: Dict[str, GoType] = {}

    # -- dispatch -----------------------------------------------------------

    def value(self, gotype: GoType, data: bytes, depth: int) -> str:
        gotype = self.resolve(gotype)
        if gotype.expanded and gotype.is_named:
            self.definitions.setdefault(gotype.name, gotype)
        if len(data) < gotype.size:
            return f"<bad value: {len(data)} bytes for {gotype.reflect_name} of {gotype.size} bytes: {data.hex()}>"
        if gotype.size < _MINIMUM_SIZES.get(gotype.kind, 0):
            return f"<bad type: {gotype.reflect_name} of kind {gotype.kind} cannot be {gotype.size} bytes>"
        data = data[:gotype.size]
        kind = gotype.kind
        if kind == gotypes.BOOL:
            return _bool_text(data[0])
        if kind in gotypes.SIGNED_INTEGER_KINDS:
            return str(int.from_bytes(data, "little", signed=True))
        if kind in gotypes.UNSIGNED_INTEGER_KINDS:
            return hex(int.from_bytes(data, "little"))
        if kind in gotypes.FLOAT_KINDS:
            return format_float(_unpack_float(data), gotype.size * 8)
        if kind in gotypes.COMPLEX_KINDS:
            half = gotype.size // 2
            return format_complex(_unpack_float(data[:half]), _unpack_float(data[half:]), half * 8)
        if kind == gotypes.STRING:
            return self.string(data)
        if kind == gotypes.STRUCT:
            return self.struct(gotype, data, depth)
        if kind == gotypes.ARRAY:
            return self.array(gotype, data, depth)
        if kind == gotypes.SLICE:
            return self.slice(gotype, data, depth)
        if kind == gotypes.POINTER:
            return self.pointer(gotype, data, depth)
        if kind == gotypes.FUNC:
            return self.func(gotype, _word(data))
        if kind in (gotypes.UNSAFE_POINTER, gotypes.CHAN):
            return _pointer_text(gotype, _word(data))
        if kind == gotypes.MAP:
            # Deviation: %#v prints the map's contents; we print the address
            # of its header (hmap / maps.Map) so the map commands can walk it.
            address = _word(data)
            return f"{gotype.reflect_name}({_address_or_nil(address)})"
        if kind == gotypes.INTERFACE:
            return self.interface(gotype, data)
        return f"<unsupported kind {kind} for {gotype.reflect_name}: {data.hex()}>"

    def resolve(self, gotype: GoType) -> GoType:
        if gotype.expanded:
            return gotype
        return self.definitions.get(gotype.name, gotype)

    def read(self, address: int, size: int) -> bytes:
        if self.memory is None:
            raise UnreadableMemory(address, size, "no memory reader")
        return self.memory.read(address, size)

    # -- kinds ----------------------------------------------------------------

    def string(self, header: bytes) -> str:
        pointer, length = struct.unpack("<Qq", header)
        if length == 0:
            return '""'
        if length < 0 or pointer == 0:
            return f"<bad string header: pointer {pointer:#x}, length {length}>"
        shown = min(length, self.limits.max_string_bytes)
        try:
            text = self.read(pointer, shown)
        except UnreadableMemory as error:
            return _unreadable(error)
        if shown == length:
            return quote(text)
        text = _without_partial_rune(text)
        return f"{quote(text)}...({length - len(text)} more bytes)"

    def struct(self, gotype: GoType, data: bytes, depth: int) -> str:
        if not gotype.expanded:
            return f"<{gotype.reflect_name}: fields not known>"
        parts = []
        for field in gotype.fields:
            field_data = data[field.offset:field.offset + field.type.size]
            parts.append(f"{field.name}:{self.value(field.type, field_data, depth + 1)}")
        return f"{gotype.reflect_name}{{{', '.join(parts)}}}"

    def array(self, gotype: GoType, data: bytes, depth: int) -> str:
        if not gotype.expanded or gotype.elem is None:
            return f"<{gotype.reflect_name}: element type not known>"
        elem_size = gotype.elem.size
        chunks = [data[i * elem_size:(i + 1) * elem_size] for i in range(gotype.length)]
        return gotype.reflect_name + self.elements(gotype.elem, chunks, gotype.length, depth)

    def slice(self, gotype: GoType, data: bytes, depth: int) -> str:
        pointer, length, capacity = struct.unpack("<Qqq", data[:24])
        # fmt's fast path for a top-level []byte prints "[]byte" (print.go, printArg).
        name = "[]byte" if depth == 0 and _is_unnamed_byte_slice(gotype) else gotype.reflect_name
        if pointer == 0:
            return f"{name}(nil)" if length == 0 else f"<bad slice header: nil pointer, length {length}>"
        if length < 0 or capacity < length:
            return f"<bad slice header: pointer {pointer:#x}, length {length}, capacity {capacity}>"
        if gotype.elem is None or not gotype.expanded:
            return f"<{name}: element type not known, {length} elements at {pointer:#x}>"
        elem = self.resolve(gotype.elem)
        shown = min(length, self.limits.max_elements, max(self.elements_left, 0))
        try:
            # Zero-size elements all sit at runtime.zerobase: nothing to read.
            backing = self.read(pointer, shown * elem.size) if shown and elem.size else b""
        except UnreadableMemory as error:
            return f"{name}{{{_unreadable(error)}}}"
        chunks = [backing[i * elem.size:(i + 1) * elem.size] for i in range(shown)]
        return name + self.elements(elem, chunks, length, depth)

    def elements(self, elem: GoType, chunks: List[bytes], length: int, depth: int) -> str:
        shown = min(len(chunks), self.limits.max_elements, max(self.elements_left, 0))
        self.elements_left -= shown
        parts = [self.value(elem, chunk, depth + 1) for chunk in chunks[:shown]]
        if shown < length:
            parts.append(f"...({length - shown} more)")
        return "{" + ", ".join(parts) + "}"

    def pointer(self, gotype: GoType, data: bytes, depth: int) -> str:
        address = _word(data)
        target = self.resolve(gotype.elem) if gotype.elem is not None else None
        if (depth > 0 or address == 0 or target is None or not target.expanded
                or target.kind not in _DEREFERENCED_AT_TOP):
            return _pointer_text(gotype, address)
        try:
            pointee = self.read(address, target.size)
        except UnreadableMemory as error:
            return f"{_pointer_text(gotype, address)}{_unreadable(error)}"
        return "&" + self.value(target, pointee, depth + 1)

    def func(self, gotype: GoType, closure: int) -> str:
        # reflect.Value.Pointer of a func is its code pointer, the first word
        # of the closure the func value points to: that is what %#v shows.
        if closure == 0:
            return _pointer_text(gotype, 0)
        try:
            code = _word(self.read(closure, 8))
        except UnreadableMemory as error:
            return f"({gotype.reflect_name})(closure {closure:#x}){_unreadable(error)}"
        return _pointer_text(gotype, code)

    def interface(self, gotype: GoType, data: bytes) -> str:
        # Deviation: %#v prints the dynamic value; we print the dynamic type
        # and the data word: "interface {}(main.Key @ 0xc000012345)".
        first, data_word = struct.unpack("<QQ", data[:16])
        name = gotype.reflect_name
        if first == 0:
            return f"{name}(nil)"
        descriptor: Optional[int] = first
        described = ""
        if gotype.has_methods:
            # iface: the first word is an *itab; its Type field is at offset 8
            # in every supported version (runtime.itab / internal/abi.ITab).
            try:
                descriptor = _word(self.read(first + 8, 8))
            except UnreadableMemory:
                descriptor = None
                described = f"itab {first:#x}"
        if descriptor is not None:
            dynamic = self.type_names(descriptor) if self.type_names else None
            described = dynamic if dynamic else f"type {descriptor:#x}"
        return f"{name}({described} @ {data_word:#x})"


_DEREFERENCED_AT_TOP = frozenset({gotypes.ARRAY, gotypes.SLICE, gotypes.STRUCT, gotypes.MAP})

# Kinds whose value starts with a header of fixed size that we unpack.
_MINIMUM_SIZES = {gotypes.STRING: 16, gotypes.SLICE: 24, gotypes.INTERFACE: 16,
                  **{kind: gotypes.POINTER_SIZE for kind in gotypes.POINTER_SHAPED_KINDS}}


def _is_unnamed_byte_slice(gotype: GoType) -> bool:
    return (gotype.kind == gotypes.SLICE and not gotype.is_named and gotype.elem is not None
            and gotype.elem.kind == gotypes.UINT8 and gotype.elem.name in ("uint8", "byte"))


def _word(data: bytes) -> int:
    return int.from_bytes(data[:8], "little")


def _address_or_nil(address: int) -> str:
    return hex(address) if address else "nil"


def _pointer_text(gotype: GoType, address: int) -> str:
    """fmt's fmtPointer under %#v: "(T)(0x...)" or "(T)(nil)"."""
    return f"({gotype.reflect_name})({_address_or_nil(address)})"


def _unreadable(error: UnreadableMemory) -> str:
    return f"<unreadable: {error}>"


def _bool_text(byte: int) -> str:
    if byte in (0, 1):
        return "true" if byte else "false"
    # Go code treats any non-zero byte as true; show the corruption instead.
    return f"<bad bool {byte:#04x}>"


def _unpack_float(data: bytes) -> float:
    return struct.unpack("<f" if len(data) == 4 else "<d", data)[0]


# ---------------------------------------------------------------------------
# Floats: strconv.FormatFloat(v, 'g', -1, bits) plus fmt's sign rules.


def format_float(value: float, bits: int = 64) -> str:
    """``%#v`` of a float32 (bits=32) or float64: 1, 1.5, 1e+21, -0, NaN, +Inf."""
    return _fmt_float(value, bits, plus=False)


def format_complex(real: float, imag: float, bits: int = 64) -> str:
    """``%#v`` of a complex number whose parts have ``bits`` bits: (1-2i)."""
    return f"({_fmt_float(real, bits, plus=False)}{_fmt_float(imag, bits, plus=True)}i)"


def _fmt_float(value: float, bits: int, plus: bool) -> str:
    # fmt/format.go, fmtFloat: NaN loses its sign unless the plus flag is set;
    # +Inf keeps its "+" (strconv writes it and fmt leaves it there).
    if math.isnan(value):
        return "+NaN" if plus else "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = _format_g_shortest(value, bits)
    if plus and not text.startswith("-"):
        return "+" + text
    return text


def _format_g_shortest(value: float, bits: int) -> str:
    """strconv.FormatFloat(value, 'g', -1, bits) for a finite value."""
    negative = math.copysign(1.0, value) < 0
    if value == 0:
        return "-0" if negative else "0"
    digits, point = _shortest_digits(abs(value), bits)
    exponent = point - 1
    # strconv/ftoa.go: %e when exp < -4 || exp >= eprec, eprec = 6 when shortest.
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        sign = "-" if exponent < 0 else "+"
        text = f"{mantissa}e{sign}{abs(exponent):02d}"
    elif point <= 0:
        text = "0." + "0" * (-point) + digits
    elif point >= len(digits):
        text = digits + "0" * (point - len(digits))
    else:
        text = digits[:point] + "." + digits[point:]
    return "-" + text if negative else text


def _shortest_digits(value: float, bits: int) -> Tuple[str, int]:
    """The shortest decimal digits that read back as ``value`` in a float of ``bits`` bits.

    Returns (digits, point) with value ≈ 0.digits × 10**point. Among the
    shortest candidates the one closest to the exact value wins, as in Go's
    Ryū implementation.
    """
    if bits == 64:
        # Python's repr is the shortest round-trip (closest) form of a float64.
        mantissa, _, exp_text = f"{value!r}".partition("e")
        whole, _, fraction = mantissa.partition(".")
        return _normalise_digits(whole + fraction, len(whole) + (int(exp_text) if exp_text else 0))
    exact = Fraction(value)
    low, high, inclusive = _float32_rounding_interval(value)
    for precision in range(1, 10):
        rounded = f"{value:.{precision - 1}e}"
        mantissa, _, exp_text = rounded.partition("e")
        candidate_digits = int(mantissa.replace(".", ""))
        scale = int(exp_text) - (precision - 1)
        best = None
        for neighbour in (candidate_digits, candidate_digits - 1, candidate_digits + 1):
            candidate = Fraction(neighbour) * Fraction(10) ** scale
            inside = low <= candidate <= high if inclusive else low < candidate < high
            if inside and (best is None or abs(candidate - exact) < abs(best[1] - exact)):
                best = (neighbour, candidate)
        if best is not None:
            text = str(best[0])
            return _normalise_digits(text, len(text) + scale)
    raise AssertionError(f"no float32 representation found for {value!r}")  # 9 digits always suffice


def _float32_rounding_interval(value: float) -> Tuple[Fraction, Fraction, bool]:
    """The reals that round to this positive float32, and whether the ends belong to it."""
    bits_value = struct.unpack("<I", struct.pack("<f", value))[0]
    below = struct.unpack("<f", struct.pack("<I", bits_value - 1))[0] if bits_value > 0 else 0.0
    above_bits = bits_value + 1
    exact = Fraction(value)
    if above_bits >= 0x7F800000:  # the largest float32: its upper neighbour is +Inf
        above = exact + (exact - Fraction(below))
    else:
        above = Fraction(struct.unpack("<f", struct.pack("<I", above_bits))[0])
    low = (Fraction(below) + exact) / 2
    high = (exact + above) / 2
    # Round-half-even: the halfway points round to this value when its mantissa is even.
    return low, high, bits_value % 2 == 0


def _normalise_digits(digits: str, point: int) -> Tuple[str, int]:
    stripped = digits.lstrip("0")
    point -= len(digits) - len(stripped)
    return stripped.rstrip("0") or "0", point


# ---------------------------------------------------------------------------
# Strings: strconv.Quote on raw bytes.

_RUNE_ERROR = 0xFFFD
_SIMPLE_ESCAPES = {0x07: r"\a", 0x08: r"\b", 0x0C: r"\f", 0x0A: r"\n", 0x0D: r"\r", 0x09: r"\t", 0x0B: r"\v"}


def quote(data: bytes) -> str:
    """strconv.Quote of a Go string holding ``data`` (which need not be UTF-8)."""
    out = ['"']
    index = 0
    while index < len(data):
        rune, width = decode_rune(data, index)
        if width == 1 and rune == _RUNE_ERROR:
            out.append(f"\\x{data[index]:02x}")
        else:
            out.append(_escaped_rune(rune))
        index += width
    out.append('"')
    return "".join(out)


def _escaped_rune(rune: int) -> str:
    # strconv/quote.go, appendEscapedRune with quote '"' and neither ASCIIonly nor graphicOnly.
    if rune in (0x22, 0x5C):
        return "\\" + chr(rune)
    if is_print(rune):
        return chr(rune)
    if rune in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[rune]
    if rune < 0x20 or rune == 0x7F:
        return f"\\x{rune:02x}"
    if rune < 0x10000:
        return f"\\u{rune:04x}"
    return f"\\U{rune:08x}"


def is_print(rune: int) -> bool:
    """strconv.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space.

    Python's str.isprintable uses the same categories; the Unicode version is
    the Python's (14.0 for Python 3.11), not the Go toolchain's (15.0 from
    Go 1.21), so runes assigned in between are escaped here and not by Go.
    """
    return chr(rune).isprintable()


def decode_rune(data: bytes, index: int) -> Tuple[int, int]:
    """utf8.DecodeRune: (rune, width); (0xFFFD, 1) for any invalid or short sequence."""
    first = data[index]
    if first < 0x80:
        return first, 1
    if 0xC2 <= first <= 0xDF:
        width, rune, low, high = 2, first & 0x1F, 0x80, 0xBF
    elif 0xE0 <= first <= 0xEF:
        width, rune = 3, first & 0x0F
        # No overlongs (E0 80..9F) and no surrogates (ED A0..BF).
        low, high = (0xA0, 0xBF) if first == 0xE0 else (0x80, 0x9F) if first == 0xED else (0x80, 0xBF)
    elif 0xF0 <= first <= 0xF4:
        width, rune = 4, first & 0x07
        # No overlongs (F0 80..8F) and nothing above U+10FFFF (F4 90..).
        low, high = (0x90, 0xBF) if first == 0xF0 else (0x80, 0x8F) if first == 0xF4 else (0x80, 0xBF)
    else:
        return _RUNE_ERROR, 1
    if index + width > len(data):
        return _RUNE_ERROR, 1
    for position in range(1, width):
        byte = data[index + position]
        if not (low <= byte <= high if position == 1 else 0x80 <= byte <= 0xBF):
            return _RUNE_ERROR, 1
        rune = (rune << 6) | (byte & 0x3F)
    return rune, width


def _without_partial_rune(data: bytes) -> bytes:
    """Drop an incomplete UTF-8 sequence that a cut left at the end."""
    for back in range(1, min(3, len(data)) + 1):
        start = len(data) - back
        lead = data[start]
        if lead < 0x80:
            return data
        if lead >= 0xC0:
            needed = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
            return data[:start] if needed > back else data
    return data

