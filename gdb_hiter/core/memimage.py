"""What a computation read from memory, and whether it would read the same now.

A map's snapshot (decode, render, predict) is a function of the bytes it
read: the core reads memory only through the ``MemoryReader`` it is given.
``RecordingReader`` keeps every read (and every read that failed);
``Footprint`` is those reads merged into a few regions. At the next cgo
transition ``Footprint.recheck`` reads the regions again in bulk: if every
byte is the same (and every failed read still fails), the computation
would take the same path over the same bytes and give the same result, so
the previous result is reused without decoding anything. When something
changed, the fresh bytes serve the new computation's reads
(``PrefetchedMemory``), so it costs few gdb round trips.

Regions are merged across small gaps (a map's strings sit between other
objects of their size class): a change in a gap only costs a needless new
decode, never a wrong reuse, and a region whose bulk read fails is read
again as the exact reads it was made of.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from .memory import MemoryReader, UnreadableMemory

# Reads closer than this are read as one region.
MERGE_GAP = 512
# A region is never made bigger than this by merging (one gdb read each).
MAX_REGION = 16 << 20


class RecordingReader:
    """A ``MemoryReader`` that keeps what it read: ``(address, size, data or None)``."""

    def __init__(self, inner: MemoryReader):
        self.inner = inner
        self.reads: List[Tuple[int, int, Optional[bytes]]] = []
        self.recording = True

    def read(self, address: int, size: int) -> bytes:
        try:
            data = self.inner.read(address, size)
        except UnreadableMemory:
            if self.recording:
                self.reads.append((address, size, None))
            raise
        if self.recording:
            self.reads.append((address, size, data))
        return data

    def stop(self) -> None:
        """Keep nothing more (the footprint is made; later reads are another computation's)."""
        self.recording = False
        self.reads = []


@dataclass
class Region:
    address: int
    data: bytes
    parts: Tuple[Tuple[int, int], ...]   # the reads it was made of, (address, size), for a failed bulk read


class PrefetchedMemory:
    """Reads served from regions already read, else from ``inner``."""

    def __init__(self, regions: Sequence[Region], inner: MemoryReader):
        self.regions = sorted(regions, key=lambda region: region.address)
        self.starts = [region.address for region in self.regions]
        self.inner = inner

    def read(self, address: int, size: int) -> bytes:
        index = bisect.bisect_right(self.starts, address) - 1
        if index >= 0:
            region = self.regions[index]
            offset = address - region.address
            if offset + size <= len(region.data) and size >= 0:
                return region.data[offset:offset + size]
        return self.inner.read(address, size)


class Footprint:
    """The bytes a computation read, as regions, and the reads that failed."""

    def __init__(self, regions: List[Region], unreadable: List[Tuple[int, int]]):
        self.regions = regions
        self.unreadable = unreadable

    @property
    def size(self) -> int:
        return sum(len(region.data) for region in self.regions)

    @classmethod
    def of(cls, reads: Sequence[Tuple[int, int, Optional[bytes]]], memory: MemoryReader) -> "Footprint":
        """The footprint of ``reads``; gaps between merged reads are read from ``memory`` now
        (a gap that cannot be read keeps its regions apart)."""
        good = sorted((address, size, data) for address, size, data in reads if data is not None and size > 0)
        unreadable = sorted({(address, size) for address, size, data in reads if data is None})
        regions: List[Region] = []
        group: List[Tuple[int, int, bytes]] = []
        end = None
        for address, size, data in good:
            if group and address <= end + MERGE_GAP and max(end, address + size) - group[0][0] <= MAX_REGION:
                group.append((address, size, data))
                end = max(end, address + size)
                continue
            if group:
                regions.extend(_assemble(group, end, memory))
            group, end = [(address, size, data)], address + size
        if group:
            regions.extend(_assemble(group, end, memory))
        return cls(regions, unreadable)

    def recheck(self, memory: MemoryReader, skip: Optional[Tuple[int, int]] = None,
                *, read_all: bool = False) -> Tuple[bool, List[Region]]:
        """(whether every byte read and every failure is as it was, the regions as they are now).

        Only the bytes the computation read count, not those of the gaps merged
        between them (other objects of the heap). ``skip``: (address, size) of
        bytes that may have changed (an iterator that moved on). Reading stops
        at the first difference unless ``read_all`` (the regions then serve the
        new computation's reads).
        """
        fresh: List[Region] = []
        changed = False
        for region in self.regions:
            try:
                data = memory.read(region.address, len(region.data))
            except UnreadableMemory:
                if not read_all:
                    return False, fresh
                changed = True
                continue
            fresh.append(Region(region.address, data, region.parts))
            if not changed and data != region.data and not _same_read(region, data, skip):
                if not read_all:
                    return False, fresh
                changed = True
        if changed:
            return False, fresh
        for address, size in self.unreadable:
            try:
                memory.read(address, size)
            except UnreadableMemory:
                continue
            return False, fresh
        return True, fresh


def _same_read(region: Region, data: bytes, skip: Optional[Tuple[int, int]]) -> bool:
    """Whether ``data`` equals the region's bytes in every read it was made of, outside ``skip``."""
    old = region.data
    base = region.address
    skip_start, skip_end = (skip[0] - base, skip[0] + skip[1] - base) if skip else (0, 0)
    for address, size in region.parts:
        start, end = address - base, address - base + size
        if data[start:end] == old[start:end]:
            continue
        if skip is None or end <= skip_start or start >= skip_end:
            return False
        if data[start:skip_start] != old[start:skip_start] or data[skip_end:end] != old[skip_end:end]:
            return False
    return True


def reads_of(regions: Sequence[Region]) -> List[Tuple[int, int, Optional[bytes]]]:
    """Regions as reads again (to make a footprint of regions and more reads)."""
    return [(region.address, len(region.data), region.data) for region in regions]


def _assemble(group: List[Tuple[int, int, bytes]], end: int, memory: MemoryReader) -> List[Region]:
    """One region for reads that overlap or sit close; the gaps are read now."""
    start = group[0][0]
    parts = tuple((address, size) for address, size, _ in group)
    if len(group) == 1:
        return [Region(start, group[0][2], parts)]
    buffer = bytearray(end - start)
    covered = 0       # bytes of buffer filled from the reads, from the start, so far
    gaps: List[Tuple[int, int]] = []
    for address, size, data in group:
        offset = address - start
        if offset > covered:
            gaps.append((covered, offset))
        buffer[offset:offset + size] = data
        covered = max(covered, offset + size)
    for gap_start, gap_end in gaps:
        try:
            buffer[gap_start:gap_end] = memory.read(start + gap_start, gap_end - gap_start)
        except UnreadableMemory:     # a gap that is not mapped: keep the reads as they were
            return [Region(address, data, ((address, size),)) for address, size, data in group]
    return [Region(start, bytes(buffer), parts)]
