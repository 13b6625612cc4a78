"""render() against real Go %#v output, and its documented deviations.

golden.json is written by tests/unit/data/render/gen.go (see its header):
for each value, its type, its bytes as they are in memory, the memory its
strings/slices/pointers point to, and what fmt.Sprintf("%#v") printed.
"""

from __future__ import annotations

import json
import struct
import unicodedata
from pathlib import Path

import pytest

from gdb_hiter.core.render import gotypes
from gdb_hiter.core.render.gotypes import GoType, StructField, reflect_name, split_map_name
from gdb_hiter.core.memory import SegmentMemory
from gdb_hiter.core.maps.model import Entry
from gdb_hiter.core.render.values import (RenderLimits, entry_renderers, format_complex, format_float,
                                   is_print, quote, render)

GOLDEN = json.loads((Path(__file__).parent / "data" / "render" / "golden.json").read_text())

INT64 = GoType.basic(gotypes.INT64)
STRING = GoType.basic(gotypes.STRING)
UINT8 = GoType.basic(gotypes.UINT8)


def _memory(segments):
    return SegmentMemory((int(address, 16), bytes.fromhex(data)) for address, data in segments)


def _words(*words: int) -> bytes:
    return b"".join(struct.pack("<Q", word) for word in words)


# -- golden: exact %#v ---------------------------------------------------------


def test_golden_file_comes_from_go_1_22_10():
    assert GOLDEN["go_version"] == "go1.22.10"


@pytest.mark.parametrize("case", GOLDEN["values"], ids=[case["name"] for case in GOLDEN["values"]])
def test_value_renders_exactly_as_go(case):
    gotype = GoType.from_json(case["type"])
    assert render(gotype, bytes.fromhex(case["data"]), _memory(case["segments"])) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["values"], ids=[case["name"] for case in GOLDEN["values"]])
def test_entry_renderers_give_go_text_for_every_value(case):
    """The map-entry path (with its scalar shortcut) gives the same text as Go."""
    gotype = GoType.from_json(case["type"])
    data = bytes.fromhex(case["data"])
    render_key, render_value = entry_renderers(gotype, gotype, _memory(case["segments"]))
    entry = Entry(0x1000, 0x2000, data, data, {})
    assert render_key(entry) == render_value(entry) == case["text"]


@pytest.mark.parametrize("case", GOLDEN["values"], ids=[case["name"] for case in GOLDEN["values"]])
def test_entry_renderers_whole_columns_give_go_text(case):
    """The column paths (one array per column, %d / %#x formats) give the same text as Go,
    also when one value of the column has a bad size."""
    gotype = GoType.from_json(case["type"])
    data = bytes.fromhex(case["data"])
    render_key, _ = entry_renderers(gotype, gotype, _memory(case["segments"]))
    assert render_key.many([data, data]) == [case["text"]] * 2
    numbers = render_key.printf_column([data])
    if numbers is not None:
        assert [numbers[0] % number for number in numbers[1]] == [case["text"]]
    if data:
        short = render_key.many([data, data[:-1]])
        assert short[0] == case["text"] and short[1] == render(gotype, data[:-1], _memory(case["segments"]))


def test_integer_columns_use_printf_formats():
    for kind, size, values, texts in (
            (gotypes.INT8, 1, (-128, 127), ["-128", "127"]),
            (gotypes.INT64, 8, (-(1 << 63), (1 << 63) - 1), ["-9223372036854775808", "9223372036854775807"]),
            (gotypes.UINT16, 2, (0, 65535), ["0x0", "0xffff"]),
            (gotypes.UINTPTR, 8, (0, (1 << 64) - 1), ["0x0", "0xffffffffffffffff"])):
        gotype = GoType.basic(kind)
        assert gotype.size == size
        datas = [value.to_bytes(size, "little", signed=value < 0) for value in values]
        render_key, _ = entry_renderers(gotype, None)
        assert render_key.many(datas) == texts == [render(gotype, data) for data in datas]
        assert render_key.printf_column(datas)[0] == ("%d" if kind in gotypes.SIGNED_INTEGER_KINDS else "%#x")


def test_entry_renderers_scalar_shortcut_on_every_float_and_short_data():
    float64 = GoType.basic(gotypes.FLOAT64)
    render_key, _ = entry_renderers(float64, None)
    for bits, text in GOLDEN["float64"]:
        assert render_key(Entry(0, 0, int(bits, 16).to_bytes(8, "little"), b"", {})) == text
    # too few bytes: the general renderer says what is wrong
    assert render_key(Entry(0, 0, b"\x01\x02", b"", {})).startswith("<bad value: 2 bytes")


@pytest.mark.parametrize("case", GOLDEN["values"], ids=[case["name"] for case in GOLDEN["values"]])
def test_type_json_round_trips(case):
    gotype = GoType.from_json(case["type"])
    assert GoType.from_json(json.loads(json.dumps(gotype.to_json()))) == gotype


def test_float64_exactly_as_go():
    mismatches = []
    for bits, text in GOLDEN["float64"]:
        value = struct.unpack("<d", int(bits, 16).to_bytes(8, "little"))[0]
        if format_float(value, 64) != text:
            mismatches.append((bits, text, format_float(value, 64)))
    assert mismatches == []


