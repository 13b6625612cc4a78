"""Walk a classic map: the hmap header, its bucket arrays and overflow chains, in bulk reads."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from .. import slotgrid
from ...layouts.classic import (
    BUCKET_SLOTS, EVACUATED_EMPTY, EVACUATED_X, FLAG_HASH_WRITING, FLAG_SAME_SIZE_GROW,
    HMAP_FLAG_NAMES, POINTER_SIZE, SLOT_CODES, ClassicLayout, bucket_struct, classic_layout,
    flag_names, slot_codes,
)
from ...layouts.fields import field_offsets
from ...gcpause import cyclic_gc_paused
from ...memory import MemoryReader, UnreadableMemory
from ..model import DecodedMap, EntryColumns, Problem
from .common import (
    DEFAULT_MAX_CHAIN, ImplausibleMap, MAX_PLAUSIBLE_B, MAX_PROBLEMS, NilMap, PLACE_FIELDS,
    READ_CHUNK_BYTES, UnreadableMap, _EVACUATED_TOPHASH, _FULL_TOPHASH, _NO_SLOTS, _U64, _is_pointer, _plain,
)
from .maptype import MapType


# ---------------------------------------------------------------------------
# hmap header


def read_hmap(memory: MemoryReader, address: int, layout: ClassicLayout) -> Dict[str, Any]:
    """The hmap fields by runtime name, plus ``flag_names``; raises ClassicMapError."""
    if address == 0:
        raise NilMap("nil map (hmap address 0): it has no entries and no buckets")
    try:
        raw = memory.read(address, layout.hmap.sizeof())
    except UnreadableMemory as error:
        raise UnreadableMap(f"hmap at {address:#x} unreadable: {error}") from None
    header = _plain(layout.hmap.parse(raw))
    header["flag_names"] = flag_names(header["flags"], HMAP_FLAG_NAMES)
    if header["B"] > MAX_PLAUSIBLE_B:
        raise ImplausibleMap(f"hmap at {address:#x}: B = {header['B']} is not a real map (max {MAX_PLAUSIBLE_B})")
    if header["count"] >= 1 << 62:
        raise ImplausibleMap(f"hmap at {address:#x}: count {header['count']:#x} is not a real map")
    return header


def old_bucket_count(header: Dict[str, Any]) -> int:
    """noldbuckets(): the old array is as big as the new one in a same-size grow, else half."""
    if header["flags"] & FLAG_SAME_SIZE_GROW:
        return 1 << header["B"]
    return 1 << max(header["B"] - 1, 0)


def is_evacuated(tophash0: int) -> bool:
    """evacuated(b): the runtime marks an evacuated bucket in tophash[0]."""
    return EVACUATED_X <= tophash0 <= EVACUATED_EMPTY


# ---------------------------------------------------------------------------
# Walking buckets


class _NotBuckets(Exception):
    """The walk stopped: what it reads cannot be this map's bucket array."""


class _LimitReached(Exception):
    pass




