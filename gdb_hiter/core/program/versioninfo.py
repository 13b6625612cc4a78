"""The report behind ``hiter-version``: Go version, experiments, map layout, DWARF."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional

from .goversion import GoVersion, select_layout


@dataclass
class ProgramRef:
    """What gdb has loaded: a live process, a core file, or an executable alone."""

    kind: str                  # "process" | "core" | "executable"
    path: Optional[str]        # the executable
    pid: Optional[int] = None
    core: Optional[str] = None

    def to_json(self) -> dict:
        data = {"kind": self.kind, "path": self.path}
        if self.pid is not None:
            data["pid"] = self.pid
        if self.core is not None:
            data["core"] = self.core
        return data

    def describe(self) -> str:
        if self.kind == "process":
            return f"{self.path} (live process {self.pid})"
        if self.kind == "core":
            return f"{self.path} (core file {self.core})"
        return f"{self.path} (executable, not running)"


@dataclass
class VersionReport:
    version: GoVersion
    version_source: str
    dwarf: bool
    program: ProgramRef
    map_impl: str = ""
    layout: str = ""
    warnings: List[str] = field(default_factory=list)

    @classmethod
    def build(cls, version: GoVersion, version_source: str, dwarf: bool, program: ProgramRef) -> "VersionReport":
        choice = select_layout(version)
        return cls(version, version_source, dwarf, program, choice.map_impl, choice.layout, list(choice.warnings))

    def to_json(self) -> dict:
        return {
            "go_version": self.version.release,
            "build_version": self.version.raw,
            "experiments": list(self.version.experiments),
            "map_impl": self.map_impl,
            "layout": self.layout,
            "dwarf": self.dwarf,
            "version_source": self.version_source,
            "program": self.program.to_json(),
            "warnings": list(self.warnings),
        }

    def to_text(self) -> str:
        rows = [
            ("Go version", f"{self.version.release}  (from {self.version_source})"),
            ("Experiments", ", ".join(self.version.experiments) or "none"),
            ("Map layout", f"{self.map_impl}  (layout family {self.layout})"),
            ("DWARF", "yes" if self.dwarf else "no (keys and values are shown as raw bytes)"),
            ("Program", self.program.describe()),
        ]
        width = max(len(name) for name, _ in rows) + 1
        lines = [f"{name + ':':<{width}} {value}" for name, value in rows]
        lines += [f"warning: {warning}" for warning in self.warnings]
        return "\n".join(lines)
