"""Writing a file so that it is either complete or not there at all.

A snapshot, a capture's report or a 140 MB ``hmap-show --json --output``
must never be left half-written when gdb or the machine dies mid-write:
the text goes to a temporary file in the same directory, which is renamed
over the target only once it is complete.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable, Union

Text = Union[str, bytes]


def write_atomic(path, parts: Union[Text, Iterable[Text]], *, durable: bool = False) -> int:
    """Write ``parts`` (one str/bytes or an iterable of them) to ``path``; return the bytes written.

    ``durable`` also fsyncs the file and its directory, so the rename
    survives a power loss (snapshots); a big ``hmap-show`` dump skips that.
    Raises OSError; the temporary file is removed on any failure.
    """
    path = os.fspath(path)
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
        os.chmod(temp, 0o666 & ~_umask())
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
