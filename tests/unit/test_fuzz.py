"""Fuzzing the core: decoders over mutated recorded memory, the snapshot reader over mutated snapshots.

Seed corpus (nothing is re-recorded here):

* memory images of real Go processes, one per map and toolchain, with the
  program's own ground truth: tests/unit/data/classic/*.json (classic maps,
  go1.19 ... go1.25 noswissmap; read with test_classic.Case) and
  tests/unit/data/swiss/*.json.xz (Swiss maps, go1.24 ... go1.27.3 and
  mapsplitgroup; read with test_swiss.capture). Each holds exactly the regions
  a decoder reads: the header, bucket / group arrays, overflow buckets,
  directory, tables, the type descriptors, the live iterator and the stack
  window around it;
* the snapshots of tests/unit/data/capture/golden/*-callback-*.json.

Targets (``TARGETS``; every call goes through ``bounded``):

* ``map:<build>``: a mutated image through the build's ``MapImplementation``:
  ``parse_maptype``, ``decode_map``, the hmap-show JSON of the result with
  the keys and values rendered, and a snapshot holding that map;
* ``iterator:<build>``: ``decode_iterator`` and its JSON, the live map and
  ``predict``, ``check_iterator``, ``scan_for_iterators`` over the stack
  window, and a snapshot holding the iterator;
* ``random:<layout>``: the same calls on segments of random bytes sprinkled
  with pointers into themselves;
* ``snapshot:read``: ``document.loads`` on mutated snapshot text and mutated
  JSON trees; whatever it accepts goes through ``redact_snapshot``, whose
  output must read back, every entry a token;
* ``snapshot:show``: the same mutants; whatever loads accepts goes through
  ``render_snapshot`` (every format), ``diff_snapshots`` both ways and
  ``render_diff``.

What every case must do: end in a result or in the project's own error for
that call (``ALLOWED``), with a one-line message; within ``CASE_CPU_SECONDS``
of CPU per call; without one read larger than ``MAX_READ_BYTES`` (inside gdb
a read is one buffer of that size), more than ``MAX_READ_TOTAL`` bytes read in
all, or more than ``MAX_ALLOCATED`` bytes allocated (tracemalloc). A few
properties of results are checked too (see the targets).

This file runs a short deterministic campaign (``derandomize=True``, a few
dozen examples per target) every time scripts/test runs; scripts/fuzz runs
the same targets for as long as it is told, with a printed seed.
docs/fuzzing.md has the findings; ``FINDINGS`` and ``SHOW_FINDINGS`` below
keep their minimal cases.
"""

from __future__ import annotations

import collections
import copy
import functools
import json
import signal
import struct
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import test_classic
import test_swiss
from gdb_hiter.core.layouts.abitype import ABI_TYPE
from gdb_hiter.core.layouts.classic import classic_layout
from gdb_hiter.core.layouts.fields import field_offsets
from gdb_hiter.core.layouts.swiss import TABLE, swiss_layout
from gdb_hiter.core.maps import classic, interface, swiss
from gdb_hiter.core.maps.implementations import for_layout
from gdb_hiter.core.maps.interface import IteratorError, MapLayout
from gdb_hiter.core.maps.classic.common import ClassicMapError
from gdb_hiter.core.maps.model import DecodedMap, raw_text
from gdb_hiter.core.memory import SegmentMemory, UnreadableMemory
from gdb_hiter.core.program.goversion import parse_build_version, select_layout
from gdb_hiter.core.render import gotypes, maptext, values
from gdb_hiter.core.render.gotypes import GoType
from gdb_hiter.core.snapshot import document, redact
from gdb_hiter.core.snapshot.diff import diff_snapshots
from gdb_hiter.core.snapshot.report import FORMATS, render_diff, render_snapshot

DATA = Path(__file__).parent / "data"
GOLDEN = DATA / "capture" / "golden"

# ---------------------------------------------------------------------------
# Bounds of one call. The issue's target is "every corrupt map costs at most a
# second"; CPU time, not wall time, so that another job on the machine cannot
# make a case fail.
CASE_CPU_SECONDS = 1.0
MAX_READ_BYTES = 16 << 20     # the decoders read in chunks of 4 MiB; a directory of 2^20 tables is 8 MiB
MAX_READ_TOTAL = 64 << 20     # every image is under 1 MiB: more means the same memory is read over and over
MAX_ALLOCATED = 256 << 20     # peak of Python allocations during the call

# The project's own errors, by call. Anything else escaping a call is a finding.
MAPTYPE_ERRORS = (ClassicMapError, swiss.BadMapType)
MAP_ERRORS = (ClassicMapError, swiss.BadMapType, swiss.NilMap, interface.NilMap)
ALLOWED = {
    "parse_maptype": MAPTYPE_ERRORS,
    "decode_map": MAP_ERRORS,
    "decode_iterator": (IteratorError,),
    "check_iterator": (IteratorError,),
    "loads": (document.SnapshotError,),
    "redact_snapshot": (redact.RedactError,),
}


class BoundExceeded(BaseException):
    """A bound of ``bounded`` was crossed. A BaseException, so that no ``except Exception`` in the code
    under test swallows it."""


class _CpuTimeout(BaseException):
    pass


class CountingMemory:
    """A MemoryReader that enforces the read bounds on the reader it wraps."""

    def __init__(self, inner):
        self.inner = inner
        self.reads = 0
        self.total = 0

    def read(self, address: int, size: int) -> bytes:
        self.reads += 1
        if size > MAX_READ_BYTES:
            raise BoundExceeded(f"one read of {size} bytes at {address:#x} (bound {MAX_READ_BYTES})")
        data = self.inner.read(address, size)
        self.total += len(data)
        if self.total > MAX_READ_TOTAL:
            raise BoundExceeded(f"{self.total} bytes read in {self.reads} reads (bound {MAX_READ_TOTAL})")
        return data


