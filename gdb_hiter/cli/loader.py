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

from ..core.files import read_regular, write_atomic

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


class LoaderError(Exception):
    """The loader or a gdbinit cannot be written; ``str()`` is one line."""


def write_loader() -> Path:
    """Write the loader atomically unless it is already up to date; returns its path.

    An install shared read-only by several users already holds the loader
    its owner wrote: it is used as it is when its text is the current one.
    """
    target = loader_path()
    text = loader_text()
    try:
        if read_regular(target, 1 << 20).decode("utf-8", "replace") == text:
            return target
    except OSError:
        pass
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
    except OSError as error:
        raise LoaderError(f"cannot write the loader {target}: {error.strerror or error}") from None
    return target


def gdb_directory_line(directory) -> str:
    """gdb's ``directory`` command for ``directory``, quoted the way gdb splits its argument."""
    text = str(directory)
    if any(c.isspace() or c in "\"'\\" for c in text):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"directory {text}"


def install_in_gdbinit(gdbinit: Path) -> bool:
    """Add ``directory <loader dir>`` to ``gdbinit`` once; True when it changed the file."""
    line = gdb_directory_line(loader_dir())
    try:
        raw = read_regular(gdbinit, 1 << 20)
    except FileNotFoundError:
        if os.path.islink(gdbinit):
            raise LoaderError(f"{gdbinit} is a symbolic link to {os.path.realpath(gdbinit)}, which does not exist")
        raw = b""
    except OSError as error:
        raise LoaderError(f"cannot read {gdbinit}: {error.strerror or error}") from None
    existing = raw.decode("utf-8", "surrogateescape")
    if line in existing.splitlines():
        return False
    prefix = "" if not existing or existing.endswith("\n") else "\n"
    added = f"{prefix}{GDBINIT_MARK}: makes `source gdb_hiter` work\n{line}\n"
    try:
        write_atomic(gdbinit, (existing + added).encode("utf-8", "surrogateescape"))
    except OSError as error:
        raise LoaderError(f"cannot write {gdbinit}: {error.strerror or error}") from None
    return True


# site is imported so that a user-site install's paths are known to sysconfig
_ = site
