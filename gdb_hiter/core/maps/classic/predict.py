"""The rest of a classic range loop: ``runtime.mapiternext`` replayed over memory as it is.

Follows ``mapiternext`` of ``runtime/map.go`` (Go 1.19 – 1.23) and
``runtime/map_noswiss.go`` (1.24 – 1.25 with ``GOEXPERIMENT=noswissmap``),
which differ only in 1.24's ``clearSeq`` test. From the iterator's fields
(``bucket``, ``bptr``, ``i``, ``checkBucket``, ``wrapped``) each call:

* starts the next bucket of the iterator's own array (``it.buckets``, of
  ``2^it.B`` buckets, which is the map's old or a retired array once the map
  grew), or, when the loop started in the middle of a grow that is still
  going (``it.B == h.B``), the old bucket that new bucket comes from if it
  is not evacuated yet (``checkBucket``);
* walks its slots from ``offset``, and its overflow chain;
* returns a full slot's key and element as they are stored ("the golden
  data") unless the slot was evacuated or the map cleared since the loop
  started (1.24 ``clearSeq``): then it looks the key up again in the live
  map (``mapaccessK``) and returns what it finds there, or skips the key
  when it is gone. A key that is not equal to itself (NaN) is never looked
  up: it is returned as stored.

The one thing this replay cannot compute is the hash of a key (seeded per
map, AES-based): in a grow to twice the size that started before the loop
did, a not-yet-evacuated old bucket is walked for each of the two new
buckets it splits into, and each of its keys is returned at the one its
hash selects — or was returned already, if that walk is behind the loop.
Those keys are listed once, at the first place they can come, marked
``maybe``, and the prediction says it is not exact: every other entry
listed comes, in the order listed, and no entry unlisted comes.
"""

from __future__ import annotations

import struct
from typing import Dict, List, Optional

from ...layouts.classic import (
    BUCKET_SLOTS, DATA_OFFSET, EMPTY_ONE, EVACUATED_EMPTY, EVACUATED_X, EVACUATED_Y,
    FLAG_HASH_WRITING, FLAG_SAME_SIZE_GROW, MAPTYPE_REFLEXIVE_KEY, NO_CHECK, POINTER_SIZE,
)
from ...memory import MemoryReader
from ..model import DecodedMap
from ..prediction import LiveIndex, Prediction, PredictionStopped, Visit, read_exact, replay_rest, walk_to_position
from .common import DEFAULT_MAX_CHAIN, READ_CHUNK_BYTES, _is_pointer
from .iterator import DecodedIterator
from .walk import is_evacuated

_U64 = struct.Struct("<Q")

HASH_ORDER = ("the loop started during a grow that is still going: whether and where it returns each key "
              "of an old bucket not yet evacuated depends on the key's hash, which gdb-hiter does not compute "
              "(those keys are marked maybe)")


