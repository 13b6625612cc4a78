"""core.snapshot.callreport: report.md of a capture, built from synthetic runs (make_snapshot documents).

Each run is a range loop over ``main.m`` (a map[int64]int64) that calls C; what
the C calls and their callbacks do to the map is written out here, so every
statement of the report can be checked against it: the summary table and its
collapsing, the filters, the count lines, ``--limit``, the character bound, a
redacted directory, ``gdb-hiter report``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from gdb_hiter.core.snapshot import document as snapshot
from gdb_hiter.core.snapshot.callreport import (
    CallReport, ReportOptions, build_report, directory_diff_command, report_directory, transition_report,
)

TAKEN_AT = "2026-11-30T12:00:00.000Z"
PROGRAM = {"kind": "process", "path": "/tmp/prog", "pid": 4242}
GO = {"go_version": "go1.22.10", "build_version": "go1.22.10", "experiments": [], "map_impl": "classic",
      "layout": "classic-go1.18", "dwarf": True, "version_source": "runtime.buildVersion", "program": PROGRAM,
      "warnings": []}
MAP = 0xc000010000
ITERATOR = 0xc0000a0000
LOCATION = {"function": "main.rangeLoop", "file": "/src/prog/main.go", "line": 42}


def a_map(keys, B=3, expression="main.m", cleared=0):
    entries = [{"key": key, "value": str(int(key) * 10),
                "location": {"array": "buckets", "bucket": int(key) % (1 << B), "overflow": 0,
                             "slot": (int(key) >> B) % 8}} for key in keys]
    return {"address": MAP, "type": "map[int64]int64", "expression": expression, "impl": "classic",
            "layout": "classic-go1.18", "count": len(keys), "flags": [], "growing": False, "B": B,
            "buckets_address": 0xc000020000 + B, "noverflow": 0, "header": {"clearSeq": cleared},
            "entries": entries, "entries_found": len(keys), "problems": []}


def an_iterator(ahead, stale=False):
    return {"address": ITERATOR, "impl": "classic", "layout": "classic-go1.18", "map_address": MAP,
            "state": "in-progress", "stale": stale, "map_grew_since_start": stale, "cleared_since_start": None,
            "position": {"bucket": 0, "B": 3, "walks": "retired" if stale else "buckets"}, "current": None,
            "remaining": {"entries": None, "buckets": None, "exact": False}, "fields": {}, "map": None,
            "problems": [],
            "prediction": {"exact": True, "reason": None, "current": None, "next": list(ahead), "maybe": [],
                           "not_visited": {}}}


class Run:
    """A program's run, as its snapshots: ``keys`` in the map, ``ahead`` what the loop will still receive."""

    def __init__(self, keys=("1", "2", "3", "4", "5", "6", "7", "8")):
        self.keys, self.ahead = list(keys), list(keys)
        self.B, self.stale, self.cleared = 3, False, 0
        self.seq = 0
        self.docs = []

    def snap(self, event, cfunc, goroutine=1):
        self.seq += 1
        self.docs.append(snapshot.make_snapshot(
            seq=self.seq, event=event, go=GO, program=PROGRAM, maps=[a_map(self.keys, self.B, cleared=self.cleared)],
            iterators=[an_iterator(self.ahead, self.stale)], location=LOCATION, goroutine=goroutine, cfunc=cfunc,
            taken_at=TAKEN_AT, gdb_hiter_version="0.1.0"))

    def call(self, cfunc="C.callC", change=None, callbacks=(), returns=True, goroutine=1, step=True):
        """A C call: ``change`` done by C itself, then each callback's change inside a callback; then
        (``step``) the loop receives its next entry."""
        self.snap("cgocall-enter", cfunc, goroutine)
        if change:
            change(self)
        for callback in callbacks:
            self.snap("cgocallback-enter", "main.goCallback", goroutine)
            if callback:
                callback(self)
            self.snap("cgocallback-return", "main.goCallback", goroutine)
        if returns:
            self.snap("cgocall-return", cfunc, goroutine)
        if step:
            self.step()
        return self

    def step(self):
        """The loop body between two C calls receives the next entry."""
        if self.ahead:
            self.ahead.pop(0)

    def names(self):
        return [f"{doc['seq']:04d}-{doc['event']}.json" for doc in self.docs]


