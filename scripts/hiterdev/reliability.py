"""Run the corruption catalogue (scripts/hiterdev/corruptions.py) in the real gdb on every build and
summarise, per case, the slowest command and what the user is told (scripts/reliability).

Map cases run on every mapstates build with DWARF, iterator cases on every
cgorange build with DWARF; the core cases corrupt a live map, write a core
file with gcore, and time gdb-hiter on the core. ``--write`` replaces the
generated section of docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from hiterdev import fixtures, toolchains  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "scripts" / "hiterdev" / "corruptions.py"
LOADER = REPO / ".venv" / "share" / "gdb-hiter" / "gdb_hiter"
DOC = REPO / "docs" / "reliability.md"
BEGIN, END = "<!-- reliability:begin -->", "<!-- reliability:end -->"
GDB = ["gdb", "-nx", "-nh", "-batch", "-q", "-iex", "set pagination off", "-iex", "set width 0",
       "-iex", "set confirm off"]
# the core cases: a live map corrupted, then written to a core file
CORE_CASES = {"classic": [("B = 24", "set var main.mInt.B = 24"), ("B = 30", "set var main.mInt.B = 30")],
              "swiss": [("dirLen = 2^30", "set var main.mInt.dirLen = 1073741824"),
                        ("globalDepth = 70", "set var main.mInt.globalDepth = 70")]}


def builds(fixture: str):
    every = [toolchains.Toolchain(toolchains.DEBIAN_GO[0], toolchains.DEBIAN_GO[2])]
    every += [toolchains.Toolchain(v, toolchains.cache_root() / "go" / v) for v in toolchains.WHEEL_VERSIONS]
    return [b for b in fixtures.matrix(every, [fixture]) if not b.stripped and b.toolchain.go.exists()]


def run_catalogue(build, mode: str, work: Path) -> List[dict]:
    out = work / f"{build.id}-{mode}" / "out.jsonl"
    out.parent.mkdir(parents=True)
    env = dict(os.environ, GDB_HITER_CORRUPTIONS_OUT=str(out), GDB_HITER_CORRUPTIONS_MODE=mode)
    run = ["run types > /dev/null"] if mode == "map" else ["run > /dev/null"]
    argv = GDB + ["-ex", f"source {LOADER}", "-ex", "break main.stopHere"] + [x for c in run for x in ("-ex", c)]
    argv += ["-ex", f"source {CATALOGUE}", "-ex", "kill", str(fixtures.build(build))]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    records = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    if not records:
        sys.exit(f"reliability: {build.id} {mode}: no record; gdb said:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    for record in records:
        record["build"] = build.id
    return records


def run_core_cases(build, work: Path) -> List[dict]:
    records = []
    impl = "classic" if build.map_impl == "classic" else "swiss"
    for index, (name, corrupt) in enumerate(CORE_CASES[impl]):
        core = work / f"{build.id}-core-{index}.core"
        argv = GDB + ["-ex", f"source {LOADER}", "-ex", "break main.stopHere", "-ex", "run types > /dev/null",
                      "-ex", corrupt, "-ex", f"gcore {core}", "-ex", "kill", str(fixtures.build(build))]
        subprocess.run(argv, capture_output=True, text=True, timeout=300)
        out = work / f"{build.id}-core-{index}" / "out.jsonl"
        out.parent.mkdir(parents=True)
        env = dict(os.environ, GDB_HITER_CORRUPTIONS_OUT=str(out), GDB_HITER_CORRUPTIONS_MODE="as-is",
                   GDB_HITER_CORRUPTIONS_CASE=f"{name} (core file)")
        argv = GDB + ["-ex", f"source {LOADER}", "-ex", f"file {fixtures.build(build)}", "-ex", f"core-file {core}",
                      "-ex", f"source {CATALOGUE}"]
        subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
        core.unlink(missing_ok=True)
        for line in out.read_text().splitlines():
            records.append(dict(json.loads(line), build=build.id))
    return records


def told(record: dict) -> str:
    """What the user reads, in a few words: the one-line error, or the first problems' kinds."""
    first = record["results"][0]["output"]
    if record.get("iterator") and not first.startswith("error: "):
        ahead = re.search(r"^  (entries still ahead: .*)$", first, re.M)
        problems = re.findall(r"^  problem: ([a-z-]+)", first, re.M)
        said = ahead.group(1) if ahead else "no entries-ahead line"
        return (f"problems: {', '.join(problems)}; " if problems else "") + said[:140]
    error = re.search(r"^(?:error: )?((?:hmap-show|hiter-show|hiter-predict): .*)$", first, re.M)
    if error and not first.startswith(("main.", "runtime.hiter", "maps.Iter")):
        return "one line: " + error.group(1)[:110]
    kinds = re.findall(r"^  (?:problem: )?([a-z][a-z-]+)(?: at 0x[0-9a-f]+)?: ", first, re.M)
    kinds = list(dict.fromkeys(kind for kind in kinds if "-" in kind or kind in ("unreadable",)))
    if kinds:
        return "problems: " + ", ".join(kinds[:4]) + (", ..." if len(kinds) > 4 else "")
    if "Problems: none" in first:
        return "decoded, no problem"
    return first.strip().splitlines()[0][:110] if first.strip() else "(nothing)"


