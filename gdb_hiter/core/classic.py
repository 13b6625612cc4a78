"""Decode classic (bucket) Go maps and their iterators from raw memory.

Pure core: reads through a ``MemoryReader`` and never imports gdb. Layouts
come from ``classic_layouts.CLASSIC_LAYOUTS`` by family name.

Errors: anything that stops a decode before a single entry can be looked at
(nil map, unreadable or implausible header, a type descriptor that is not a
map type) raises a ``ClassicMapError`` (a ``ValueError``) with a one-line
message. Anything found during the walk (unreadable bucket, overflow cycle,
chain too long, count mismatch) becomes a ``model.Problem`` on the result
and the walk goes on where it can.
"""

from __future__ import annotations

import json
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import abitype, slotgrid
from .classic_layouts import (
    CLASSIC_LAYOUTS,
    BUCKET_SLOTS,
    EVACUATED_EMPTY,
    EVACUATED_X,
    EVACUATED_Y,
    FLAG_HASH_WRITING,
    FLAG_SAME_SIZE_GROW,
    HMAP_FLAG_NAMES,
    MAPTYPE_FLAG_NAMES,
    MAPTYPE_INDIRECT_ELEM,
    MAPTYPE_INDIRECT_KEY,
    MAX_INLINE_ELEM,
    MAX_INLINE_KEY,
    MIN_TOP_HASH,
    NO_CHECK,
    POINTER_SIZE,
    SLOT_CODES,
    ClassicLayout,
    HITER_GO118,
    bucket_size,
    bucket_struct,
    classic_layout,
    flag_names,
    slot_codes,
)
from .layoututil import field_offsets
from .gcpause import cyclic_gc_paused
from .memory import MemoryReader, UnreadableMemory
from .model import DecodedMap, EntryColumns, Problem

# Walk bounds. A real map never comes near them; a corrupt one must not hang us.
READ_CHUNK_BYTES = 4 << 20      # largest single read of a bucket array
DEFAULT_MAX_CHAIN = 1 << 12     # overflow buckets in one chain
MAX_PLAUSIBLE_B = 40            # 2^40 buckets is far beyond any real heap
MAX_PROBLEMS = 50               # individual problems kept; then one summary
LOWEST_POINTER = 0x1000         # nothing is mapped below this on linux/amd64
HIGHEST_POINTER = 1 << 47       # user-space addresses on linux/amd64

_U64 = struct.Struct("<Q")

# An entry's location: which array, which bucket of it, how deep in its overflow chain, which slot.
PLACE_FIELDS = (("array", str), ("bucket", int), ("overflow", int), ("slot", int))
# tophash byte -> 1 for a full slot, 0 otherwise
_FULL_TOPHASH = bytes(1 if byte >= MIN_TOP_HASH else 0 for byte in range(256))
_NO_SLOTS = bytes(BUCKET_SLOTS)
assert BUCKET_SLOTS == slotgrid.SLOTS


class ClassicMapError(ValueError):
    """The map cannot be decoded at all; the message is one line."""


class NilMap(ClassicMapError):
    pass


class UnreadableMap(ClassicMapError):
    pass


class NotAMapType(ClassicMapError):
    pass


class ImplausibleMap(ClassicMapError):
    pass


def _plain(container) -> Dict[str, Any]:
    """A construct Container as a plain dict, without construct's private keys."""
    return {name: value for name, value in container.items() if not name.startswith("_")}


def _is_pointer(value: int) -> bool:
    return LOWEST_POINTER <= value < HIGHEST_POINTER


# ---------------------------------------------------------------------------
# Map type descriptor


@dataclass(frozen=True)
class MapType:
    """What the decoder needs from a classic map type descriptor."""

    keysize: int            # key slot size in a bucket (8 when the key is indirect)
    elemsize: int           # elem slot size (8 when indirect)
    bucketsize: int
    flags: int
    key_size: int           # size of K itself: the bytes an Entry carries
    elem_size: int          # size of V itself
    address: int = 0        # descriptor address; 0 when built from sizes
    key_type: int = 0       # *_type of K
    elem_type: int = 0      # *_type of V
    bucket_type: int = 0
    hasher: int = 0

    @property
    def indirect_key(self) -> bool:
        return bool(self.flags & MAPTYPE_INDIRECT_KEY)

    @property
    def indirect_elem(self) -> bool:
        return bool(self.flags & MAPTYPE_INDIRECT_ELEM)

    def to_json(self) -> dict:
        return {
            "address": self.address,
            "key_type": self.key_type,
            "elem_type": self.elem_type,
            "keysize": self.keysize,
            "elemsize": self.elemsize,
            "bucketsize": self.bucketsize,
            "flags": self.flags,
            "flag_names": flag_names(self.flags, MAPTYPE_FLAG_NAMES),
            "key_size": self.key_size,
            "elem_size": self.elem_size,
        }


