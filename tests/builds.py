"""The fixture build matrix as tests see it: every toolchain, every variant.

The matrix is known at collection time (so test ids are stable); whether a
toolchain is installed is checked when a test runs (``need``: fail in CI,
skip elsewhere).
"""

from __future__ import annotations

from pathlib import Path
from typing import List

import pytest

from conftest import need
from hiterdev import fixtures, toolchains


def all_toolchains() -> List[toolchains.Toolchain]:
    version, _, debian_goroot = toolchains.DEBIAN_GO
    result = [toolchains.Toolchain(version, debian_goroot)]
    result += [toolchains.Toolchain(v, toolchains.cache_root() / "go" / v) for v in toolchains.WHEEL_VERSIONS]
    return result


def builds_of(fixture: str, predicate=lambda build: True) -> List:
    """pytest params for every build of ``fixture``, with readable ids."""
    return [pytest.param(build, id=build.id)
            for build in fixtures.matrix(all_toolchains(), [fixture]) if predicate(build)]


def binary(build) -> Path:
    need(build.toolchain.go.exists(), f"{build.toolchain.name} is not installed (run scripts/go-toolchains)")
    return fixtures.build(build)


def toolchain_release(toolchain) -> str:
    """What the toolchain itself says it is, e.g. ``go1.19.8`` for Debian's 1.19."""
    reported = toolchains.reported_version(toolchain)
    assert reported, f"{toolchain.go} version did not run"
    return reported
