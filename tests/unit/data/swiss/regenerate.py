#!/usr/bin/env python3
"""Rebuild the Swiss unit-test data: build prog/ with each Swiss toolchain,
run it under gdb with capture.py, and write <build>.json.xz here.

Needs the toolchains (scripts/go-toolchains) and gdb; the tests do not.
Run with the project venv so gdb's Python finds pyelftools:
    .venv/bin/python tests/unit/data/swiss/regenerate.py [/tmp/workdir]
"""
import lzma
import os
import subprocess
import sys
import sysconfig
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
# (data file name, toolchain, GOEXPERIMENT)
BUILDS = (
    ("go1.24.11", "go1.24.11", ""),
    ("go1.25.5", "go1.25.5", ""),
    ("go1.26.6", "go1.26.6", ""),
    ("go1.27.3", "go1.27.3", ""),
    ("go1.27.3-mapsplitgroup", "go1.27.3", "mapsplitgroup"),
)


def toolchains():
    output = subprocess.run([os.path.join(ROOT, "scripts", "go-toolchains")], check=True,
                            capture_output=True, text=True).stdout
    return dict(line.split() for line in output.splitlines())


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="swiss-data-")
    roots = toolchains()
    site = sysconfig.get_paths()["purelib"]
    for name, toolchain, experiment in BUILDS:
        binary = os.path.join(work, name)
        env = dict(os.environ, GOTOOLCHAIN="local", GOEXPERIMENT=experiment)
        subprocess.run([os.path.join(roots[toolchain], "bin", "go"), "build", "-gcflags=all=-N -l", "-o", binary, "."],
                       cwd=os.path.join(HERE, "prog"), env=env, check=True)
        out = binary + ".json"
        subprocess.run(["gdb", "-batch", "-nx", "-ex", f"python import sys; sys.path.insert(0, {site!r})",
                        "-ex", f"python OUT = {out!r}", "-x", os.path.join(HERE, "capture.py"), binary],
                       check=True, stdout=subprocess.DEVNULL)
        with open(out, "rb") as source, lzma.open(os.path.join(HERE, name + ".json.xz"), "wb",
                                                   preset=9 | lzma.PRESET_EXTREME) as target:
            target.write(source.read())
        print("wrote", name + ".json.xz")


if __name__ == "__main__":
    main()
