"""Which Go built a program, and which map layout family that implies.

The version comes from ``runtime.buildVersion`` (live memory, core file or
executable) or, in stripped binaries, from the ``.go.buildinfo`` section.
The map layout is picked from it by a table (``LAYOUT_RULES``), never
guessed and never chosen by the user.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

BUILDINFO_MAGIC = b"\xff Go buildinf:"
BUILDINFO_HEADER_SIZE = 32
BUILDINFO_FLAG_INLINE_STRINGS = 0x2
BUILDINFO_FLAG_BIG_ENDIAN = 0x1

_VERSION_RE = re.compile(r"^go(\d+)\.(\d+)(?:\.(\d+))?(?:(rc|beta)(\d+))?")


class NotGoProgram(Exception):
    """The program carries no Go version: it is not a Go binary."""


@dataclass(frozen=True)
class GoVersion:
    raw: str                      # the build version exactly as the binary holds it
    major: int
    minor: int
    patch: int
    experiments: Tuple[str, ...]  # GOEXPERIMENT names from the ``X:`` suffix

    @property
    def release(self) -> str:
        """``go1.24.11`` without experiment suffix."""
        return self.raw.split(" ", 1)[0].split("-X:", 1)[0]

    def has_experiment(self, name: str) -> bool:
        return name in self.experiments


def parse_build_version(text: str) -> GoVersion:
    """Parse ``go1.24.4 X:noswissmap`` or ``go1.27.4-X:mapsplitgroup``.

    Up to Go 1.25 experiments follow a space (`` X:a,b``); from 1.26 they
    follow ``-X:`` when the version itself has no ``-`` (go.dev/issue/75953).
    """
    text = text.strip()
    match = _VERSION_RE.match(text)
    if not match:
        raise NotGoProgram(f"not a Go version string: {text!r}")
    experiments: List[str] = []
    suffix = re.search(r"(?:^|[ -])X:(\S+)", text)
    if suffix:
        experiments = [name for name in suffix.group(1).split(",") if name]
    return GoVersion(
        raw=text,
        major=int(match.group(1)),
        minor=int(match.group(2)),
        patch=int(match.group(3) or 0),
        experiments=tuple(experiments),
    )


def _uvarint(data: bytes, offset: int) -> Tuple[int, int]:
    value = shift = 0
    while offset < len(data) and shift < 64:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, offset
        shift += 7
    raise ValueError("truncated uvarint in .go.buildinfo")


@dataclass(frozen=True)
class BuildInfo:
    version: str
    modinfo: str

    @property
    def settings(self) -> dict:
        """``build`` lines of modinfo, e.g. ``{"GOEXPERIMENT": "noswissmap"}``."""
        result = {}
        for line in self.modinfo.splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0] == "build" and "=" in parts[1]:
                key, value = parts[1].split("=", 1)
                result[key] = value
        return result


def parse_buildinfo(blob: bytes, read_pointer_string=None) -> BuildInfo:
    """Decode a ``.go.buildinfo`` blob (section contents, starting at the magic).

    Go 1.18+ stores the strings inline (flag 0x2). Older binaries store two
    pointers to string headers; ``read_pointer_string(address)`` resolves
    those when given, otherwise they are reported as unsupported.
    """
    if not blob.startswith(BUILDINFO_MAGIC) or len(blob) < BUILDINFO_HEADER_SIZE:
        raise NotGoProgram("no Go build info (.go.buildinfo magic missing)")
    pointer_size = blob[14]
    flags = blob[15]
    if flags & BUILDINFO_FLAG_INLINE_STRINGS:
        length, offset = _uvarint(blob, BUILDINFO_HEADER_SIZE)
        version = blob[offset:offset + length].decode("utf-8", "replace")
        offset += length
        length, offset = _uvarint(blob, offset)
        modinfo = blob[offset:offset + length]
        # modinfo is wrapped in two 16-byte sentinels
        if len(modinfo) >= 33:
            modinfo = modinfo[16:-16]
        return BuildInfo(version, modinfo.decode("utf-8", "replace"))
    if read_pointer_string is None:
        raise NotGoProgram("Go build info from before Go 1.18 (pointer form) is not supported")
    order = "big" if flags & BUILDINFO_FLAG_BIG_ENDIAN else "little"
    version_ptr = int.from_bytes(blob[16:16 + pointer_size], order)
    modinfo_ptr = int.from_bytes(blob[16 + pointer_size:16 + 2 * pointer_size], order)
    return BuildInfo(read_pointer_string(version_ptr), read_pointer_string(modinfo_ptr))


def find_buildinfo(data: bytes) -> Optional[int]:
    """Offset of the build-info magic on a 16-byte boundary, or None."""
    start = 0
    while True:
        index = data.find(BUILDINFO_MAGIC, start)
        if index < 0:
            return None
        if index % 16 == 0:
            return index
        start = index + 1


# ---------------------------------------------------------------------------
# Layout families. One row per family; the decoders look layouts up by the
# family name, so a new Go release that changes a layout is one new row here
# and one new entry in the layout tables.


@dataclass(frozen=True)
class LayoutRule:
    first_minor: int            # first Go 1.N this rule covers
    last_minor: int             # last Go 1.N this rule covers
    experiment: Optional[str]   # required GOEXPERIMENT, or None
    map_impl: str               # "classic" | "swiss" | "swiss-split"
    layout: str                 # layout family name used by the layout tables


# First match wins: experiment rules stand before the plain ones.
LAYOUT_RULES: Tuple[LayoutRule, ...] = (
    LayoutRule(18, 23, None, "classic", "classic-go1.18"),
    LayoutRule(24, 25, "noswissmap", "classic", "classic-go1.24"),
    LayoutRule(24, 26, None, "swiss", "swiss-go1.24"),
    LayoutRule(27, 27, "mapsplitgroup", "swiss-split", "swiss-go1.27"),
    LayoutRule(27, 27, None, "swiss", "swiss-go1.27"),
)
OLDEST_KNOWN_MINOR = min(rule.first_minor for rule in LAYOUT_RULES)
NEWEST_KNOWN_MINOR = max(rule.last_minor for rule in LAYOUT_RULES)


@dataclass(frozen=True)
class LayoutChoice:
    map_impl: str
    layout: str
    warnings: Tuple[str, ...] = field(default_factory=tuple)


def _matches(rule: LayoutRule, minor: int, version: GoVersion) -> bool:
    if not rule.first_minor <= minor <= rule.last_minor:
        return False
    return rule.experiment is None or version.has_experiment(rule.experiment)


def select_layout(version: GoVersion) -> LayoutChoice:
    """The map layout family for a Go version; unknown versions get the nearest."""
    if version.major != 1:
        raise NotGoProgram(f"unsupported Go major version in {version.raw!r}")
    warnings: List[str] = []
    minor = version.minor
    if minor > NEWEST_KNOWN_MINOR:
        warnings.append(
            f"{version.release} is newer than any Go version gdb-hiter knows "
            f"(newest: go1.{NEWEST_KNOWN_MINOR}); using the go1.{NEWEST_KNOWN_MINOR} layout"
        )
        minor = NEWEST_KNOWN_MINOR
    elif minor < OLDEST_KNOWN_MINOR:
        warnings.append(
            f"{version.release} is older than any Go version gdb-hiter knows "
            f"(oldest: go1.{OLDEST_KNOWN_MINOR}); using the go1.{OLDEST_KNOWN_MINOR} layout"
        )
        minor = OLDEST_KNOWN_MINOR
    for rule in LAYOUT_RULES:
        if _matches(rule, minor, version):
            return LayoutChoice(rule.map_impl, rule.layout, tuple(warnings))
    raise AssertionError(f"no layout rule for go1.{minor}")  # the table covers every minor