def maptype_from_sizes(key_size: int, elem_size: int, *, address: int = 0, flags: Optional[int] = None) -> MapType:
    """A MapType from the sizes of K and V (e.g. known from DWARF only).

    Keys or elements over 128 bytes sit behind a pointer, as the compiler
    lays them out. ``flags`` defaults to just the indirect bits.
    """
    if key_size < 0 or elem_size < 0:
        raise ValueError(f"negative size: key {key_size}, elem {elem_size}")
    indirect = 0
    keysize, elemsize = key_size, elem_size
    if key_size > MAX_INLINE_KEY:
        keysize, indirect = POINTER_SIZE, indirect | MAPTYPE_INDIRECT_KEY
    if elem_size > MAX_INLINE_ELEM:
        elemsize, indirect = POINTER_SIZE, indirect | MAPTYPE_INDIRECT_ELEM
    if flags is None:
        flags = indirect
    elif (flags & (MAPTYPE_INDIRECT_KEY | MAPTYPE_INDIRECT_ELEM)) != indirect:
        raise ValueError(f"flags {flags:#x} disagree with key size {key_size} / elem size {elem_size}")
    return MapType(keysize, elemsize, bucket_size(keysize, elemsize), flags, key_size, elem_size, address=address)


def maptype_problems(fields: Dict[str, Any]) -> List[str]:
    """Why a parsed 88-byte descriptor is not a consistent classic map type."""
    reasons = []
    typ = fields["typ"]
    if abitype.kind_of(typ["kind"]) != abitype.KIND_MAP:
        reasons.append(f"kind is {abitype.kind_of(typ['kind'])}, not map ({abitype.KIND_MAP})")
        return reasons
    if typ["size"] != POINTER_SIZE:
        reasons.append(f"a map type has size {POINTER_SIZE}, this one {typ['size']}")
    keysize, elemsize, flags = fields["keysize"], fields["elemsize"], fields["flags"]
    if keysize > MAX_INLINE_KEY or elemsize > MAX_INLINE_ELEM:
        reasons.append(f"slot sizes {keysize}/{elemsize} exceed {MAX_INLINE_KEY}")
    if flags & MAPTYPE_INDIRECT_KEY and keysize != POINTER_SIZE:
        reasons.append(f"indirect key but key slot size {keysize}")
    if flags & MAPTYPE_INDIRECT_ELEM and elemsize != POINTER_SIZE:
        reasons.append(f"indirect elem but elem slot size {elemsize}")
    expected = bucket_size(keysize, elemsize)
    if fields["bucketsize"] != expected:
        reasons.append(f"bucketsize {fields['bucketsize']} != 8 + 8*{keysize} + 8*{elemsize} + 8 = {expected}")
    for name in ("key", "elem", "bucket"):
        if not _is_pointer(fields[name]):
            reasons.append(f"{name} type pointer {fields[name]:#x} is not a pointer")
    return reasons


def _type_size(memory: MemoryReader, address: int) -> int:
    return abitype.ABI_TYPE.parse(memory.read(address, abitype.ABI_TYPE.sizeof()))["size"]


