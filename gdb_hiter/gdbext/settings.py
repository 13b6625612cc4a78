"""gdb-hiter's gdb parameters: ``set hiter color on|off|auto`` / ``show hiter color``.

``set hiter`` and ``show hiter`` are prefix commands, so further settings are
one ``gdb.Parameter`` each. Colour decides whether ``hiter-diff`` (text)
writes ANSI colours:

* ``on`` / ``off``: always / never;
* ``auto`` (the default): only when ``NO_COLOR`` is unset or empty, gdb's own
  styling is on (``show style enabled``: gdb turns it off itself when its
  stdout is not a terminal or ``TERM`` is ``dumb``), and gdb's stdout is a
  terminal.
"""

from __future__ import annotations

import os

import gdb

COLOR_CHOICES = ("auto", "on", "off")


class _Prefix(gdb.Command):
    def __init__(self, name: str, doc: str):
        self.__doc__ = doc
        super().__init__(name, gdb.COMMAND_DATA, gdb.COMPLETE_NONE, True)

    def invoke(self, argument, from_tty):   # `set hiter` / `show hiter` alone, or an unknown setting
        verb = self._name.split()[0]
        if argument.strip():
            raise gdb.GdbError(f"{self._name}: no setting {argument.split()[0]!r}; the settings are: color "
                               f"(`help {self._name}`)")
        if verb == "show":
            gdb.write(f"hiter color: {color_setting()}\n")
        else:
            gdb.write("List of set hiter subcommands:\n\nset hiter color -- on, off or auto "
                      "(colour hiter-diff's text output)\n")

    @property
    def _name(self) -> str:
        return self.__class__.__dict__.get("_command_name", "")


class _SetPrefix(_Prefix):
    _command_name = "set hiter"


class _ShowPrefix(_Prefix):
    _command_name = "show hiter"


class HiterColor(gdb.Parameter):
    """Colour the text output of hiter-diff: on, off, or auto.

auto (the default) colours only when gdb's stdout is a terminal, gdb's own
styling is enabled (`show style enabled`) and the NO_COLOR environment
variable is unset or empty."""

    set_doc = "Set whether gdb-hiter colours its text output (on, off, auto)."
    show_doc = "Show whether gdb-hiter colours its text output."

    def __init__(self):
        super().__init__("hiter color", gdb.COMMAND_DATA, gdb.PARAM_ENUM, list(COLOR_CHOICES))
        self.value = "auto"

    def get_set_string(self):
        return ""

    def get_show_string(self, svalue):
        if svalue == "auto":
            return f"gdb-hiter colour is auto (now {'on' if use_color() else 'off'})."
        return f"gdb-hiter colour is {svalue}."


_parameter = None


def color_setting() -> str:
    if _parameter is None:
        return "auto"
    return _parameter.value or "auto"


def use_color(setting: str = None) -> bool:
    """Whether to colour text output now, per ``hiter color`` (see the module docstring)."""
    setting = setting or color_setting()
    if setting == "on":
        return True
    if setting == "off":
        return False
    if os.environ.get("NO_COLOR"):
        return False
    try:
        if not gdb.parameter("style enabled"):
            return False
    except (gdb.error, RuntimeError):
        return False
    try:
        return os.isatty(1)
    except OSError:
        return False


def register() -> None:
    global _parameter
    if _parameter is not None:
        return
    _SetPrefix("set hiter", "Set gdb-hiter settings (set hiter color on|off|auto).")
    _ShowPrefix("show hiter", "Show gdb-hiter settings.")
    _parameter = HiterColor()
