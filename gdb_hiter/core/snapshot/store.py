"""A capture directory's store: snapshot files that share what did not change.

Pure core (no gdb). A map of 100k entries is ~20 MB of JSON, and a capture
takes a snapshot at every cgo transition, most of which change nothing or
one entry. So in a capture directory (``hiter-watch --out``, ``gdb-hiter
capture``) a big map or iterator object is not written into each snapshot
file: its JSON text is cut into content-defined chunks, each chunk is kept
once in ``chunks.sqlite`` under the hash of its text, and the snapshot file
(format version 2) holds in its place ``{"stored": {"chunks": [HASH, ...],
"sep": SEP}}``: the object's JSON text is the chunks' texts joined by SEP.

Chunks are cut where the text already has a separator between two list
items (``"}, {"`` between entries or bucket rows; ``'", "'`` between the
keys of a prediction), after an item whose hash says so: the cut depends
only on the items around it, so inserting one entry changes the one chunk
it lands in, and every other chunk is already stored.

``read_snapshot`` (document.py) resolves stored objects through
``resolve_stored``, so every command that reads a snapshot file reads both
forms; ``export`` writes one self-contained file.

The database is SQLite (Python's standard library): one file, each
snapshot's chunks committed before its file is renamed into place, so a
killed gdb leaves every snapshot file it wrote readable; concurrent readers
(``gdb-hiter report`` while a capture runs) see committed chunks only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Tuple

STORE_NAME = "chunks.sqlite"
# Objects whose JSON is shorter than this stay in the snapshot file itself.
INLINE_CHARS = 32 * 1024
# A chunk ends after an item whose hash has these bits clear (1 item in 256 on average) ...
CUT_MASK = 0xFF
# ... or after this many items.
MAX_ITEMS = 2048
SEPARATORS = ('}, {', '", "')
HASH_CHARS = 32
# The biggest chunk text read back (a hostile store must not decompress into gigabytes).
MAX_CHUNK_CHARS = 64 << 20


class StoreError(ValueError):
    """A stored object that cannot be read back; the message is one line."""


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=HASH_CHARS // 2).hexdigest()


def cut_chunks(text: str, sep: str) -> List[str]:
    """``text`` as chunks; ``sep.join(chunks) == text``."""
    items = text.split(sep)
    chunks: List[str] = []
    start = 0
    cuts = [index for index, item in enumerate(items) if not hash(item) & CUT_MASK]
    for cut in cuts + [len(items) - 1]:
        while cut - start + 1 > MAX_ITEMS:
            chunks.append(sep.join(items[start:start + MAX_ITEMS]))
            start += MAX_ITEMS
        if cut >= start:
            chunks.append(sep.join(items[start:cut + 1]))
            start = cut + 1
    return chunks


def separator_for(text: str) -> str:
    """The separator with the most items in ``text``."""
    return max(SEPARATORS, key=text.count)


@dataclass
class StoredObject:
    """A map or iterator object of a snapshot, known by its JSON text (``json.dumps`` of it)."""

    text: str
    key: Any = None                                      # names it across snapshots: (part, address)
    sep: str = ""
    chunks: List[str] = field(default_factory=list)      # hashes, once put in a store

    listing: str = ""                                    # the hash of the chunk holding the list of hashes

    def reference(self) -> Dict[str, Any]:
        return {"stored": {"list": self.listing, "sep": self.sep}}


def is_reference(item: Any) -> bool:
    return isinstance(item, dict) and set(item) == {"stored"}


class ChunkStore:
    """``chunks.sqlite`` of a capture directory: chunk texts by hash."""

    def __init__(self, directory: str, *, write: bool = False):
        self.path = os.path.join(directory, STORE_NAME)
        self.write = write
        if write:
            self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("CREATE TABLE IF NOT EXISTS chunk (hash TEXT PRIMARY KEY, data BLOB NOT NULL)")
        else:
            if not os.path.isfile(self.path):
                raise StoreError(f"{self.path}: no such file (the snapshot's chunks are kept there)")
            self.db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.known: set = set()
        # per object key, its chunks of the last snapshot: (length, head) -> (text, hash)
        self._recent: Dict[Any, Dict[Tuple[int, str], Tuple[str, str]]] = {}

    def store(self, obj: StoredObject, key: Any = None) -> int:
        """Cut ``obj`` into chunks and keep the new ones; the bytes added to the database.

        ``key`` names the object across snapshots (a map's address): its chunks of the last
        snapshot are kept, so a chunk equal to one of them is not hashed again.
        """
        if not obj.sep:
            obj.sep = separator_for(obj.text)
        chunks = cut_chunks(obj.text, obj.sep)
        before = self._recent.get(key, {}) if key is not None else {}
        hashes: List[str] = []
        new: List[Tuple[str, bytes]] = []
        recent: Dict[Tuple[int, str], Tuple[str, str]] = {}
        for chunk in chunks:
            probe = (len(chunk), chunk[:64])
            seen = before.get(probe)
            if seen is not None and seen[0] == chunk:
                digest = seen[1]
            else:
                digest = text_hash(chunk)
                if digest not in self.known:
                    new.append((digest, zlib.compress(chunk.encode("utf-8"), 1)))
                    self.known.add(digest)
            recent[probe] = (chunk, digest)
            hashes.append(digest)
        # the list of hashes is a chunk too: a snapshot file names an object by one hash
        listing = json.dumps(hashes)
        listing_hash = text_hash(listing)
        if listing_hash not in self.known:
            new.append((listing_hash, zlib.compress(listing.encode("utf-8"), 1)))
            self.known.add(listing_hash)
        if key is not None:
            self._recent[key] = recent
        if new:
            try:
                with self.db:
                    self.db.execute("BEGIN")
                    self.db.executemany("INSERT OR IGNORE INTO chunk (hash, data) VALUES (?, ?)", new)
            except BaseException:      # not stored after all (a full disk): a later snapshot must store them
                self.known.difference_update(digest for digest, _ in new)
                self._recent.pop(key, None)
                raise
        obj.chunks, obj.listing = hashes, listing_hash
        return sum(len(data) for _, data in new)

    def forget(self, keep: Iterable[Any]) -> None:
        """Drop the remembered chunks of objects not in ``keep`` (a map no longer watched)."""
        keep = set(keep)
        for key in [key for key in self._recent if key not in keep]:
            del self._recent[key]

    def text(self, digest: str) -> str:
        row = self.db.execute("SELECT data FROM chunk WHERE hash = ?", (digest,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: chunk {digest[:12]}... is missing")
        inflater = zlib.decompressobj()
        try:
            raw = inflater.decompress(row[0], MAX_CHUNK_CHARS * 4 + 1)
        except zlib.error as error:
            raise StoreError(f"{self.path}: chunk {digest[:12]}... is corrupt ({error})") from None
        if inflater.unconsumed_tail or len(raw) > MAX_CHUNK_CHARS * 4:
            raise StoreError(f"{self.path}: chunk {digest[:12]}... is larger than any chunk gdb-hiter writes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise StoreError(f"{self.path}: chunk {digest[:12]}... is not UTF-8 text") from None
        if text_hash(text) != digest:
            raise StoreError(f"{self.path}: chunk {digest[:12]}... does not match its hash")
        return text

    def close(self) -> None:
        try:
            if self.write:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error:
            pass
        self.db.close()


# ---------------------------------------------------------------------------
# Reading stored objects back


class _Resolver:
    """Stored objects of one directory, parsed; the same state gives the same object
    (a diff of two snapshots then sees an unchanged map at once: ``a is b``)."""

    CACHED = 8

    def __init__(self):
        self.stores: Dict[str, ChunkStore] = {}
        self.parsed: "OrderedDict[Tuple[str, Tuple[str, ...], str], Any]" = OrderedDict()

    def resolve(self, directory: str, reference: Dict[str, Any], where: str, max_chars: int) -> Any:
        stored = reference.get("stored")
        listing, sep = (stored or {}).get("list"), (stored or {}).get("sep")
        if (not isinstance(listing, str) or len(listing) != HASH_CHARS or not isinstance(sep, str)
                or sep not in SEPARATORS or set(stored) != {"list", "sep"}):
            raise StoreError(f"{where}: not a stored object (\"stored\" needs \"list\": HASH and \"sep\")")
        key = (os.path.realpath(directory), listing, sep)
        if key in self.parsed:
            self.parsed.move_to_end(key)
            return self.parsed[key]
        store = self.stores.get(key[0])
        if store is None:
            try:
                store = self.stores[key[0]] = ChunkStore(directory)
            except sqlite3.Error as error:
                raise StoreError(f"{os.path.join(directory, STORE_NAME)}: cannot open: {error}") from None
        texts, total = [], 0
        try:
            try:
                chunks = json.loads(store.text(listing))
            except ValueError:
                chunks = None
            if (not isinstance(chunks, list) or not chunks
                    or not all(isinstance(c, str) and len(c) == HASH_CHARS for c in chunks)):
                raise StoreError(f"{where}: its list of chunks ({listing[:12]}...) is not a list of hashes")
            for digest in chunks:
                text = store.text(digest)
                total += len(text)
                if total > max_chars:
                    raise StoreError(f"{where}: its chunks are larger than the {max_chars >> 20} MiB a snapshot may be")
                texts.append(text)
        except sqlite3.Error as error:
            raise StoreError(f"{store.path}: cannot read: {error}") from None
        try:
            value = json.loads(sep.join(texts), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as error:
            raise StoreError(f"{where}: its chunks are not JSON ({str(error).splitlines()[0]})") from None
        self.parsed[key] = value
        while len(self.parsed) > self.CACHED:
            self.parsed.popitem(last=False)
        return value


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


_RESOLVER = _Resolver()


def resolve_stored(doc: Dict[str, Any], directory: str, max_chars: int) -> bool:
    """Replace the stored references of ``doc``'s maps and iterators by the objects; whether any was."""
    found = False
    for part in ("maps", "iterators"):
        items = doc.get(part)
        if not isinstance(items, list):
            continue
        for index, item in enumerate(items):
            if is_reference(item):
                items[index] = _RESOLVER.resolve(directory, item, f"$.{part}[{index}]", max_chars)
                found = True
    return found


def references_in(doc: Dict[str, Any]) -> bool:
    return any(is_reference(item) for part in ("maps", "iterators")
               for item in (doc.get(part) if isinstance(doc.get(part), list) else ()))


def stored_document(doc: Dict[str, Any], store: ChunkStore) -> Tuple[Dict[str, Any], int]:
    """``doc`` with its big maps and iterators replaced by references into ``store``; bytes added.

    Items may be objects or ``StoredObject`` (an object already rendered as JSON text).
    """
    out = dict(doc)
    added = 0
    for part in ("maps", "iterators"):
        items: List[Any] = []
        for index, item in enumerate(doc[part]):
            if isinstance(item, StoredObject):
                obj = item
                if obj.listing:          # stored already (an object unchanged since the last snapshot)
                    items.append(obj.reference())
                    continue
            else:
                text = json.dumps(item, allow_nan=False)
                if len(text) < INLINE_CHARS:
                    items.append(item)
                    continue
                obj = StoredObject(text, key=(part, item.get("address", index)))
            if len(obj.text) < INLINE_CHARS:
                items.append(json.loads(obj.text))
                continue
            added += store.store(obj, key=obj.key)
            obj.text = ""            # stored: the text of a 1M-entry map need not stay in gdb's memory
            items.append(obj.reference())
        out[part] = items
    return out, added