class _Buckets:
    """Bucket bytes by address: arrays read in big chunks, overflow buckets one by one."""

    def __init__(self, memory: MemoryReader, size: int):
        self.memory = memory
        self.size = size
        self.arrays: List[tuple] = []      # (base, count)
        self.chunks: Dict[tuple, bytes] = {}

    def add_array(self, base: int, count: int) -> None:
        if base:
            self.arrays.append((base, count))

    def read(self, address: int) -> bytes:
        for base, count in self.arrays:
            if base <= address < base + count * self.size and (address - base) % self.size == 0:
                per_chunk = max(1, READ_CHUNK_BYTES // self.size)
                chunk = (address - base) // self.size // per_chunk
                # the count is part of the key: a loop that started before a grow walks the map's old
                # array, registered twice; with a corrupt it.B the two counts differ, and a chunk cached
                # for the shorter one must not be sliced for the longer one
                key = (base, count, chunk)
                if key not in self.chunks:
                    first = chunk * per_chunk
                    buckets = min(per_chunk, count - first)
                    self.chunks[key] = read_exact(self.memory, base + first * self.size, buckets * self.size,
                                                  f"bucket array {base:#x}")
                offset = ((address - base) // self.size - chunk * per_chunk) * self.size
                return self.chunks[key][offset:offset + self.size]
        return read_exact(self.memory, address, self.size, f"overflow bucket {address:#x}")


UINTPTR_MASK = (1 << 64) - 1


class _Replay:
    """One iterator's state as mapiternext keeps it, stepped call by call."""

    def __init__(self, memory: MemoryReader, iterator: DecodedIterator, live: DecodedMap, index: LiveIndex,
                 inexact: List[str]):
        self.memory = memory
        self.maptype = iterator.maptype
        self.fields = dict(iterator.fields)
        self.header = iterator.map_header
        self.index = index
        self.inexact = inexact
        fields, header, maptype = self.fields, self.header, self.maptype
        self.it_b = fields["B"]
        self.growing = bool(header["oldbuckets"])
        self.same_size = bool(header["flags"] & FLAG_SAME_SIZE_GROW)
        old_count = (1 << header["B"]) if self.same_size else (1 << max(header["B"] - 1, 0))
        self.old_mask = old_count - 1
        self.reflexive = bool(maptype.flags & MAPTYPE_REFLEXIVE_KEY)
        self.cleared = "clearSeq" in fields and fields["clearSeq"] != header.get("clearSeq")
        self.buckets = _Buckets(memory, maptype.bucketsize)
        self.buckets.add_array(fields["buckets"], 1 << self.it_b)
        if header["oldbuckets"]:
            self.buckets.add_array(header["oldbuckets"], old_count)
        self.buckets_started = 0
        self.maybe_listed: set = set()     # key addresses listed as maybe, at the first walk met
        self.chain_seen = 0

    def start(self) -> None:
        """The state mapiterinit leaves before its first mapiternext."""
        fields = self.fields
        fields.update(bucket=fields["startBucket"], bptr=0, i=0, wrapped=0, checkBucket=NO_CHECK)

    def position(self) -> tuple:
        fields = self.fields
        return fields["bucket"], fields["bptr"], fields["i"], fields["wrapped"]

    def next(self) -> Optional[Visit]:
        """One mapiternext: the visit it returns, or None at the end of the iteration."""
        fields, maptype = self.fields, self.maptype
        bucket, b, i, check = fields["bucket"], fields["bptr"], fields["i"], fields["checkBucket"]
        size = maptype.bucketsize
        total = 1 << self.it_b
        while True:
            if b == 0:
                if bucket == fields["startBucket"] and fields["wrapped"]:
                    fields.update(key=0, elem=0)
                    return None
                if self.growing and self.it_b == self.header["B"]:
                    # uintptr arithmetic, as the runtime's add(): it wraps at 2^64
                    old = (self.header["oldbuckets"] + (bucket & self.old_mask) * size) & UINTPTR_MASK
                    if not is_evacuated(self.buckets.read(old)[0]):
                        b, check = old, bucket
                    else:
                        b, check = (fields["buckets"] + bucket * size) & UINTPTR_MASK, NO_CHECK
                else:
                    b, check = (fields["buckets"] + bucket * size) & UINTPTR_MASK, NO_CHECK
                bucket += 1
                if bucket >= total:
                    bucket = 0
                    fields["wrapped"] = 1
                i = 0
                self.chain_seen = 0
                self.buckets_started += 1
                if self.buckets_started > total + 1:
                    raise PredictionStopped(f"the walk started all {total} buckets without coming back to "
                                            f"startBucket {fields['startBucket']}: the iterator is corrupt")
            data = self.buckets.read(b)
            while i < BUCKET_SLOTS:
                offi = (i + fields["offset"]) & (BUCKET_SLOTS - 1)
                top = data[offi]
                if top <= EMPTY_ONE or top == EVACUATED_EMPTY:
                    i += 1
                    continue
                key_at = b + DATA_OFFSET + offi * maptype.keysize
                elem_at = b + DATA_OFFSET + BUCKET_SLOTS * maptype.keysize + offi * maptype.elemsize
                if maptype.indirect_key:
                    key_at = _U64.unpack_from(data, DATA_OFFSET + offi * maptype.keysize)[0]
                key = read_exact(self.memory, key_at, maptype.key_size, "a key")
                self_equal = True
                if not self.reflexive:
                    decided = self.index.is_self_equal(key)
                    if decided is None:
                        self.inexact.append("a key's equality to itself (NaN?) cannot be decided")
                        decided = True
                    self_equal = decided
                maybe = False
                if check != NO_CHECK and not self.same_size:
                    if self_equal:
                        # hash & bucketMask(it.B) != checkBucket: the hash is not computed here
                        if key_at in self.maybe_listed:
                            i += 1
                            continue
                        self.maybe_listed.add(key_at)
                        maybe = True
                        if HASH_ORDER not in self.inexact:
                            self.inexact.append(HASH_ORDER)
                    elif check >> (self.it_b - 1) != top & 1:
                        i += 1
                        continue
                evacuated = top in (EVACUATED_X, EVACUATED_Y)
                if not self.cleared and (not evacuated or not self_equal):
                    if maptype.indirect_elem:
                        elem_at = _U64.unpack_from(data, DATA_OFFSET + BUCKET_SLOTS * maptype.keysize
                                                   + offi * maptype.elemsize)[0]
                    visit = Visit(key, read_exact(self.memory, elem_at, maptype.elem_size, "an element"),
                                  key_at, elem_at)
                else:
                    found = self.index.lookup(key)
                    if found is None:
                        i += 1
                        continue    # the key has been deleted
                    visit = self.index.visit(found)
                visit.maybe = maybe
                fields.update(bucket=bucket, bptr=b, i=i + 1, checkBucket=check,
                              key=visit.key_address, elem=visit.value_address)
                return visit
            following = _U64.unpack_from(data, size - POINTER_SIZE)[0]
            self.chain_seen += 1
            if following and (not _is_pointer(following) or self.chain_seen > DEFAULT_MAX_CHAIN):
                raise PredictionStopped(f"overflow chain of bucket {bucket - 1} is corrupt at {b:#x}")
            b, i = following, 0


def predict(memory: MemoryReader, iterator: DecodedIterator, live: Optional[DecodedMap],
            index: Optional[LiveIndex]) -> Prediction:
    """What the loop of ``iterator`` will still receive, in order (see the module doc)."""
    return replay_rest(
        memory, iterator, live, index, init_name="mapiterinit",
        writing=lambda header: ("the map is being written (hashWriting): mapiternext would fatal with "
                                "'concurrent map iteration and map write'") if header["flags"] & FLAG_HASH_WRITING
        else None,
        make_replay=lambda inexact: _Replay(memory, iterator, live, index, inexact),
        budget=lambda: _visit_budget(iterator, live),
        behind=lambda: _behind(memory, iterator, live, index))


def _visit_budget(iterator: DecodedIterator, live: DecodedMap) -> int:
    """More entries than this cannot be ahead of a real loop: every slot of its array, chains included."""
    return max(live.count, len(live.entries)) + (BUCKET_SLOTS << iterator.fields["B"]) * 2 + BUCKET_SLOTS


def _behind(memory: MemoryReader, iterator: DecodedIterator, live: DecodedMap, index: LiveIndex) -> Optional[List[int]]:
    """Key addresses the same walk returns from its start up to the iterator's position."""
    replay = _Replay(memory, iterator, live, index, [])
    replay.start()
    fields = iterator.fields
    target = (fields["bucket"], fields["bptr"], fields["i"], fields["wrapped"])
    return walk_to_position(replay, target, _visit_budget(iterator, live))