def insert(*keys):
    def change(run):
        run.keys += [key for key in keys if key not in run.keys]
    return change


def delete(key):
    def change(run):
        run.keys.remove(key)
        if key in run.ahead:
            run.ahead.remove(key)
    return change


def grow(run):
    run.B += 1
    run.stale = True


def report(run, fmt="markdown", directory="/cap", **options):
    return build_report(zip(run.names(), run.docs), ReportOptions.from_lists(**options), fmt,
                        diff_command=directory_diff_command(directory))


def section(text, title):
    """The lines of one section (## title) of a markdown report."""
    start = text.index(f"\n## {title}\n") + len(title) + 5
    end = text.find("\n## ", start)
    return text[start:end if end >= 0 else len(text)].strip("\n")


# ---------------------------------------------------------------------------
# One small run, the whole report


def small_run():
    """call 1 grows the map in its callback; calls 2-4 insert one key each in theirs, each between a
    C._Cmalloc and a C.free (C.CString); call 5 changes nothing; in call 6 C deletes a key the loop has
    ahead; in call 7 C inserts a key and its callback another."""
    run = Run()
    run.call(callbacks=[lambda r: (insert("100", "101", "102", "103", "104")(r), grow(r))])
    for key in ("200", "201", "202"):
        run.call("C._Cmalloc", step=False)
        run.call(callbacks=[insert(key)], step=False)
        run.call("C.free")
    run.call()
    run.call(change=delete("7"))
    run.call(change=insert("300"), callbacks=[insert("301")])
    return run


SMALL_HEAD = """\
# gdb-hiter: what changed across each cgo call

- program `/tmp/prog` (go1.22.10, classic maps)
- 36 snapshots: 13 C calls, 5 callbacks
- 6 calls to `C._Cmalloc`, `C.free` not shown; `--skip-cfunc ''` shows them
- 1 call changed nothing (not listed; `--all-calls` lists them)
"""

SMALL_SUMMARY = """\
| C call | function | call site | goroutine | maps | loops |
|---|---|---|---|---|---|
| 1 | `C.callC`, all in callback `main.goCallback` | main.rangeLoop (main.go:42) | 1 | main.m: +5 entries, grew 2^3→2^4 | loop over main.m: now walks an old bucket array, same entries ahead, will not receive the 5 inserted entries (note 1) |
| 2–4 | `C.callC`, all in callback `main.goCallback` | main.rangeLoop (main.go:42) | 1 | each: main.m: +1 entry | loop over main.m: same entries ahead, will not receive the 1 inserted entry (note 1) |
| 6 | `C.callC` | main.rangeLoop (main.go:42) | 1 | main.m: −1 entry | loop over main.m: 1 ahead deleted (note 1) |
| 7 | `C.callC`, 1 callback | main.rangeLoop (main.go:42) | 1 | main.m: +2 entries | loop over main.m: same entries ahead, will not receive the 2 inserted entries (note 1) |
| ↳ callback | `main.goCallback` |  |  | main.m: +1 entry | loop over main.m: same entries ahead, will not receive the 1 inserted entry (note 1) |"""

SMALL_NOTE = (
    "1. The map grew since the loop started (B=3 → B=4): the loop keeps walking its old bucket array (retired: "
    "the map no longer references it) (B=3, 8 buckets). Entries not yet evacuated are returned from that array; "
    "entries already evacuated are looked up again in the live map, so deleted keys are skipped and updated "
    "values are seen. Keys inserted after the grow live only in the new array and are not visited by this loop")

