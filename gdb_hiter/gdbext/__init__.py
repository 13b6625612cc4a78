"""The gdb layer: loaded by the ``gdb_hiter`` loader script, registers everything once."""

from __future__ import annotations

import gdb

from .. import __version__

_loaded = False


class GdbHiterHelp(gdb.Command):
    """Filled in at load time with one line per gdb-hiter command."""

    def __init__(self, commands):
        width = max(len(command.name) for command in commands)
        lines = [f"{command.name:<{width}} -- {command.summary}" for command in sorted(commands, key=lambda c: c.name)]
        self._listing = "\n".join(lines)
        self.__doc__ = (
            f"gdb-hiter {__version__}: Go maps and map iterators as they are in memory.\n\n"
            f"Commands (`help COMMAND` for each):\n{self._listing}"
        )
        super().__init__("gdb-hiter", gdb.COMMAND_USER)

    def invoke(self, argument, from_tty):
        gdb.write(self.__doc__ + "\n")


def load(quiet: bool = False) -> None:
    """Register commands and printers; a second call does nothing."""
    global _loaded
    if _loaded:
        return
    from .command import REGISTERED
    from .version_cmd import HiterVersion

    HiterVersion()
    GdbHiterHelp(REGISTERED)
    _loaded = True
    if not quiet:
        gdb.write(f"gdb-hiter {__version__} loaded: `help gdb-hiter` lists its commands.\n")
