"""``hmap-show``: a Go map as it is in memory (header, buckets or groups, entries)."""

from __future__ import annotations

import itertools
import os
import re
from typing import Any, Dict, Optional

import gdb  # type: ignore[import-not-found]

from ..core.render import maptext
from ..core.files import write_atomic
from .command import HiterCommand, UserError
from .mapref import resolve_map
from .memory import InferiorMemory


# hmap-show's options, as typed; everything else is the expression, kept verbatim
# (gdb's argv splitting would drop the quotes of *('runtime.hmap' *)ADDR).
_OPTION = re.compile(r"""(?:^|(?<=\s))(--json|-h|--help|--limit(?:\s+|=)\S+|"""
                     r"""--(?:type|output)(?:\s+|=)(?:'[^']*'|"[^"]*"|\S+))(?=\s|$)""")


def split_options(argument: str):
    """(option words as typed, the expression with its own quoting intact)."""
    options = []

    def take(match):
        options.append(match.group(1))
        return " "

    expression = _OPTION.sub(take, argument).strip()
    return options, expression


def _escaped(text: str) -> str:
    """``text`` as one argument for gdb's argv splitting (backslash before quotes, backslashes, blanks)."""
    return re.sub(r"""([\\'"\s])""", r"\\\1", text)


class HmapShow(HiterCommand):
    name = "hmap-show"
    summary = "Show a Go map as it is in memory: header, growth or tables, buckets or groups, entries."

    def add_arguments(self, parser):
        parser.add_argument("expression", nargs="+",
                            help="a map (main.gm, m, &m, *m), or an address / *(runtime.hmap*)ADDR with --type")
        parser.add_argument("--type", dest="type_name", metavar="'map[K]V'",
                            help="the map's Go type, for an address or a bare runtime.hmap / maps.Map")
        parser.add_argument("--limit", type=int, metavar="N",
                            help=f"entries (and bucket/group rows) to show; 0 means all "
                                 f"(default {maptext.DEFAULT_TEXT_LIMIT} for text, all for --json)")
        parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
        parser.add_argument("--output", metavar="FILE",
                            help="write to FILE instead of the screen (replaced whole, never half-written); "
                                 "prints one line saying what was written")

    def invoke(self, argument, from_tty):
        options, expression = split_options(argument)
        rebuilt = " ".join(options + ([_escaped(expression)] if expression else []))
        super().invoke(rebuilt, from_tty)

    def run(self, args):
        expression = " ".join(args.expression)
        if args.limit is not None and args.limit < 0:
            raise UserError("--limit must be 0 (all) or a positive number")
        if args.limit == 0:
            limit = None
        elif args.limit is not None:
            limit = args.limit
        else:
            limit = None if args.json else maptext.DEFAULT_TEXT_LIMIT
        if args.json:
            decoded, type_name, render_key, render_value = _decoded_for(expression, args.type_name)
            parts = maptext.map_json_parts(decoded, type_name, render_key, render_value, expression=expression,
                                           show=limit)
            shown = min(len(decoded.entries), limit) if limit is not None else len(decoded.entries)
        else:
            doc = map_document_for(expression, limit, args.type_name)
            parts = [maptext.map_text(doc, limit=limit)]
            shown = doc["entries_shown"]
        parts = itertools.chain(parts, ["\n"])
        if args.output is None:
            for part in parts:
                gdb.write(part)
            return
        path = os.path.expanduser(args.output)
        try:
            size = write_atomic(path, parts)
        except OSError as error:
            raise UserError(f"{args.output}: cannot write: {error.strerror or error}") from None
        gdb.write(f"hmap-show: {shown} entries of {expression}, {'JSON' if args.json else 'text'}, "
                  f"{size} bytes written to {path}\n")


def map_document_for(expression: str, limit: Optional[int], type_name: Optional[str] = None) -> Dict[str, Any]:
    """The ``hmap-show --json`` object of the map ``expression`` names.

    The whole map is walked (counts, buckets and problems must be complete);
    ``limit`` bounds how many entries are rendered.
    """
    decoded, type_name, render_key, render_value = _decoded_for(expression, type_name)
    return maptext.map_document(decoded, type_name, render_key, render_value, expression=expression, show=limit)


def _decoded_for(expression: str, type_name: Optional[str]):
    """(decoded map, its "map[K]V" name, key renderer, value renderer) for ``expression``."""
    ref = resolve_map(expression, type_name)
    memory = InferiorMemory()
    decoded = ref.decode(memory=memory)
    render_key, render_value = ref.renderers(memory)
    return decoded, ref.type_name, render_key, render_value


def register() -> None:
    HmapShow()