SMALL_CALL_1 = """\
### C call 1: C.callC from main.rangeLoop (main.go:42), goroutine 1 (#1 → #4)

`gdb-hiter diff /cap/0001-cgocall-enter.json /cap/0004-cgocall-return.json`

- main.m (map 0xc000010000, map[int64]int64): count 8 → 13; grew from B=3 to B=4; growth finished; entries: 5 added, 1 moved
  - added: `100`, `101`, `102`, … (2 more)
- iterator 0xc0000a0000 over map 0xc000010000: it now walks a bucket array or table that is no longer the map's current one; the map grew during this interval; the loop will still receive the same 8 entries, in the same order; 5 inserted entries will not be received (100, 101, 102, ...: behind the loop or where it does not walk) (note 1)
- all of it inside callback main.goCallback (#2 → #3)
"""

SMALL_CALL_7 = """\
### C call 7: C.callC from main.rangeLoop (main.go:42), goroutine 1 (#33 → #36)

`gdb-hiter diff /cap/0033-cgocall-enter.json /cap/0036-cgocall-return.json`

- main.m (map 0xc000010000, map[int64]int64): count 15 → 17; entries: 2 added
  - added: `300`, `301`
- iterator 0xc0000a0000 over map 0xc000010000: the loop will still receive the same 1 entries, in the same order; 2 inserted entries will not be received (300, 301: behind the loop or where it does not walk) (note 1)
- inside it, callback main.goCallback (#34 → #35): `gdb-hiter diff /cap/0034-cgocallback-enter.json /cap/0035-cgocallback-return.json`
  - main.m (map 0xc000010000, map[int64]int64): count 16 → 17; entries: 1 added
    - added: `301`
  - iterator 0xc0000a0000 over map 0xc000010000: the loop will still receive the same 1 entries, in the same order; 1 inserted entry will not be received (301: behind the loop or where it does not walk) (note 1)
"""


def test_the_report_of_a_small_run():
    text = report(small_run())
    assert text.startswith(SMALL_HEAD + "\n## Summary\n\n" + SMALL_SUMMARY + "\n\n## Notes\n\n" + SMALL_NOTE
                           + "\n\n## Details\n\n" + SMALL_CALL_1 + "\n### C call 2: ")
    assert text.endswith("\n" + SMALL_CALL_7)
    # each call listed has its block; the one that changed nothing and the helpers have none
    assert [line.split(":")[0] for line in text.splitlines() if line.startswith("### ")] == [
        "### C call 1", "### C call 2", "### C call 3", "### C call 4", "### C call 6", "### C call 7"]
    assert "## Notes" not in text.split("## Notes", 1)[1]            # the explanation once, not per call
    assert text.count("the loop keeps walking its old bucket array") == 1


def test_consecutive_calls_of_one_effect_are_one_row_and_a_different_one_ends_it():
    run = Run()
    for key in ("100", "101", "102", "103"):
        run.call(callbacks=[insert(key)])
    run.call(callbacks=[insert("200", "201")])
    for key in ("300", "301"):
        run.call(callbacks=[insert(key)])
    rows = [line.split(" | ")[:1] + line.split(" | ")[4:5] for line in section(report(run), "Summary").splitlines()[2:]]
    assert rows == [["| 1–4", "each: main.m: +1 entry"], ["| 5", "main.m: +2 entries"],
                    ["| 6–7", "each: main.m: +1 entry"]]


def test_a_call_that_changes_nothing_breaks_a_run_and_all_calls_lists_it():
    run = Run()
    run.call(callbacks=[insert("100")]).call().call().call(callbacks=[insert("101")])
    text = report(run)
    assert "- 2 calls changed nothing (not listed; `--all-calls` lists them)\n" in text
    assert [line.split(" | ")[0] for line in section(text, "Summary").splitlines()[2:]] == ["| 1", "| 4"]
    every = report(run, all_calls=True)
    assert "changed nothing" not in every
    assert section(every, "Summary").splitlines()[2:] == [
        "| 1 | `C.callC`, all in callback `main.goCallback` | main.rangeLoop (main.go:42) | 1 | main.m: +1 entry "
        "| loop over main.m: same entries ahead, will not receive the 1 inserted entry |",
        "| 2–3 | `C.callC` | main.rangeLoop (main.go:42) | 1 | each: main.m: no change | loop over main.m: unaffected |",
        "| 4 | `C.callC`, all in callback `main.goCallback` | main.rangeLoop (main.go:42) | 1 | main.m: +1 entry "
        "| loop over main.m: same entries ahead, will not receive the 1 inserted entry |"]


