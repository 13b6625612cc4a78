"""Convenience functions: ``$maplen(m)``, the number of entries of a Go map.

``len(m)`` as Go sees it: ``hmap.count`` (classic) or ``Map.used`` (Swiss),
0 for a nil map. Go's runtime-gdb.py has ``$len`` for this, but on go1.24+
it fails for every map (it reads ``self.val``, which its function object
does not have); ``$maplen`` works on both implementations.
"""

from __future__ import annotations

import gdb  # type: ignore[import-not-found]

from .command import UserError
from .printers import _map_kind

_COUNT_FIELDS = ("count", "used")   # runtime.hmap.count, internal/runtime/maps.Map.used


class MapLen(gdb.Function):
    """$maplen(MAP): the number of entries of a Go map (hmap.count / Map.used; 0 when nil)."""

    def __init__(self):
        super().__init__("maplen")

    def invoke(self, *values):
        if len(values) != 1:
            raise gdb.GdbError(f"$maplen takes one argument, a map (got {len(values)}): $maplen(m)")
        try:
            return _maplen(values[0])
        except UserError as error:
            raise gdb.GdbError(f"$maplen: {error}") from None
        except gdb.MemoryError as error:
            raise gdb.GdbError(f"$maplen: cannot read the map header: {error}") from None
        except gdb.error as error:
            raise gdb.GdbError(f"$maplen: {error}") from None


def _maplen(value: "gdb.Value") -> int:
    kind = _map_kind(value)
    if kind is None and value.type.strip_typedefs().code == gdb.TYPE_CODE_PTR:
        target = value.dereference()           # &m, or a pointer to the header struct
        kind = _map_kind(target)
        if kind is not None:
            value = target
    if kind is None:
        raise UserError(f"not a Go map (the argument's type is {value.type})")
    if kind == "map":
        if int(value) == 0:
            return 0
        header = value.dereference()
    else:
        header = value
    names = [field.name for field in header.type.strip_typedefs().fields()]
    for name in _COUNT_FIELDS:
        if name in names:
            return int(header[name])
    raise UserError(f"{header.type} has neither count nor used: not a map header gdb-hiter knows")


def register() -> None:
    MapLen()
