"""Error messages as one readable line, whatever input they quote.

An error may quote a file name, a map expression or a JSON fragment that
came from someone else's file: it is put on one line (control characters
escaped, so no ESC sequence or CR reaches the terminal) and cut to
``MAX_MESSAGE`` characters, so a 5 MB input cannot flood the terminal.
"""

from __future__ import annotations

MAX_MESSAGE = 400


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` with control characters escaped and at most ``limit`` characters (``…`` marks a cut)."""
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text
