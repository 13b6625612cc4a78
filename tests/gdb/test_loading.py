"""Loading gdb-hiter in the real gdb, both documented ways."""

import subprocess
import sys
from pathlib import Path

from gdbrun import run_gdb

LOADED = "gdb-hiter 0.1.0 loaded: `help gdb-hiter` lists its commands.\n"
COMMANDS = ["hiter-diff", "hiter-find", "hiter-predict", "hiter-show", "hiter-snapshot", "hiter-version", "hiter-watch",
            "hmap-show"]


def _command_lines(help_text: str):
    return [line for line in help_text.splitlines() if " -- " in line]


def test_source_path_loads_and_help_lists_every_command(loader):
    run = run_gdb(["help gdb-hiter"], loader=loader)
    assert run.preamble == LOADED
    lines = _command_lines(run[0])
    assert [line.split(" -- ")[0].strip() for line in lines] == COMMANDS
    assert run[0].startswith("gdb-hiter 0.1.0: Go maps and map iterators as they are in memory.\n")
    assert all(line.split(" -- ")[1].strip() for line in lines)


def test_loading_twice_is_harmless(loader):
    run = run_gdb([f"source {loader}", "help gdb-hiter"], loader=loader)
    assert run.preamble == LOADED
    assert run[0] == ""
    assert len(_command_lines(run[1])) == len(COMMANDS)


def test_source_gdb_hiter_after_directory_step(loader):
    run = run_gdb([f"directory {loader.parent}", "source gdb_hiter", "help hiter-version"])
    assert run[1] == LOADED
    assert run[2].startswith("Show the program's Go version")


def test_gdbinit_install_makes_short_source_work(loader, tmp_path):
    gdbinit = tmp_path / "gdbinit"
    command = [str(Path(sys.executable).parent / "gdb-hiter"), "gdbinit", "--install", "--gdbinit", str(gdbinit)]
    first = subprocess.run(command, capture_output=True, text=True, check=True)
    second = subprocess.run(command, capture_output=True, text=True, check=True)
    assert first.stdout == second.stdout == f"source {loader}\n"
    assert "added to" in first.stderr and "already in" in second.stderr
    assert gdbinit.read_text().count(f"directory {loader.parent}\n") == 1
    run = run_gdb([f"source {gdbinit}", "source gdb_hiter"])
    assert run[1] == LOADED


def test_loader_does_not_change_system_site_packages(loader):
    """Our paths go first in gdb's sys.path; the system's stay as they were, after them."""
    probe = "python import sys; print([p for p in sys.path if 'dist-packages' in p or p.startswith('/usr/lib/python3')])"
    before = run_gdb([probe])
    after = run_gdb([probe], loader=loader)
    assert before[0] == after[0]
    paths = run_gdb(["python import sys; print(sys.path[:2])"], loader=loader)[0]
    assert str(loader.parents[2].parent) in paths  # the repo (package root) is first


def test_gdb_hiter_imports_no_gdb_in_core():
    """The pure core runs in plain CPython (this interpreter has no gdb module)."""
    code = ("import sys, pkgutil, importlib, gdb_hiter.core as c\n"
            "names = [m.name for m in pkgutil.walk_packages(c.__path__, 'gdb_hiter.core.')]\n"
            "[importlib.import_module(name) for name in names]\n"
            "assert 'gdb_hiter.core.maps.swiss.scan' in names and len(names) > 30, names\n"
            "assert 'gdb' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True)
