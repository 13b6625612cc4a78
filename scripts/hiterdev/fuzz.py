"""scripts/fuzz: the fuzz targets of tests/unit/test_fuzz.py, for a long time.

tests/unit/test_fuzz.py runs a few dozen deterministic cases per target every
time scripts/test runs. This runs the same targets (same strategies, same
checks, same bounds) in rounds until DURATION is over: in each round every
target gets ``--examples`` new cases from a seed derived from ``--seed`` and
the round number, so a run is replayed exactly by giving its seed again.

A target that fails is shrunk by hypothesis to a minimal case, which is
printed (with the ``@reproduce_failure`` blob) and kept in hypothesis'
example database under $GDB_HITER_CACHE/fuzz-db (replayed first next time);
the target is then left out of the later rounds (``--keep-going`` keeps it)
so that one finding does not fill the log. The summary lists, per target, the
cases run (shrinking included) and what the decoders' calls ended in. Exit
status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "unit"))
sys.path.insert(0, str(REPO / "tests"))


def duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (e.g. 90s, 15m, 1h)")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/fuzz", description=__doc__.split("\n\n")[0])
    parser.add_argument("duration", nargs="?", type=duration, default=600.0,
                        help="how long to fuzz: 90s, 15m, 1h (default 10m)")
    parser.add_argument("--seed", type=int, default=None, help="the campaign's seed (default: random, printed)")
    parser.add_argument("--targets", default="", metavar="SUBSTRING",
                        help="only targets whose name contains this, e.g. map:swiss, snapshot, random")
    parser.add_argument("--examples", type=int, default=300, metavar="N",
                        help="new cases per target per round (default %(default)s)")
    parser.add_argument("--keep-going", action="store_true", help="keep fuzzing a target after it failed")
    parser.add_argument("--list", action="store_true", help="list the targets and exit")
    args = parser.parse_args(argv)

    from hypothesis import seed as hypothesis_seed
    from hypothesis.database import DirectoryBasedExampleDatabase

    import test_fuzz

    names = [name for name in test_fuzz.TARGETS if args.targets in name]
    if args.list or not names:
        print("\n".join(test_fuzz.TARGETS) if args.list else f"no target matches {args.targets!r}")
        return 0 if args.list else 2
    campaign_seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    cache = Path(os.environ.get("GDB_HITER_CACHE", Path.home() / ".cache" / "gdb-hiter"))
    database = DirectoryBasedExampleDatabase(str(cache / "fuzz-db"))
    print(f"fuzz: seed {campaign_seed} (replay with --seed {campaign_seed}), {len(names)} targets, "
          f"{args.examples} cases per target per round, for {args.duration:.0f} s", flush=True)

    campaign = test_fuzz.campaign_settings(args.examples, derandomize=False, database=database)
    findings = {}
    started = time.monotonic()
    rounds = 0
    while time.monotonic() - started < args.duration:
        active = [name for name in names if args.keep_going or name not in findings]
        if not active:
            break
        for name in active:
            if time.monotonic() - started >= args.duration:
                break
            # a seed per round and target, the same for the same campaign seed (str hash() is not)
            round_seed = int(hashlib.sha256(f"{campaign_seed}/{rounds}/{name}".encode()).hexdigest()[:8], 16)
            run = hypothesis_seed(round_seed)(test_fuzz.runner(test_fuzz.TARGETS[name], campaign))
            before = test_fuzz.CASES_RUN[name]
            target_started = time.monotonic()
            try:
                run()
                status = "ok"
            except Exception as error:   # a finding: hypothesis has printed the minimal case
                lines = traceback.format_exception_only(type(error), error)
                findings.setdefault(name, []).append(f"round {rounds} (seed {round_seed}): {''.join(lines).strip()}")
                status = "FOUND " + lines[0].strip()[:300]
            print(f"fuzz: round {rounds} {name}: {test_fuzz.CASES_RUN[name] - before} cases in "
                  f"{time.monotonic() - target_started:.1f} s: {status}", flush=True)
        rounds += 1

    total = sum(test_fuzz.CASES_RUN.values())
    print(f"\nfuzz: {total} cases in {time.monotonic() - started:.0f} s, {rounds} rounds, seed {campaign_seed}")
    for name in names:
        outcomes = test_fuzz.OUTCOMES.get(name, {})
        shown = ", ".join(f"{kind} {count}" for kind, count in sorted(outcomes.items(), key=lambda item: -item[1])[:8])
        print(f"  {name}: {test_fuzz.CASES_RUN[name]} cases" + (f"; {shown}" if shown else ""))
    if findings:
        print(f"\nfuzz: {len(findings)} targets found something:")
        for name, found in findings.items():
            for line in found:
                print(f"  {name}: {line}")
        return 1
    print("fuzz: nothing found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