def parse_maptype(memory: MemoryReader, address: int, layout_name: str) -> MapType:
    """Read and check the 88-byte map type descriptor at ``address``.

    Also reads the K, V and bucket type headers: their sizes must agree
    with the slot sizes (and give the real K/V size of indirect slots).
    """
    layout = classic_layout(layout_name)
    if address == 0:
        raise NotAMapType("no map type descriptor (address 0)")
    try:
        fields = _plain(layout.maptype.parse(memory.read(address, layout.maptype.sizeof())))
    except UnreadableMemory as error:
        raise UnreadableMap(f"map type descriptor unreadable: {error}") from None
    reasons = maptype_problems(fields)
    if reasons:
        raise NotAMapType(f"not a map type descriptor at {address:#x}: {'; '.join(reasons)}")
    try:
        key_size = _type_size(memory, fields["key"])
        elem_size = _type_size(memory, fields["elem"])
        bucket_type_size = _type_size(memory, fields["bucket"])
    except UnreadableMemory as error:
        raise NotAMapType(f"map type at {address:#x}: key/elem/bucket type unreadable: {error}") from None
    for what, size, slot, indirect_bit, limit in (
        ("key", key_size, fields["keysize"], MAPTYPE_INDIRECT_KEY, MAX_INLINE_KEY),
        ("elem", elem_size, fields["elemsize"], MAPTYPE_INDIRECT_ELEM, MAX_INLINE_ELEM),
    ):
        indirect = bool(fields["flags"] & indirect_bit)
        if indirect != (size > limit) or (not indirect and size != slot):
            raise NotAMapType(
                f"map type at {address:#x}: {what} type size {size} does not fit slot size {slot} "
                f"({'indirect' if indirect else 'direct'})"
            )
    if bucket_type_size != fields["bucketsize"]:
        raise NotAMapType(
            f"map type at {address:#x}: bucket type size {bucket_type_size} != bucketsize {fields['bucketsize']}"
        )
    return MapType(
        keysize=fields["keysize"],
        elemsize=fields["elemsize"],
        bucketsize=fields["bucketsize"],
        flags=fields["flags"],
        key_size=key_size,
        elem_size=elem_size,
        address=address,
        key_type=fields["key"],
        elem_type=fields["elem"],
        bucket_type=fields["bucket"],
        hasher=fields["hasher"],
    )


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

    def __init__(self, memory: MemoryReader, maptype: MapType, limit: Optional[int], max_chain: int):
        self.memory = memory
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
        read is retried bucket by bucket so one bad page costs only its buckets.
        """
        size = self.maptype.bucketsize
        per_chunk = max(1, READ_CHUNK_BYTES // size)
        for first in range(0, count, per_chunk):
            n = min(per_chunk, count - first)
            try:
                yield first, self.memory.read(base + first * size, n * size), n
                continue
            except UnreadableMemory:
                pass
            for index in range(first, first + n):
                try:
                    buffer = self.memory.read(base + index * size, size)
                except UnreadableMemory as error:
                    self.walk_cut = True
                    self.problem("unreadable-bucket", f"bucket {index} unreadable: {error}", base + index * size)
                    continue
                yield index, buffer, 1

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
    walk = _Walk(memory, maptype, limit, max_chain)
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


# ---------------------------------------------------------------------------
# Iterators (runtime.hiter)


# The three states every decoder reports (``state``); ``state_detail`` keeps the
# decoder's finer name. The Swiss decoder maps its own names to the same three.
STATE_OF_DETAIL = {
    "uninitialized": "not-started",   # t == 0: mapiterinit has not run (the temporary is zeroed)
    "starting": "not-started",        # inside mapiterinit, before its first mapiternext step
    "active": "in-progress",          # key/elem name the current entry
    "empty-map": "finished",          # mapiterinit on a nil or empty map: the loop body never runs
    "finished": "finished",           # mapiternext returned the last entry and cleared key
}


@dataclass
class DecodedIterator:
    """A ``runtime.hiter`` with what its fields mean for the walk in progress.

    ``to_json()`` has the keys every decoder's iterator has (see
    docs/iterators.md, "The iterator JSON") plus the classic ones:
    ``maptype``, ``state_detail``, ``finished``, ``bucket_count``,
    ``start_bucket``, ``start_offset``, ``wrapped``, ``next_bucket``,
    ``buckets_remaining``, ``check_bucket``, ``walks`` and (1.24+)
    ``clear_seq``; ``current`` also has ``bucket``, ``bptr``, ``bptr_in``,
    ``slot``, ``next_i``, ``key_bytes``, ``elem_bytes``.
    """

    address: int
    layout: str
    fields: Dict[str, int]
    interpretation: Dict[str, Any]
    map_header: Optional[Dict[str, Any]] = None
    maptype: Optional[MapType] = None
    problems: List[Problem] = field(default_factory=list)
    remaining: Dict[str, Any] = field(default_factory=dict)

    impl = "classic"

    @property
    def finished(self) -> bool:
        return self.fields["key"] == 0

    @property
    def map_address(self) -> Optional[int]:
        return self.fields["h"] or None

    @property
    def state_detail(self) -> str:
        return self.interpretation["state_detail"]

    @property
    def state(self) -> str:
        """"not-started" | "in-progress" | "finished" (the same three for every decoder)."""
        return STATE_OF_DETAIL[self.state_detail]

    @property
    def map_grew_since_start(self) -> bool:
        return bool(self.interpretation.get("map_grew_since_start"))

    @property
    def stale(self) -> bool:
        """It walks a bucket array that is no longer the map's ``buckets``."""
        return self.interpretation.get("walks") in ("oldbuckets", "retired")

    @property
    def cleared_since_start(self) -> Optional[bool]:
        """None where the layout cannot tell (1.18 – 1.23 have no clearSeq) or the map is unreadable."""
        clear = self.interpretation.get("clear_seq")
        return clear["map_cleared_since_start"] if clear else None

    def position(self) -> Dict[str, Any]:
        it, current = self.fields, self.interpretation.get("current")
        return {
            "bucket": current["bucket"] if current else None,
            "slot": current["slot"] if current else None,
            "wrapped": bool(it["wrapped"]),
            "start_bucket": it["startBucket"],
            "start_offset": it["offset"],
        }

    def to_json(self) -> dict:
        header = self.map_header
        current = self.interpretation.get("current")
        data = {
            "address": self.address,
            "impl": self.impl,
            "layout": self.layout,
            "map_address": self.map_address,
            "state": self.state,
            "stale": self.stale,
            "map_grew_since_start": self.map_grew_since_start,
            "cleared_since_start": self.cleared_since_start,
            "position": self.position(),
            "remaining": dict(self.remaining),
            "fields": dict(self.fields),
            "map": dict(header, address=self.fields["h"]) if header is not None else None,
            "maptype": self.maptype.to_json() if self.maptype is not None else None,
        }
        for name, value in self.interpretation.items():
            data.setdefault(name, value)
        data["current"] = dict(current) if current else None
        data["problems"] = [problem.to_json() for problem in self.problems]
        return data


