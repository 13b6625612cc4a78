"""scripts/bench: how long gdb-hiter takes to decode a large map, next to Go's runtime-gdb.py.

For each toolchain (go1.22.10: classic maps, go1.26.6: Swiss tables; the
``opt`` build of ``fixtures/mapstates``, i.e. the toolchain's default flags)
and each N, one gdb session runs ``mapstates large N`` to ``main.stopHere``
and then, inside gdb (gdb's start-up and the program's run are not timed),
times with ``time.perf_counter``:

* ``hmap-show main.mLarge --json --output FILE``, from the command's start
  until it returns, its file written (the row the issues' targets are for);
* ``hmap-show main.mLarge --json`` through gdb's output
  (``gdb.execute(..., to_string=True)``), then written to a file;
* ``hmap-show main.mLarge`` (text, default ``--limit``), to a file;
* ``print main.mLarge`` with our printer at the default ``print elements``
  (200), to a file;
* the floor: the map's bucket / group memory read through gdb in as few
  ``read_memory`` calls as the layout allows (addresses from the first
  ``--json`` run, untimed);
* runtime-gdb.py's ``print main.mLarge`` under ``set print elements
  unlimited`` (our printers disabled), once per N; on classic maps it fails
  at once on this map (the fixture ranged over it: iterator flags), so it is
  run a second time with those flag bits cleared, once per N up to
  ``--theirs-max``;
* unless ``--no-profile``: the command's stages timed by calling what
  ``hmap-show`` calls, with Python's GC on and off, and one more ``--json
  --output`` run under cProfile, summarised by phase.

The results go to stdout as markdown; ``--write`` puts them between the
markers of docs/performance.md's Results section.

Nothing is asserted: the issues' targets are printed next to the results.
Standard library only (it runs with the venv's Python, but needs nothing
from it); the gdb side runs in gdb's own Python.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO_ROOT = Path(__file__).resolve().parents[2]
DOC = REPO_ROOT / "docs" / "performance.md"
START_MARK = "<!-- bench:results:start -->"
END_MARK = "<!-- bench:results:end -->"

TOOLCHAINS = (("1.22.10", "classic"), ("1.26.6", "swiss"))
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
# From the issues (3: classic, 4: Swiss): reported, never asserted.
TARGETS = {100_000: 0.25, 1_000_000: 2.0}

# ---------------------------------------------------------------------------
# The part that runs inside gdb (gdb's embedded Python). CONFIG is prepended.

INNER = r'''
import cProfile, gc, io, json, os, pstats, re, time
import gdb

def loadavg():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]

RESULT = {"n": CONFIG["n"], "rows": {}, "notes": []}

def save():
    with open(CONFIG["result"], "w") as f:
        json.dump(RESULT, f)

def timed(name, command, runs, out, check=None, writes_itself=False):
    """Time `command` from its start to its output written to `out`, `runs` times.

    With `writes_itself` the command writes `out` (hmap-show --output) and
    the time ends when it returns; otherwise its output goes through gdb's
    to_string buffer and is written here."""
    times, split, load0 = [], [], loadavg()
    error = None
    for index in range(runs):
        gc.collect()
        t0 = time.perf_counter()
        try:
            text = gdb.execute(command, to_string=True)
        except gdb.error as e:
            error = str(e)
            text = "<gdb.error: %s>\n" % e
        t1 = time.perf_counter()
        if not writes_itself:
            with open(out, "w") as f:
                f.write(text)
        t2 = time.perf_counter()
        times.append(t2 - t0)
        split.append([t1 - t0, t2 - t1])
        if check is not None and index == 0:
            if writes_itself:
                with open(out) as f:
                    check(f.read())
            else:
                check(text)
        del text
    RESULT["rows"][name] = {"command": command, "times": times, "split": split,
                            "bytes": os.path.getsize(out), "load": [load0, loadavg()], "error": error}
    save()

N = CONFIG["n"]
EXPR = "main.mLarge"
out_dir = CONFIG["out_dir"]
gdb.execute("set print elements 200")

doc_holder = {}

def check_json(text):
    doc = json.loads(text)
    doc_holder["doc"] = doc
    global MAP_ADDRESS
    MAP_ADDRESS = doc["address"]
    RESULT["check"] = {"entries_found": doc["entries_found"], "count": doc["count"],
                       "problems": len(doc["problems"]), "complete": doc["complete"]}
    if doc["impl"] == "classic":
        RESULT["shape"] = {"B": doc["B"], "bucket_count": doc["bucket_count"],
                           "overflow_buckets": doc["overflow_buckets"], "growing": doc["growing"],
                           "bucketsize": doc["maptype"]["bucketsize"]}
    else:
        RESULT["shape"] = {"tables": len(doc["tables"]), "dirLen": doc["dirLen"],
                           "groups": sum(t["group_count"] for t in doc["tables"]),
                           "group_size": doc["maptype"]["group_size"]}

runs = CONFIG["runs"]
OURS_JSON = os.path.join(out_dir, "ours.json")
timed("ours_json", "hmap-show %s --json --output %s" % (EXPR, OURS_JSON), runs, OURS_JSON, check_json,
      writes_itself=True)
timed("ours_json_screen", "hmap-show %s --json" % EXPR, runs, os.path.join(out_dir, "ours-screen.json"))
timed("ours_text", "hmap-show %s" % EXPR, runs, os.path.join(out_dir, "ours.txt"))
timed("ours_print200", "print %s" % EXPR, runs, os.path.join(out_dir, "ours-print.txt"))

# The floor: the bucket / group memory in as few reads as the layout allows.
doc = doc_holder.pop("doc")
ranges_main, ranges_all = [], []
if doc["impl"] == "classic":
    size = doc["maptype"]["bucketsize"]
    main = (doc["buckets_address"], doc["bucket_count"] * size)
    ranges_main.append(main)
    pieces = [main]
    for bucket in doc["buckets"] + doc["old_buckets"]:
        for over in bucket.get("overflow", []):
            if over.get("depth", 1) > 0:
                pieces.append((over["address"], size))
    if doc["growth"]:
        pieces.append((doc["growth"]["oldbuckets"], doc["growth"]["old_bucket_count"] * size))
    pieces.sort()
    for address, length in pieces:          # coalesce adjacent / overlapping pieces
        if ranges_all and address <= ranges_all[-1][0] + ranges_all[-1][1]:
            last = ranges_all[-1]
            ranges_all[-1] = (last[0], max(last[1], address + length - last[0]))
        else:
            ranges_all.append((address, length))
    covered = "main bucket array" + (" + old bucket array" if doc["growth"] else "") + \
        " + every overflow bucket the walk met (adjacent ones coalesced)"
else:
    size = doc["maptype"]["group_size"]
    for table in doc["tables"]:
        ranges_all.append((table["groups_address"], table["group_count"] * size))
    if not ranges_all:
        for group in doc["groups"]:
            ranges_all.append((group["address"], size))
    ranges_main = list(ranges_all)
    covered = "each table's group array, one read per table"
del doc
gc.collect()

def floor(name, ranges):
    inferior = gdb.selected_inferior()
    times, load0 = [], loadavg()
    for _ in range(runs):
        t0 = time.perf_counter()
        total = 0
        for address, length in ranges:
            total += len(inferior.read_memory(address, length).tobytes())
        times.append(time.perf_counter() - t0)
    RESULT["rows"][name] = {"times": times, "reads": len(ranges), "bytes": total, "load": [load0, loadavg()]}
    save()

if ranges_main != ranges_all:
    floor("floor_main", ranges_main)
floor("floor_all", ranges_all)
RESULT["floor_covers"] = covered

# Diagnostics (with the profile): the command's stages timed without a
# profiler, by calling what hmap-show --json --output calls, with Python's
# cyclic GC on and off (the command itself runs with it paused). Skipped (with
# a note) if the internals have moved.
def stages(gc_off):
    from gdb_hiter.core.render import maptext
    from gdb_hiter.core.files import write_atomic
    from gdb_hiter.gdbext.mapref import resolve_map
    from gdb_hiter.gdbext.memory import InferiorMemory
    pc = time.perf_counter
    gc.collect()
    if gc_off:
        gc.disable()
    try:
        t0 = pc()
        ref = resolve_map(EXPR, None)
        t1 = pc()
        memory = InferiorMemory()
        decoded = ref.decode(memory=memory)
        t2 = pc()
        render_key, render_value = ref.renderers(memory)
        render_key.many(decoded.entries.keys)
        render_value.many(decoded.entries.values)
        t3 = pc()
        parts = list(maptext.map_json_parts(decoded, ref.type_name, render_key, render_value, expression=EXPR))
        t4 = pc()
        write_atomic(os.path.join(out_dir, "stages.json"), parts + ["\n"])
        t5 = pc()
        del parts, decoded
        t6 = pc()
    finally:
        gc.enable()
    return {"resolve": t1 - t0, "decode": t2 - t1, "render keys+values alone (as texts)": t3 - t2,
            "map_json_parts, every piece (renders again, as numbers where it can)": t4 - t3, "file write": t5 - t4,
            "freeing the decoded map": t6 - t5}

if CONFIG["profile"]:
    try:
        RESULT["stages"] = {"gc on": stages(False), "gc off": stages(True)}
    except Exception as e:  # the internals moved: say so, measure the rest
        RESULT["notes"].append("stages skipped: %s: %s" % (type(e).__name__, e))
    save()

# One more --json run under cProfile, summarised by phase.
if CONFIG["profile"]:
    gc.collect()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    gdb.execute("hmap-show %s --json --output %s" % (EXPR, os.path.join(out_dir, "ours-profiled.json")),
                to_string=True)
    profiler.disable()
    wall = time.perf_counter() - t0
    stats = pstats.Stats(profiler).stats
    def cumulative(match):
        return sum(v[3] for k, v in stats.items() if match(k))
    def own(match):
        return sum(v[2] for k, v in stats.items() if match(k))
    def calls(match):
        return sum(v[1] for k, v in stats.items() if match(k))
    f_ = lambda path, func: (lambda k: k[0].replace(os.sep, "/").endswith(path) and k[2] == func)
    builtin = lambda text: (lambda k: k[0] == "~" and text in k[2])
    phases = {
        "total (profiled)": wall,
        "resolve the expression (resolve_map)": cumulative(f_("gdbext/mapref.py", "resolve_map")),
        "  of which program facts (version_report; first command only)":
            cumulative(f_("gdbext/program.py", "version_report")),
        "decode: walk buckets/groups (decode_map)": cumulative(f_("core/mapdecode.py", "decode_map")),
        "  of which gdb reads (InferiorMemory.read)": cumulative(f_("gdbext/memory.py", "read")),
        "renderer setup (MapRef.renderers)": cumulative(f_("gdbext/mapref.py", "renderers")),
        "JSON text (map_json_parts)": cumulative(f_("core/maptext.py", "map_json_parts")),
        "  of which the document without entries (map_document + json.dumps)":
            cumulative(f_("core/maptext.py", "map_document"))
            + cumulative(lambda k: k[0].replace(os.sep, "/").endswith("json/__init__.py") and k[2] == "dumps"),
        "  of which the entries array (_entries_json)": cumulative(f_("core/maptext.py", "_entries_json")),
        "    of which keys and values as numbers or texts (_json_column)":
            cumulative(f_("core/maptext.py", "_json_column")),
        "file write (write_atomic; it pulls the pieces from map_json_parts, so it includes most of them)":
            cumulative(f_("core/files.py", "write_atomic")),
    }
    reads = calls(f_("gdbext/memory.py", "read"))
    top = io.StringIO()
    pstats.Stats(profiler, stream=top).sort_stats("tottime").print_stats(15)
    RESULT["profile"] = {"phases": phases, "reads": reads, "top": top.getvalue(), "load": loadavg()}
    del profiler, stats
    gc.collect()
    save()

# runtime-gdb.py's printer, once: our printers off, every element.
def theirs(name, note):
    out = os.path.join(out_dir, name + ".txt")
    load0 = loadavg()
    gc.collect()
    t0 = time.perf_counter()
    error = None
    try:
        text = gdb.execute("print %s" % EXPR, to_string=True)
    except gdb.error as e:
        error = str(e)
        text = "<gdb.error: %s>\n" % e
    t1 = time.perf_counter()
    with open(out, "w") as f:
        f.write(text)
    t2 = time.perf_counter()
    pairs = re.findall(r"\[(-?\d+)\] = (-?\d+)", text)
    keys = set(int(k) for k, _ in pairs)
    wrong = sum(1 for k, v in pairs if int(v) != 2 * int(k) + 1)
    problems = sorted(set(re.findall(r"Python Exception <class '[^']*'>: [^\n]*|<error[^>]*>", text)))
    RESULT["rows"][name] = {
        "command": "print %s (set print elements unlimited)" % EXPR, "note": note, "times": [t2 - t0],
        "split": [[t1 - t0, t2 - t1]], "bytes": os.path.getsize(out), "load": [load0, loadavg()],
        "error": error, "inline_errors": problems[:3], "head": text[:200], "tail": text[-200:],
        "entries_printed": len(pairs), "distinct_keys": len(keys),
        "keys_in_range": sum(1 for k in keys if 0 <= k < N), "wrong_values": wrong,
    }
    save()

gdb.execute("disable pretty-printer .* gdb-hiter", to_string=True)
gdb.execute("set print elements unlimited")
theirs("theirs_print", "as the program left the map")
if CONFIG["theirs_walk"] and CONFIG["impl"] == "classic":
    # The fixture ranged over mLarge, so hmap.flags has iterator|oldIterator,
    # which runtime-gdb.py takes for "indirect key/value" and fails on at once.
    # Clear those two bits (flags is the byte after the 8-byte count) to time
    # its real walk, then put them back.
    inferior = gdb.selected_inferior()
    flags_at = MAP_ADDRESS
    flags_at += 8
    old = bytes(inferior.read_memory(flags_at, 1))
    inferior.write_memory(flags_at, bytes([old[0] & ~3]))
    try:
        theirs("theirs_print_noflags", "hmap.flags iterator bits cleared first")
    finally:
        inferior.write_memory(flags_at, old)
gdb.execute("enable pretty-printer .* gdb-hiter", to_string=True)
gdb.execute("set print elements 200")
RESULT["done"] = True
save()
'''

# ---------------------------------------------------------------------------
# The driver


def loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def build_fixtures(variant: str) -> Dict[str, Path]:
    """{toolchain version: path of the mapstates binary of ``variant``}."""
    argv = [sys.executable, str(REPO_ROOT / "scripts" / "build-fixtures"), "--fixture", "mapstates"]
    for version, _ in TOOLCHAINS:
        argv += ["--toolchain", version]
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE, text=True).stdout
    paths = {}
    for line in out.splitlines():
        build_id, _, path = line.split(maxsplit=2)
        for version, _ in TOOLCHAINS:
            if build_id == f"go{version}-{variant}":
                paths[version] = Path(path)
    missing = [v for v, _ in TOOLCHAINS if v not in paths]
    if missing:
        raise SystemExit(f"bench: no go{missing[0]}-{variant} build of mapstates (see scripts/build-fixtures --list)")
    return paths


def source_commit() -> Optional[str]:
    """The commit of the code measured, with "+ changes" when the tree differs from it."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "gdb_hiter", "scripts"],
                               check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head} + uncommitted changes" if dirty else head