# ---------------------------------------------------------------------------
# Callbacks


def test_callbacks_that_are_not_all_of_their_call_get_rows_of_their_own_and_are_collapsed_too():
    run = Run()
    run.call(callbacks=[insert("100"), insert("101"), insert("102"), delete("5")])
    text = report(run)
    assert section(text, "Summary").splitlines()[2:] == [
        "| 1 | `C.callC`, 4 callbacks | main.rangeLoop (main.go:42) | 1 | main.m: +3 entries, −1 entry "
        "| loop over main.m: 1 ahead deleted, will not receive the 3 inserted entries |",
        "| ↳ 3 callbacks | `main.goCallback` |  |  | each: main.m: +1 entry "
        "| loop over main.m: same entries ahead, will not receive the 1 inserted entry |",
        "| ↳ callback | `main.goCallback` |  |  | main.m: −1 entry | loop over main.m: 1 ahead deleted |"]
    details = section(text, "Details")
    assert details.count("- inside it, callback main.goCallback (#") == 4
    assert "all of it inside" not in details


def test_a_callback_that_did_it_all_is_named_in_its_calls_row_not_repeated():
    run = Run()
    run.call(callbacks=[None, insert("100")])     # two callbacks, the first changes nothing
    text = report(run)
    assert section(text, "Summary").splitlines()[2:] == [
        "| 1 | `C.callC`, 2 callbacks | main.rangeLoop (main.go:42) | 1 | main.m: +1 entry "
        "| loop over main.m: same entries ahead, will not receive the 1 inserted entry |",
        "| ↳ callback | `main.goCallback` |  |  | main.m: +1 entry "
        "| loop over main.m: same entries ahead, will not receive the 1 inserted entry |"]
    run = Run()
    run.call(callbacks=[insert("100")])
    text = report(run)
    assert "| `C.callC`, all in callback `main.goCallback` |" in text and "↳" not in text
    assert text.count("- main.m (map 0xc000010000, map[int64]int64): count 8 → 9; entries: 1 added\n") == 1
    assert "- all of it inside callback main.goCallback (#2 → #3)\n" in text


def test_a_call_that_never_returned_and_calls_on_two_goroutines():
    run = Run()
    run.call(callbacks=[insert("100")])
    run.snap("cgocall-enter", "C.block", goroutine=7)        # goroutine 7 enters C.block and stays there
    run.call(callbacks=[insert("101")])
    run.snap("cgocall-return", "C.block", goroutine=7)       # ... and returns, after call 3 did
    run.call(callbacks=[insert("102")], returns=False)        # the program died inside C call 4
    rows = section(report(run, skip_cfunc=""), "Summary").splitlines()[2:]
    assert [row.split(" | ")[:2] for row in rows] == [
        ["| 1", "`C.callC`, all in callback `main.goCallback`"], ["| 2", "`C.block`"],
        ["| 3", "`C.callC`, all in callback `main.goCallback`"], ["| 4", "`C.callC`, 1 callback"],
        ["| ↳ callback", "`main.goCallback`"]]
    assert rows[1].split(" | ")[3:5] == ["7", "main.m: +1 entry"]     # call 3's insert, seen from goroutine 7
    assert rows[3].split(" | ")[4] == ("never returned while the capture ran (the program crashed, exited or "
                                       "was stopped inside it)")
    text = report(run)
    assert "### C call 4: C.callC from main.rangeLoop (main.go:42), goroutine 1 (#11 → (no return captured))" in text