def _array_index(address: int, base: int, count: int, size: int) -> Optional[int]:
    if base and base <= address < base + count * size and (address - base) % size == 0:
        return (address - base) // size
    return None


def _check_bucket_meaning(check_bucket: int, header: Optional[Dict[str, Any]]) -> str:
    if check_bucket == NO_CHECK:
        return "noCheck: the current bucket belongs to the array being iterated; no filtering"
    if header is not None and header["flags"] & FLAG_SAME_SIZE_GROW:
        return (f"iterating old bucket {check_bucket} (not yet evacuated) in place of new bucket "
                f"{check_bucket}; same-size grow, so every entry is returned")
    return (f"iterating a not-yet-evacuated old bucket in place of new bucket {check_bucket}: "
            f"only its entries whose hash selects bucket {check_bucket} are returned")


def buckets_remaining(fields: Dict[str, int]) -> int:
    """Buckets the iterator still has to start, after the chain it is in.

    ``bucket`` is the next bucket to start (mapiternext increments it as it
    starts one, and wraps it to 0 setting ``wrapped``); the walk ends when it
    comes back to ``startBucket`` after wrapping.
    """
    if fields["key"] == 0:
        return 0
    total = 1 << fields["B"]
    if fields["wrapped"]:
        return max(fields["startBucket"] - fields["bucket"], 0)
    return total - fields["bucket"] + fields["startBucket"]


def _state(it: Dict[str, int]) -> str:
    """The iterator's detailed state (a key of STATE_OF_DETAIL)."""
    if it["key"]:
        return "active"
    if it["t"] == 0:
        return "uninitialized"  # mapiterinit sets t first; the compiler zeroes the temporary
    if it["h"] == 0:
        return "empty-map"      # the map was nil or empty: mapiterinit set only t
    stepped = it["bptr"] or it["i"] or it["wrapped"] or it["bucket"] != it["startBucket"]
    return "finished" if stepped else "starting"


