"""The capture store (core/snapshot/store.py): snapshots that share what did not change.

The documents are real snapshots (test_snapshot.py's, decoded from memory captured from Go
processes); each is written into a capture directory and read back: it must be the same
document, and the directory must hold each unchanged object once.
"""

from __future__ import annotations

import copy
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gdb_hiter.core.snapshot import document as snapshot
from gdb_hiter.core.snapshot import store
from gdb_hiter.core.snapshot.document import SnapshotError
from test_snapshot import sample_swiss

REPO = Path(__file__).resolve().parents[2]


def _write(directory: Path, docs):
    chunks = store.ChunkStore(str(directory), write=True)
    written = []
    try:
        for doc in docs:
            path = directory / f"{doc['seq']:04d}-{doc['event']}.json"
            written.append(snapshot.write_stored_snapshot(doc, path, chunks))
    finally:
        chunks.close()
    return written


def _many(count):
    """``count`` snapshots of the big Swiss map, each with one entry more changed (value text)."""
    base = sample_swiss()[0]
    docs = []
    for seq in range(1, count + 1):
        doc = copy.deepcopy(base)
        doc["seq"] = seq
        big = max(doc["maps"], key=lambda item: len(item["entries"]))
        big["entries"][(seq * 37) % len(big["entries"])]["value"] = f"{seq}"
        docs.append(doc)
    return docs


def test_cut_chunks_joins_back_and_cuts_where_items_do():
    text = ", ".join(json.dumps({"key": str(n), "value": n}) for n in range(5000))
    chunks = store.cut_chunks(text, "}, {")
    assert "}, {".join(chunks) == text
    assert 5 < len(chunks) < 200
    # one item changed in the middle: every other chunk is the same text
    changed = text.replace('{"key": "2500", "value": 2500}', '{"key": "2500", "value": -1}')
    again = store.cut_chunks(changed, "}, {")
    assert len(set(again) - set(chunks)) == 1


def test_stored_snapshots_read_back_as_written(tmp_path):
    docs = _many(6)
    _write(tmp_path, docs)
    names = snapshot.snapshot_files(str(tmp_path))
    assert len(names) == 6
    for name, doc in zip(names, docs):
        on_disk = json.loads((tmp_path / name).read_text())
        assert any(store.is_reference(item) for item in on_disk["maps"])      # the big map is stored
        assert snapshot.read_snapshot(tmp_path / name) == doc


def test_a_directory_grows_with_what_changed(tmp_path):
    docs = _many(30)
    added = _write(tmp_path, docs)
    whole = len(json.dumps(docs[0]))
    # the first snapshot stores its map; each later one one chunk or two, not the map again
    assert added[0] > whole / 10
    assert max(added[1:]) < whole / 4
    assert sum(os.path.getsize(path) for path in tmp_path.iterdir()) < whole * 30 / 5


def test_same_state_reads_as_the_same_object(tmp_path):
    doc = _many(1)[0]
    twin = dict(copy.deepcopy(doc), seq=2)
    _write(tmp_path, [doc, twin])
    first, second = (snapshot.read_snapshot(tmp_path / name) for name in snapshot.snapshot_files(str(tmp_path)))
    big = max(range(len(first["maps"])), key=lambda index: len(first["maps"][index]["entries"]))
    assert first["maps"][big] is second["maps"][big]     # a diff sees the unchanged map at once


@pytest.mark.parametrize("damage, message", [
    ("missing", r"chunk [0-9a-f]{12}\.\.\. is missing"),
    ("corrupt", r"chunk [0-9a-f]{12}\.\.\. is corrupt"),
    ("other-text", r"chunk [0-9a-f]{12}\.\.\. does not match its hash"),
    ("no-store", r"chunks\.sqlite: no such file"),
])
def test_a_damaged_store_is_one_line(tmp_path, damage, message):
    import re
    import zlib
    _write(tmp_path, _many(1))
    name = snapshot.snapshot_files(str(tmp_path))[0]
    db = tmp_path / "chunks.sqlite"
    if damage == "no-store":
        db.unlink()
    else:
        connection = sqlite3.connect(db)
        digest = connection.execute("SELECT hash FROM chunk WHERE length(data) > 2000 LIMIT 1").fetchone()[0]
        if damage == "missing":
            connection.execute("DELETE FROM chunk WHERE hash = ?", (digest,))
        elif damage == "corrupt":
            connection.execute("UPDATE chunk SET data = ? WHERE hash = ?", (b"not zlib", digest))
        else:
            connection.execute("UPDATE chunk SET data = ? WHERE hash = ?", (zlib.compress(b'"x"'), digest))
        connection.commit()
        connection.close()
    with pytest.raises(SnapshotError) as error:
        snapshot.read_snapshot(tmp_path / name)
    assert "\n" not in str(error.value) and re.search(message, str(error.value)), str(error.value)


def test_a_stored_snapshot_outside_its_directory_says_where_it_belongs(tmp_path):
    _write(tmp_path, _many(1))
    text = (tmp_path / snapshot.snapshot_files(str(tmp_path))[0]).read_text()
    with pytest.raises(SnapshotError, match="capture directory's chunks.sqlite: read it from there"):
        snapshot.loads(text, "s.json")


def test_version_1_files_still_read(tmp_path):
    doc = dict(_many(1)[0], version=1)
    (tmp_path / "v1.json").write_text(json.dumps(doc))
    assert snapshot.read_snapshot(tmp_path / "v1.json") == doc


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "gdb_hiter.cli", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True)


def test_export_writes_one_self_contained_file(tmp_path):
    docs = _many(3)
    capture = tmp_path / "capture"
    capture.mkdir()
    _write(capture, docs)
    name = snapshot.snapshot_files(str(capture))[2]
    result = _cli("export", capture / name, tmp_path / "one.json")
    assert result.returncode == 0 and result.stderr == ""
    on_disk = json.loads((tmp_path / "one.json").read_text())
    assert not store.references_in(on_disk) and on_disk == docs[2]
    # shown the same from the directory and from the exported file
    assert _cli("show", capture / name, "--format", "json").stdout == \
        _cli("show", tmp_path / "one.json", "--format", "json").stdout
    again = _cli("export", capture / name, tmp_path / "one.json")
    assert again.returncode == 2 and again.stderr.endswith("exists (pass --force to replace it)\n")


def test_redact_of_a_stored_capture_is_stored_and_redacts_everything(tmp_path):
    docs = _many(5)
    capture = tmp_path / "capture"
    capture.mkdir()
    _write(capture, docs)
    result = _cli("redact", capture, tmp_path / "public", "--salt", "s3cret")
    assert result.returncode == 0, result.stderr
    public = tmp_path / "public"
    assert (public / "chunks.sqlite").is_file()
    from gdb_hiter.core.snapshot.redact import redact_snapshot
    for name, doc in zip(snapshot.snapshot_files(str(public)), docs):
        redacted = snapshot.read_snapshot(public / name)
        expected = redact_snapshot(doc, "s3cret")
        assert redacted == expected
    raw = sqlite3.connect(public / "chunks.sqlite").execute("SELECT data FROM chunk").fetchall()
    import zlib
    text = "".join(zlib.decompress(row[0]).decode() for row in raw)
    big = max(docs[0]["maps"], key=lambda item: len(item["entries"]))
    for entry in big["entries"][:50]:                # no key in clear in the redacted store
        assert f'"key": {json.dumps(entry["key"])}' not in text