def test_a_callback_outside_any_captured_c_call():
    run = Run()
    run.snap("cgocallback-enter", "main.goCallback", goroutine=3)
    insert("100")(run)
    run.snap("cgocallback-return", "main.goCallback", goroutine=3)
    rows = section(report(run), "Summary").splitlines()[2:]
    assert rows == ["| callback | `main.goCallback` (outside any captured C call) | main.rangeLoop (main.go:42) "
                    "| 3 | main.m: +1 entry | loop over main.m: same entries ahead, will not receive the 1 "
                    "inserted entry |"]


# ---------------------------------------------------------------------------
# Filters and --limit


def helpers_run():
    run = Run()
    for key in ("100", "101"):
        run.call("C._Cmalloc", step=False)
        run.call("C.lookup", step=False)
        run.call(callbacks=[insert(key)], step=False)
        run.call("C.free")
    return run


def test_cgo_helpers_are_counted_not_listed_unless_asked_for():
    run = helpers_run()
    text = report(run)
    assert "- 4 calls to `C._Cmalloc`, `C.free` not shown; `--skip-cfunc ''` shows them\n" in text
    assert "- 2 calls changed nothing (not listed; `--all-calls` lists them)\n" in text   # the C.lookups
    # the C.lookups that changed nothing are numbered, and end a run
    assert [row.split(" | ")[:2] for row in section(text, "Summary").splitlines()[2:]] == [
        ["| 2", "`C.callC`, all in callback `main.goCallback`"], ["| 4", "`C.callC`, all in callback `main.goCallback`"]]
    every = report(run, skip_cfunc="", all_calls=True)
    assert "not shown" not in every
    assert [row.split(" | ")[:2] for row in section(every, "Summary").splitlines()[2:]] == [
        ["| 1", "`C._Cmalloc`"], ["| 2", "`C.lookup`"], ["| 3", "`C.callC`, all in callback `main.goCallback`"],
        ["| 4", "`C.free`"], ["| 5", "`C._Cmalloc`"], ["| 6", "`C.lookup`"],
        ["| 7", "`C.callC`, all in callback `main.goCallback`"], ["| 8", "`C.free`"]]


def test_cfunc_and_skip_cfunc():
    run = helpers_run()
    only = report(run, cfunc="lookup,C.free", all_calls=True)         # a bare name is C.<name>
    assert "- 4 calls to `C._Cmalloc`, `C.callC` not shown (not in `--cfunc`)\n" in only
    assert [row.split(" | ")[:2] for row in section(only, "Summary").splitlines()[2:]] == [
        ["| 1", "`C.lookup`"], ["| 2", "`C.free`"], ["| 3", "`C.lookup`"], ["| 4", "`C.free`"]]  # C.free asked for
    assert "--skip-cfunc" not in only
    skipped = report(run, skip_cfunc="C.lookup", all_calls=True)
    assert "- 2 calls to `C.lookup` not shown; `--skip-cfunc ''` shows them\n" in skipped
    assert [row.split(" | ")[1] for row in section(skipped, "Summary").splitlines()[2:]] == [
        "`C._Cmalloc`", "`C.callC`, all in callback `main.goCallback`", "`C.free`", "`C._Cmalloc`",
        "`C.callC`, all in callback `main.goCallback`", "`C.free`"]


def test_limit_is_applied_when_the_report_is_built():
    run = Run()
    keys = [str(100 + n) for n in range(10)]
    run.call(callbacks=[insert(*keys)])
    line = "  - added: " + ", ".join(f"`{key}`" for key in keys)
    assert line[:len("  - added: `100`, `101`, `102`")] + ", … (7 more)\n" in report(run)
    assert "  - added: `100`, `101`, `102`, `103`, `104`, … (5 more)\n" in report(run, limit=5)
    assert line + "\n" in report(run, limit=0)
    assert "main.m: +10 entries" in report(run, limit=1)             # the counts are whole whatever the limit


# ---------------------------------------------------------------------------
# The bound: at most max_chars characters, whatever the run