def _interpret(it: Dict[str, int], header: Optional[Dict[str, Any]], maptype: Optional[MapType],
               memory: MemoryReader, layout: ClassicLayout) -> Dict[str, Any]:
    total = 1 << it["B"]
    finished = it["key"] == 0
    result: Dict[str, Any] = {
        "state_detail": _state(it),
        "finished": finished,
        "bucket_count": total,
        "start_bucket": it["startBucket"],
        "start_offset": it["offset"],
        "wrapped": bool(it["wrapped"]),
        "next_bucket": it["bucket"],
        "buckets_remaining": buckets_remaining(it),
        "check_bucket": {"value": it["checkBucket"], "meaning": _check_bucket_meaning(it["checkBucket"], header)},
        "walks": None,
        "map_grew_since_start": False,
        "current": None,
    }
    if header is not None:
        if it["buckets"] == header["buckets"]:
            result["walks"] = "buckets"
        elif it["buckets"] == header["oldbuckets"]:
            result["walks"] = "oldbuckets"
        else:
            result["walks"] = "retired"  # an array the map no longer references
        result["map_grew_since_start"] = it["buckets"] != header["buckets"]
        if layout.has_clear_seq:
            result["clear_seq"] = {
                "iterator": it["clearSeq"],
                "map": header["clearSeq"],
                "map_cleared_since_start": it["clearSeq"] != header["clearSeq"],
            }
    if not finished:
        current: Dict[str, Any] = {
            "bucket": (it["bucket"] - 1) % total,   # the chain bptr belongs to
            "bptr": it["bptr"],
            "bptr_in": None,
            "slot": (it["i"] - 1 + it["offset"]) % BUCKET_SLOTS if it["i"] else None,
            "next_i": it["i"],
            "key_address": it["key"],
            "elem_address": it["elem"],
        }
        if maptype is not None:
            current["bptr_in"] = _locate_bucket(it, header, maptype)
            for name, size in (("key", maptype.key_size), ("elem", maptype.elem_size)):
                try:
                    current[f"{name}_bytes"] = memory.read(it[name], size).hex() if size else ""
                except UnreadableMemory:
                    current[f"{name}_bytes"] = None
        result["current"] = current
    return result


def _locate_bucket(it: Dict[str, int], header: Optional[Dict[str, Any]], maptype: MapType) -> Optional[Dict[str, Any]]:
    """Which array (named as the map sees it) bptr is a bucket of, or "overflow"."""
    if not it["bptr"]:
        return None
    arrays = []
    if header is not None:
        arrays.append(("buckets", header["buckets"], 1 << header["B"]))
        if header["oldbuckets"]:
            arrays.append(("oldbuckets", header["oldbuckets"], old_bucket_count(header)))
    arrays.append(("retired", it["buckets"], 1 << it["B"]))  # the map let go of the iterator's array
    for name, base, count in arrays:
        index = _array_index(it["bptr"], base, count, maptype.bucketsize)
        if index is not None:
            return {"array": name, "index": index}
    return {"array": "overflow"}


def decode_iterator(memory: MemoryReader, hiter_address: int, layout_name: str, *,
                    maptype: Optional[MapType] = None) -> DecodedIterator:
    """Decode the hiter at ``hiter_address`` and interpret it against its map.

    Raises ClassicMapError if the hiter itself is unreadable; an unreadable
    map or type descriptor only leaves those parts out (with a Problem).
    """
    layout = classic_layout(layout_name)
    if hiter_address == 0:
        raise UnreadableMap("iterator address is 0")
    try:
        fields = _plain(layout.hiter.parse(memory.read(hiter_address, layout.hiter.sizeof())))
    except UnreadableMemory as error:
        raise UnreadableMap(f"hiter at {hiter_address:#x} unreadable: {error}") from None
    return _decode_iterator_fields(memory, hiter_address, layout, fields, maptype)


def _decode_iterator_fields(memory, hiter_address, layout, fields, maptype=None, header=None) -> DecodedIterator:
    problems: List[Problem] = []
    if maptype is None and fields["t"]:
        try:
            maptype = parse_maptype(memory, fields["t"], layout.name)
        except ClassicMapError as error:
            problems.append(Problem("bad-maptype", str(error), fields["t"]))
    if header is None and fields["h"]:
        try:
            header = read_hmap(memory, fields["h"], layout)
        except ClassicMapError as error:
            problems.append(Problem("bad-hmap", str(error), fields["h"]))
    interpretation = _interpret(fields, header, maptype, memory, layout)
    remaining = _remaining(memory, fields, header, maptype, interpretation)
    return DecodedIterator(hiter_address, layout.name, fields, interpretation, header, maptype, problems,
                           remaining)