def table(records: List[dict], title: str) -> List[str]:
    by_case: Dict[str, List[dict]] = {}
    for record in records:
        by_case.setdefault(record["case"], []).append(record)
    lines = [f"### {title}", "", "| case | builds | slowest command, s | what the user gets (first build) |",
             "|---|---|---|---|"]
    for name, group in by_case.items():
        slowest = max(result["seconds"] for record in group for result in record["results"])
        lines.append(f"| {name} | {len(group)} | {slowest:.2f} | {told(group[0]).replace('|', '/')} |")
    return lines + [""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the generated section of docs/reliability.md")
    parser.add_argument("--quick", action="store_true", help="one classic and one Swiss build only")
    args = parser.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="gdb-hiter-reliability-") as tmp:
        work = Path(tmp)
        map_builds, iterator_builds = builds("mapstates"), builds("cgorange")
        if args.quick:
            keep = ("go1.22.10-noopt", "go1.26.6-noopt")
            map_builds = [b for b in map_builds if b.id in keep]
            iterator_builds = [b for b in iterator_builds if b.id in keep]
        maps, iterators, cores = [], [], []
        for build in map_builds:
            print(f"reliability: {build.id}: map cases", file=sys.stderr)
            maps += run_catalogue(build, "map", work)
        for build in iterator_builds:
            print(f"reliability: {build.id}: iterator cases", file=sys.stderr)
            iterators += run_catalogue(build, "iterator", work)
        for build in [b for b in map_builds if b.id in ("go1.22.10-noopt", "go1.26.6-noopt")]:
            print(f"reliability: {build.id}: core-file cases", file=sys.stderr)
            cores += run_core_cases(build, work)
    slowest = max(result["seconds"] for record in maps + iterators + cores for result in record["results"])
    lines = [BEGIN, "",
             f"Generated by `scripts/reliability{' --quick' if args.quick else ''} --write` on "
             f"{time.strftime('%Y-%m-%d')} ({len(map_builds)} mapstates builds, {len(iterator_builds)} cgorange "
             f"builds, gdb {gdb_version()}, {os.cpu_count()} CPUs) in {time.time() - started:.0f} s. "
             f"Slowest single command of all: {slowest:.2f} s.", ""]
    lines += table(maps, "Map memory (live process; hmap-show, print, $maplen, hiter-snapshot)")
    lines += table(iterators, "Iterator memory (live process; hiter-show --force, hiter-predict, hiter-find, "
                              "hiter-snapshot)")
    lines += table(cores, "Core files, corrupted before gcore wrote them (hmap-show, print, hiter-snapshot)")
    lines.append(END)
    text = "\n".join(lines) + "\n"
    if args.write:
        doc = DOC.read_text()
        if BEGIN not in doc or END not in doc:
            sys.exit(f"reliability: {DOC} has no {BEGIN} ... {END} section")
        DOC.write_text(doc[:doc.index(BEGIN)] + text.rstrip("\n") + doc[doc.index(END) + len(END):])
        print(f"reliability: wrote {DOC}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def gdb_version() -> str:
    first = subprocess.run(["gdb", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    return first.split()[-1]


if __name__ == "__main__":
    main()
