"""core.redact: nothing of the program's data remains; diffs of redacted snapshots pair like the originals."""

from __future__ import annotations

import json
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from gdb_hiter.core.snapshot import document as snapshot
from gdb_hiter.core.snapshot.diff import diff_snapshots
from gdb_hiter.core.snapshot.redact import RedactError, redact_snapshot, token
from test_snapshot import (
    INT64, STRING, SWISS_BUILD, sample_classic, sample_swiss, swiss_map_json, swiss_snapshot,
)
from test_swiss import truth

REPO = Path(__file__).resolve().parents[2]
SALT = "report-1234-secret"
TOKEN = re.compile(r"^«[kvb]:[0-9a-f]{12}»$")


def string_snapshot():
    """A map[string]int64 from a real process: keys "key-00" ... "key-11", values 1000 ... 1011."""
    return swiss_snapshot(SWISS_BUILD, 1, [swiss_map_json(SWISS_BUILD, "str", "main.s", types=(STRING, INT64))], [])


def test_tokens_are_stable_salted_and_typed():
    assert TOKEN.match(token(SALT, "k", '"key-01"'))
    assert token(SALT, "k", '"key-01"') == token(SALT.encode(), "k", '"key-01"')
    assert token(SALT, "k", '"key-01"') != token("other salt", "k", '"key-01"')
    assert token(SALT, "k", "1") != token(SALT, "v", "1")   # a key equal to a value does not show
    with pytest.raises(RedactError, match="the salt is empty"):
        token("", "k", "x")


def test_string_map_keeps_nothing_of_its_contents():
    doc = string_snapshot()
    originals = [(entry["key"], entry["value"]) for entry in doc["maps"][0]["entries"]]
    assert ('"key-00"', "1000") in originals
    redacted = redact_snapshot(doc, SALT)
    snapshot.validate_snapshot(redacted)
    text = json.dumps(redacted)
    for word, _ in truth(SWISS_BUILD, "str")["kv"]:
        assert word not in text
        assert word.encode().hex() not in text
    for _, value in originals:
        assert f'"{value}"' not in text
    assert redacted["redacted"] == {"method": "hmac-sha256", "salted": True, "token_hex_digits": 12}
    assert SALT not in text
    entries = redacted["maps"][0]["entries"]
    assert all(TOKEN.match(entry["key"]) and TOKEN.match(entry["value"]) for entry in entries)
    # structure and addresses stay
    assert [entry["location"] for entry in entries] == [entry["location"] for entry in doc["maps"][0]["entries"]]
    assert redacted["maps"][0]["address"] == doc["maps"][0]["address"]
    assert redacted["maps"][0]["groups"] == doc["maps"][0]["groups"]
    assert redacted["maps"][0]["header"]["seed"] != doc["maps"][0]["header"]["seed"]
    assert doc["maps"][0]["entries"][0]["key"] == originals[0][0]     # the input is not changed


def test_iterator_bytes_are_redacted():
    a, _ = sample_classic()
    iterator = a["iterators"][0]
    key_hex = iterator["current"]["key_bytes"]
    redacted = redact_snapshot(a, SALT)
    current = redacted["iterators"][0]["current"]
    assert TOKEN.match(current["key_bytes"]) and TOKEN.match(current["elem_bytes"])
    assert current["key_address"] == iterator["current"]["key_address"]
    text = json.dumps(redacted)
    assert key_hex not in text and iterator["current"]["elem_bytes"] not in text
    assert str(iterator["map"]["hash0"]) not in json.dumps(redacted["iterators"][0]["map"])
    # every raw key and value of the map is gone too
    for entry in a["maps"][0]["entries"]:
        raw = struct.pack("<q", int(entry["key"])).hex()
        assert raw not in text


def summary_without_tokens(diff):
    return json.loads(re.sub(r"«[kvb]:[0-9a-f]{12}»", "X", json.dumps(diff)))


