"""Snapshot files written by someone else: what show and diff print cannot drive the terminal or restructure markdown."""

import copy
import re
import subprocess
import sys

import pytest

from gdb_hiter.core.messages import display_safe, markdown_code, markdown_text
from gdb_hiter.core.snapshot.diff import diff_snapshots
from gdb_hiter.core.snapshot.document import write_snapshot
from gdb_hiter.core.snapshot.report import render_diff, render_snapshot
from test_snapshot import sample_classic, sample_swiss

HEADING = "## INJECTED"
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def hostile(doc):
    """``doc`` with a control character, a newline and markdown in every string a reader shows."""
    doc = copy.deepcopy(doc)
    doc["cfunc"] = "C.f\x1b]0;title\x07"
    doc["label"] = "l\r\n" + HEADING
    doc["location"] = {"function": "main.f\x1b[2J", "file": "/x/`a`<details>|[l](http://e)", "line": 1}
    for item in doc["maps"]:
        item["type"] = item["type"] + "\n" + HEADING
        item["expression"] = "main.m\x1b[31m\r"
        item["entries"][0]["key"] = '"\x1b[2J|`` x\n' + HEADING + '"'
        item["entries"][1]["value"] = "\n\n- " + HEADING
    for item in doc["iterators"]:
        item["function"] = "main.g\n" + HEADING
    return doc


def _check_terminal(text):
    assert not CONTROL.search(text), CONTROL.search(text)
    assert not any(line.startswith(HEADING) or line.lstrip("- ").startswith(HEADING) for line in text.split("\n"))


def _check_markdown(text):
    _check_terminal(text)
    for line in text.split("\n"):
        assert not re.match(r"\s*(#|- -|- #|<details>\|)", line) or re.match(r"#{2,3} (gdb-hiter|\S)", line), line
        assert "<details>|" not in line and "](http" not in line.replace("\\](", "")
        if line.startswith("|"):   # a table row keeps its columns: every other | is escaped or in code
            cells = re.split(r"(?<!\\)\|", line)
            header = len(re.split(r"(?<!\\)\|", _table_header(text, line)))
            assert len(cells) == header, line
        if line.startswith("#"):
            assert HEADING not in line.replace("\\#", "") or "\\n" in line, line


def _table_header(text, row):
    lines = text.split("\n")
    index = lines.index(row)
    while index > 0 and lines[index - 1].startswith("|"):
        index -= 1
    return lines[index]


@pytest.mark.parametrize("sample", [sample_classic, sample_swiss])
def test_show_and_diff_of_hostile_files(sample):
    a, b = (hostile(doc) for doc in sample())
    for text in (render_snapshot(a, "text"), render_diff(diff_snapshots(a, b), "text")):
        _check_terminal(text)
        assert "\\x1b[31m\\r" in text and "\\n## INJECTED" in text
    for text in (render_snapshot(a, "markdown"), render_diff(diff_snapshots(a, b), "markdown")):
        _check_markdown(text)
        assert "\\x1b" in text
    # JSON keeps the strings as they are (json escapes them itself)
    assert '"main.m\\u001b[31m\\r"' in render_snapshot(a, "json")


def test_the_cli_prints_hostile_files_escaped(tmp_path):
    a, b = (hostile(doc) for doc in sample_classic())
    write_snapshot(a, tmp_path / "a.json")
    write_snapshot(b, tmp_path / "b.json")
    for args in (["show", "a.json"], ["diff", "a.json", "b.json"], ["diff", "a.json", "b.json", "--format", "markdown"],
                 ["show", "a.json", "--format", "markdown"]):
        result = subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *args], capture_output=True, text=True,
                                timeout=60, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        _check_terminal(result.stdout)


def test_display_safe_copies_without_recursion():
    deep = "x\x1b"
    for _ in range(100_000):
        deep = [deep]
    safe = display_safe({"k\n": deep})
    for _ in range(100_001):
        safe = safe[0] if isinstance(safe, list) else safe["k\\n"]
    assert safe == "x\\x1b"


@pytest.mark.parametrize("text, expected", [
    ("buckets[0] slot 0", "buckets[0] slot 0"),
    ("start_bucket, x_y", "start_bucket, x_y"),
    ("_em_ *b* a|b <b> &amp; ~~s~~ \\", "\\_em\\_ \\*b\\* a\\|b \\<b\\> \\&amp; \\~\\~s\\~\\~ \\\\"),
    ("[click](http://e) ![i][r]", "\\[click\\](http\\://e) ![i\\][r]"),
    ("see https://evil.example or www.evil.com, a@b.c", "see https\\://evil.example or www\\.evil.com, a\\@b.c"),
    ("[x]: http://e", "\\[x]: http\\://e"), ("title #", "title \\#"), ("title # x", "title # x"),
    ("# h", "\\# h"), ("  - x", "  \\- x"), ("12. y", "12\\. y"), ("3) z", "3\\) z"), ("12 entries", "12 entries"),
])
def test_markdown_text(text, expected):
    assert markdown_text(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("a", "`a`"), ("a|b", "`a\\|b`"), ("a`b", "`` a`b ``"), ("``x", "``` ``x ```"), (" a", "`  a `")   # CommonMark strips one space each side,
])
def test_markdown_code(text, expected):
    assert markdown_code(text) == expected
