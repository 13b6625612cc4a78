"""Shared test set-up: the real gdb, the real toolchains, the fixture builds.

Under ``CI=true`` anything missing (gdb, a toolchain, a fixture build) fails
the run; outside CI those tests are skipped with the reason shown.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

IN_CI = os.environ.get("CI") == "true"


def need(condition: bool, reason: str) -> None:
    """Fail under CI, skip elsewhere, when a prerequisite is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"missing in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def loader() -> Path:
    """The generated gdb loader for this install (what `gdb-hiter gdbinit` prints)."""
    from gdb_hiter.cli import loader as loader_module
    from gdbrun import gdb_executable

    need(gdb_executable() is not None, "gdb is not installed (scripts/go-toolchains installs it)")
    return loader_module.write_loader()
