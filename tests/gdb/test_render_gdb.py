"""Keys and values of many Go types, rendered from real memory in real gdb.

fixtures/rendercheck has one map per interesting key/element type (structs,
embedded and anonymous fields, pointers, recursive types, named types,
slices, interfaces, nested maps, channels, funcs, keys and elements larger
than 128 bytes) and prints each entry's %#v. Here gdb-hiter finds each map
from its DWARF type, decodes it with the real decoder and renders its entry:
the text must equal what the program printed in the same run (it prints
addresses, and the heap base is random from Go 1.26).
"""

import json

import pytest

from builds import binary, builds_of
from gdbrun import run_gdb
from hiterdev.fixtures import parse_events

# What hmap-show does, with no rendering limits: the long strings and big
# arrays here are printed whole by Go (the limits are unit-tested).
RENDER_ENTRIES = """import json
from gdb_hiter.core.render.values import RenderLimits
from gdb_hiter.gdbext.mapref import resolve_map
from gdb_hiter.gdbext.memory import InferiorMemory
unlimited = RenderLimits(max_string_bytes=1 << 20, max_elements=1 << 20, max_total_elements=1 << 20)
memory = InferiorMemory()
rendered = {}
names = [json.loads(line)["name"] for line in open(%r) if '"event":"entry"' in line]
for name in names:
    ref = resolve_map(name)
    render_key, render_value = ref.renderers(memory, limits=unlimited)
    rendered[name] = [[render_key(e), render_value(e)] for e in ref.decode(memory=memory).entries]
print(json.dumps(rendered))
"""


@pytest.mark.parametrize("build", builds_of("rendercheck", lambda b: not b.stripped))
def test_entries_render_as_go_prints_them(build, loader, tmp_path):
    truth_file = tmp_path / "truth.jsonl"
    run = run_gdb(["break main.stopHere", "set startup-with-shell on", f"run > {truth_file}",
                   "python exec(%r)" % (RENDER_ENTRIES % (str(truth_file),))], binary=binary(build), loader=loader)
    truth = {event["name"]: [[event["key"], event["value"]]]
             for event in parse_events(truth_file.read_text()) if event["event"] == "entry"}
    assert len(truth) == 22, run.text
    rendered = json.loads(run[3])
    assert rendered.keys() == truth.keys()
    mismatches = {name: (truth[name], rendered[name]) for name in truth if truth[name] != rendered[name]}
    assert mismatches == {}
