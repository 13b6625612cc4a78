"""Version strings and build info as real toolchains write them (reference §6)."""

import pytest

from gdb_hiter.core.program.goversion import (
    BUILDINFO_MAGIC, NotGoProgram, find_buildinfo, parse_build_version, parse_buildinfo, select_layout,
)


@pytest.mark.parametrize("text, release, minor, experiments", [
    ("go1.19.8", "go1.19.8", 19, ()),
    ("go1.22.10", "go1.22.10", 22, ()),
    ("go1.24.11 X:noswissmap", "go1.24.11", 24, ("noswissmap",)),
    ("go1.25.5 X:noswissmap,aliastypeparams", "go1.25.5", 25, ("noswissmap", "aliastypeparams")),
    ("go1.27.3-X:mapsplitgroup", "go1.27.3", 27, ("mapsplitgroup",)),
    ("go1.26rc1", "go1.26rc1", 26, ()),
])
def test_parse_build_version(text, release, minor, experiments):
    version = parse_build_version(text)
    assert (version.release, version.minor, version.experiments) == (release, minor, experiments)


def test_not_a_version():
    with pytest.raises(NotGoProgram):
        parse_build_version("GNU C 12.2")


@pytest.mark.parametrize("text, impl, layout", [
    ("go1.19.8", "classic", "classic-go1.18"),
    ("go1.23.9", "classic", "classic-go1.18"),
    ("go1.24.11 X:noswissmap", "classic", "classic-go1.24"),
    ("go1.25.5 X:noswissmap", "classic", "classic-go1.24"),
    ("go1.24.11", "swiss", "swiss-go1.24"),
    ("go1.26.6", "swiss", "swiss-go1.24"),
    ("go1.27.3", "swiss", "swiss-go1.27"),
    ("go1.27.3-X:mapsplitgroup", "swiss-split", "swiss-go1.27"),
])
def test_select_layout(text, impl, layout):
    choice = select_layout(parse_build_version(text))
    assert (choice.map_impl, choice.layout, choice.warnings) == (impl, layout, ())


def test_newer_version_gets_nearest_layout_and_warning():
    choice = select_layout(parse_build_version("go1.31.2"))
    assert (choice.map_impl, choice.layout) == ("swiss", "swiss-go1.27")
    assert choice.warnings == (
        "go1.31.2 is newer than any Go version gdb-hiter knows (newest: go1.27); using the go1.27 layout",)


def test_older_version_gets_oldest_layout_and_warning():
    choice = select_layout(parse_build_version("go1.16.15"))
    assert choice.layout == "classic-go1.18"
    assert "older than any Go version" in choice.warnings[0]


def _inline_buildinfo(version: str, modinfo: str) -> bytes:
    def uvarint(n):
        out = bytearray()
        while True:
            byte = n & 0x7F
            n >>= 7
            out.append(byte | (0x80 if n else 0))
            if not n:
                return bytes(out)
    sentinel = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6"
    mod = sentinel + modinfo.encode() + sentinel
    header = BUILDINFO_MAGIC + bytes([8, 2]) + bytes(16)
    return header + uvarint(len(version)) + version.encode() + uvarint(len(mod)) + mod


def test_parse_inline_buildinfo():
    blob = _inline_buildinfo("go1.24.11 X:noswissmap", "path\tx\nbuild\tGOEXPERIMENT=noswissmap\n")
    info = parse_buildinfo(blob)
    assert info.version == "go1.24.11 X:noswissmap"
    assert info.settings == {"GOEXPERIMENT": "noswissmap"}


def test_find_buildinfo_only_on_16_byte_boundary():
    blob = _inline_buildinfo("go1.27.3", "")
    assert find_buildinfo(b"\0" * 3 + blob) is None
    assert find_buildinfo(b"\0" * 32 + blob) == 32


def test_missing_magic_is_not_go():
    with pytest.raises(NotGoProgram):
        parse_buildinfo(b"\0" * 64)