def test_float32_exactly_as_go():
    mismatches = []
    for bits, text in GOLDEN["float32"]:
        value = struct.unpack("<f", int(bits, 16).to_bytes(4, "little"))[0]
        if format_float(value, 32) != text:
            mismatches.append((bits, text, format_float(value, 32)))
    assert mismatches == []


def test_strings_quoted_exactly_as_go():
    mismatches = [(data, text, quote(bytes.fromhex(data)))
                  for data, text in GOLDEN["strings"] if quote(bytes.fromhex(data)) != text]
    assert mismatches == []


def test_is_print_differs_from_go_only_for_runes_our_unicode_does_not_know():
    go_printable = bytearray(0x110000)
    for low, high in GOLDEN["printable_runs"]:
        go_printable[low:high + 1] = b"\x01" * (high - low + 1)
    differing = [rune for rune in range(0x110000) if bool(go_printable[rune]) != is_print(rune)]
    # Go 1.22 knows Unicode 15.0; runes assigned after Python's Unicode are
    # printable for Go and unassigned (Cn) for us. Never the other way round.
    assert all(go_printable[rune] and unicodedata.category(chr(rune)) == "Cn" for rune in differing)


def test_complex_parts_have_their_own_sign():
    assert format_complex(1.0, -2.0) == "(1-2i)"
    assert format_complex(-0.0, 0.0) == "(-0+0i)"
    assert format_complex(float("nan"), float("nan")) == "(NaN+NaNi)"
    assert format_complex(0.0, float("-inf")) == "(0-Infi)"


# -- deviations and markers (docs/rendering.md) ---------------------------------


def test_without_type_shows_raw_bytes():
    assert render(None, b"\x01\x02") == "0x0102 (2 bytes)"


def test_map_shows_header_address_not_contents():
    map_type = GoType(kind=gotypes.MAP, name="map[string]int", size=8, key=STRING.stub(), elem=INT64.stub())
    assert render(map_type, _words(0xC000076000)) == "map[string]int(0xc000076000)"
    assert render(map_type, _words(0)) == "map[string]int(nil)"


def test_pointer_to_map_at_top_level_dereferences_to_the_map_address():
    map_type = GoType(kind=gotypes.MAP, name="map[string]int", size=8)
    memory = SegmentMemory([(0x1000, _words(0xC000076000))])
    assert render(GoType.pointer_to(map_type), _words(0x1000), memory) == "&map[string]int(0xc000076000)"


EMPTY_INTERFACE = GoType(kind=gotypes.INTERFACE, name="interface {}", size=16)
ERROR = GoType(kind=gotypes.INTERFACE, name="error", size=16, has_methods=True)


def test_nil_interfaces_print_like_nested_go_values():
    assert render(EMPTY_INTERFACE, _words(0, 0)) == "interface {}(nil)"
    assert render(ERROR, _words(0, 0)) == "error(nil)"


def test_interface_shows_dynamic_type_and_data_word():
    names = {0x4B2F40: "main.Key", 0x4C0000: "*errors.errorString"}.get
    assert (render(EMPTY_INTERFACE, _words(0x4B2F40, 0xC000012345), type_names=names)
            == "interface {}(main.Key @ 0xc000012345)")
    assert render(EMPTY_INTERFACE, _words(0x4B2F40, 0xC000012345)) == "interface {}(type 0x4b2f40 @ 0xc000012345)"
    itab = SegmentMemory([(0x4D0000, _words(0x4A0000, 0x4C0000))])
    assert (render(ERROR, _words(0x4D0000, 0xC000014280), itab, type_names=names)
            == "error(*errors.errorString @ 0xc000014280)")
    assert render(ERROR, _words(0x4D0000, 0xC000014280)) == "error(itab 0x4d0000 @ 0xc000014280)"


def test_long_string_is_cut_at_a_rune_boundary():
    text = ("é" * 10).encode()   # 20 bytes, 2 per rune
    memory = SegmentMemory([(0x2000, text)])
    limits = RenderLimits(max_string_bytes=5)
    assert render(STRING, _words(0x2000, 20), memory, limits=limits) == '"éé"...(16 more bytes)'


def test_long_slice_is_cut_with_a_count():
    memory = SegmentMemory([(0x3000, b"".join(struct.pack("<q", n) for n in range(10)))])
    limits = RenderLimits(max_elements=3)
    assert (render(GoType.slice_of(INT64), _words(0x3000, 10, 10), memory, limits=limits)
            == "[]int64{0, 1, 2, ...(7 more)}")


def test_long_array_is_cut_with_a_count():
    array = GoType.array_of(INT64, 5)
    data = b"".join(struct.pack("<q", n) for n in range(5))
    assert render(array, data, limits=RenderLimits(max_elements=2)) == "[5]int64{0, 1, ...(3 more)}"