def _remaining(memory: MemoryReader, it: Dict[str, int], header: Optional[Dict[str, Any]],
               maptype: Optional[MapType], interpretation: Dict[str, Any]) -> Dict[str, Any]:
    """{"entries", "buckets", "exact"}: what mapiternext has still to visit.

    ``buckets`` (buckets still to start, after the current chain) comes from
    the hiter alone. ``entries`` is counted only when the answer is exact:
    the iterator walks the map's own ``buckets``, the map is not growing, was
    not cleared and the current chain is not filtered by checkBucket; then
    it is the full slots after slot ``i`` of the current chain plus those of
    every bucket (and overflow chain) still to start. Otherwise mapiternext
    would look keys up in a grown or cleared map: ``entries`` is None.
    """
    detail = interpretation["state_detail"]
    total = 1 << it["B"]
    if detail == "uninitialized":
        return {"entries": None, "buckets": None, "exact": False}
    if detail in ("empty-map", "finished"):
        return {"entries": 0, "buckets": 0, "exact": True}
    buckets = total if detail == "starting" else buckets_remaining(it)
    exact = (header is not None and maptype is not None and interpretation["walks"] == "buckets"
             and not header["oldbuckets"] and not interpretation.get("clear_seq", {}).get("map_cleared_since_start")
             and (detail == "starting" or it["checkBucket"] == NO_CHECK))
    entries = None
    if exact:
        entries = _count_ahead(memory, it, maptype, buckets, detail == "starting")
    return {"entries": entries, "buckets": buckets, "exact": entries is not None}


def _count_ahead(memory: MemoryReader, it: Dict[str, int], maptype: MapType, buckets: int,
                 starting: bool) -> Optional[int]:
    """Full slots mapiternext will still return (see _remaining); None if memory is unreadable."""
    size = maptype.bucketsize
    overflow_at = size - POINTER_SIZE
    total = 1 << it["B"]

    def chain(buffer: bytes, first_slot: int) -> Optional[int]:
        count, depth = 0, 0
        while True:
            count += sum(1 for index in range(first_slot, BUCKET_SLOTS)
                         if buffer[(index + it["offset"]) % BUCKET_SLOTS] >= MIN_TOP_HASH)
            following = _U64.unpack_from(buffer, overflow_at)[0]
            depth += 1
            if not following:
                return count
            if depth > DEFAULT_MAX_CHAIN or not _is_pointer(following):
                return None
            try:
                buffer = memory.read(following, size)
            except UnreadableMemory:
                return None
            first_slot = 0

    count = 0
    if not starting and it["bptr"]:
        try:
            here = chain(memory.read(it["bptr"], size), it["i"])
        except UnreadableMemory:
            return None
        if here is None:
            return None
        count += here
    if not buckets:
        return count
    if total * size > READ_CHUNK_BYTES:
        return None   # a big map: not worth one more huge read for a count
    try:
        array = memory.read(it["buckets"], total * size)
    except UnreadableMemory:
        return None
    first = it["startBucket"] if starting else it["bucket"]
    for step in range(buckets):
        index = (first + step) % total
        here = chain(array[index * size:(index + 1) * size], 0)
        if here is None:
            return None
        count += here
    return count


# ---------------------------------------------------------------------------
# Finding iterators in raw stack memory


@dataclass
class IteratorCandidate:
    """The verdict on one address: an accepted iterator or the reason it is not one."""

    address: int
    iterator: Optional[DecodedIterator] = None
    reason: Optional[str] = None

    @property
    def accepted(self) -> bool:
        return self.iterator is not None


def _cheap_reason(it: Dict[str, int]) -> Optional[str]:
    """Checks on the hiter words alone (after _raw_reason); None when they all pass."""
    if it["B"] > MAX_PLAUSIBLE_B:
        return "B too large"
    for name in ("t", "h", "buckets"):
        value = it[name]
        if not _is_pointer(value) or value % POINTER_SIZE:
            return f"{name} is not a pointer"
    for name in ("bptr", "overflow", "oldoverflow"):
        value = it[name]
        if value and (not _is_pointer(value) or value % POINTER_SIZE):
            return f"{name} is neither nil nor a pointer"
    if (it["key"] == 0) != (it["elem"] == 0):
        return "key and elem disagree on whether the iteration is over"
    if it["key"] and not (_is_pointer(it["key"]) and _is_pointer(it["elem"])):
        return "key/elem are not pointers"
    total = 1 << it["B"]
    if it["startBucket"] >= total or it["bucket"] >= total:
        return "bucket/startBucket outside 2^B"
    if it["checkBucket"] != NO_CHECK and it["checkBucket"] >= total:
        return "checkBucket is neither noCheck nor a bucket index"
    if it["key"] and it["i"] == 0:
        return "an entry is current but i is 0"
    # mapiternext starts a bucket by incrementing ``bucket`` and wraps it to 0
    # setting ``wrapped``: after the first step, bucket > startBucket before
    # the wrap and bucket <= startBucket after it.
    if it["bptr"] or it["key"]:
        if not it["wrapped"] and it["bucket"] <= it["startBucket"]:
            return "not wrapped but bucket <= startBucket"
        if it["wrapped"] and it["bucket"] > it["startBucket"]:
            return "wrapped but bucket > startBucket"
    return None


