"""The one place where a program's map implementation is chosen.

``goversion.LAYOUT_RULES`` names the implementation (``map_impl``) and the
layout family for a Go version; this table gives the object that decodes it.
Everything else holds the ``MapImplementation`` it returns.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Dict, Type

from ..program.versioninfo import VersionReport
from .classic import ClassicMaps
from .interface import MapImplementation, MapLayout
from .swiss import SwissMaps

IMPLEMENTATIONS: Dict[str, Type[MapImplementation]] = {
    "classic": ClassicMaps,
    "swiss": SwissMaps,
    "swiss-split": SwissMaps,   # split groups differ from flat ones only in layout data
}


@lru_cache(maxsize=None)
def for_layout(layout: MapLayout) -> MapImplementation:
    """The implementation that decodes maps of ``layout``."""
    try:
        implementation = IMPLEMENTATIONS[layout.map_impl]
    except KeyError:
        raise ValueError(f"no map implementation {layout.map_impl!r}") from None
    return implementation(layout)


def for_report(report: VersionReport) -> MapImplementation:
    """The implementation for the program ``report`` describes."""
    return for_layout(MapLayout.from_report(report))