def _on_cpu_timer(signum, frame):
    raise _CpuTimeout()


def bounded(what: str, call: Callable[..., Any], memory=None) -> Any:
    """``call(reader)`` (or ``call()`` without ``memory``) within the bounds; returns its result, or the
    exception it raised when that is one of ``ALLOWED[what]``; any other outcome fails the case."""
    allowed = ALLOWED.get(what.split(" ")[0], ())
    reader = CountingMemory(memory) if memory is not None else None
    # Interrupt a call that runs away: twice the bound, so the measured time below is what fails.
    previous = signal.signal(signal.SIGPROF, _on_cpu_timer)
    signal.setitimer(signal.ITIMER_PROF, 2 * CASE_CPU_SECONDS)
    tracemalloc.start()
    started = time.process_time()
    try:
        result = call(reader) if reader is not None else call()
    except _CpuTimeout:
        raise AssertionError(f"{what}: still running after {2 * CASE_CPU_SECONDS} s of CPU") from None
    except BoundExceeded as error:
        raise AssertionError(f"{what}: {error}") from error   # the chain shows where it read
    except allowed as error:
        message = str(error)
        assert message and "\n" not in message, f"{what}: {type(error).__name__} message is not one line: {message!r}"
        result = error
    except Exception as error:
        raise AssertionError(f"{what} raised {type(error).__name__}, not the project's own error: {error}") from error
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
        spent = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert spent <= CASE_CPU_SECONDS, f"{what}: took {spent:.2f} s of CPU (bound {CASE_CPU_SECONDS})"
    assert peak <= MAX_ALLOCATED, f"{what}: allocated {peak} bytes at the peak (bound {MAX_ALLOCATED})"
    return result


def outcome(what: str, result: Any) -> None:
    """Count what a call ended in, for scripts/fuzz's summary: it shows the mutations reach past the
    first check."""
    if failed(result):
        kind = type(result).__name__
    elif isinstance(result, DecodedMap):
        kind = "problems: " + ", ".join(sorted({problem.what for problem in result.problems})) if result.problems \
            else "clean"
    else:
        kind = "result"
    OUTCOMES[_running[0]][f"{what}: {kind}"] += 1


def failed(result: Any) -> bool:
    return isinstance(result, BaseException)


def plain(doc: Any) -> Any:
    """JSON-ready as the snapshot command makes it (bytes as hex)."""
    return json.loads(json.dumps(doc, default=lambda value: value.hex() if isinstance(value, bytes) else str(value)))


# ---------------------------------------------------------------------------
# Seed images


INT64, INT32, INT8, STRING = (GoType.basic(kind) for kind in (gotypes.INT64, gotypes.INT32, gotypes.INT8,
                                                              gotypes.STRING))


@dataclass(frozen=True)
class Field:
    """A field of a structure in an image: where it is, how wide, what it is called."""

    address: int
    size: int
    name: str


@dataclass(eq=False)
class Image:
    """One recorded map (and iterator) with everything the mutations aim at."""

    name: str                       # "classic/go1.22.10/growing"
    layout: MapLayout
    segments: Tuple[Tuple[int, bytes], ...]
    map_address: int
    maptype_address: int
    iterator: Optional[int]
    stack: Optional[Tuple[int, int]]          # (start, size) of the stack window around the iterator
    key_type: Optional[GoType]
    elem_type: Optional[GoType]
    type_name: str
    truth_len: int
    fields: List[Field] = field(default_factory=list)
    targets: List[Tuple[int, str]] = field(default_factory=list)   # structure starts pointers are aimed at

    def __repr__(self) -> str:   # what a falsifying example prints: enough to find the image again
        return f"image({self.name!r})"

    def _repr_pretty_(self, printer, cycle):   # hypothesis prints dataclasses field by field otherwise
        printer.text(repr(self))

    @functools.cached_property
    def memory(self) -> SegmentMemory:
        return SegmentMemory(self.segments)

    @functools.cached_property
    def maptype(self):
        """The map type parsed from the unmutated image: what gdb's DWARF gives for the map."""
        return for_layout(self.layout).parse_maptype(self.memory, self.maptype_address)

    def original(self, address: int, size: int) -> int:
        return int.from_bytes(self.memory.read(address, size), "little")


def _struct_fields(fields: List[Field], base: int, struct_layout, prefix: str) -> None:
    for name, (offset, size) in field_offsets(struct_layout).items():
        if size == ABI_TYPE.sizeof() and name in ("Type", "typ"):   # the type header: its own fields
            _struct_fields(fields, base + offset, ABI_TYPE, f"{prefix}.{name}")
        elif size == 16 and name == "groups":                       # groupsReference: data, lengthMask
            fields += [Field(base + offset, 8, f"{prefix}.groups.data"),
                       Field(base + offset + 8, 8, f"{prefix}.groups.lengthMask")]
        else:
            fields.append(Field(base + offset, size, f"{prefix}.{name}"))


