"""The files gdb-hiter writes and reads, safely.

Writing: a snapshot, a capture's report or a 140 MB ``hmap-show --json
--output`` must never be left half-written when gdb or the machine dies
mid-write, so the text goes to a temporary file in the target's directory
(created with ``O_EXCL|O_NOFOLLOW`` by ``tempfile.mkstemp``) that is renamed
over the target only once complete.  A rename replaces whatever is at the
path, so the target is checked first: a device, FIFO or directory is refused
(as root, renaming over ``/dev/null`` breaks it for the whole machine); a
symbolic link is written through to its target, which must itself be a
regular file or absent, except where the caller names a path inside a
directory it owns (``follow_symlinks=False``: a link planted in a shared
capture directory is refused, never followed); an existing file keeps its
permissions.

Reading: inputs (snapshots someone attached to a bug report) are opened
without blocking, accepted only when they are regular files, and read only
up to a size limit, so ``/dev/zero`` or a FIFO costs one line, not the
machine's memory or a hang.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from typing import Iterable, Union

Text = Union[str, bytes]

# The biggest input read whole: a 1.5M-entry snapshot is about 300 MB.
MAX_INPUT_BYTES = 1 << 30


class UnsafePath(OSError):
    """A path gdb-hiter refuses to write or read; ``str()`` is the one-line reason."""

    def __init__(self, reason: str):
        super().__init__(errno.EINVAL, reason)
        self.strerror = reason


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def _write_target(path: str, follow_symlinks: bool):
    """(the path to rename over, the mode to keep or None) after refusing what must not be replaced."""
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        return path, None
    if stat.S_ISLNK(link.st_mode):
        if not follow_symlinks:
            raise UnsafePath("is a symbolic link; refusing to follow it here")
        resolved = os.path.realpath(path)
        try:
            target = os.stat(resolved)
        except FileNotFoundError:
            raise UnsafePath(f"is a symbolic link to {resolved}, which does not exist") from None
        if not stat.S_ISREG(target.st_mode):
            raise UnsafePath(f"is a symbolic link to {_kind(target.st_mode)} ({resolved}), not a regular file")
        return resolved, stat.S_IMODE(target.st_mode)
    if not stat.S_ISREG(link.st_mode):
        raise UnsafePath(f"is {_kind(link.st_mode)}, not a regular file")
    return path, stat.S_IMODE(link.st_mode)


def write_atomic(path, parts: Union[Text, Iterable[Text]], *, durable: bool = False,
                 follow_symlinks: bool = True) -> int:
    """Write ``parts`` (one str/bytes or an iterable of them) to ``path``; return the bytes written.

    ``durable`` also fsyncs the file and its directory, so the rename
    survives a power loss (snapshots); a big ``hmap-show`` dump skips that.
    Raises OSError (``UnsafePath`` for a target that must not be replaced);
    the temporary file is removed on any failure.
    """
    path, keep_mode = _write_target(os.fspath(path), follow_symlinks)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    written = 0
    try:
        with os.fdopen(fd, "wb") as file:
            for part in ([parts] if isinstance(parts, (str, bytes)) else parts):
                data = part.encode("utf-8") if isinstance(part, str) else part
                file.write(data)
                written += len(data)
            if durable:
                file.flush()
                os.fsync(file.fileno())
        os.chmod(temp, keep_mode if keep_mode is not None else 0o666 & ~_umask())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    if durable:
        _sync_directory(directory)
    return written


def open_new_text(path, **text_options):
    """Open ``path`` for writing text, truncating a regular file; never through a symbolic link.

    For logs written while a run goes (``gdb.log``), where a rename at the
    end is not wanted: what was written must be there when gdb dies.
    """
    path = os.fspath(path)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        raise UnsafePath(f"is {_kind(mode)}, not a regular file" if not stat.S_ISLNK(mode)
                         else "is a symbolic link; refusing to follow it here")
    try:   # O_NOFOLLOW and the fstat below close the race with a link or FIFO planted after the lstat
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, 0o666)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UnsafePath("is a symbolic link; refusing to follow it here") from None
        raise
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafePath(f"is {_kind(mode)}, not a regular file")
        os.set_blocking(fd, True)
        os.ftruncate(fd, 0)
        return os.fdopen(fd, "w", **text_options)
    except BaseException:
        os.close(fd)
        raise


def read_regular(path, limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of the regular file ``path``, refusing anything else and anything over ``limit`` bytes."""
    fd = os.open(os.fspath(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePath(f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > limit:
            raise UnsafePath(f"is {info.st_size:,} bytes; the limit is {limit:,}")
        os.set_blocking(fd, True)
        chunks = []
        size = 0
        while True:   # a file that grows while read still stops at the limit
            chunk = os.read(fd, min(1 << 24, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise UnsafePath(f"grew past the {limit:,}-byte limit while read")
        return b"".join(chunks)
    finally:
        os.close(fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _sync_directory(directory: str) -> None:
    try:   # make the rename itself durable; not possible everywhere
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
