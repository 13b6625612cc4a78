"""hiter-version on every build of the matrix: executable, live process, core file."""

import json

import pytest

from builds import binary, builds_of, toolchain_release
from gdb_hiter.core.program.goversion import parse_build_version, select_layout
from gdbrun import run_gdb

EXPECTED_LAYOUT = {  # map_impl -> layout family, by Go minor (reference §6 and docs/architecture.md)
    ("classic", 19): "classic-go1.18", ("classic", 21): "classic-go1.18", ("classic", 22): "classic-go1.18",
    ("classic", 23): "classic-go1.18", ("classic", 24): "classic-go1.24", ("classic", 25): "classic-go1.24",
    ("swiss", 24): "swiss-go1.24", ("swiss", 25): "swiss-go1.24", ("swiss", 26): "swiss-go1.24",
    ("swiss", 27): "swiss-go1.27", ("swiss-split", 27): "swiss-go1.27",
}


def expected_json(build, path, program):
    release = toolchain_release(build.toolchain)
    experiments = list(build.experiments)
    if experiments:
        separator = "-X:" if build.toolchain.minor >= 26 else " X:"
        build_version = release + separator + ",".join(experiments)
    else:
        build_version = release
    return {
        "go_version": release,
        "build_version": build_version,
        "experiments": experiments,
        "map_impl": build.map_impl,
        "layout": EXPECTED_LAYOUT[(build.map_impl, build.toolchain.minor)],
        "dwarf": not build.stripped,
        "version_source": ".go.buildinfo" if build.stripped else "runtime.buildVersion",
        "program": program,
        "warnings": [],
    }


def expected_text(report):
    source = report["version_source"]
    lines = [
        f"Go version:  {report['go_version']}  (from {source})",
        f"Experiments: {', '.join(report['experiments']) or 'none'}",
        f"Map layout:  {report['map_impl']}  (layout family {report['layout']})",
        "DWARF:       " + ("yes" if report["dwarf"] else "no (keys and values are shown as raw bytes)"),
    ]
    return "\n".join(lines)


@pytest.mark.parametrize("build", builds_of("cgorange"))
def test_version_of_executable(build, loader):
    path = binary(build)
    run = run_gdb(["hiter-version --json", "hiter-version"], binary=path, loader=loader)
    expected = expected_json(build, path, {"kind": "executable", "path": str(path)})
    assert json.loads(run[0]) == expected
    assert run[1] == expected_text(expected) + f"\nProgram:     {path} (executable, not running)\n"


@pytest.mark.parametrize("build", builds_of("cgorange"))
def test_version_of_live_process(build, loader):
    path = binary(build)
    run = run_gdb(["starti", "hiter-version --json", "python print(gdb.selected_inferior().pid)"],
                  binary=path, loader=loader)
    pid = int(run[2])
    expected = expected_json(build, path, {"kind": "process", "path": str(path), "pid": pid})
    assert json.loads(run[1]) == expected


CORE_CASES = builds_of("cgorange", lambda b: (b.toolchain.version, b.variant) in {
    ("1.19", "noopt"), ("1.24.11", "noswissmap-opt"), ("1.26.6", "noopt"), ("1.27.3", "stripped")})


@pytest.mark.parametrize("build", CORE_CASES)
def test_version_of_core_file(build, loader, tmp_path):
    path = binary(build)
    core = tmp_path / "fixture.core"
    # The stripped build has no main.stopHere symbol: stop it at its first instruction.
    stop = "starti" if build.stripped else "run"
    commands = ([] if build.stripped else ["break main.stopHere"]) + [stop, f"gcore {core}", "kill"]
    dumped = run_gdb(commands, binary=path)
    assert core.exists(), dumped.text
    run = run_gdb(["hiter-version --json"], binary=path, core=core, loader=loader)
    expected = expected_json(build, path, {"kind": "core", "path": str(path), "core": str(core)})
    assert json.loads(run[0]) == expected


def test_version_of_non_go_program(loader):
    run = run_gdb(["hiter-version", "hiter-version --json"], binary="/bin/true", loader=loader)
    message = "hiter-version: /usr/bin/true is not a Go program: it has neither runtime.buildVersion nor .go.buildinfo\n"
    assert run[0] == run[1] == message


def test_version_without_program(loader):
    run = run_gdb(["hiter-version"], loader=loader)
    assert run[0] == "hiter-version: no program loaded: use `file PROGRAM`, `attach PID` or `core-file CORE` first\n"


def test_version_bad_option_is_one_line(loader):
    run = run_gdb(["hiter-version --nope"], loader=loader)
    assert run[0] == "hiter-version: unrecognized arguments: --nope (see `help hiter-version`)\n"


def test_layout_table_agrees_with_expectations():
    """The table the tests expect and the table the code uses are the same facts."""
    for (impl, minor), layout in EXPECTED_LAYOUT.items():
        experiment = {"classic": " X:noswissmap" if minor >= 24 else "", "swiss": "",
                      "swiss-split": "-X:mapsplitgroup"}[impl]
        choice = select_layout(parse_build_version(f"go1.{minor}.0{experiment}"))
        assert (choice.map_impl, choice.layout) == (impl, layout)