def _classic_image(toolchain: str, scenario: str) -> Image:
    case = test_classic.Case(toolchain, scenario)
    layout = MapLayout("classic", case.layout, parse_build_version(toolchain.split("-")[0]).minor)
    key, elem, type_name = {"int8": (INT8, INT64, "map[int8]int64"),
                            "indirect": (None, None, "map[main.bigKey]main.bigVal")}.get(
        scenario, (INT64, INT64, "map[int64]int64"))
    image = Image(f"classic/{toolchain}/{scenario}", layout, tuple(case.segments), case.hmap,
                  case.maptype_address, case.hiter, tuple(case.stack_window) if case.stack_window else None,
                  key, elem, type_name, case.truth["len"])
    structs = classic_layout(case.layout)
    fields, targets = image.fields, image.targets
    _struct_fields(fields, case.hmap, structs.hmap, "hmap")
    _struct_fields(fields, case.maptype_address, structs.maptype, "maptype")
    targets += [(case.hmap, "hmap"), (case.maptype_address, "maptype")]
    if case.hiter:
        _struct_fields(fields, case.hiter, structs.hiter, "hiter")
        targets.append((case.hiter, "hiter"))
    decoded = for_layout(layout).decode_map(image.memory, case.hmap, image.maptype)
    if decoded.header["extra"]:
        _struct_fields(fields, decoded.header["extra"], structs.mapextra, "mapextra")
    size = image.maptype.bucketsize
    arrays = [("buckets", decoded.detail["buckets"])]
    if decoded.detail.get("growth"):
        arrays.append(("oldbuckets", decoded.detail["growth"]["old_buckets"]))
    for array, records in arrays:
        for record in records:
            chain = [record] + list(record.get("overflow", ()))
            for depth, bucket in enumerate(chain):
                where = f"{array}[{record['index']}]" + (f".overflow{depth}" if depth else "")
                fields += [Field(bucket["address"], 1, f"{where}.tophash[0]"),
                           Field(bucket["address"] + size - 8, 8, f"{where}.overflow")]
                targets.append((bucket["address"], where))
    return image


def _swiss_image(build: str, name: str) -> Image:
    record = test_swiss.capture(build)
    case = record["cases"][name]
    selected = select_layout(parse_build_version(record["version"]))
    family, minor = test_swiss.layout_of(build)
    layout = MapLayout(selected.map_impl, family, minor)
    key, elem, type_name = {"str": (STRING, INT64, "map[string]int64"),
                            "big": (None, None, "map[main.BigKey]main.BigVal"),
                            "itersplit": (INT32, INT32, "map[int32]int32")}.get(
        name, (INT64, INT64, "map[int64]int64"))
    segments = tuple((address, bytes.fromhex(text)) for address, text in case["segments"])
    image = Image(f"swiss/{build}/{name}", layout, segments, case["map"], case["maptype"]["address"],
                  case.get("iter"), tuple(case["stack"]) if "stack" in case else None, key, elem, type_name,
                  test_swiss.truth(build, name).get("len", case["header"]["used"]))
    structs = swiss_layout(family, minor)
    fields, targets = image.fields, image.targets
    _struct_fields(fields, case["map"], structs.map_header, "map")
    _struct_fields(fields, image.maptype_address, structs.map_type, "maptype")
    targets += [(case["map"], "map"), (image.maptype_address, "maptype")]
    if image.iterator:
        _struct_fields(fields, image.iterator, structs.iterator, "iter")
        targets.append((image.iterator, "iter"))
    decoded = for_layout(layout).decode_map(image.memory, case["map"], image.maptype)
    group_size = image.maptype.group_size
    directory = decoded.detail.get("directory")
    if directory:
        fields += [Field(directory["address"] + 8 * index, 8, f"directory[{index}]")
                   for index in range(directory["length"])]
        targets.append((directory["address"], "directory"))
    groups = [(decoded.header["dirPtr"], 1, "group")] if decoded.detail["shape"] == "small" else []
    for index, table in enumerate(decoded.detail.get("tables", ())):
        _struct_fields(fields, table["address"], TABLE, f"table{index}")
        targets.append((table["address"], f"table{index}"))
        groups.append((table["groups"]["data"], table["groups"]["lengthMask"] + 1, f"table{index}.groups"))
    for base, count, what in groups:
        for group in sorted({0, 1, count - 1}):   # the first and last groups: a walk's ends
            if group < count:
                fields.append(Field(base + group * group_size, 8, f"{what}[{group}].ctrl"))
                targets.append((base + group * group_size, f"{what}[{group}]"))
    return image


@functools.lru_cache(maxsize=None)
def seed_images() -> Dict[str, List[Image]]:
    """Images by build ("classic/go1.22.10", "swiss/go1.27.3-mapsplitgroup")."""
    images: Dict[str, List[Image]] = {}
    for toolchain in test_classic.TOOLCHAINS:
        images[f"classic/{toolchain}"] = [_classic_image(toolchain, scenario)
                                         for scenario in sorted(test_classic.load(toolchain)["scenarios"])]
    for build in test_swiss.BUILDS:
        images[f"swiss/{build}"] = [_swiss_image(build, name) for name in sorted(test_swiss.capture(build)["cases"])]
    return images


BUILDS = [f"classic/{toolchain}" for toolchain in test_classic.TOOLCHAINS] + [
    f"swiss/{build}" for build in test_swiss.BUILDS]


# ---------------------------------------------------------------------------
# Mutations


@dataclass(frozen=True)
class Write:
    """Bytes written over an image."""

    address: int
    data: bytes
    why: str

    def __repr__(self) -> str:
        return f"Write({self.address:#x}, bytes.fromhex({self.data.hex()!r}), {self.why!r})"

    _repr_pretty_ = Image._repr_pretty_


@dataclass(frozen=True)
class Unmap:
    """The image's segment holding ``address`` removed: that memory becomes unreadable."""

    address: int
    why: str

    def __repr__(self) -> str:
        return f"Unmap({self.address:#x}, {self.why!r})"

    _repr_pretty_ = Image._repr_pretty_


def mutated(image: Image, mutations: Sequence[Any]) -> SegmentMemory:
    segments = [[start, bytearray(data)] for start, data in image.segments]
    for mutation in mutations:
        for segment in segments:
            start, data = segment
            if segment[1] is None or not start <= mutation.address < start + len(data):
                continue
            if isinstance(mutation, Unmap):
                segment[1] = None
            else:
                offset = mutation.address - start
                data[offset:offset + len(mutation.data)] = mutation.data[:len(data) - offset]
    return SegmentMemory((start, bytes(data)) for start, data in segments if data is not None)


