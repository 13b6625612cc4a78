"""Run the real gdb over a fixture binary, one process per call.

Each command's output is fenced with an ``echo`` marker so a test can assert
on exactly what one command printed. stderr is merged into stdout so that an
error line stays next to the command that caused it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Sequence

MARK = "@@gdb-hiter-test@@"
DEFAULT_TIMEOUT = 300


@dataclass
class GdbRun:
    commands: List[str]
    outputs: List[str]      # what each command printed, in order
    preamble: str           # what gdb printed before the first command
    returncode: int
    text: str               # everything

    def __getitem__(self, index: int) -> str:
        return self.outputs[index]

    def of(self, command: str) -> str:
        """Output of the only command equal to ``command``."""
        found = [out for cmd, out in zip(self.commands, self.outputs) if cmd == command]
        assert len(found) == 1, f"{command!r} ran {len(found)} times"
        return found[0]


def gdb_executable() -> Optional[str]:
    return shutil.which("gdb")


def run_gdb(commands: Sequence[str], *, binary: Optional[Path] = None, core: Optional[Path] = None,
            loader: Optional[Path] = None, args: Sequence[str] = (), timeout: int = DEFAULT_TIMEOUT,
            env: Optional[dict] = None) -> GdbRun:
    """Start gdb in batch mode, optionally load gdb-hiter and a program, run ``commands``."""
    gdb = gdb_executable()
    assert gdb, "gdb is not installed"
    argv = [gdb, "-nx", "-nh", "-batch", "-q",
            "-iex", "set style enabled off", "-iex", "set pagination off",
            "-iex", "set width 0", "-iex", "set height 0", "-iex", "set confirm off",
            "-iex", "set startup-with-shell off"]
    if loader is not None:
        argv += ["-ex", f"source {loader}"]
    if binary is not None:
        argv += ["-ex", f"file {binary}"]
    if args:
        argv += ["-ex", "set args " + " ".join(args)]
    if core is not None:
        argv += ["-ex", f"core-file {core}"]
    for index, command in enumerate(commands):
        argv += ["-ex", f"echo \\n{MARK} {index}\\n", "-ex", command]
    argv += ["-ex", f"echo \\n{MARK} end\\n"]
    run_env = dict(os.environ, NO_COLOR="1", TERM="dumb", PYTHONDONTWRITEBYTECODE="1")
    run_env.update(env or {})
    completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, errors="replace", timeout=timeout, env=run_env)
    return _split(list(commands), completed.stdout, completed.returncode)


def _split(commands: List[str], text: str, returncode: int) -> GdbRun:
    parts = text.split(f"\n{MARK} ")
    preamble = parts[0]
    outputs = [""] * len(commands)
    for part in parts[1:]:
        label, _, body = part.partition("\n")
        if label != "end":
            outputs[int(label)] = body
    return GdbRun(commands, outputs, preamble, returncode, text)
