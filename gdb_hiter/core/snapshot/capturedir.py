"""The snapshot documents of a capture directory (``hiter-watch --out``, ``gdb-hiter capture``), one at a time.

Pure core (no gdb). Everything that reads a whole capture directory (index.json and
report.md at the end of a capture, ``gdb-hiter report``, ``gdb-hiter redact DIR``)
goes through ``iter_capture_documents``, so that a new way of storing the snapshots
changes this one function.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .document import SnapshotError, read_snapshot, snapshot_files


def iter_capture_documents(directory: str, unreadable: Optional[List[str]] = None
                           ) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(file name, document) of each snapshot in ``directory``, in the order taken, one at a time.

    A file that cannot be read or is not a valid snapshot is skipped; its one-line
    error goes to ``unreadable`` (a list) when one is given.
    """
    for name in snapshot_files(directory):
        try:
            doc = read_snapshot(os.path.join(directory, name))
        except SnapshotError as error:
            if unreadable is not None:
                unreadable.append(str(error))
            continue
        yield name, doc
