"""The gdb layer: loaded by the ``gdb_hiter`` loader script, registers everything once.

Every module of this package that defines ``register()`` is imported and
registered at load time (commands, printers, convenience functions), so a
new command is one new module and nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil

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


def _registering_modules():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "register", None)):
            yield module


def load(quiet: bool = False) -> None:
    """Register commands, printers and functions; a second call does nothing."""
    global _loaded
    if _loaded:
        return
    from .command import REGISTERED

    for module in _registering_modules():
        module.register()
    GdbHiterHelp(REGISTERED)
    _loaded = True
    if not quiet:
        gdb.write(f"gdb-hiter {__version__} loaded: `help gdb-hiter` lists its commands.\n")