# Values that break a field: zero, one, powers of two and their neighbours, sign boundaries.
INTERESTING = sorted({0, 1, 2, 3, 7, 8, 9, 15, 16, 31, 32, 40, 41, 63, 64, 65, 127, 128, 129, 255, 256, 1023, 1024,
                      1 << 16, 1 << 20, (1 << 20) + 1, 1 << 30, 1 << 31, 1 << 32, 1 << 40, 1 << 47, 1 << 62,
                      1 << 63, (1 << 64) - 1, (1 << 64) - 2, (1 << 63) - 1, (1 << 32) - 1, (1 << 16) - 1})
# Addresses where nothing is mapped in any image (and the kernel's half of the address space).
UNMAPPED = (0x8, 0xFFF, 0x1000, 0xDEAD_0000_0000, (1 << 47) - 8, 1 << 47, 0xFFFF_FFFF_FFFF_F000, (1 << 64) - 8)


@st.composite
def field_value(draw, image: Image, where: int, size: int) -> Tuple[int, str]:
    """A value for ``size`` bytes at ``where``: interesting, near the original, random, or a pointer."""
    mask = (1 << (8 * size)) - 1
    kind = draw(st.sampled_from(("interesting", "near", "pointer", "self", "unmapped", "random")
                                if size == 8 else ("interesting", "near", "random")))
    if kind == "interesting":
        value = draw(st.sampled_from(INTERESTING)) & mask
        return value, f"{value:#x}"
    if kind == "near":   # counts that disagree with contents by a little: off by one, doubled, one bit
        original = image.original(where, size)
        change = draw(st.sampled_from(("+1", "-1", "*2", "/2", "^bit")))
        value = {"+1": original + 1, "-1": original - 1, "*2": original * 2, "/2": original // 2,
                 "^bit": original ^ (1 << draw(st.integers(0, 8 * size - 1)))}[change] & mask
        return value, f"original{change} = {value:#x}"
    if kind == "pointer":   # into another structure, at or a little around its start
        target, name = draw(st.sampled_from(image.targets))
        offset = draw(st.sampled_from((0, 8, -8, 16, 1, 4096, -4096)))
        return (target + offset) & mask, f"&{name}{offset:+d}"
    if kind == "self":      # into the structure itself: cycles of one
        return where, "its own address"
    if kind == "unmapped":
        value = draw(st.sampled_from(UNMAPPED + tuple(start + len(data) for start, data in image.segments)))
        return value, f"unmapped {value:#x}"
    value = draw(st.integers(0, mask))
    return value, f"{value:#x}"


