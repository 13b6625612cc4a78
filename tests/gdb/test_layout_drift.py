"""Drift check: our construct layouts against the DWARF of every toolchain's binaries.

For each toolchain (and experiment) the runtime structs that the decoders
read are looked up in the fixture binary's DWARF through gdb, and every
field's offset and size must equal ours, by name. A Go release that moves a
field fails here before it can mis-decode a map.
"""

import json

import pytest

from builds import binary, builds_of
from gdb_hiter.core.layouts.abitype import ABI_TYPE
from gdb_hiter.core.layouts.classic import MAPTYPE_DWARF_NAMES, classic_layout
from gdb_hiter.core.program.goversion import parse_build_version, select_layout
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.core.layouts.swiss import swiss_layout
from gdbrun import run_gdb

DUMP_CODE = """import json
result = {}
for name in %r:
    try:
        t = gdb.lookup_type(name)
    except gdb.error:
        result[name] = None
        continue
    result[name] = {"size": t.sizeof, "fields": [
        [f.name, f.bitpos // 8, f.type.sizeof, f.type.strip_typedefs().code == gdb.TYPE_CODE_FUNC]
        for f in t.fields()]}
print(json.dumps(result))
"""


def _layouts_for(build):
    """(DWARF type name, our Struct, our name -> DWARF name) for one build."""
    version = parse_build_version(build.toolchain.name + (" X:" + ",".join(build.experiments)
                                                          if build.experiments else ""))
    family = select_layout(version).layout
    header_name = "runtime._type" if build.toolchain.minor <= 20 else "internal/abi.Type"
    if build.map_impl == "classic":
        layout = classic_layout(family)
        maptype_name = ("runtime.maptype" if build.toolchain.minor <= 20 else
                        "internal/abi.MapType" if build.toolchain.minor <= 23 else "internal/abi.OldMapType")
        return [
            ("runtime.hmap", layout.hmap, None),
            ("runtime.mapextra", layout.mapextra, None),
            ("runtime.hiter", layout.hiter, None),
            (maptype_name, layout.maptype, MAPTYPE_DWARF_NAMES[maptype_name]),
            (header_name, ABI_TYPE, "by-position"),
        ]
    layout = swiss_layout(family, build.toolchain.minor)
    return [
        ("internal/runtime/maps.Map", layout.map_header, None),
        ("internal/runtime/maps.table", layout.table, None),
        ("internal/runtime/maps.groupsReference", layout.groups_reference, None),
        ("internal/runtime/maps.Iter", layout.iterator, None),
        (layout.map_type_dwarf_name, layout.map_type, None),
        (header_name, ABI_TYPE, "by-position"),
    ]


# One build per distinct layout situation: every toolchain, and each experiment.
DRIFT_BUILDS = builds_of("cgorange", lambda b: b.variant in ("noopt", "noswissmap-noopt", "mapsplitgroup-noopt"))


@pytest.mark.parametrize("build", DRIFT_BUILDS)
def test_layouts_match_dwarf(build, loader):
    layouts = _layouts_for(build)
    names = [name for name, _, _ in layouts]
    run = run_gdb(["python exec(%r)" % (DUMP_CODE % (names,))], binary=binary(build))
    dwarf = json.loads(run[0])
    mismatches = []
    for name, struct, naming in layouts:
        found = dwarf[name]
        assert found is not None, f"{build.id}: DWARF has no type {name}"
        ours = field_offsets(struct)
        if naming == "by-position":
            ours = dict(zip([f[0] for f in found["fields"]], ours.values()))
        elif naming is not None:
            ours = {naming[field]: where for field, where in ours.items()}
        theirs = {field: (offset, size, is_func) for field, offset, size, is_func in found["fields"]}
        if set(ours) != set(theirs):
            mismatches.append(f"{name}: fields ours-only {sorted(set(ours) - set(theirs))}, "
                              f"DWARF-only {sorted(set(theirs) - set(ours))}")
        for field, (offset, size) in ours.items():
            if field not in theirs:
                continue
            dwarf_offset, dwarf_size, is_func = theirs[field]
            # gdb gives Go func-typed fields a size of 1; their offset still must match.
            if offset != dwarf_offset or (size != dwarf_size and not is_func):
                mismatches.append(f"{name}.{field}: ours offset {offset} size {size}, "
                                  f"DWARF offset {dwarf_offset} size {dwarf_size}")
        if struct.sizeof() != found["size"]:
            mismatches.append(f"{name}: ours {struct.sizeof()} bytes, DWARF {found['size']}")
    assert mismatches == []
