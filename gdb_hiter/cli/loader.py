"""The loader script gdb sources: ``source <path>`` or, after one step, ``source gdb_hiter``.

gdb embeds Debian's system Python, not our virtualenv. The loader is a gdb
command file (not a ``.py`` file: gdb's ``source`` picks the language by the
file's extension, and the short name ``gdb_hiter`` has none) that puts this
install's package directory and its dependencies' site-packages at the front
of gdb's ``sys.path`` — nothing is written to the system site-packages — and
then registers the commands. Sourcing it twice is harmless.

The file is generated because a gdb command file cannot know its own
location; generating it writes the absolute paths of this install into it.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

from ..core.atomicfile import write_atomic

LOADER_NAME = "gdb_hiter"
GDBINIT_MARK = "# added by `gdb-hiter gdbinit --install`"


def package_root() -> Path:
    """The directory that holds the ``gdb_hiter`` package."""
    return Path(__file__).resolve().parents[2]


def dependency_dirs() -> list:
    """site-packages of the environment gdb-hiter is installed in."""
    paths = [sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    result = []
    for path in paths:
        if path and path not in result and os.path.isdir(path):
            result.append(path)
    return result


def loader_dir() -> Path:
    return Path(sys.prefix) / "share" / "gdb-hiter"


def loader_path() -> Path:
    return loader_dir() / LOADER_NAME


def loader_text() -> str:
    paths = [str(package_root())] + [p for p in dependency_dirs() if p != str(package_root())]
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return f"""# gdb-hiter loader, written by `gdb-hiter gdbinit` for the install in {sys.prefix}
# Load in gdb with:  source {loader_path()}
python
import sys as _sys
for _path in reversed({paths!r}):
    if _path not in _sys.path:
        _sys.path.insert(0, _path)
if "%d.%d" % _sys.version_info[:2] != {python!r}:
    gdb.write("gdb-hiter: warning: installed for Python {python}, gdb embeds Python %d.%d\\n" % _sys.version_info[:2])
import gdb_hiter.gdbext as _gdb_hiter_ext
_gdb_hiter_ext.load()
end
"""


def write_loader() -> Path:
    """Write the loader atomically; returns its path."""
    target = loader_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(target, loader_text())
    return target


def install_in_gdbinit(gdbinit: Path) -> bool:
    """Add ``directory <loader dir>`` to ``gdbinit`` once; True when it changed the file."""
    line = f"directory {loader_dir()}"
    existing = gdbinit.read_text() if gdbinit.exists() else ""
    if line in existing.splitlines():
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    with open(gdbinit, "a") as stream:
        stream.write(f"{prefix}{GDBINIT_MARK}: makes `source gdb_hiter` work\n{line}\n")
    return True


# site is imported so that a user-site install's paths are known to sysconfig
_ = site