def loader_line() -> str:
    exe = REPO_ROOT / ".venv" / "bin" / "gdb-hiter"
    line = subprocess.run([str(exe), "gdbinit"], check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    if not line.startswith("source "):
        raise SystemExit(f"bench: unexpected output of gdb-hiter gdbinit: {line!r}")
    return line


def run_session(binary: Path, n: int, impl: str, *, runs: int, theirs: bool, profile: bool, loader: str,
                work: Path, timeout: int) -> dict:
    out_dir = work / f"{binary.parent.name}-{n}"
    out_dir.mkdir(parents=True, exist_ok=True)
    result_path = out_dir / "result.json"
    config = {"n": n, "runs": runs, "theirs_walk": theirs, "profile": profile, "impl": impl,
              "out_dir": str(out_dir), "result": str(result_path)}
    inner = out_dir / "inner.py"
    inner.write_text(f"CONFIG = {config!r}\n" + INNER)
    argv = [shutil.which("gdb") or "gdb", "-nx", "-nh", "-batch", "-q",
            "-iex", "set style enabled off", "-iex", "set pagination off", "-iex", "set width 0",
            "-iex", "set height 0", "-iex", "set confirm off", "-iex", "set startup-with-shell off",
            "-iex", "set auto-load safe-path /",
            "-ex", loader, "-ex", f"file {binary}", "-ex", f"set args large {n}",
            "-ex", "break main.stopHere if main.stopCount == 1", "-ex", "run",
            "-ex", f"source {inner}", "-ex", "kill"]
    started = time.monotonic()
    completed = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               text=True, errors="replace", timeout=timeout,
                               env=dict(os.environ, NO_COLOR="1", TERM="dumb", PYTHONDONTWRITEBYTECODE="1"))
    result = json.loads(result_path.read_text()) if result_path.exists() else {"rows": {}}
    result["session_seconds"] = time.monotonic() - started
    result["runtime_gdb_loaded"] = "Loading Go Runtime support." in completed.stdout
    if not result.get("done"):
        result["failure"] = completed.stdout[-3000:]
    return result