def _slot_reason(memory: MemoryReader, it: Dict[str, int], header: Dict[str, Any], maptype: MapType,
                 layout: ClassicLayout) -> Optional[str]:
    """key/elem must be the slot (i-1+offset)&7 of bptr, unless the runtime had to look
    the entry up in the current table (map grown or cleared since the iteration began)."""
    try:
        bucket = memory.read(it["bptr"], maptype.bucketsize)
    except UnreadableMemory:
        return "bptr unreadable"
    slot = (it["i"] - 1 + it["offset"]) % BUCKET_SLOTS
    offsets = field_offsets(bucket_struct(maptype.keysize, maptype.elemsize))
    key_slot = it["bptr"] + offsets["keys"][0] + slot * maptype.keysize
    elem_slot = it["bptr"] + offsets["elems"][0] + slot * maptype.elemsize
    expected_key, expected_elem = key_slot, elem_slot
    if maptype.indirect_key:
        expected_key = _U64.unpack_from(bucket, key_slot - it["bptr"])[0]
    if maptype.indirect_elem:
        expected_elem = _U64.unpack_from(bucket, elem_slot - it["bptr"])[0]
    if it["key"] == expected_key and it["elem"] == expected_elem:
        return None
    top = bucket[slot]
    looked_up = top in (EVACUATED_X, EVACUATED_Y) or (
        layout.has_clear_seq and it["clearSeq"] != header["clearSeq"])
    if not looked_up:
        return "key/elem do not point at the current slot of bptr"
    try:
        memory.read(it["key"], max(maptype.key_size, 1))
        memory.read(it["elem"], max(maptype.elem_size, 1))
    except UnreadableMemory:
        return "key/elem unreadable"
    return None


def _deep_reason(memory: MemoryReader, it: Dict[str, int], layout: ClassicLayout,
                 map_address: Optional[int]) -> Tuple[Optional[str], Optional[Dict[str, Any]], Optional[MapType]]:
    """Checks that follow t and h; returns (reason, header, maptype)."""
    if map_address is not None and it["h"] != map_address:
        return "h is not the wanted map", None, None
    try:
        maptype = parse_maptype(memory, it["t"], layout.name)
    except ClassicMapError as error:
        return f"t: {error}", None, None
    try:
        header = read_hmap(memory, it["h"], layout)
    except ClassicMapError as error:
        return f"h: {error}", None, None
    if header["B"] < it["B"]:
        return "iterator B larger than the map's B (maps never shrink)", None, None
    if header["count"] and not header["buckets"]:
        return "map has entries but no buckets", None, None
    size = maptype.bucketsize
    if it["buckets"] == header["buckets"]:
        if it["B"] != header["B"]:
            return "iterates the map's buckets with a different B", None, None
    elif it["buckets"] == header["oldbuckets"]:
        if it["B"] != old_bucket_count(header).bit_length() - 1:
            return "iterates the map's oldbuckets with a different B", None, None
    else:
        # The map grew (and finished growing) since the iteration began: the
        # iterator walks a retired array, smaller than or as big as the map's.
        try:
            memory.read(it["buckets"], size)
        except UnreadableMemory:
            return "buckets is neither the map's array nor readable", None, None
    if it["bptr"]:
        in_own = _array_index(it["bptr"], it["buckets"], 1 << it["B"], size) is not None
        in_old = header["oldbuckets"] and _array_index(
            it["bptr"], header["oldbuckets"], old_bucket_count(header), size) is not None
        if not (in_own or in_old):
            try:
                memory.read(it["bptr"], size)   # an overflow bucket somewhere in the heap
            except UnreadableMemory:
                return "bptr unreadable", None, None
    if it["key"]:
        reason = _slot_reason(memory, it, header, maptype, layout)
        if reason:
            return reason, None, None
    return None, header, maptype


