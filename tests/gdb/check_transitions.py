"""Run inside gdb by test_transitions.py: at every hiter-watch transition, also take the snapshot the
slow way (``snapshot_cmd.collect``, which decodes and predicts everything) and compare it with what
the watch wrote (read back through the store). Test glue only: what it checks is the real watch.

Writes one JSON line per transition to $HITER_CHECK_OUT: {"seq", "event", "same", "diff"}.
"""

import json
import os

from gdb_hiter.core.snapshot.document import read_snapshot
from gdb_hiter.gdbext import snapshot_cmd, watch_cmd

_out = open(os.environ["HITER_CHECK_OUT"], "a")
_take = watch_cmd.Watch.take


def _first_difference(a, b, where="$"):
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                return f"{where}.{key}: only in {'the watch' if key in a else 'collect'}"
            found = _first_difference(a[key], b[key], f"{where}.{key}")
            if found:
                return found
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        for index, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{where}[{index}]")
            if found:
                return found
        return None
    return None if a == b else f"{where}: {str(a)[:80]!r} != {str(b)[:80]!r}"


def _checked_take(self, event, cfunc, goid):
    doc = _take(self, event, cfunc, goid)
    taken = snapshot_cmd.SESSION[-1]
    watched = read_snapshot(taken.path) if taken.path else doc
    slow = snapshot_cmd.collect(targets=self.maps, iterators_too=True, every_iterator=self.iterators,
                                limit=self.limit, event=event, cfunc=cfunc, goroutine=goid, seq=doc["seq"])
    slow["taken_at"] = watched["taken_at"]
    slow["version"] = watched["version"]
    difference = _first_difference(watched, slow)
    recorder = self.recorder
    _out.write(json.dumps({"seq": doc["seq"], "event": event, "same": difference is None, "diff": difference,
                           "reused": recorder.reused, "made": recorder.made,
                           "continued": recorder.continued}) + "\n")
    _out.flush()
    return doc


watch_cmd.Watch.take = _checked_take