def test_total_element_budget_covers_nested_values():
    inner = GoType.array_of(INT64, 3)
    outer = GoType.array_of(inner, 3)
    data = b"".join(struct.pack("<q", n) for n in range(9))
    assert (render(outer, data, limits=RenderLimits(max_total_elements=5))
            == "[3][3]int64{[3]int64{0, 1, ...(1 more)}, [3]int64{...(3 more)}, [3]int64{...(3 more)}}")


def test_unreadable_string_is_a_marker():
    assert (render(STRING, _words(0xDEAD0000, 3), SegmentMemory())
            == "<unreadable: cannot read 3 bytes at 0xdead0000: not mapped>")


def test_string_without_memory_reader_is_a_marker():
    assert render(STRING, _words(0x1000, 3)) == "<unreadable: cannot read 3 bytes at 0x1000: no memory reader>"


def test_bad_string_header_is_a_marker():
    assert render(STRING, _words(0x1000, 2**64 - 1)) == "<bad string header: pointer 0x1000, length -1>"


def test_bad_slice_header_is_a_marker():
    assert (render(GoType.slice_of(INT64), _words(0x1000, 5, 2), SegmentMemory())
            == "<bad slice header: pointer 0x1000, length 5, capacity 2>")


def test_unreadable_slice_backing_array_is_a_marker():
    assert (render(GoType.slice_of(INT64), _words(0x1000, 1, 1), SegmentMemory())
            == "[]int64{<unreadable: cannot read 8 bytes at 0x1000: not mapped>}")


def test_unreadable_top_level_pointer_keeps_the_address():
    key = GoType.struct("main.Key", 8, (StructField("A", INT64, 0),))
    assert (render(GoType.pointer_to(key), _words(0x1000), SegmentMemory())
            == "(*main.Key)(0x1000)<unreadable: cannot read 8 bytes at 0x1000: not mapped>")


def test_short_data_is_a_marker():
    assert render(INT64, b"\x01\x02") == "<bad value: 2 bytes for int64 of 8 bytes: 0102>"


def test_type_too_small_for_its_kind_is_a_marker():
    assert render(GoType(kind=gotypes.STRING, name="string", size=8), bytes(8)) == (
        "<bad type: string of kind string cannot be 8 bytes>")


def test_slice_of_zero_size_elements_reads_nothing():
    empty = GoType.struct("struct {}", 0, ())
    assert (render(GoType.slice_of(empty), _words(0x1000, 2, 2), SegmentMemory())
            == "[]struct {}{struct {}{}, struct {}{}}")


def test_bool_byte_other_than_0_or_1_is_a_marker():
    assert render(GoType.basic(gotypes.BOOL), b"\x02") == "<bad bool 0x02>"


def test_stub_of_a_recursive_named_slice_is_resolved():
    # type List []List: the converter cuts the recursion with a stub.
    list_stub = GoType(kind=gotypes.SLICE, name="main.List", size=24, expanded=False)
    list_type = GoType.slice_of(list_stub, name="main.List")
    memory = SegmentMemory([(0x1000, _words(0x2000, 1, 1) + _words(0, 0, 0)), (0x2000, _words(0x1000, 0, 0))])
    assert (render(list_type, _words(0x1000, 2, 2), memory)
            == "main.List{main.List{main.List{}}, main.List(nil)}")


def test_stub_without_definition_says_fields_are_not_known():
    assert render(GoType.struct("main.T", 8, ()).stub(), bytes(8)) == "<main.T: fields not known>"


def test_entry_renderers_plug_into_entry_to_json():
    memory = SegmentMemory([(0x5000, b"key")])
    entry = Entry(key_address=0x10, value_address=0x20, key=_words(0x5000, 3), value=struct.pack("<q", -1),
                  location={"bucket": 0})
    render_key, render_value = entry_renderers(STRING, INT64, memory)
    assert entry.to_json(render_key, render_value) == {"key": '"key"', "value": "-1", "location": {"bucket": 0}}


# -- type names -------------------------------------------------------------------


def test_reflect_name_uses_the_last_import_path_element():
    assert reflect_name("map[example.com/a/pkg.T]*gopkg.in/yaml.v3.Node") == "map[pkg.T]*yaml.v3.Node"
    assert reflect_name("main.G[example.com/p.T,int]") == "main.G[p.T,int]"


def test_reflect_name_unqualifies_unexported_struct_fields_but_not_embedded_types():
    assert (reflect_name("struct { runtime.lock runtime.mutex; A int; main.Inner }")
            == "struct { lock runtime.mutex; A int; main.Inner }")


def test_split_map_name_matches_brackets():
    assert split_map_name("map[[2]int]map[string]int") == ("[2]int", "map[string]int")
    assert split_map_name("map[struct { A [2]int }]main.G[int]") == ("struct { A [2]int }", "main.G[int]")
    with pytest.raises(ValueError):
        split_map_name("[]int")


def test_named_and_literal_types():
    assert GoType.basic(gotypes.STRING, "main.S").is_named
    assert GoType.basic(gotypes.INT).is_named
    assert not GoType.slice_of(UINT8).is_named
    assert not EMPTY_INTERFACE.is_named


def test_unknown_kind_is_rejected():
    with pytest.raises(ValueError):
        GoType(kind="quaternion", name="q", size=32)
