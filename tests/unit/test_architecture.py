"""docs/architecture.md names every module of the package, and the core never asks which implementation it holds."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "gdb_hiter"
DOC = REPO / "docs" / "architecture.md"


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix()


def _named_in_doc():
    return set(re.findall(r"`([\w/]+\.py)`", DOC.read_text(encoding="utf-8")))


@pytest.mark.parametrize("module", list(_modules()))
def test_every_module_is_named_in_architecture_md(module):
    assert module in _named_in_doc(), f"docs/architecture.md does not name gdb_hiter/{module}"


def test_architecture_md_names_no_module_that_is_gone():
    modules = set(_modules())
    prefixes = ("core/", "gdbext/", "cli/")
    gone = sorted(name for name in _named_in_doc() if name.startswith(prefixes) and name not in modules)
    assert not gone, f"docs/architecture.md names modules that do not exist: {gone}"


def test_the_map_implementation_is_chosen_in_one_place():
    """Only core/maps/implementations.py maps an implementation name to its decoder class."""
    choosers = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in ("ClassicMaps", "SwissMaps"):
                choosers.append(path.relative_to(PACKAGE).as_posix())
    outside = sorted(set(choosers) - {"core/maps/implementations.py", "core/maps/classic/__init__.py",
                                       "core/maps/swiss/__init__.py"})
    assert "core/maps/implementations.py" in choosers and not outside, outside
