"""Evaluating what the user typed, around two bugs of gdb 13.1's Go expression parser.

After the parser has looked up one package-qualified name (``main.mInt``),
an unknown one (``main.mInts``, a typo) either resolves silently to the
name looked up before it, or, after a quoted name (``'main.mInt'``), ends
gdb with a segmentation fault, killing the debugged process. Plain gdb does
both (``print main.sessions`` then ``print main.sessionz`` prints the first
map again). So a name of the form ``pkg.name`` that is not a variable of
the current frame is looked up in the symbol tables first, and an unknown
one is refused before the parser sees it.
"""

from __future__ import annotations

import re
from typing import Optional

import gdb

from .command import UserError

# The leading package-qualified name of an expression: "main.store" of "main.store.sessions[0]".
_QUALIFIED = re.compile(r"[\s*&]*([A-Za-z_]\w*)\.([A-Za-z_]\w*)")


def evaluate(expression: str, what: str = "") -> "gdb.Value":
    """``gdb.parse_and_eval(expression)``, refusing an unknown package-qualified name in one line.

    ``what`` names the argument in the error ("cannot evaluate ADDR 'x': ...").
    """
    label = f"{what} " if what else ""
    name = unknown_package_name(expression)
    if name is not None:
        raise UserError(f"cannot evaluate {label}{expression!r}: No symbol \"{name}\" in the program")
    try:
        return gdb.parse_and_eval(expression)
    except gdb.error as error:
        raise UserError(f"cannot evaluate {label}{expression!r}: {error}") from None


def unknown_package_name(expression: str) -> Optional[str]:
    """``pkg.name`` when ``expression`` starts with it, ``pkg`` is no variable in scope and no symbol has that name."""
    match = _QUALIFIED.match(expression)
    if match is None:
        return None
    package, _ = match.groups()
    if _in_scope(package):
        return None     # "m.field": a variable's field, not a package's variable
    name = f"{match.group(1)}.{match.group(2)}"
    if gdb.lookup_global_symbol(name) is not None or gdb.lookup_static_symbol(name) is not None:
        return None
    return name


def _in_scope(name: str) -> bool:
    try:
        frame = gdb.selected_frame()
    except gdb.error:
        frame = None
    try:
        symbol, _ = gdb.lookup_symbol(name, frame.block() if frame is not None else None)
    except (gdb.error, RuntimeError):
        return False
    # Only a variable makes "x.y" a field access: cgo programs have a C function "main".
    return symbol is not None and (symbol.is_variable or symbol.is_argument)
