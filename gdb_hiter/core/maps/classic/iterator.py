"""A ``runtime.hiter`` decoded and interpreted against its live map."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import compress
from typing import Any, Dict, List, Optional

from ...layouts.classic import (
    BUCKET_SLOTS, FLAG_SAME_SIZE_GROW, MIN_TOP_HASH, NO_CHECK, POINTER_SIZE, ClassicLayout,
    classic_layout,
)
from ...memory import MemoryReader, UnreadableMemory
from ..model import Problem
from .common import (
    ClassicMapError, DEFAULT_MAX_CHAIN, READ_CHUNK_BYTES, UnreadableMap, _FULL_TOPHASH, _U64, _is_pointer, _plain,
)
from .maptype import MapType, parse_maptype
from .walk import old_bucket_count, read_hmap


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
    # a corrupt startBucket or bucket (hiter-show --force) must not count past the array
    if fields["wrapped"]:
        return min(max(fields["startBucket"] - fields["bucket"], 0), total)
    return min(max(total - fields["bucket"] + fields["startBucket"], 0), total)


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

    def chain(buffer: bytes, first_slot: int, depth: int = 0) -> Optional[int]:
        count = 0
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
    # Whole buckets still to start count every full slot whatever the offset: their tophash words
    # are counted in bulk; only buckets with an overflow chain are walked one by one.
    words = memoryview(array).cast("Q")
    stride = size // POINTER_SIZE
    tophashes = words[0::stride].tobytes()
    overflows = words[overflow_at // POINTER_SIZE::stride]
    first %= total
    spans = [(first, min(first + buckets, total))]
    if first + buckets > total:
        spans.append((0, min(first + buckets - total, total)))
    for low, high in spans:
        count += tophashes[low * BUCKET_SLOTS:high * BUCKET_SLOTS].translate(_FULL_TOPHASH).count(1)
        for index in compress(range(low, high), overflows[low:high]):
            following = overflows[index]
            if not _is_pointer(following):
                return None
            try:
                here = chain(memory.read(following, size), 0, 1)   # the chain's first overflow bucket
            except UnreadableMemory:
                return None
            if here is None:
                return None
            count += here
    return count