def iterator_candidate(memory: MemoryReader, address: int, layout_name: str, *,
                       map_address: Optional[int] = None) -> IteratorCandidate:
    """Is there a live (or finished) classic map iterator at ``address``?

    Accepts only what a real hiter can look like: cheap checks on its own
    words first, then the type descriptor and the map it points to.
    """
    layout = classic_layout(layout_name)
    try:
        raw = memory.read(address, layout.hiter.sizeof())
    except UnreadableMemory as error:
        return IteratorCandidate(address, reason=f"unreadable: {error}")
    reason = _raw_reason(raw, 0)
    if reason:
        return IteratorCandidate(address, reason=reason)
    return _judge(memory, address, layout, _hiter_words(layout, raw, 0), map_address)


def _judge(memory, address, layout, words, map_address) -> IteratorCandidate:
    reason = _cheap_reason(words)
    if reason:
        return IteratorCandidate(address, reason=reason)
    reason, header, maptype = _deep_reason(memory, words, layout, map_address)
    if reason:
        return IteratorCandidate(address, reason=reason)
    return IteratorCandidate(address, iterator=_decode_iterator_fields(memory, address, layout, words, maptype, header))


# The hiter head as one struct.unpack for the scan: 9 words, 4 bytes, 4
# padding, 2 words (clearSeq follows in 1.24+ noswiss). Checked against the
# construct layouts, which stay the source of truth.
_HITER_HEAD = struct.Struct("<9Q4B4x2Q")
_HITER_NAMES = ("key", "elem", "t", "h", "buckets", "bptr", "overflow", "oldoverflow", "startBucket",
                "offset", "wrapped", "B", "i", "bucket", "checkBucket")
_HITER_AT = {name: offset for name, (offset, _) in field_offsets(HITER_GO118).items()}
assert tuple(_HITER_AT) == _HITER_NAMES and _HITER_HEAD.size == _HITER_AT["checkBucket"] + 8
assert all({name: offset for name, (offset, _) in field_offsets(layout.hiter).items() if name in _HITER_AT}
           == _HITER_AT for layout in CLASSIC_LAYOUTS.values())
_OFFSET_AT, _WRAPPED_AT, _I_AT, _T_AT = (_HITER_AT[name] for name in ("offset", "wrapped", "i", "t"))
_PADDING_AT = _I_AT + 1     # 4 bytes the compiler zeroes with the rest of the iterator temporary
_ZERO_PADDING = bytes(_HITER_AT["bucket"] - _PADDING_AT)


def _raw_reason(data: bytes, at: int) -> Optional[str]:
    """Byte checks on a hiter at ``data[at:]``, before any unpacking."""
    if data[at + _OFFSET_AT] >= BUCKET_SLOTS:
        return "offset >= 8"
    if data[at + _WRAPPED_AT] > 1:
        return "wrapped is not a bool"
    if data[at + _I_AT] > BUCKET_SLOTS:
        return "i > 8"
    if data[at + _PADDING_AT:at + _HITER_AT["bucket"]] != _ZERO_PADDING:
        return "padding after i is not zero"
    return None


def _hiter_words(layout: ClassicLayout, data: bytes, at: int) -> Dict[str, int]:
    words = dict(zip(_HITER_NAMES, _HITER_HEAD.unpack_from(data, at)))
    if layout.has_clear_seq:
        words["clearSeq"] = _U64.unpack_from(data, at + _HITER_HEAD.size)[0]
    return words


def scan_for_iterators(memory: MemoryReader, data: bytes, base_address: int, layout_name: str, *,
                       map_address: Optional[int] = None) -> List[DecodedIterator]:
    """The iterators in ``data`` (memory already read from ``base_address``), decoded,
    tried at every 8-byte-aligned address: exactly those ``iterator_candidate``
    accepts. Only survivors of the byte-level checks cost memory reads."""
    layout = classic_layout(layout_name)
    size = layout.hiter.sizeof()
    found = []
    from_bytes = int.from_bytes
    start = (-base_address) % POINTER_SIZE
    for at in range(start, len(data) - size + 1, POINTER_SIZE):
        if _raw_reason(data, at):
            continue
        # t must be an aligned pointer (zeroed memory passes the tests above)
        t = from_bytes(data[at + _T_AT:at + _T_AT + POINTER_SIZE], "little")
        if t < LOWEST_POINTER or t >= HIGHEST_POINTER or t & 7:
            continue
        words = _hiter_words(layout, data, at)
        if _cheap_reason(words):
            continue
        candidate = _judge(memory, base_address + at, layout, words, map_address)
        if candidate.accepted:
            found.append(candidate.iterator)
    return found