def swapping_run(calls, alternate):
    """``calls`` C calls, each replacing the keys the one before inserted by new ones: 1 key each
    (``alternate`` False: one effect, collapsed into one row) or 1 and 2 in turn (no two rows alike)."""
    run = Run()
    previous = []

    def swap(count, number):
        def change(r):
            r.keys = [key for key in r.keys if key not in previous] + [str(1000 + 3 * number + n) for n in range(count)]
            previous[:] = r.keys[-count:]
        return change
    for number in range(calls):
        run.call(change=swap(1 + (number % 2 if alternate else 0), number), step=False)
    return run


def test_a_thousand_calls_that_collapse_keep_the_bound_and_say_which_details_were_left_out():
    run = swapping_run(1000, alternate=False)
    text = report(run)
    assert len(text) <= 60000
    rows = section(text, "Summary").splitlines()[2:]
    assert rows == ["| 1 | `C.callC` | main.rangeLoop (main.go:42) | 1 | main.m: +1 entry | loop over main.m: same "
                    "entries ahead, will not receive the 1 inserted entry |",
                    "| 2–1000 | `C.callC` | main.rangeLoop (main.go:42) | 1 | each: main.m: +1 entry, −1 entry | loop "
                    "over main.m: same entries ahead, will not receive the 1 inserted entry |"]
    titles = [line for line in text.splitlines() if line.startswith("### C call ")]
    kept = len(titles)
    assert 50 < kept < 1000 and titles[-1].startswith(f"### C call {kept}: ")   # the first ones, in order
    first_left = run.names()[2 * kept:2 * kept + 2]
    assert text.endswith(f"\nThe details of {1000 - kept} of the 1000 listed calls were left out (the report is "
                         f"kept within 60000 characters); to see one: `gdb-hiter diff /cap/{first_left[0]} "
                         f"/cap/{first_left[1]}`\n")


def test_a_thousand_calls_of_different_effects_cut_the_summary_too():
    run = swapping_run(1000, alternate=True)
    text = report(run)
    assert 50000 < len(text) <= 60000
    rows = section(text, "Summary").splitlines()[2:]
    shown = [row for row in rows if row.startswith("| ")]
    assert [row.split(" | ")[0] for row in shown] == [f"| {n}" for n in range(1, len(shown) + 1)]
    assert len(shown) > 100
    assert (f"|\n\n{1000 - len(shown)} more rows of the summary left out (C calls {len(shown) + 1}–1000): "
            "the report is kept within 60000 characters\n\nThe details of") in text
    assert text.endswith("\nThe details of 1000 of the 1000 listed calls were left out (the report is kept within "
                         "60000 characters); to see one: `gdb-hiter diff /cap/0001-cgocall-enter.json "
                         "/cap/0002-cgocall-return.json`\n")


@pytest.mark.parametrize("max_chars", [500, 3000, 20000])
def test_any_bound_holds(max_chars):
    run = swapping_run(300, alternate=True)
    for fmt in ("markdown", "text"):
        text = build_report(run.docs, ReportOptions(max_chars=max_chars), fmt)
        assert len(text) <= max_chars
        assert text.startswith("# gdb-hiter: what changed" if fmt == "markdown" else "gdb-hiter: what changed")


def test_no_document_is_held_once_its_call_returned():
    run = small_run()
    builder = CallReport(ReportOptions(), "markdown")
    held = []
    for doc in run.docs:
        builder.add(doc)
        held.append(sum(1 for stack in builder._stacks.values() for item in stack if item.doc is not None))
    # open: a C call (1), its callback (2); the C helpers are not even held while open
    assert held == [1, 2, 1, 0] + [0, 0, 1, 2, 1, 0, 0, 0] * 3 + [1, 0, 1, 0, 1, 2, 1, 0]
    assert builder.finish() == transition_report(run.docs)    # fed one at a time or given as a list: the same


# ---------------------------------------------------------------------------
# Formats, documents that are not transitions, the directory and the command line