@pytest.mark.parametrize("sample", [sample_classic, sample_swiss])
def test_redacted_diff_pairs_like_the_original(sample):
    a, b = sample()
    plain = diff_snapshots(a, b)
    redacted = diff_snapshots(redact_snapshot(a, SALT), redact_snapshot(b, SALT))
    for old, new in zip(plain["maps"], redacted["maps"]):
        where = {"added": "location", "removed": "location", "changed": "location_a", "moved": "a"}
        for kind, field in where.items():
            assert [row[field] for row in old["entries"][kind]] == [row[field] for row in new["entries"][kind]], kind
        assert old["entries"]["unchanged"] == new["entries"]["unchanged"]
        assert old["header"] == new["header"] and old["events"] == new["events"]
    assert [item["events"] for item in plain["iterators"]] == [item["events"] for item in redacted["iterators"]]
    # different salts: nothing pairs any more, and the diff says the keys differ
    other = diff_snapshots(redact_snapshot(a, SALT), redact_snapshot(b, "another salt"))
    if a["maps"][0]["entries"]:
        assert other["maps"][0]["entries"]["unchanged"] == 0


def test_mixed_redaction_is_noted():
    a, b = sample_classic()
    diff = diff_snapshots(redact_snapshot(a, SALT), b)
    assert "only one of the snapshots is redacted: keys and values cannot be paired" in diff["notes"]


def test_redacting_twice_is_refused():
    with pytest.raises(RedactError, match="already redacted"):
        redact_snapshot(redact_snapshot(sample_classic()[0], SALT), SALT)


def run(*args, env=None):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, env=env)


def test_cli_redact(tmp_path):
    doc = string_snapshot()
    snapshot.write_snapshot(doc, tmp_path / "in.json")
    result = run("redact", tmp_path / "in.json", tmp_path / "out.json", "--salt", SALT)
    assert result.returncode == 0 and result.stderr == "" and result.stdout == ""
    assert snapshot.read_snapshot(tmp_path / "out.json") == redact_snapshot(doc, SALT)
    # without --salt: a random salt, printed so that the other snapshots can use it
    result = run("redact", tmp_path / "in.json", tmp_path / "out2.json",
                 env={k: v for k, v in __import__("os").environ.items() if k != "GDB_HITER_SALT"})
    assert result.returncode == 0
    salt = re.match(r"^gdb-hiter: redact: salt ([0-9a-f]{32}) ", result.stderr).group(1)
    assert snapshot.read_snapshot(tmp_path / "out2.json") == redact_snapshot(doc, salt)
    # errors: one line, exit 2
    result = run("redact", tmp_path / "out.json", tmp_path / "again.json", "--salt", SALT)
    assert result.returncode == 2
    assert result.stderr == f"gdb-hiter: {tmp_path / 'out.json'}: the snapshot is already redacted\n"
    assert not (tmp_path / "again.json").exists()
    result = run("redact", tmp_path / "in.json", tmp_path / "in.json", "--salt", SALT)
    assert result.returncode == 2 and "refusing to overwrite the input" in result.stderr


def test_an_iterator_nested_deeper_than_the_recursion_limit_is_redacted():
    doc = string_snapshot()
    deep = {"key": "innermost secret"}
    for _ in range(5000):
        deep = {"extra": [deep]}
    doc["iterators"] = [deep]
    node = redact_snapshot(doc, SALT)["iterators"][0]
    depth = 0
    while "extra" in node:
        node, depth = node["extra"][0], depth + 1
    assert depth == 5000 and node["key"] == token(SALT, "k", "innermost secret")


def test_redacting_leaves_the_input_unchanged():
    doc = string_snapshot()
    before = json.dumps(doc, sort_keys=True)
    redact_snapshot(doc, SALT)
    assert json.dumps(doc, sort_keys=True) == before


GOLDEN = REPO / "tests" / "unit" / "data" / "capture" / "golden"


@pytest.mark.parametrize("name", ["classic-callback-enter.json", "swiss-callback-enter.json"])
def test_the_keys_a_loop_will_still_receive_are_redacted(name):
    doc = snapshot.read_snapshot(GOLDEN / name)
    (iterator,) = doc["iterators"]
    ahead = iterator["prediction"]["next"]
    assert ahead and set(ahead) <= {entry["key"] for entry in doc["maps"][0]["entries"]}
    redacted = redact_snapshot(doc, SALT)
    snapshot.validate_snapshot(redacted)
    tokens = redacted["iterators"][0]["prediction"]["next"]
    assert tokens == [token(SALT, "k", key) for key in ahead]   # the tokens of the same entries' keys
    assert set(tokens) <= {entry["key"] for entry in redacted["maps"][0]["entries"]}


def test_what_a_reduced_map_keeps_unrecorded_is_redacted():
    doc = string_snapshot()
    item = doc["maps"][0]
    item["unrecorded"] = {"header": dict(item["header"]), "dirLen": -5, "groups": item["groups"]}
    redacted = redact_snapshot(doc, SALT)["maps"][0]["unrecorded"]
    assert redacted["header"]["seed"] != item["header"]["seed"] and redacted["dirLen"] == -5
    assert redacted["groups"] == item["groups"]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, cwd=cwd)