def fmt_s(seconds: float) -> str:
    if seconds < 0.01:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def summary(times: List[float]) -> str:
    med = statistics.median(times)
    if len(times) == 1:
        return f"{fmt_s(med)}", "(1 run)"
    return fmt_s(med), f"{fmt_s(min(times))} – {fmt_s(max(times))}"


ROW_LABELS = {
    "ours_json": "ours: `hmap-show --json --output FILE`",
    "ours_json_screen": "ours: `hmap-show --json` through gdb's output → file",
    "ours_text": "ours: `hmap-show` text (limit 100) → file",
    "ours_print200": "ours: `print` (print elements 200) → file",
    "floor_main": "floor: one `read_memory` of the main bucket array",
    "floor_all": "floor: bulk `read_memory` of all bucket/group memory",
    "theirs_print": "runtime-gdb.py: `print` (elements unlimited) → file",
    "theirs_print_noflags": "runtime-gdb.py: same, `hmap.flags` iterator bits cleared first",
}
ROW_ORDER = ("ours_json", "ours_json_screen", "ours_text", "ours_print200", "floor_main", "floor_all", "theirs_print",
             "theirs_print_noflags")


def markdown(results: List[dict], meta: dict) -> str:
    lines = []
    commit = f" of commit {meta['commit']}" if meta.get("commit") else ""
    lines.append(f"Run{commit} {meta['date']} on {meta['machine']}; load average (1 min) at start {meta['load_start']}, "
                 f"at end {meta['load_end']}; `{meta['command']}`.")
    lines.append("")
    lines.append("| maps | N | what | runs | median | min – max | 1st run | µs / entry (median) | target | "
                 "load (1-min, before → after) | notes |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for res in results:
        n = res["n"]
        rows = res.get("rows", {})
        label = f"{res['impl']} go{res['version']} `{res['variant']}`"
        for key in ROW_ORDER:
            row = rows.get(key)
            if row is None:
                continue
            med, spread = summary(row["times"])
            per = statistics.median(row["times"]) / max(n, 1) * 1e6
            target = ""
            if key == "ours_json" and n in TARGETS:
                verdict = "met" if statistics.median(row["times"]) <= TARGETS[n] else "**missed**"
                target = f"≤ {TARGETS[n]:g} s: {verdict}"
            notes = []
            if key.startswith("ours") and row.get("bytes"):
                notes.append(f"{row['bytes'] / 1e6:.1f} MB written" if row["bytes"] > 1e5 else f"{row['bytes']} B written")
            if key == "ours_json" and res.get("check"):
                c = res["check"]
                ok = c["entries_found"] == n and c["count"] == n and not c["problems"] and c["complete"]
                notes.append(f"{c['entries_found']} entries decoded" + ("" if ok else " (**wrong**)"))
            if key.startswith("floor"):
                notes.append(f"{row['reads']} read{'s' if row['reads'] != 1 else ''}, {row['bytes'] / 1e6:.2f} MB")
                if key == "floor_all" and res.get("floor_covers"):
                    notes.append(res["floor_covers"])
            if key.startswith("theirs"):
                if row.get("error"):
                    notes.append(f"error: `{row['error'][:200]}`")
                for err in row.get("inline_errors", []):
                    notes.append(f"inline `{err[:160]}`")
                notes.append(f"{row['entries_printed']} `[k] = v` pairs printed for N = {n}, "
                             f"{row['distinct_keys']} distinct keys, {row['wrong_values']} wrong values")
            if row.get("error") and not key.startswith("theirs"):
                notes.append(f"error: `{row['error'][:200]}`")
            load = "{} → {}".format(*row["load"])
            first = fmt_s(row["times"][0])
            lines.append(f"| {label} | {n:,} | {ROW_LABELS[key]} | {len(row['times'])} | {med} | {spread} | {first} | "
                         f"{per:.2f} | {target} | {load} | {'; '.join(notes)} |")
        if res.get("failure"):
            lines.append(f"| {label} | {n:,} | session failed | | | | | | | | see stderr |")
    lines.append("")
    # Shapes
    lines.append("Map shapes (from the first `--json` run):")
    lines.append("")
    for res in results:
        if res.get("shape"):
            shape = ", ".join(f"{k} {v}" for k, v in res["shape"].items())
            lines.append(f"* {res['impl']} go{res['version']}, N = {res['n']:,}: {shape}")
    lines.append("")
    # Growth
    growth = []
    for impl in sorted({r["impl"] for r in results}):
        meds = [(r["n"], statistics.median(r["rows"]["ours_json"]["times"]))
                for r in results if r["impl"] == impl and "ours_json" in r.get("rows", {})]
        meds.sort()
        parts = [f"{a:,} → {b:,}: ×{tb / ta:.1f}" for (a, ta), (b, tb) in zip(meds, meds[1:]) if ta > 0]
        if parts:
            growth.append(f"* {impl}: " + ", ".join(parts))
    if growth:
        lines.append("Growth of `hmap-show --json` (ratio of median times between successive N; "
                     "linear growth is the ratio of the N):")
        lines.append("")
        lines.extend(growth)
    staged = [r for r in results if r.get("stages")]
    if staged:
        lines.append("")
        lines.append("Stages of `hmap-show --json`, timed without a profiler by calling what the command calls "
                     "(one run each; seconds), with Python's cyclic GC on / off:")
        lines.append("")
        names = list(staged[0]["stages"]["gc on"])
        lines.append("| stage | " + " | ".join(f"{r['impl']} {r['n']:,}" for r in staged) + " |")
        lines.append("|---|" + "---|" * len(staged))
        for name in names + ["total"]:
            cells = []
            for r in staged:
                on, off = r["stages"]["gc on"], r["stages"]["gc off"]
                a = sum(on.values()) if name == "total" else on.get(name, 0.0)
                b = sum(off.values()) if name == "total" else off.get(name, 0.0)
                cells.append(f"{a:.3f} / {b:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    notes = [f"{r['impl']} {r['n']:,}: {note}" for r in results for note in r.get("notes", [])]
    if notes:
        lines.append("")
        lines.extend(f"* {note}" for note in notes)
    profiled = [r for r in results if r.get("profile")]
    if profiled:
        lines.append("")
        lines.append("Profile of one more `hmap-show --json` run under cProfile (cumulative seconds per phase; "
                     "cProfile slows many small calls down, so compare shares, not totals):")
        lines.append("")
        names = list(profiled[0]["profile"]["phases"])
        names = [name for name in names if not name.startswith("gdb.execute returns")]
        lines.append("| phase | " + " | ".join(f"{r['impl']} {r['n']:,}" for r in profiled) + " |")
        lines.append("|---|" + "---|" * len(profiled))
        for name in names:
            cells = []
            for r in profiled:
                phases = r["profile"]["phases"]
                total = phases["total (profiled)"]
                value = phases.get(name, 0.0)
                cells.append(f"{value:.2f} s ({100 * value / total:.0f}%)" if total else f"{value:.2f} s")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("| gdb `read_memory` calls | " + " | ".join(str(r["profile"]["reads"]) for r in profiled) + " |")
    return "\n".join(lines) + "\n"


def write_doc(table: str) -> None:
    text = DOC.read_text() if DOC.exists() else f"# Performance\n\n{START_MARK}\n{END_MARK}\n"
    if START_MARK not in text or END_MARK not in text:
        text = text.rstrip("\n") + f"\n\n## Results\n\n{START_MARK}\n{END_MARK}\n"
    head, rest = text.split(START_MARK, 1)
    _, tail = rest.split(END_MARK, 1)
    DOC.write_text(f"{head}{START_MARK}\n{table}{END_MARK}{tail}")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", help="comma-separated N (default 10000,100000,1000000)")
    parser.add_argument("--runs", type=int, help="timed runs of each of our commands (default 5)")
    parser.add_argument("--theirs-max", type=int, default=100_000,
                        help="classic: let runtime-gdb.py walk the map (iterator flags cleared) only for N up to this "
                             "(default 100000, ~50 s there; 0: never). Its print as-is runs at every N: it fails fast")
    parser.add_argument("--impl", choices=["classic", "swiss"], action="append",
                        help="only this map implementation (repeatable; default both)")
    parser.add_argument("--variant", default="opt", choices=["opt", "noopt"],
                        help="fixture build to use (default opt: the toolchain's default flags)")
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile run")
    parser.add_argument("--quick", action="store_true",
                        help="N = 10000,100000, 2 runs, runtime-gdb.py only at 10000, no profile")
    parser.add_argument("--write", action="store_true", help=f"rewrite the results section of {DOC.relative_to(REPO_ROOT)}")
    parser.add_argument("--json", metavar="FILE", help="also save the raw results as JSON")
    parser.add_argument("--from-json", metavar="FILE",
                        help="measure nothing: print (and with --write, write) the tables of a --json FILE")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per gdb session (default 3600)")
    args = parser.parse_args(argv)

    sizes = list(DEFAULT_SIZES)
    runs, theirs_max, profile = 5, args.theirs_max, not args.no_profile
    if args.quick:
        sizes, runs, theirs_max, profile = [10_000, 100_000], 2, min(theirs_max, 10_000), False
    if args.sizes:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    if args.runs:
        runs = args.runs
    impls = args.impl or [impl for _, impl in TOOLCHAINS]

    if args.from_json:
        saved = json.loads(Path(args.from_json).read_text())
        table = markdown(saved["results"], saved["meta"])
        print(table)
        if args.write:
            write_doc(table)
            print(f"bench: wrote the results into {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)
        return 0

    paths = build_fixtures(args.variant)
    loader = loader_line()
    meta = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
                       f"{platform.system()} {platform.release()}, gdb "
                       + subprocess.run([shutil.which("gdb") or "gdb", "--version"], stdout=subprocess.PIPE,
                                        text=True).stdout.splitlines()[0].split()[-1]
                       + f", Python in gdb {sys.version.split()[0]}",
            "load_start": loadavg(),
            "commit": source_commit(),
            "command": "scripts/bench " + " ".join(argv if argv is not None else sys.argv[1:])}
    results = []
    with tempfile.TemporaryDirectory(prefix="gdb-hiter-bench-") as work:
        for version, impl in TOOLCHAINS:
            if impl not in impls:
                continue
            for n in sizes:
                print(f"bench: {impl} go{version}-{args.variant} N={n} (load {loadavg()}) ...", file=sys.stderr, flush=True)
                res = run_session(paths[version], n, impl, runs=runs, theirs=n <= theirs_max, profile=profile,
                                  loader=loader, work=Path(work), timeout=args.timeout)
                res.update(n=n, version=version, impl=impl, variant=args.variant)
                if res.get("failure"):
                    print(f"bench: session failed:\n{res['failure']}", file=sys.stderr)
                done = {k: statistics.median(v["times"]) for k, v in res.get("rows", {}).items()}
                print(f"bench:   {', '.join(f'{k} {fmt_s(v)}' for k, v in done.items())} "
                      f"(session {res['session_seconds']:.0f} s)", file=sys.stderr, flush=True)
                results.append(res)
    meta["load_end"] = loadavg()
    table = markdown(results, meta)
    print(table)
    if args.json:
        Path(args.json).write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    if args.write:
        write_doc(table)
        print(f"bench: wrote the results into {DOC.relative_to(REPO_ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