@st.composite
def image_mutation(draw, image: Image):
    kind = draw(st.sampled_from(("field", "field", "field", "word", "flip", "bytes", "unmap")))
    if kind == "field":     # the fields the decoders trust most: B, dirLen, globalDepth, lengthMask, counts...
        target = draw(st.sampled_from(image.fields))
        value, why = draw(field_value(image, target.address, target.size))
        return Write(target.address, value.to_bytes(target.size, "little"), f"{target.name} := {why}")
    start, data = draw(st.sampled_from(image.segments))
    if kind == "unmap":
        return Unmap(start, f"segment {start:#x} ({len(data)} bytes) unmapped")
    if kind == "word":      # any aligned word of any region
        where = start + 8 * draw(st.integers(0, max(len(data) // 8 - 1, 0)))
        value, why = draw(field_value(image, where, 8))
        return Write(where, value.to_bytes(8, "little"), f"word at {where:#x} := {why}")
    where = start + draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        bit = draw(st.integers(0, 7))
        return Write(where, bytes([image.memory.read(where, 1)[0] ^ (1 << bit)]), f"bit {bit} flipped")
    return Write(where, draw(st.binary(min_size=1, max_size=32)), "random bytes")


@st.composite
def mutated_image(draw, build: str, with_iterator: bool = False):
    images = [image for image in seed_images()[build] if image.iterator or not with_iterator]
    image = draw(st.sampled_from(images))
    return image, draw(st.lists(image_mutation(image), min_size=1, max_size=6))


# ---------------------------------------------------------------------------
# Decoder targets


def check_map(image: Image, memory: SegmentMemory) -> None:
    """The map at the image's address, decoded as hmap-show and hiter-snapshot do."""
    implementation = for_layout(image.layout)
    maptype = bounded("parse_maptype", lambda reader: implementation.parse_maptype(reader, image.maptype_address),
                      memory)
    if failed(maptype):
        maptype = image.maptype   # the descriptor gdb finds through DWARF: walk the corrupt map with it
    decoded = bounded("decode_map", lambda reader: implementation.decode_map(reader, image.map_address, maptype),
                      memory)
    outcome("decode_map", decoded)
    if failed(decoded):
        return
    assert isinstance(decoded, DecodedMap)
    check_decoded(decoded)
    render_key, render_value = values.entry_renderers(image.key_type, image.elem_type, memory)
    # Every entry rendered (hmap-show --json), then a snapshot of the map with the first few, as
    # hiter-snapshot --limit makes it: the structure is all there, the snapshot checks stay cheap.
    bounded("map_json", lambda: maptext.map_json(decoded, image.type_name, render_key, render_value))
    doc = bounded("map_document", lambda: plain(maptext.map_document(decoded, image.type_name, render_key,
                                                                    render_value, show=16)))
    bounded("map_text", lambda: maptext.map_text(doc))
    check_snapshot_of(maps=[dict(doc, expression="m")])


def check_decoded(decoded: DecodedMap) -> None:
    """What a result promises: problems say why a walk stopped, and why the entries found are not the count."""
    if not decoded.complete:
        assert decoded.problems, "an incomplete walk names no problem"
    if not decoded.problems:
        assert len(decoded.entries) == decoded.count, (
            f"{len(decoded.entries)} entries found, count {decoded.count}, and no problem says so")


def check_iterator(image: Image, memory: SegmentMemory) -> None:
    """The iterator at the image's address, as hiter-show, hiter-predict, hiter-find and snapshots see it."""
    implementation = for_layout(image.layout)
    iterator = bounded("decode_iterator", lambda reader: implementation.decode_iterator(reader, image.iterator),
                       memory)
    outcome("decode_iterator", iterator)
    if not failed(iterator):
        OUTCOMES[_running[0]][f"iterator state: {iterator.state}"] += 1
        doc = bounded("iterator.to_json", lambda: plain(iterator.to_json()))
        live = None
        descriptor = iterator.fields.get("t", iterator.fields.get("typ"))
        if iterator.map_address and descriptor:   # the live map, as predict_cmd._live_map finds it
            maptype = bounded("parse_maptype of the iterator's type",
                              lambda reader: implementation.parse_maptype(reader, descriptor), memory)
            if not failed(maptype):
                live = bounded("decode_map of the iterator's map",
                               lambda reader: implementation.decode_map(reader, iterator.map_address, maptype), memory)
                live = None if failed(live) else live
        key_type = image.key_type if live is not None else None
        prediction = bounded("predict", lambda reader: implementation.predict(reader, iterator, live, key_type), memory)
        loop = bounded("prediction.to_json", lambda: plain(prediction.to_json(raw_text, raw_text, live)))
        doc.update(goroutine=1, function="main.loop", prediction={
            "exact": loop["exact"], "reason": loop["reason"], "current": loop["current"],
            "next": [entry["key"] for entry in loop["next"]],
            "maybe": [entry["key"] for entry in loop["next"] if entry.get("maybe")],
            "not_visited": {}})
        check_snapshot_of(iterators=[doc])
    checked = bounded("check_iterator", lambda reader: implementation.check_iterator(reader, image.iterator), memory)
    outcome("check_iterator", checked)
    if image.stack is None:
        return
    low, size = image.stack
    try:
        stack = memory.read(low, size)
    except UnreadableMemory:
        return
    found = bounded("scan_for_iterators", lambda reader: implementation.scan_for_iterators(reader, stack, low), memory)
    # scan_for_iterators finds exactly what check_iterator accepts
    addresses = [hit.address for hit in found]
    assert addresses == sorted(addresses)
    if low <= image.iterator <= low + size - implementation.iterator_size:
        assert (image.iterator in addresses) == (not failed(checked)), (
            f"scan found {[hex(a) for a in addresses]}, check_iterator said {checked!r}")
    for address in addresses:
        assert not failed(bounded("check_iterator of a scan hit",
                                  lambda reader: implementation.check_iterator(reader, address), memory))


_SNAPSHOT_CONTEXT: Dict[str, Any] = {}


def check_snapshot_of(maps=(), iterators=()) -> None:
    """A snapshot holding what a decoder produced is valid, reads back and renders (issue #13 item 3)."""
    if not _SNAPSHOT_CONTEXT:
        golden = json.loads((GOLDEN / "classic-callback-enter.json").read_text())
        _SNAPSHOT_CONTEXT.update(go=golden["go"], program=golden["program"])
    snapshot = bounded("make_snapshot", lambda: document.make_snapshot(
        seq=1, event="manual", maps=maps, iterators=iterators, taken_at="2026-01-01T00:00:00.000Z",
        gdb_hiter_version="0", **_SNAPSHOT_CONTEXT))
    again = bounded("loads of a snapshot make_snapshot wrote", lambda: document.loads(document.dumps(snapshot)))
    assert not failed(again), again
    bounded("render_snapshot of a decoded map", lambda: render_snapshot(snapshot, "text"))


# ---------------------------------------------------------------------------
# Random bytes


RANDOM_LAYOUTS = [MapLayout("classic", "classic-go1.18", 22), MapLayout("classic", "classic-go1.24", 24),
                  MapLayout("swiss", "swiss-go1.24", 24), MapLayout("swiss", "swiss-go1.24", 26),
                  MapLayout("swiss", "swiss-go1.27", 27), MapLayout("swiss-split", "swiss-go1.27", 27)]
RANDOM_BASES = (0xC000_000000, 0xC000_001000, 0xC000_010000, 0x7FFF_F000_0000)


@st.composite
def random_memory(draw):
    """A few segments of random bytes, with aligned words made into pointers into the segments."""
    bases = draw(st.lists(st.sampled_from(RANDOM_BASES), min_size=1, max_size=4, unique=True))
    segments = []
    for base in bases:
        data = bytearray(draw(st.binary(min_size=8, max_size=2048)))
        segments.append([base, data])
    for _ in range(draw(st.integers(0, 24))):
        base, data = draw(st.sampled_from(segments))
        target, target_data = draw(st.sampled_from(segments))
        word = 8 * draw(st.integers(0, len(data) // 8 - 1))
        pointer = target + draw(st.integers(0, len(target_data) - 1)) & ~draw(st.sampled_from((0, 7)))
        data[word:word + 8] = struct.pack("<Q", pointer)
    for _ in range(draw(st.integers(0, 8))):   # small numbers: depths, lengths, counts
        base, data = draw(st.sampled_from(segments))
        word = 8 * draw(st.integers(0, len(data) // 8 - 1))
        data[word:word + 8] = struct.pack("<Q", draw(st.sampled_from(INTERESTING)))
    return tuple((base, bytes(data)) for base, data in segments)


def check_random(layout: MapLayout, segments) -> None:
    memory = SegmentMemory(segments)
    implementation = for_layout(layout)
    first, data = segments[0]
    last = segments[-1][0]
    maptype = bounded("parse_maptype", lambda reader: implementation.parse_maptype(reader, last), memory)
    if failed(maptype):
        maptype = (classic.maptype_from_sizes(8, 8) if layout.map_impl == "classic"
                   else swiss.SwissMapType.from_sizes(8, 8, split=layout.map_impl == "swiss-split"))
    decoded = bounded("decode_map", lambda reader: implementation.decode_map(reader, first, maptype), memory)
    outcome("decode_map", decoded)
    if not failed(decoded):
        check_decoded(decoded)
        bounded("map_document", lambda: plain(maptext.map_document(decoded, "map[int64]int64")))
    iterator = bounded("decode_iterator", lambda reader: implementation.decode_iterator(reader, first), memory)
    if not failed(iterator):
        bounded("iterator.to_json", lambda: plain(iterator.to_json()))
        bounded("predict", lambda reader: implementation.predict(reader, iterator, None, None), memory)
    bounded("check_iterator", lambda reader: implementation.check_iterator(reader, first), memory)
    for base, data in segments:
        bounded("scan_for_iterators", lambda reader: implementation.scan_for_iterators(reader, data, base), memory)


# ---------------------------------------------------------------------------
# Snapshots


SNAPSHOT_SEEDS = ("classic-callback-enter.json", "classic-callback-return.json", "swiss-callback-enter.json",
                  "swiss-callback-return.json")


@functools.lru_cache(maxsize=None)
def seed_snapshot(name: str) -> Tuple[str, Any]:
    text = (GOLDEN / name).read_text(encoding="utf-8")
    return text, json.loads(text)


def partner(name: str) -> Any:
    """The other snapshot of the same capture: what a diff pairs with."""
    other = name.replace("enter", "return") if "enter" in name else name.replace("return", "enter")
    return seed_snapshot(other)[1]


def _paths(tree: Any, path=()) -> List[tuple]:
    found = [path]
    if isinstance(tree, dict):
        for key, value in tree.items():
            found += _paths(value, path + (key,))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            found += _paths(value, path + (index,))
    return found


json_scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(INTERESTING), st.integers(), st.integers(-(1 << 70), 1 << 70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40),
    st.sampled_from(("", "\x1b[31m", "\r\n## heading", "|", "<details>", "«k:0123456789ab»", "\u202e", "\x00",
                     "map[int64]int64", "classic", "swiss", "swiss-split", "manual", "in-progress", "x" * 5000)))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)), max_leaves=12)


def same_kind(value: Any):
    """A value of the same JSON kind as ``value``: keeps more mutants valid, so they reach diff and render."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.sampled_from(INTERESTING), st.integers(-(1 << 64), 1 << 64),
                         st.sampled_from((value - 1, value + 1, -value, 0)))
    if isinstance(value, str):
        return st.one_of(st.text(max_size=30), json_scalars.filter(lambda item: isinstance(item, str)))
    if isinstance(value, list):
        return st.lists(st.sampled_from(value), max_size=len(value) + 2) if value else st.just([])
    return json_values


@st.composite
def tree_mutation(draw, doc: Any):
    """A mutated copy of a snapshot's JSON tree, and what was done."""
    doc = copy.deepcopy(doc)
    done = []
    for _ in range(draw(st.integers(1, 4))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths[1:] if len(paths) > 1 else paths))
        parent = functools.reduce(lambda node, key: node[key], path[:-1], doc) if path else None
        old = functools.reduce(lambda node, key: node[key], path, doc)
        op = draw(st.sampled_from(("same-kind", "same-kind", "any", "delete", "copy", "duplicate")))
        if op == "delete" and parent is not None:
            del parent[path[-1]]
        elif op == "copy" and parent is not None:   # a value from elsewhere in the snapshot
            other = draw(st.sampled_from(paths))
            parent[path[-1]] = copy.deepcopy(functools.reduce(lambda node, key: node[key], other, doc))
            op = f"copy of {list(other)}"
        elif op == "duplicate" and isinstance(parent, list):
            parent.insert(path[-1], copy.deepcopy(old))
        elif parent is not None:
            parent[path[-1]] = draw(same_kind(old) if op == "same-kind" else json_values)
        done.append(f"{op} at {list(path)}")
    return doc, done


@st.composite
def text_mutation(draw, text: str):
    """A mutated copy of a snapshot's text: flips, cuts, insertions, truncation, nesting."""
    data = bytearray(text.encode("utf-8"))
    op = draw(st.sampled_from(("flip", "cut", "insert", "truncate", "nest")))
    where = draw(st.integers(0, len(data)))
    if op == "flip" and where < len(data):
        data[where] ^= 1 << draw(st.integers(0, 7))
    elif op == "cut":
        del data[where:where + draw(st.integers(1, 200))]
    elif op == "insert":
        data[where:where] = draw(st.sampled_from((b",", b"}", b"]", b"\"", b"NaN", b"1e999", b"-", b"\\u0000",
                                                  b"{\"a\":" * 3000, b"[" * 100_000, b"\xff")))
    elif op == "truncate":
        del data[where:]
    elif op == "nest":   # a valid document nested deeper than Python's recursion limit
        return json.dumps({"format": "gdb-hiter-snapshot", "version": 1, "maps": [], "iterators": []})[:-1] + \
            ', "label": ' + "[" * 5000 + "]" * 5000 + "}", [op]
    return data.decode("utf-8", errors="replace"), [f"{op} at byte {where}"]


@dataclass(frozen=True)
class SnapshotCase:
    seed: str          # the golden snapshot mutated
    text: str
    done: Tuple[str, ...]

    def __repr__(self) -> str:   # the mutations, not 100 kB of text (the hypothesis blob replays it)
        text = self.text if len(self.text) <= 400 else f"<{len(self.text)} characters>"
        return f"SnapshotCase({self.seed!r}, {text!r}, done={list(self.done)!r})"

    _repr_pretty_ = Image._repr_pretty_


@st.composite
def mutated_snapshot(draw):
    name = draw(st.sampled_from(SNAPSHOT_SEEDS))
    text, doc = seed_snapshot(name)
    if draw(st.booleans()):
        mutant, done = draw(tree_mutation(doc))
        return SnapshotCase(name, json.dumps(mutant, ensure_ascii=draw(st.booleans())), tuple(done))
    mutant_text, done = draw(text_mutation(text))
    return SnapshotCase(name, mutant_text, tuple(done))


def check_snapshot_read(name: str, text: str) -> None:
    """What `gdb-hiter redact` does: read, redact, and what it writes reads back."""
    doc = bounded("loads", lambda: document.loads(text, "fuzz.json"))
    outcome("loads", doc)
    if failed(doc):
        return
    redacted = bounded("redact_snapshot", lambda: redact.redact_snapshot(doc, "fuzz-salt"))
    if failed(redacted):
        return
    again = bounded("loads of a redacted snapshot", lambda: document.loads(document.dumps(redacted)))
    assert not failed(again), f"redact_snapshot wrote an invalid snapshot: {again}"
    for item in redacted["maps"]:
        for entry in item["entries"]:
            assert entry["key"].startswith("«k:") and entry["value"].startswith("«v:"), entry


def check_snapshot_show(name: str, text: str) -> None:
    """What `gdb-hiter show` and `gdb-hiter diff` do with whatever loads accepts."""
    doc = bounded("loads", lambda: document.loads(text, "fuzz.json"))
    outcome("loads", doc)
    if failed(doc):
        return
    for fmt in FORMATS:
        bounded(f"render_snapshot {fmt}", lambda: render_snapshot(doc, fmt, color=fmt == "text"))
    bounded("render_snapshot with a limit", lambda: render_snapshot(doc, "text", limit=1))
    for a, b in ((doc, partner(name)), (partner(name), doc), (doc, doc)):
        diff = bounded("diff_snapshots", lambda: diff_snapshots(a, b))
        json.dumps(diff)   # the diff is JSON-ready
        for fmt in FORMATS:
            bounded(f"render_diff {fmt}", lambda: render_diff(diff, fmt, color=fmt == "text"))


# ---------------------------------------------------------------------------
# The campaign: targets, settings, tests


@dataclass(frozen=True)
class Target:
    name: str
    strategy: Callable[[], Any]     # made on first use: the images load then
    check: Callable[[Any], None]


def _map_target(build: str) -> Target:
    return Target(f"map:{build}", lambda: mutated_image(build),
                  lambda case: check_map(case[0], mutated(*case)))


def _iterator_target(build: str) -> Target:
    return Target(f"iterator:{build}", lambda: mutated_image(build, with_iterator=True),
                  lambda case: check_iterator(case[0], mutated(*case)))


def _random_target(layout: MapLayout) -> Target:
    name = f"random:{layout.map_impl}/{layout.layout}/go1.{layout.go_minor}"
    return Target(name, random_memory, lambda segments: check_random(layout, segments))


TARGETS: Dict[str, Target] = {target.name: target for target in (
    [_map_target(build) for build in BUILDS] + [_iterator_target(build) for build in BUILDS]
    + [_random_target(layout) for layout in RANDOM_LAYOUTS]
    + [Target("snapshot:read", mutated_snapshot, lambda case: check_snapshot_read(case.seed, case.text)),
       Target("snapshot:show", mutated_snapshot, lambda case: check_snapshot_show(case.seed, case.text))])}

# Cases each target ran in this process, and what its calls ended in (scripts/fuzz reports them).
CASES_RUN: Dict[str, int] = {name: 0 for name in TARGETS}
OUTCOMES: Dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_running = [""]

SHORT_EXAMPLES = {"map": 40, "iterator": 40, "random": 60, "snapshot:read": 150, "snapshot:show": 150}
# Targets whose short campaign fails on a finding not fixed yet (docs/fuzzing.md): strict, so that the
# fix makes the test fail until the mark goes.
KNOWN_FAILING: Dict[str, str] = {}   # target -> why it is expected to fail (strict xfail); none open


def campaign_settings(examples: int, *, derandomize: bool, database=None, shrink: bool = True) -> settings:
    phases = list(Phase) if shrink else [phase for phase in Phase if phase is not Phase.shrink]
    return settings(max_examples=examples, derandomize=derandomize, database=database, phases=phases,
                    deadline=None,            # bounded() measures every call, CPU time, not wall time
                    suppress_health_check=list(HealthCheck), print_blob=True, report_multiple_bugs=False)


def runner(target: Target, campaign: settings) -> Callable[[], None]:
    """The target as a hypothesis test under ``campaign``."""
    @campaign
    @given(case=target.strategy())
    def run(case):
        CASES_RUN[target.name] += 1
        _running[0] = target.name
        target.check(case)
    run.__name__ = run.__qualname__ = "fuzz_" + target.name.replace(":", "_").replace("/", "_").replace(".", "_")
    return run


@pytest.mark.parametrize("name", [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=KNOWN_FAILING[name]))
    if name in KNOWN_FAILING else name for name in TARGETS])