def test_a_capture_directory_is_redacted_whole(tmp_path):
    capture = tmp_path / "capture"
    capture.mkdir()
    enter, back = string_snapshot(), string_snapshot()
    enter.update(event="cgocall-enter", cfunc="C.f", seq=1)
    back.update(event="cgocall-return", cfunc="C.f", seq=2)
    removed = back["maps"][0]
    gone = removed["entries"].pop(0)["key"]   # the C call removed one key
    for name in ("count", "entries_found", "entries_shown"):
        removed[name] -= 1
    snapshot.write_snapshot(enter, capture / "0001-cgocall-enter.json")
    snapshot.write_snapshot(back, capture / "0002-cgocall-return.json")
    (capture / "index.json").write_text(json.dumps({"format": "gdb-hiter-capture", "version": 1, "mode": "run",
                                                    "command": ["/bin/prog", "--user", "key-01"],
                                                    "result": "the program exited with status 0"}))
    (capture / "report.md").write_text('"key-00" removed')
    (capture / "gdb.log").write_text('$1 = map[string]int64 = {["key-00"] = 1000}')
    out = tmp_path / "redacted"
    result = _cli("redact", capture, out, "--salt", SALT)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ("gdb-hiter: redact: left out gdb.log (not snapshots: gdb.log holds keys and values "
                             "in clear)\n")
    assert sorted(path.name for path in out.iterdir()) == [
        "0001-cgocall-enter.json", "0002-cgocall-return.json", "index.json", "report.md"]
    for path in out.iterdir():
        assert "key-0" not in path.read_text(), path.name
    index = json.loads((out / "index.json").read_text())
    assert [entry["file"] for entry in index["snapshots"]] == ["0001-cgocall-enter.json", "0002-cgocall-return.json"]
    assert index["redacted"]["left_out"] == ["gdb.log"] and index["command"][0] == "/bin/prog"
    assert index["result"] == "the program exited with status 0"
    report = (out / "report.md").read_text()
    assert token(SALT, "k", gone) in report   # the removed key, by its token
    assert snapshot.read_snapshot(out / "0002-cgocall-return.json")["redacted"]["salted"] is True
    # OUT must be new or empty, and outside IN
    again = _cli("redact", capture, out, "--salt", SALT)
    assert again.returncode == 2 and again.stderr == (f"gdb-hiter: {out}: not empty (0001-cgocall-enter.json, ...): "
                                                      "choose a new directory or pass --force\n")
    inside = _cli("redact", capture, capture / "r", "--salt", SALT)
    assert inside.returncode == 2 and "the redacted capture must go outside" in inside.stderr
    assert _cli("redact", capture, out, "--salt", SALT, "--force").returncode == 0


def test_redacting_a_capture_into_itself_by_another_name_is_refused(tmp_path):
    capture = tmp_path / "capture"
    capture.mkdir()
    snapshot.write_snapshot(string_snapshot(), capture / "0001-manual.json")
    (tmp_path / "link").symlink_to(capture)
    for target in (tmp_path / "link", capture / "sub", tmp_path):
        result = _cli("redact", capture, target, "--salt", SALT, "--force")
        assert result.returncode == 2 and "the redacted capture must go outside" in result.stderr, (target, result)
    assert (capture / "0001-manual.json").exists()   # nothing of the source was touched


def test_an_unreadable_snapshot_is_left_out_and_force_clears_what_was_in_clear(tmp_path):
    capture, out = tmp_path / "capture", tmp_path / "out"
    capture.mkdir()
    out.mkdir()
    snapshot.write_snapshot(string_snapshot(), capture / "0001-manual.json")
    (capture / "0002-manual.json").write_text('{"truncated": ')
    (out / "gdb.log").write_text('["key-00"] = 1000')      # an earlier capture's log, in clear
    result = _cli("redact", capture, out, "--salt", SALT, "--force")
    assert result.returncode == 0, result.stderr
    assert "left out " in result.stderr and "0002-manual.json" in result.stderr
    assert sorted(path.name for path in out.iterdir()) == ["0001-manual.json", "index.json", "report.md"]
    index = json.loads((out / "index.json").read_text())
    assert index["redacted"]["left_out"] == ["0002-manual.json"]