def test_text_is_the_same_report_for_a_terminal():
    text = transition_report(small_run().docs, "text")
    assert text.startswith("gdb-hiter: what changed across each cgo call\n"
                           "  program /tmp/prog (go1.22.10, classic maps)\n"
                           "  36 snapshots: 13 C calls, 5 callbacks\n"
                           "  6 calls to C._Cmalloc, C.free not shown; --skip-cfunc '' shows them\n"
                           "  1 call changed nothing (not listed; --all-calls lists them)\n"
                           "\nSummary\n"
                           "  C call 1: C.callC, all in callback main.goCallback; main.rangeLoop (main.go:42); "
                           "goroutine 1\n"
                           "      maps:  main.m: +5 entries, grew 2^3→2^4\n"
                           "      loops: loop over main.m: now walks an old bucket array, same entries ahead, will "
                           "not receive the 5 inserted entries (note 1)\n"
                           "  C calls 2–4: C.callC, all in callback main.goCallback; main.rangeLoop (main.go:42); "
                           "goroutine 1\n"
                           "      maps:  each: main.m: +1 entry\n")
    assert "\nC call 7: C.callC from main.rangeLoop (main.go:42), goroutine 1 (#33 → #36)\n" \
           "  all of it: hiter-diff 33 36\n" in text        # in gdb: the session's snapshot numbers
    assert "`" not in text and "|" not in text


def test_documents_in_any_order_and_not_only_transitions():
    run = small_run()
    manual = dict(run.docs[0], event="manual", seq=99, cfunc=None)
    assert transition_report(list(reversed(run.docs)) + [manual]) == \
        transition_report(run.docs + [manual])
    assert "- 37 snapshots: 13 C calls, 5 callbacks\n" in transition_report(run.docs + [manual])
    nothing = transition_report([manual])
    assert nothing.endswith("- 1 snapshot: 0 C calls, 0 callbacks\n\nNo C call or callback was captured.\n")
    core = dict(run.docs[0], event="core", seq=1, cfunc=None)
    text = build_report([core], ReportOptions(max_chars=2000), result="one snapshot of the core file")
    assert text.startswith("## gdb-hiter snapshot\n") and len(text) <= 2000
    assert build_report([], result="gdb failed") == (
        "# gdb-hiter: what changed across each cgo call\n\nNo snapshot was taken.\n\n---\n\nCapture: gdb failed\n")


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120)


def write_capture(run, directory):
    directory.mkdir()
    for name, doc in zip(run.names(), run.docs):
        snapshot.write_snapshot(doc, directory / name)
    (directory / "index.json").write_text('{"format": "gdb-hiter-capture", "version": 1, '
                                          '"result": "the program exited with status 0"}')


def test_gdb_hiter_report_rebuilds_report_md_from_a_directory(tmp_path):
    run = small_run()
    capture = tmp_path / "capture"
    write_capture(run, capture)
    result = _cli("report", capture)
    assert result.returncode == 0, result.stderr
    assert result.stderr == f"gdb-hiter: report: {capture}/report.md: {len((capture / 'report.md').read_text())} " \
                            "characters, 13 C call(s) in 36 snapshot(s)\n"
    text = (capture / "report.md").read_text()
    assert text == report_directory(str(capture), result="the program exited with status 0")
    assert text.startswith(SMALL_HEAD + "- capture: the program exited with status 0\n\n## Summary\n")
    assert f"`gdb-hiter diff {capture}/0001-cgocall-enter.json {capture}/0004-cgocall-return.json`" in text
    limited = _cli("report", capture, "--limit", "1", "--all-calls", "--skip-cfunc", "", "--max-chars", "6000",
                   "--out", "-")
    assert limited.returncode == 0 and limited.stderr == "" and len(limited.stdout) <= 6000
    assert "  - added: `100`, … (4 more)\n" in limited.stdout and "| `C._Cmalloc` |" in limited.stdout
    (capture / "0002-cgocallback-enter.json").write_text("{")      # an unreadable snapshot: left out, said
    again = _cli("report", capture, "--out", tmp_path / "r.md")
    assert again.returncode == 0 and again.stderr.endswith(", 1 unreadable left out\n")
    assert "- 1 snapshot file could not be read and is left out (the first: " in (tmp_path / "r.md").read_text()


