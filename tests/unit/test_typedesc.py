"""Map type descriptors found from the executable alone, in real binaries.

data/render/typedesc_prog.go is built with every toolchain (optimised, as
Go builds by default; with -N -l; and stripped) and each map's descriptor is
found through DWARF, then read from the file itself and checked.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from conftest import need
from hiterdev import toolchains

from gdb_hiter.core.render import typedesc
from gdb_hiter.core.layouts.abitype import ABI_TYPE, KIND_MAP, kind_of

PROGRAM = Path(__file__).parent / "data" / "render" / "typedesc_prog.go"

# DWARF name of each map in the program → (key type name, key size, elem type name, elem size).
MAPS = {
    "map[string]int": ("string", 16, "int", 8),
    "map[main.Key][17]int64": ("main.Key", 24, "[17]int64", 136),
    "map[[200]uint8]*main.Key": ("[200]uint8", 200, "*main.Key", 8),
    "map[[2]int]map[string]int": ("[2]int", 16, "map[string]int", 8),
    "map[interface {}]error": ("interface {}", 16, "error", 16),
}

BUILD_FLAGS = {"opt": [], "noopt": ["-gcflags=all=-N -l"], "stripped": ["-ldflags=-s -w"]}


def _toolchain(version: str) -> toolchains.Toolchain:
    if version == toolchains.DEBIAN_GO[0]:
        return toolchains.Toolchain(version, toolchains.DEBIAN_GO[2])
    return toolchains.Toolchain(version, toolchains.cache_root() / "go" / version)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """build(version, variant) -> path of typedesc_prog built that way (built once)."""
    binaries = {}

    def build(version: str, variant: str) -> Path:
        if (version, variant) not in binaries:
            toolchain = _toolchain(version)
            need(toolchain.go.exists(), f"{toolchain.name} is not installed (run scripts/go-toolchains)")
            directory = tmp_path_factory.mktemp(f"typedesc-{version}-{variant}")
            shutil.copy(PROGRAM, directory / "main.go")
            output = directory / "prog"
            # CGO off: the program needs no C, and a pure-Go build needs no C compiler.
            subprocess.run([str(toolchain.go), "build", *BUILD_FLAGS[variant], "-o", str(output), "main.go"],
                           cwd=directory, env=toolchains.go_env(toolchain, CGO_ENABLED="0"),
                           check=True, capture_output=True, timeout=600)
            binaries[version, variant] = output
        return binaries[version, variant]

    return build


def _pointer(memory, address: int) -> int:
    return struct.unpack("<Q", memory.read(address, 8))[0]


@pytest.mark.parametrize("variant", ["opt", "noopt"])
@pytest.mark.parametrize("version", toolchains.ALL_VERSIONS)
def test_every_map_descriptor_is_found_and_is_a_map(built, version, variant):
    path = str(built(version, variant))
    assert typedesc.dwarf_present(path)
    memory = typedesc.ElfImageMemory(path)
    names = typedesc.RuntimeTypeNames(memory, typedesc.runtime_types_address(path))
    for map_name, (key_name, key_size, elem_name, elem_size) in MAPS.items():
        address = typedesc.map_type_descriptor_address(path, map_name)
        assert address is not None, map_name
        header = ABI_TYPE.parse(memory.read(address, ABI_TYPE.sizeof()))
        assert (kind_of(header.kind), header.size) == (KIND_MAP, 8), map_name
        assert names(address) == map_name
        # maptype.Key and .Elem (offsets 48 and 56 in every layout, reference §1.6/§2.7).
        key, elem = _pointer(memory, address + 48), _pointer(memory, address + 56)
        assert (names(key), ABI_TYPE.parse(memory.read(key, 48)).size) == (key_name, key_size)
        assert (names(elem), ABI_TYPE.parse(memory.read(elem, 48)).size) == (elem_name, elem_size)


@pytest.mark.parametrize("version", ["1.19", "1.27.3"])
def test_walk_of_the_types_unit_agrees_with_the_name_search(built, version):
    path = str(built(version, "opt"))
    descriptors = typedesc.map_type_descriptors(path)
    assert set(MAPS) <= set(descriptors)
    for map_name, address in descriptors.items():
        assert typedesc.map_type_descriptor_address(path, map_name) == address


def test_unknown_map_type_is_none(built):
    path = str(built("1.22.10", "opt"))
    assert typedesc.map_type_descriptor_address(path, "map[nosuch.T]int") is None


def test_load_bias_is_added(built):
    path = str(built("1.22.10", "opt"))
    address = typedesc.map_type_descriptor_address(path, "map[string]int")
    assert typedesc.map_type_descriptor_address(path, "map[string]int", load_bias=0x1000) == address + 0x1000


def test_stripped_binary_has_no_dwarf_and_no_descriptor(built):
    path = str(built("1.27.3", "stripped"))
    assert not typedesc.dwarf_present(path)
    assert typedesc.map_type_descriptor_address(path, "map[string]int") is None
    assert typedesc.map_type_descriptors(path) == {}


def test_a_rebuilt_binary_is_read_again(built, tmp_path):
    first = built("1.22.10", "opt")
    copy = tmp_path / "prog"
    shutil.copy(first, copy)
    assert typedesc.map_type_descriptor_address(str(copy), "map[string]int") is not None
    shutil.copy(built("1.27.3", "opt"), copy)  # new size and mtime: the cache must notice
    assert (typedesc.map_type_descriptor_address(str(copy), "map[string]int")
            == typedesc.map_type_descriptor_address(str(built("1.27.3", "opt")), "map[string]int"))