def test_fuzz(name):
    """The short deterministic campaign: the same cases every run."""
    kind = name if name.startswith("snapshot") else name.split(":")[0]
    # a known finding is not shrunk again every run: that costs seconds and shows nothing new
    runner(TARGETS[name], campaign_settings(SHORT_EXAMPLES[kind], derandomize=True, shrink=name not in KNOWN_FAILING))()


# ---------------------------------------------------------------------------
# The seed corpus itself, and the harness


@pytest.mark.parametrize("build", BUILDS)
def test_seed_images_decode_as_recorded(build):
    """Unmutated, every image decodes to what the program said: the mutations start from real maps."""
    for image in seed_images()[build]:
        implementation = for_layout(image.layout)
        decoded = implementation.decode_map(image.memory, image.map_address, image.maptype)
        assert decoded.problems == [] and decoded.complete, image
        assert len(decoded.entries) == decoded.count == image.truth_len, image
        if image.iterator:
            assert implementation.check_iterator(image.memory, image.iterator).address == image.iterator
        assert len(image.fields) >= 10 and image.targets, image


def test_harness_bounds_fail_a_case():
    """bounded() fails a call that is slow, reads too much, or raises an error that is not the project's."""
    def spin():
        while True:
            pass
    with pytest.raises(AssertionError, match="still running after|took"):
        bounded("spin", spin)
    memory = SegmentMemory([(0x1000, bytes(4096))])
    with pytest.raises(AssertionError, match="one read of"):
        bounded("decode_map", lambda reader: reader.read(0x1000, MAX_READ_BYTES + 1), memory)
    with pytest.raises(AssertionError, match="bytes read in"):
        bounded("decode_map", lambda reader: [reader.read(0x1000, 4096) for _ in range(MAX_READ_TOTAL // 4096 + 1)],
                memory)
    with pytest.raises(AssertionError, match="raised IndexError"):
        bounded("decode_map", lambda reader: [][0], memory)
    with pytest.raises(AssertionError, match="allocated"):
        bounded("allocate", lambda: bytearray(MAX_ALLOCATED + 1))
    error = bounded("decode_map", lambda reader: (_ for _ in ()).throw(classic.ImplausibleMap("B = 99")), memory)
    assert isinstance(error, classic.ImplausibleMap)


def test_mutations_write_where_they_say():
    image = seed_images()["classic/go1.22.10"][0]
    B = next(item for item in image.fields if item.name == "hmap.B")
    memory = mutated(image, [Write(B.address, b"\x63", "hmap.B := 99"), Unmap(image.maptype_address, "type")])
    assert memory.read(B.address, 1) == b"\x63" and image.memory.read(B.address, 1) != b"\x63"
    with pytest.raises(UnreadableMemory):
        memory.read(image.maptype_address, 8)


# ---------------------------------------------------------------------------
# Findings: each minimal failing case hypothesis found, kept as it was printed


def image_named(name: str) -> Image:
    build = name.rsplit("/", 1)[0]
    return next(image for image in seed_images()[build] if image.name == name)


FINDINGS = [
    # 1. An indirect key or elem was read with the size its type descriptor claims, unbounded:
    #    0xdead00000000 bytes per entry (fixed: parse_maptype refuses a size over 1 MiB).
    pytest.param("map", "classic/go1.24.11-noswiss/indirect",
                 [Write(0x4e8e40, bytes.fromhex("00000000adde0000"), "word at 0x4e8e40 := unmapped 0xdead00000000")],
                 id="1-classic-indirect-key-size"),
    pytest.param("map", "classic/go1.23.9/indirect", [Write(0x4e4803, bytes.fromhex("01"), "bit 0 flipped")],
                 id="1-classic-indirect-size-bit"),
    pytest.param("map", "swiss/go1.25.5/big", [Write(0x4d2cc0, bytes.fromhex("00000002"), "random bytes")],
                 id="1-swiss-indirect-elem-size"),
    # 3. predict's bucket cache keyed chunks by array base only: the iterator's array and the old
    #    array are one array when the loop started before the grow, and with it.B corrupt (3 -> 1)
    #    a 2-bucket chunk was sliced as the 8-bucket one: IndexError (fixed: the count is in the key).
    pytest.param("iterator", "classic/go1.19/iter-grew-mid",
                 [Write(0xc00007dc1a, bytes.fromhex("01"), "hiter.B := 0x1")], id="3-classic-predict-bucket-cache"),
]


@pytest.mark.parametrize("target, name, mutations", FINDINGS)
def test_findings_stay_fixed(target, name, mutations):
    image = image_named(name)
    memory = mutated(image, mutations)
    assert memory.read(mutations[0].address, len(mutations[0].data)) == mutations[0].data   # still that image
    (check_map if target == "map" else check_iterator)(image, memory)
    if target == "map":   # and the decoder says why it refused the descriptor
        refused = bounded("parse_maptype", lambda reader: for_layout(image.layout).parse_maptype(
            reader, image.maptype_address), memory)
        assert failed(refused) and "exceeds 1048576" in str(refused)


# 2. Fixed (docs/fuzzing.md, finding 2): the schema leaves these parts of a snapshot open, loads
#    accepts any JSON there, and show/diff read them as the decoders write them; such a map or
#    iterator is now shown or compared by its required keys, saying so. One minimal case per field.
SHOW_FINDINGS = [
    ("classic-callback-enter.json", ("maps", 0, "buckets", 0, "slots"), [], "render_snapshot"),
    ("classic-callback-enter.json", ("iterators", 0, "prediction"), 0, "render_snapshot"),
    ("classic-callback-enter.json", ("iterators", 0, "prediction", "next", 0), None, "diff_snapshots"),
    ("classic-callback-return.json", ("iterators", 0, "fields", "B"), -1, "render_snapshot"),
    ("swiss-callback-enter.json", ("maps", 0, "slots"), -1, "render_snapshot"),
    ("swiss-callback-return.json", ("maps", 0, "tables", 0, "directory"), [], "render_snapshot"),
    ("swiss-callback-return.json", ("maps", 0, "tables", 0, "slots"), None, "render_snapshot"),
]


@pytest.mark.parametrize("seed, path, value, call", [
    pytest.param(*finding, id=f"2-{finding[0].split('-')[0]}-{'.'.join(map(str, finding[1]))}")
    for finding in SHOW_FINDINGS])
def test_show_findings(seed, path, value, call):
    doc = copy.deepcopy(seed_snapshot(seed)[1])
    functools.reduce(lambda node, key: node[key], path[:-1], doc)[path[-1]] = value
    loaded = bounded("loads", lambda: document.loads(json.dumps(doc)))
    if failed(loaded):   # the schema now refuses it: that is a fix too
        return
    if call == "render_snapshot":
        bounded("render_snapshot", lambda: render_snapshot(loaded, "text"))
    else:
        bounded("diff_snapshots", lambda: render_diff(diff_snapshots(loaded, partner(seed)), "text"))