def test_gdb_hiter_report_errors_are_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "0001-cgocall-enter.json").write_text("{")
    for args, message in (
            ([tmp_path / "missing"], f"gdb-hiter: {tmp_path}/missing: no such directory\n"),
            ([tmp_path / "file"], f"gdb-hiter: {tmp_path}/file: not a directory\n"),
            ([tmp_path / "empty"], f"gdb-hiter: {tmp_path}/empty: a directory, but no snapshot files "
                                   "(NNNN-<event>.json) in it\n"),
            ([tmp_path / "empty", "--max-chars", "10"], "gdb-hiter: report: --max-chars 10: at least 500\n"),
            ([tmp_path / "empty", "--limit", "-1"], "gdb-hiter: report: --limit -1: 0 (all) or a positive number\n")):
        result = _cli("report", *args)
        assert (result.returncode, result.stderr, result.stdout) == (2, message, ""), args
    result = _cli("report", broken)
    assert result.returncode == 2 and result.stderr.startswith(f"gdb-hiter: {broken}: no readable snapshot (")
    assert result.stderr.count("\n") == 1


def test_a_redacted_directory(tmp_path):
    run = small_run()
    capture, redacted = tmp_path / "capture", tmp_path / "redacted"
    write_capture(run, capture)
    result = _cli("redact", capture, redacted, "--salt", "s3cret")
    assert result.returncode == 0, result.stderr
    text = (redacted / "report.md").read_text()          # rebuilt by redact itself, from the redacted files
    assert _cli("report", redacted).returncode == 0
    assert (redacted / "report.md").read_text() == text   # and by gdb-hiter report, the same
    assert "- redacted: keys and values are salted hash tokens\n" in text
    assert section(text, "Summary") == SMALL_SUMMARY           # the same effects, counted on tokens
    assert f"`gdb-hiter diff {redacted}/0001-cgocall-enter.json {redacted}/0004-cgocall-return.json`" in text
    details = section(text, "Details")
    for key in ("100", "200", "301"):
        assert f"`{key}`" not in details
    assert details.count("  - added: `«k:") == 6 and "  - removed: `«k:" in details


def test_entry_lists_cut_at_capture_are_not_counted_as_added_or_removed():
    """Older captures could cut each map's entry list (--limit at capture): what is missing from a
    list was not removed from the map, so the row gives the count only."""
    run = Run()
    run.call(callbacks=[insert("100", "101")])
    for doc in run.docs:
        item = doc["maps"][0]
        item["entries"] = [entry for entry in item["entries"] if entry["key"] in ("1", "2", "100")]
        item["entries_shown"] = len(item["entries"])
    text = report(run)
    assert "| main.rangeLoop (main.go:42) | 1 | main.m: count 8→10, entry lists cut at capture |" in text


def test_the_keys_listed_are_the_first_in_key_order_not_in_map_order():
    run = Run()
    run.call(callbacks=[insert("109", "103", "100", "107")])       # in the map (and the diff) in this order
    assert "  - added: `100`, `103`, `107`, … (1 more)\n" in report(run)


def test_what_the_loop_will_still_receive():
    run = Run()

    def ahead_too(*keys):      # inserted where the loop has still to walk
        def change(r):
            insert(*keys)(r)
            r.ahead += list(keys)
        return change

    def reorder(r):
        r.ahead = r.ahead[::-1]

    def skip(r):               # still in the map, but now behind the loop
        r.ahead.remove("6")
    run.call(callbacks=[ahead_too("100", "101")]).call(callbacks=[skip]).call(callbacks=[reorder])
    run.call(callbacks=[lambda r: (ahead_too("200")(r), insert("201")(r))])
    loops = [row.split(" | ")[5] for row in section(report(run), "Summary").splitlines()[2:]]
    assert loops == ["loop over main.m: will also receive 2 inserted entries |",
                     "loop over main.m: 1 ahead no longer received |",
                     "loop over main.m: order changed |",
                     "loop over main.m: will also receive 1 inserted entry, will not receive 1 of the 2 inserted "
                     "entries |"]