class BucketRecords(Sequence):
    """The records of one bucket array walk, as a sequence of dicts made on demand.

    ``{"index", "address", "tophash" (hex), "slots" (one class code per slot)}``,
    plus ``"overflow"``: the same for each bucket of its chain (with ``depth``
    instead of ``index``) when the bucket has one. A 1M-entry map has ~260k
    buckets; the walk keeps, per run of buckets read together, only ranges and
    the run's tophash text, and ``json()`` writes them without a dict each.
    """

    def __init__(self):
        self._runs: List[Tuple[int, int, int, int, str, str]] = []   # position, index, address, size, hex, codes
        self._length = 0
        self._overflow: Dict[int, List[Dict[str, Any]]] = {}           # position -> its chain's records

    def add_run(self, first_index: int, address: int, size: int, tophashes: bytes) -> int:
        """Buckets first_index... at address, address + size...; returns the position of the first."""
        position = self._length
        self._runs.append((position, first_index, address, size, tophashes.hex(), slot_codes(tophashes)))
        self._length += len(tophashes) // BUCKET_SLOTS
        return position

    def start_chain(self, position: int) -> None:
        """The bucket at ``position`` has an overflow pointer: its record gets an ``overflow``
        list, empty if the chain's first bucket cannot be walked."""
        self._overflow[position] = []

    def add_overflow(self, position: int, depth: int, address: int, tophash: bytes) -> None:
        """One more bucket of the overflow chain of the bucket at ``position``."""
        self._overflow[position].append(
            {"depth": depth, "address": address, "tophash": tophash.hex(), "slots": slot_codes(tophash)})

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[position] for position in range(*index.indices(self._length))]
        if index < 0:
            index += self._length
        if not 0 <= index < self._length:
            raise IndexError("bucket record index out of range")
        run = self._runs[bisect_right(self._runs, (index, 1 << 64)) - 1]
        return self._record(run, index - run[0])

    def _record(self, run, k: int) -> Dict[str, Any]:
        position, first_index, address, size, hexes, codes = run
        record = {"index": first_index + k, "address": address + k * size,
                  "tophash": hexes[_HEX * k:_HEX * (k + 1)], "slots": codes[BUCKET_SLOTS * k:BUCKET_SLOTS * (k + 1)]}
        chain = self._overflow.get(position + k)
        if chain is not None:
            record["overflow"] = chain
        return record

    def __iter__(self):
        for run in self._runs:
            for k in range(len(run[5]) // BUCKET_SLOTS):
                yield self._record(run, k)

    def __eq__(self, other) -> bool:
        if isinstance(other, (list, BucketRecords)):
            return len(self) == len(other) and list(self) == list(other)
        return NotImplemented

    def json(self) -> str:
        """``json.dumps(list(self))``, the same text."""
        pieces = []
        overflow = self._overflow
        chained = list(overflow)   # positions with a chain, in walk order: ascending
        for position, first_index, address, size, hexes, codes in self._runs:
            count = len(codes) // BUCKET_SLOTS
            texts = map(_BUCKET_JSON.__mod__, zip(
                range(first_index, first_index + count), range(address, address + count * size, size),
                map(hexes.__getitem__, map(slice, range(0, _HEX * count, _HEX), range(_HEX, _HEX * (count + 1), _HEX))),
                map(codes.__getitem__, map(slice, range(0, BUCKET_SLOTS * count, BUCKET_SLOTS),
                                           range(BUCKET_SLOTS, BUCKET_SLOTS * (count + 1), BUCKET_SLOTS)))))
            next_chain = bisect_left(chained, position)
            if next_chain < len(chained) and chained[next_chain] < position + count:
                texts = [text if position + k not in overflow else
                         f'{text[:-1]}, "overflow": [{", ".join(map(_chain_json, overflow[position + k]))}]}}'
                         for k, text in enumerate(texts)]
            pieces.append(", ".join(texts))
        return "[" + ", ".join(piece for piece in pieces if piece) + "]"


_HEX = 2 * BUCKET_SLOTS   # hex digits of one bucket's tophash
_BUCKET_JSON = '{"index": %d, "address": %d, "tophash": "%s", "slots": "%s"}'
_OVERFLOW_JSON = '{"depth": %d, "address": %d, "tophash": "%s", "slots": "%s"}'


def _chain_json(record: Dict[str, Any]) -> str:
    return _OVERFLOW_JSON % (record["depth"], record["address"], record["tophash"], record["slots"])


class _Walk:
    """One map walk: bucket records, entries and problems, with its bounds.

    This is the hot loop of a big map (1M entries is ~260k buckets), so it
    works on the bulk-read buffers with precomputed offsets and locals;
    the offsets come from ``bucket_struct`` so the layout stays data.
    """

    def __init__(self, memory: MemoryReader, maptype: MapType, limit: Optional[int], max_chain: int,
                 count: Optional[int] = None):
        self.memory = memory
        self.count = count          # hmap.count: a real array never holds more live entries
        self.maptype = maptype
        self.limit = limit
        self.max_chain = max_chain
        self.entries = EntryColumns(PLACE_FIELDS)
        self.problems: List[Problem] = []
        self.suppressed_problems = 0
        self.seen_overflow: set = set()
        self.overflow_buckets = 0
        self.walk_cut = False      # a problem cost part of the walk (buckets, chains or entries)
        layout = field_offsets(bucket_struct(maptype.keysize, maptype.elemsize))
        assert layout["overflow"][0] + POINTER_SIZE == maptype.bucketsize
        assert maptype.bucketsize % POINTER_SIZE == 0   # buckets end with a pointer: a whole number of words
        self.overflow_offset = layout["overflow"][0]
        # offset of slot i's key / elem from the start of its bucket
        self.key_offsets = tuple(layout["keys"][0] + slot * maptype.keysize for slot in range(BUCKET_SLOTS))
        self.elem_offsets = tuple(layout["elems"][0] + slot * maptype.elemsize for slot in range(BUCKET_SLOTS))
        self.key_at_of = self.elem_at_of = None   # set by walk_run for the run being walked

    def problem(self, what: str, why: str, address: Optional[int] = None) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(what, why, address))
        else:
            self.suppressed_problems += 1

    def read_runs(self, base: int, count: int) -> Iterable[Tuple[int, bytes, int]]:
        """Yield (first index, buffer, buckets in buffer) over a bucket array.

        Reads in chunks of at most READ_CHUNK_BYTES; a chunk that cannot be
        read is split in halves until the unreadable stretches are found, so
        one bad page costs only its buckets. A chunk unreadable at both ends
        is lost whole, and after two of those
        in a row the walk stops: a real array is readable to its end, so 2^B
        is more than the memory holds (a corrupt B, or a core without that
        memory), and retrying bucket by bucket would take minutes.
        """
        size = self.maptype.bucketsize
        per_chunk = max(1, READ_CHUNK_BYTES // size)
        lost_in_a_row = 0
        chunk_error: Optional[UnreadableMemory] = None

        def lost_chunk(start: int) -> None:
            end = min(start + per_chunk, count) - 1
            self.problem("unreadable-bucket", f"buckets {start} to {end} unreadable: {chunk_error}",
                         base + start * size)

        for first in range(0, count, per_chunk):
            n = min(per_chunk, count - first)
            try:
                buffer = self.memory.read(base + first * size, n * size)
            except UnreadableMemory as error:
                chunk_error = error
            else:
                if lost_in_a_row:
                    lost_chunk(first - per_chunk)
                lost_in_a_row = 0
                yield first, buffer, n
                continue
            if n > 2 and not self._readable(base + first * size, size) \
                    and not self._readable(base + (first + n - 1) * size, size):
                self.walk_cut = True
                lost_in_a_row += 1
                if lost_in_a_row == 2:
                    self.problem("unreadable-bucket",
                                 f"buckets {first - per_chunk} to {count - 1} of {count} not walked: the array "
                                 f"is unreadable from there on ({chunk_error}); B is larger than the memory "
                                 "the map has", base + (first - per_chunk) * size)
                    return
                continue
            if lost_in_a_row:
                lost_chunk(first - per_chunk)
            lost_in_a_row = 0
            yield from self._readable_runs(base, first, n)
        if lost_in_a_row:
            lost_chunk(count - (count - 1) % per_chunk - 1)

    def _readable_runs(self, base: int, first: int, count: int) -> Iterable[Tuple[int, bytes, int]]:
        """The readable runs of buckets ``first`` .. ``first + count - 1``, found by halving:
        a few reads per unreadable stretch, not one per bucket."""
        size = self.maptype.bucketsize
        try:
            yield first, self.memory.read(base + first * size, count * size), count
            return
        except UnreadableMemory as error:
            why = error
        last = first + count - 1
        if count == 1 or (not self._readable(base + first * size, size)
                          and not self._readable(base + last * size, size)):
            self.walk_cut = True
            what = f"bucket {first}" if count == 1 else f"buckets {first} to {last}"
            self.problem("unreadable-bucket", f"{what} unreadable: {why}", base + first * size)
            return
        half = count // 2
        yield from self._readable_runs(base, first, half)
        yield from self._readable_runs(base, first + half, count - half)

    def _readable(self, address: int, size: int) -> bool:
        try:
            self.memory.read(address, size)
        except UnreadableMemory:
            return False
        return True

    def take(self, buffer: bytes, buffer_address: int, array: str, first: int, depth: int,
             positions: List[int]) -> None:
        """Append the entries at ``positions`` (``8 * bucket + slot``, the bucket counted
        from the start of ``buffer``, which holds buckets ``first``, ``first + 1``... of
        ``array`` at overflow ``depth``). Raises _LimitReached once the caller's limit is reached.
        """
        columns = self.entries
        limited = self.limit is not None and len(columns) + len(positions) > self.limit
        if limited:
            positions = positions[:max(self.limit - len(columns), 0)]
        if not positions:
            if limited:
                raise _LimitReached
            return
        key_at_of, elem_at_of = self.key_at_of, self.elem_at_of
        buckets = list(map(first.__add__, map(slotgrid.UNIT_OF_POSITION, positions)))
        slots = list(map(slotgrid.SLOT_OF_POSITION, positions))
        key_ats = list(map(key_at_of.__getitem__, positions))
        elem_ats = list(map(elem_at_of.__getitem__, positions))
        maptype = self.maptype
        if maptype.indirect_key or maptype.indirect_elem:
            for bucket, slot, key_at, elem_at in zip(buckets, slots, key_ats, elem_ats):
                bucket_at = key_at - self.key_offsets[slot]
                self.indirect_entry(buffer_address + bucket_at, buffer, bucket_at, key_at, elem_at,
                                    (array, bucket, depth, slot))
        else:
            keysize, elemsize = maptype.keysize, maptype.elemsize
            count = len(positions)
            columns.add_run(buffer_address, key_ats, elem_ats, [buffer[at:at + keysize] for at in key_ats],
                            [buffer[at:at + elemsize] for at in elem_ats],
                            ([array] * count, buckets, [depth] * count, slots))
        if limited:
            raise _LimitReached

    def indirect_entry(self, address, buffer, offset, key_at, elem_at, place) -> None:
        """Append an entry whose key and/or elem slot holds a pointer to the real bytes."""
        maptype = self.maptype
        key_address = address + key_at - offset
        elem_address = address + elem_at - offset
        try:
            if maptype.indirect_key:
                key_address = _U64.unpack_from(buffer, key_at)[0]
                key = self.memory.read(key_address, maptype.key_size)
            else:
                key = buffer[key_at:key_at + maptype.keysize]
            if maptype.indirect_elem:
                elem_address = _U64.unpack_from(buffer, elem_at)[0]
                elem = self.memory.read(elem_address, maptype.elem_size)
            else:
                elem = buffer[elem_at:elem_at + maptype.elemsize]
        except UnreadableMemory as error:
            self.walk_cut = True
            location = dict(zip(self.entries.place_names, place))
            self.problem("unreadable-entry", f"indirect key/elem of {location}: {error}", address)
            return
        self.entries.append(key_address, elem_address, key, elem, place)

    def overflow_chain(self, first_address: int, buffer: bytes, offset: int,
                       where: str) -> Iterable[Tuple[int, int, bytes]]:
        """Yield (depth, address, buffer) for each overflow bucket after the bucket at ``buffer[offset:]``.

        Bounded: stops with a Problem on a cycle (an overflow bucket seen
        before anywhere in this walk), a chain longer than max_chain, a bad
        pointer or unreadable memory.
        """
        depth = 0
        next_address = _U64.unpack_from(buffer, offset + self.overflow_offset)[0]
        while next_address:
            depth += 1
            stop = None
            if next_address in self.seen_overflow or next_address == first_address:
                stop = ("overflow-cycle", f"{where}: overflow {depth} at {next_address:#x} was already walked (cycle)")
            elif depth > self.max_chain:
                stop = ("overflow-chain-too-long",
                        f"{where}: more than {self.max_chain} overflow buckets; walk stopped")
            elif not _is_pointer(next_address) or next_address % POINTER_SIZE:
                stop = ("bad-overflow-pointer", f"{where}: overflow pointer {next_address:#x} is not a bucket address")
            else:
                try:
                    buffer = self.memory.read(next_address, self.maptype.bucketsize)
                except UnreadableMemory as error:
                    stop = ("unreadable-bucket", f"{where}: overflow {depth} unreadable: {error}")
            if stop is not None:
                self.walk_cut = True
                self.problem(stop[0], stop[1], next_address)
                return
            self.seen_overflow.add(next_address)
            self.overflow_buckets += 1
            yield depth, next_address, buffer
            next_address = _U64.unpack_from(buffer, self.overflow_offset)[0]

    def walk_array(self, array: str, base: int, count: int, records: BucketRecords,
                   take: Optional[Callable[[int, int], bool]] = None) -> None:
        """Walk ``count`` buckets at ``base`` with their overflow chains, appending bucket records.

        ``records`` belongs to the caller so that the records walked so far
        survive a walk stopped by the entry limit.
        ``take(index, tophash0)``, when given, says whether a bucket's entries count.
        ``records`` keeps each run as ranges and one tophash text (BucketRecords),
        so a big map's records cost a few objects per run, not a dict per bucket.
        """
        for first, buffer, n in self.read_runs(base, count):
            self.walk_run(array, base, first, buffer, n, records, take)
            if self.suppressed_problems and self.count is not None and len(self.entries) > self.count:
                # Both at once never happen in a real map: the memory walked is not its buckets
                # (a corrupt B or buckets pointer), and the readable heap after it could take seconds.
                self.walk_cut = True
                self.problems.append(Problem(   # past the MAX_PROBLEMS cap: it says why the walk ended
                    "walk-stopped", f"{array}: stopped at bucket {first + n} of {count}: more than {MAX_PROBLEMS} "
                    f"problems and {len(self.entries)} live entries where hmap.count is {self.count}: this "
                    "memory is not the map's buckets", base + (first + n) * self.maptype.bucketsize))
                raise _NotBuckets

    def walk_run(self, array: str, base: int, first: int, buffer: bytes, n: int, records: BucketRecords,
                 take: Optional[Callable[[int, int], bool]]) -> None:
        """Buckets first..first+n-1, read into ``buffer``: the hot loop of a big map.

        Works a run of buckets at a time (1M entries are ~260k buckets): the
        entries of the buckets between two overflow chains are taken in one
        go, and each chain is walked right after its bucket (memory order).
        """
        size = self.maptype.bucketsize
        starts = range(0, n * size, size)
        buffer_address = base + first * size
        # The run as 8-byte words: word 0 of each bucket is its 8 tophash bytes,
        # the last one its overflow pointer; each column is one strided slice.
        words = memoryview(buffer).cast("Q")
        stride = size // POINTER_SIZE
        tophashes = words[0::stride].tobytes()
        position = records.add_run(first, buffer_address, size, tophashes)
        if array == "buckets":
            # evacuate() marks only the old bucket it empties: a mark here is memory that is not this array
            marked = tophashes.translate(_EVACUATED_TOPHASH).find(1)
            if marked >= 0:
                self.problem("evacuated-in-new-array",
                             f"buckets[{first + marked // BUCKET_SLOTS}] slot {marked % BUCKET_SLOTS}: tophash "
                             f"{tophashes[marked]} marks it evacuated, which only old buckets are",
                             buffer_address + marked // BUCKET_SLOTS * size)
        full = tophashes.translate(_FULL_TOPHASH)   # one flag byte per slot, in memory order
        wanted = None
        if take is not None:
            wanted = [take(first + k, tophash0) for k, tophash0 in enumerate(tophashes[0::BUCKET_SLOTS])]
            full = b"".join(full[BUCKET_SLOTS * k:BUCKET_SLOTS * (k + 1)] if want else _NO_SLOTS
                             for k, want in enumerate(wanted))
        positions = list(compress(range(n * BUCKET_SLOTS), full))
        # the slot offsets of this run's buffer (and of an overflow bucket: one bucket), for take()
        self.key_at_of, self.elem_at_of = slotgrid.offset_tables(size, self.key_offsets, self.elem_offsets, n)
        chained = list(compress(range(n), words[self.overflow_offset // POINTER_SIZE::stride]))
        done = 0
        for stop in chained + [n]:
            # the entries of buckets up to ``stop``, then those of its overflow chain
            end = bisect_left(positions, BUCKET_SLOTS * (stop + 1), done)
            self.take(buffer, buffer_address, array, first, 0, positions[done:end])
            done = end
            if stop == n:
                break
            index = first + stop
            records.start_chain(position + stop)
            for depth, overflow_address, overflow_buffer in self.overflow_chain(
                buffer_address + starts[stop], buffer, starts[stop], f"{array}[{index}]"
            ):
                overflow_tophash = overflow_buffer[:BUCKET_SLOTS]
                records.add_overflow(position + stop, depth, overflow_address, overflow_tophash)
                if wanted is None or wanted[stop]:
                    self.take(overflow_buffer, overflow_address, array, index, depth,
                              list(compress(range(BUCKET_SLOTS), overflow_tophash.translate(_FULL_TOPHASH))))


def decode_map(
    memory: MemoryReader,
    hmap_address: int,
    maptype: MapType,
    layout_name: str,
    *,
    limit: Optional[int] = None,
    max_chain: int = DEFAULT_MAX_CHAIN,
) -> DecodedMap:
    """Walk a classic map: every live entry once, with bucket and growth detail.

    Raises ClassicMapError when the header cannot be read or makes no sense
    (nil map included); problems met during the walk are reported on the
    result. ``limit`` stops after that many entries (``complete`` False).
    """
    layout = classic_layout(layout_name)
    header = read_hmap(memory, hmap_address, layout)
    header["address"] = hmap_address
    walk = _Walk(memory, maptype, limit, max_chain, header["count"])
    bucket_count = 1 << header["B"]
    detail: Dict[str, Any] = {
        "layout": layout.name,
        "maptype": maptype.to_json(),
        "bucket_count": bucket_count,
        "slot_codes": dict(SLOT_CODES),
        "buckets": BucketRecords(),
        "growth": None,
        "extra": None,
        "overflow_buckets": 0,
        "stopped": None,
    }
    if header["extra"]:
        try:
            detail["extra"] = _plain(layout.mapextra.parse(memory.read(header["extra"], layout.mapextra.sizeof())))
        except UnreadableMemory as error:
            walk.problem("unreadable-extra", f"mapextra unreadable: {error}", header["extra"])

    growing = header["oldbuckets"] != 0
    old_count = old_bucket_count(header) if growing else 0
    if growing and not header["flags"] & FLAG_SAME_SIZE_GROW and header["B"] == 0:
        walk.problem("growth-inconsistent", "oldbuckets set on a B=0 map that is not a same-size grow")
        growing = False

    # Why every entry is counted exactly once during a grow: the runtime moves
    # old bucket j as one unit (evacuate) into new bucket j (and j + nold when
    # doubling), and only then marks j evacuated in its tophash[0]. Before any
    # write or delete touches new bucket k, growWork evacuates old bucket
    # k & (nold-1) first. So a new bucket holds entries only once the old
    # bucket it draws from is evacuated, and an old bucket not yet evacuated
    # holds entries that exist nowhere else. Taking all new buckets plus the
    # non-evacuated old buckets is therefore a partition of the live entries,
    # with no hashing needed. (A process stopped inside evacuate itself, with
    # hashWriting set, can break this; the count check below says so.)
    if growing:
        detail["growth"] = {
            "oldbuckets": header["oldbuckets"],
            "nevacuate": header["nevacuate"],
            "same_size": bool(header["flags"] & FLAG_SAME_SIZE_GROW),
            "old_bucket_count": old_count,
            "pending": [],       # old buckets not yet evacuated
            "old_buckets": BucketRecords(),
        }
    with cyclic_gc_paused():
        try:
            _walk_arrays(walk, header, detail)
        except _LimitReached:
            detail["stopped"] = "limit"
        except _NotBuckets:
            detail["stopped"] = "problem"
    detail["overflow_buckets"] = walk.overflow_buckets

    found = len(walk.entries)
    # A walk stopped by the caller's limit is incomplete by request (complete
    # is False and detail["stopped"] says "limit"), not a contradiction.
    if found != header["count"] and detail["stopped"] != "limit":
        # never dropped by the MAX_PROBLEMS cap: it is the one that matters most
        why = _count_mismatch_why(found, header, walk, limit, detail["stopped"])
        walk.problems.append(Problem("count-mismatch", why))
    if walk.suppressed_problems:
        walk.problems.append(Problem("too-many-problems", f"{walk.suppressed_problems} more problems not listed"))
    if detail["stopped"] is None and walk.walk_cut:
        detail["stopped"] = "problem"
    return DecodedMap(
        address=hmap_address,
        impl="classic",
        count=header["count"],
        header=header,
        entries=walk.entries,
        problems=walk.problems,
        detail=detail,
        complete=detail["stopped"] is None,
    )


def _walk_arrays(walk: _Walk, header: Dict[str, Any], detail: Dict[str, Any]) -> None:
    """Walk the new bucket array, then the old buckets not yet evacuated (see decode_map)."""
    if header["buckets"]:
        walk.walk_array("buckets", header["buckets"], detail["bucket_count"], detail["buckets"])
    elif header["count"]:
        walk.problem("no-buckets", f"count is {header['count']} but buckets is nil")
    growth = detail["growth"]
    if growth is None:
        return

    def take_unevacuated(index: int, tophash0: int) -> bool:
        if is_evacuated(tophash0):
            return False
        growth["pending"].append(index)
        return True

    walk.walk_array("oldbuckets", header["oldbuckets"], growth["old_bucket_count"], growth["old_buckets"],
                    take_unevacuated)
    early = [index for index in growth["pending"] if index < header["nevacuate"]]
    if early:
        walk.problem(
            "growth-inconsistent",
            f"old buckets {early[:8]} are below nevacuate={header['nevacuate']} but not evacuated",
        )


def _count_mismatch_why(found: int, header: Dict[str, Any], walk: _Walk, limit, stopped) -> str:
    text = f"found {found} live entries but hmap.count is {header['count']}"
    if stopped == "limit":
        return f"{text}: the walk stopped at the limit of {limit} entries"
    reasons = []
    if header["flags"] & FLAG_HASH_WRITING:
        reasons.append("hashWriting is set: a goroutine is writing the map right now")
    if walk.walk_cut:
        reasons.append("part of the walk was stopped by the problems above")
    if not reasons:
        reasons.append("the map may be changing under us (no stopped world) or its memory is corrupt")
    return f"{text}: {'; '.join(reasons)}"
