"""Evaluating what the user typed, around two bugs of gdb 13.1's Go expression parser.

After the parser has looked up one package-qualified name (``main.mInt``),
an unknown one (``main.mInts``, a typo) either resolves silently to the
name looked up before it, or, after a quoted name (``'main.mInt'``), ends
gdb with a segmentation fault, killing the debugged process. Plain gdb does
both (``print main.sessions`` then ``print main.sessionz`` prints the first
map again). So every name of the form ``pkg.name`` in the expression
(``main.x``, ``(main.x)``, ``*main.x``, ``main.a[main.i]``, not inside
quotes, not a field of something before it) whose ``pkg`` is not a
variable of the current frame is looked up in the symbol tables first, and
an unknown one is refused before the parser sees it.
"""

from __future__ import annotations

import re
from typing import Optional

import gdb

from .command import UserError

# A package-qualified name that starts an operand: "main.store" of "(main.store.sessions[0])", not
# ".sessions" (a field), not "x->main.y", not a name inside quotes (blanked out first).
_QUALIFIED = re.compile(r"(?<![\w.$\]\)])(?<!->)([A-Za-z_]\w*)\.([A-Za-z_]\w*)|(?<=->)([A-Za-z_]\w*)")
_QUOTED = re.compile(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"")


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


def is_number(text: str) -> bool:
    """``0xc000012345`` or ``123``: an address typed as a number, not an expression."""
    try:
        int(text, 0)
    except ValueError:
        return False
    return True


def unknown_package_name(expression: str) -> Optional[str]:
    """The first ``pkg.name`` of ``expression`` whose ``pkg`` is no variable in scope and that no symbol has."""
    blanked = _QUOTED.sub(lambda match: " " * len(match.group(0)), expression)
    for match in _QUALIFIED.finditer(blanked):
        package, member = match.group(1), match.group(2)
        if package is None or _in_scope(package):
            continue     # "p->x" or "m.field": a variable's field, not a package's variable
        name = f"{package}.{member}"
        if gdb.lookup_global_symbol(name) is None and gdb.lookup_static_symbol(name) is None \
                and not _is_type(name):
            return name
    return None


def _is_type(name: str) -> bool:
    """``main.T`` in a cast such as ``*(*main.T)(0xc000010000)``."""
    try:
        gdb.lookup_type(name)
    except gdb.error:
        return False
    return True


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
