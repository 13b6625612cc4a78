"""The base of every gdb-hiter command: argparse parsing and one-line errors.

A user of a debugger extension must never see a Python traceback: bad input
and expected failures become ``gdb.GdbError`` (gdb prints the message on one
line); anything unexpected becomes one line too, naming the command.
"""

from __future__ import annotations

import argparse
import shlex
from typing import List

import gdb

from ..core.gcpause import cyclic_gc_paused
from ..core.memory import UnreadableMemory
from ..core.messages import one_line

REGISTERED: List["HiterCommand"] = []


class UserError(Exception):
    """An expected failure, shown to the user as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and exit gdb
        raise UserError(f"{self.prog}: {message} (see `help {self.prog}`)")

    def exit(self, status=0, message=None):
        raise _HelpShown()


class _HelpShown(Exception):
    pass


class HiterCommand(gdb.Command):
    """Subclasses set ``name``, ``summary``, fill ``add_arguments`` and ``run``."""

    name = ""
    summary = ""
    command_class = gdb.COMMAND_DATA

    def __init__(self):
        self.parser = _Parser(prog=self.name, add_help=True)
        self.add_arguments(self.parser)
        # gdb shows the class docstring as `help NAME`; its first line is the summary.
        self.__doc__ = self.summary + "\n\n" + self.parser.format_help()
        super().__init__(self.name, self.command_class)
        REGISTERED.append(self)

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        pass

    def run(self, args: argparse.Namespace) -> None:
        raise NotImplementedError

    def invoke(self, argument: str, from_tty: bool) -> None:
        self.dont_repeat()
        try:
            self._invoke(argument)
        except gdb.GdbError as error:
            raise gdb.GdbError(one_line(str(error))) from None

    def _invoke(self, argument: str) -> None:
        try:
            args = self.parser.parse_args(gdb.string_to_argv(argument))
        except _HelpShown:
            gdb.write(self.parser.format_help())
            return
        except UserError as error:
            raise gdb.GdbError(str(error)) from None
        try:
            # A command on a big map allocates millions of objects that form no
            # cycles; they are freed when run returns, before the collector is back.
            with cyclic_gc_paused():
                self.run(args)
        except gdb.GdbError:
            raise
        except UserError as error:
            raise gdb.GdbError(f"{self.name}: {error}") from None
        except UnreadableMemory as error:
            raise gdb.GdbError(f"{self.name}: {error}") from None
        except gdb.MemoryError as error:
            raise gdb.GdbError(f"{self.name}: cannot read memory: {error}") from None
        except gdb.error as error:
            raise gdb.GdbError(f"{self.name}: {error}") from None
        except Exception as error:  # a bug of ours: still one line, with what to report
            raise gdb.GdbError(
                f"{self.name}: internal error: {type(error).__name__}: {error} "
                f"(please report it with the command you ran)"
            ) from None


def quote(text: str) -> str:
    return shlex.quote(text)
