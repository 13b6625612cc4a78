"""Text that came from someone else's file, made safe to show.

Error messages become one readable line whatever input they quote; documents
lose their control characters before they are rendered for a terminal or for
markdown; markdown escapes whatever would change its structure.

An error may quote a file name, a map expression or a JSON fragment that
came from someone else's file: it is put on one line (control characters
escaped, so no ESC sequence or CR reaches the terminal) and cut to
``MAX_MESSAGE`` characters, so a 5 MB input cannot flood the terminal.
"""

from __future__ import annotations

import re
from typing import Any

MAX_MESSAGE = 400


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """``text`` with control characters escaped and at most ``limit`` characters (``…`` marks a cut)."""
    text = printable(text)
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return text


def printable(text: str) -> str:
    """``text`` with every control character (newline, CR, ESC included) written as its escape."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def display_safe(document: Any) -> Any:
    """A copy of a parsed JSON document whose strings (keys included) hold no control character.

    Rendering for a terminal or for markdown starts from this, so a snapshot file
    written by someone else cannot move the cursor, rewrite a line or start a
    markdown heading. Iterative: a document nested as deep as the JSON parser
    allows is copied without recursion.
    """
    if isinstance(document, str):
        return printable(document)
    if not isinstance(document, (dict, list)):
        return document
    root: Any = {} if isinstance(document, dict) else []
    pending = [(document, root)]
    while pending:
        source, target = pending.pop()
        items = source.items() if isinstance(source, dict) else enumerate(source)
        for key, value in items:
            if isinstance(value, str):
                value = printable(value)
            elif isinstance(value, (dict, list)):
                copy: Any = {} if isinstance(value, dict) else []
                pending.append((value, copy))
                value = copy
            if isinstance(target, dict):
                target[printable(key)] = value
            else:
                target.append(value)
    return root


# With newlines gone (display_safe), text cannot begin a line of its own, so
# what remains are inline constructs (code spans, emphasis, strikethrough,
# HTML, links and images, which all need "](" or "][", table cells, entities)
# and a nested block started right after our "- " or "### ".
# "[0]" alone and "a_b" inside a word change nothing, so they stay readable.
_MARKDOWN_INLINE = re.compile(r"[\\`*|~<>@]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])|\](?=[(\[])|&(?=#?\w+;)"
                              r"|(?<=[hH][tT][tT][pP]):|(?<=[hH][tT][tT][pP][sS]):|(?<=[fF][tT][pP]):"
                              r"|(?<=\b[wW][wW][wW])\.|#(?=\s*$)")   # GFM autolinks; a heading's closing #
_MARKDOWN_BLOCK_START = re.compile(r"^(\s*)([#+=\[-]|\d+(?=[.)]))")   # "[x]: url" defines a link too


def markdown_text(text: str, *, starts_block: bool = True) -> str:
    """``text`` (already one printable line) as markdown that renders as exactly that text.

    ``starts_block=False`` when ``text`` follows other text on its line, where a
    leading ``#`` or ``1.`` means nothing.
    """
    text = _MARKDOWN_INLINE.sub(lambda match: "\\" + match.group(0), text)
    if starts_block:
        text = _MARKDOWN_BLOCK_START.sub(_escape_block_start, text, count=1)
    return text


def _escape_block_start(match: "re.Match[str]") -> str:
    space, start = match.groups()
    if start[0].isdigit():   # "12." starts an ordered list: the dot is what to escape
        return f"{space}{start}\\"
    return f"{space}\\{start}"


def markdown_code(text: str) -> str:
    """``text`` as an inline code span that nothing inside can close (also valid in a table cell)."""
    text = text.replace("|", "\\|")
    longest = run = 0
    for c in text:
        run = run + 1 if c == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    if longest or text.startswith(" ") or text.endswith(" "):
        return f"{fence} {text} {fence}"
    return f"{fence}{text}{fence}"
