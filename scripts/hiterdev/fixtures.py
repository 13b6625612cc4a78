"""Build the Go fixture programs (``fixtures/<name>/``) with every toolchain.

Each fixture is compiled once per toolchain and variant (optimisation
flags, GOEXPERIMENT, stripping); see ``VARIANTS``. Binaries are cached under
``cache_root()/fixtures/<hash>/<fixture>``, where the hash covers everything
the binary depends on (fixture sources and their location, toolchain version
and GOROOT, flags and environment), so re-runs do not rebuild and a changed
fixture gets a fresh binary. Builds write to a temporary name and rename, so
a half-written binary is never picked up. File locks make concurrent callers
(threads, pytest-xdist workers, scripts/build-fixtures) build each binary
once and keep at most BUILD_SLOTS builds running on the machine.

Stdlib only: this runs before the virtualenv exists.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import json
import os
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .toolchains import Toolchain, cache_root, go_env

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES_DIR = REPO_ROOT / "fixtures"

# Bump when the way binaries are built changes without the inputs below
# changing, so stale cache entries are not reused.
BUILD_RECIPE_VERSION = "1"

NOOPT_FLAGS = ("-gcflags=all=-N -l",)
STRIP_FLAGS = ("-ldflags=-s -w",)
# The one toolchain whose default build is also made stripped.
STRIPPED_TOOLCHAIN = "1.27.3"

MAP_IMPLS = ("classic", "swiss", "swiss-split")


@dataclass(frozen=True)
class Variant:
    """One way of building a fixture, and the toolchains it applies to."""

    name: str
    flags: Tuple[str, ...]
    experiments: Tuple[str, ...]
    optimized: bool
    stripped: bool
    applies_to: Callable[[Toolchain], bool] = field(compare=False, repr=False)


def _every_toolchain(toolchain: Toolchain) -> bool:
    return True


def _has_noswissmap(toolchain: Toolchain) -> bool:
    # Swiss maps became the default in 1.24; the classic implementation
    # (GOEXPERIMENT=noswissmap) was deleted in 1.26.
    return toolchain.minor in (24, 25)


def _has_mapsplitgroup(toolchain: Toolchain) -> bool:
    return toolchain.minor >= 27


def _is_stripped_toolchain(toolchain: Toolchain) -> bool:
    return toolchain.version == STRIPPED_TOOLCHAIN


VARIANTS: Tuple[Variant, ...] = (
    Variant("noopt", NOOPT_FLAGS, (), optimized=False, stripped=False, applies_to=_every_toolchain),
    Variant("opt", (), (), optimized=True, stripped=False, applies_to=_every_toolchain),
    Variant("noswissmap-noopt", NOOPT_FLAGS, ("noswissmap",), optimized=False, stripped=False,
            applies_to=_has_noswissmap),
    Variant("noswissmap-opt", (), ("noswissmap",), optimized=True, stripped=False,
            applies_to=_has_noswissmap),
    Variant("mapsplitgroup-noopt", NOOPT_FLAGS, ("mapsplitgroup",), optimized=False, stripped=False,
            applies_to=_has_mapsplitgroup),
    Variant("mapsplitgroup-opt", (), ("mapsplitgroup",), optimized=True, stripped=False,
            applies_to=_has_mapsplitgroup),
    Variant("stripped", STRIP_FLAGS, (), optimized=True, stripped=True,
            applies_to=_is_stripped_toolchain),
)


def expected_map_impl(toolchain: Toolchain, experiments: Sequence[str]) -> str:
    """The map implementation a build has: "classic", "swiss" or "swiss-split"."""
    if toolchain.minor <= 23 or "noswissmap" in experiments:
        return "classic"
    if "mapsplitgroup" in experiments:
        return "swiss-split"
    return "swiss"


@dataclass(frozen=True)
class Build:
    """One fixture binary: which fixture, built how, and what it should contain."""

    fixture: str
    toolchain: Toolchain
    variant: str
    # Variables set on top of go_env(toolchain), e.g. {"GOEXPERIMENT": "noswissmap"}.
    env: Dict[str, str] = field(hash=False)
    flags: Tuple[str, ...]
    map_impl: str
    experiments: Tuple[str, ...]
    stripped: bool
    optimized: bool

    @property
    def id(self) -> str:
        """Toolchain and variant, e.g. ``go1.24.11-noswissmap-noopt`` (not the fixture)."""
        return f"{self.toolchain.name}-{self.variant}"

    @property
    def source_dir(self) -> Path:
        return FIXTURES_DIR / self.fixture

    @property
    def cache_key(self) -> str:
        return _cache_key(self)

    @property
    def path(self) -> Path:
        """Where the binary is (or will be) cached."""
        return cache_root() / "fixtures" / self.cache_key / self.fixture

    def full_env(self) -> Dict[str, str]:
        return go_env(self.toolchain, **self.env)


class FixtureBuildError(RuntimeError):
    """A fixture did not compile; the message holds the command and its output."""


def fixture_names() -> List[str]:
    """Every fixture: the directories of ``fixtures/`` that hold a go.mod."""
    return sorted(path.parent.name for path in FIXTURES_DIR.glob("*/go.mod"))


def matrix(toolchains: Iterable[Toolchain], fixtures: Optional[Iterable[str]] = None) -> List[Build]:
    """Every (fixture, toolchain, variant) build, in a stable order."""
    names = list(fixtures) if fixtures is not None else fixture_names()
    unknown = sorted(set(names) - set(fixture_names()))
    if unknown:
        raise ValueError(f"unknown fixture(s) {', '.join(unknown)}; known: {' '.join(fixture_names())}")
    builds = []
    for toolchain in toolchains:
        for variant in VARIANTS:
            if not variant.applies_to(toolchain):
                continue
            env = {"GOEXPERIMENT": ",".join(variant.experiments)} if variant.experiments else {}
            for name in names:
                builds.append(Build(
                    fixture=name, toolchain=toolchain, variant=variant.name, env=env,
                    flags=variant.flags,
                    map_impl=expected_map_impl(toolchain, variant.experiments),
                    experiments=variant.experiments, stripped=variant.stripped,
                    optimized=variant.optimized,
                ))
    return builds


# What goes into a fixture binary. Anything else in the directory (say, a
# binary left by a manual `go build`) must not change the cache key.
SOURCE_SUFFIXES = (".go", ".c", ".h", ".s", ".mod", ".sum")


def _source_files(directory: Path) -> List[Path]:
    return sorted(path for path in directory.rglob("*")
                  if path.is_file() and path.suffix in SOURCE_SUFFIXES)


def _cache_key(build: Build) -> str:
    digest = hashlib.sha256()

    def add(*parts: str) -> None:
        for part in parts:
            digest.update(part.encode())
            digest.update(b"\0")

    add("recipe", BUILD_RECIPE_VERSION, "fixture", build.fixture)
    # The source path is embedded in the binary (DWARF, panics), so a checkout
    # elsewhere gets its own binaries that point at its own sources.
    add("source_dir", str(build.source_dir.resolve()))
    for path in _source_files(build.source_dir):
        add("file", str(path.relative_to(build.source_dir)))
        digest.update(path.read_bytes())
    add("toolchain", build.toolchain.version, str(build.toolchain.goroot))
    add("flags", *build.flags)
    add("env", *(f"{name}={value}" for name, value in sorted(build.env.items())))
    return digest.hexdigest()[:20]


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# Fixture builds running at once on this machine, counting every process
# (pytest-xdist workers, scripts/build-fixtures, ...): one per core of the
# 2-core machines the tests run on. Each build gets cores/slots of the CPU.
BUILD_SLOTS = 2


@contextlib.contextmanager
def _locked(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextlib.contextmanager
def _build_slot():
    """Wait for one of the machine-wide BUILD_SLOTS."""
    directory = cache_root() / "fixtures"
    directory.mkdir(parents=True, exist_ok=True)
    while True:
        for slot in range(BUILD_SLOTS):
            handle = open(directory / f".build-slot-{slot}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
                handle.close()
            return
        time.sleep(0.2)


def build(b: Build) -> Path:
    """The binary for ``b``, compiled first unless it is already cached.

    Safe to call from several threads and processes at once: a binary is
    compiled once (the others wait for it), and at most BUILD_SLOTS builds
    run on the machine at a time.
    """
    target = b.path
    if target.is_file():
        return target
    with _locked(target.with_name(f".{b.fixture}.lock")):
        if target.is_file():  # another process built it while we waited
            return target
        with _build_slot():
            _compile(b, target)
    return target


def _compile(b: Build, target: Path) -> None:
    parallelism = max(1, (os.cpu_count() or 1) // BUILD_SLOTS)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    command = [str(b.toolchain.go), "build", "-buildvcs=false", f"-p={parallelism}",
               "-o", str(temporary), *b.flags, "."]
    # GOMAXPROCS also caps the compiler's backend threads, which -p does not.
    env = dict(b.full_env(), GOMAXPROCS=str(parallelism))
    started = time.monotonic()
    try:
        result = subprocess.run(command, cwd=b.source_dir, env=env, capture_output=True, text=True)
        if result.returncode != 0:
            raise FixtureBuildError(
                f"building fixture {b.fixture} ({b.id}) failed with exit code {result.returncode}\n"
                f"command: {shlex.join(command)}\n"
                f"GOEXPERIMENT={b.env.get('GOEXPERIMENT', '')} cwd={b.source_dir}\n"
                f"{result.stdout}{result.stderr}"
            )
        _write_manifest(b, command)
        os.replace(temporary, target)  # atomic: the binary appears complete or not at all
    finally:
        temporary.unlink(missing_ok=True)
    _log(f"built {b.id} {b.fixture} in {time.monotonic() - started:.1f}s")


def _write_manifest(b: Build, command: List[str]) -> None:
    """Record, next to the binary, how it was built (for people, not for code)."""
    manifest = {
        "fixture": b.fixture, "id": b.id, "toolchain": b.toolchain.version,
        "goroot": str(b.toolchain.goroot), "variant": b.variant, "env": b.env,
        "flags": list(b.flags), "map_impl": b.map_impl, "experiments": list(b.experiments),
        "stripped": b.stripped, "optimized": b.optimized, "command": command,
    }
    path = b.path.with_name(b.fixture + ".json")
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    temporary.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temporary, path)


def _compile_group(b: Build) -> Tuple[str, Tuple[str, ...], bool]:
    # Builds that differ only in fixture or link flags share their compiled
    # standard library in GOCACHE.
    return (b.toolchain.version, b.experiments, b.optimized)


def build_all(builds: Sequence[Build], jobs: int = BUILD_SLOTS) -> Dict[Build, Path]:
    """Build everything, ``jobs`` builds at a time (never more than BUILD_SLOTS).

    Builds sharing a compiled standard library run one after the other in
    the same worker, so a cold cache compiles each standard library once.
    Raises a FixtureBuildError, after the other builds have finished, when
    any build failed.
    """
    jobs = max(1, min(jobs, BUILD_SLOTS))
    groups: Dict[Tuple, List[Build]] = {}
    for b in builds:
        groups.setdefault(_compile_group(b), []).append(b)

    results: Dict[Build, Path] = {}
    errors: List[FixtureBuildError] = []

    def run_group(group: List[Build]) -> None:
        for b in group:
            try:
                results[b] = build(b)
            except FixtureBuildError as error:
                errors.append(error)

    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        for future in [pool.submit(run_group, group) for group in groups.values()]:
            future.result()
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise FixtureBuildError(f"{len(errors)} fixture builds failed; the first:\n{errors[0]}")
    return results


def parse_events(stdout: str) -> List[dict]:
    """A fixture's stdout as a list of events (one JSON object per line)."""
    events = []
    for number, line in enumerate(stdout.splitlines(), 1):
        event = json.loads(line)
        if not isinstance(event, dict) or "event" not in event:
            raise ValueError(f"line {number} is not an event: {line[:200]}")
        events.append(event)
    return events
