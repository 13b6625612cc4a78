"""The memory-reader interface every decoder reads through.

Decoders never touch gdb: they get an object with ``read(address, size)``.
Inside gdb that is the inferior's memory; in tests and for snapshots it is
a set of byte segments.
"""

from __future__ import annotations

import bisect
import struct
from typing import Iterable, List, Protocol, Tuple

# A 64-bit address space: arithmetic on a corrupt field (buckets + bucket * size)
# can go past it, and such a read is unreadable memory, not an OverflowError.
ADDRESS_LIMIT = 1 << 64


class UnreadableMemory(Exception):
    """Raised when ``size`` bytes at ``address`` cannot be read."""

    def __init__(self, address: int, size: int, why: str = ""):
        self.address = address
        self.size = size
        self.why = why
        text = f"cannot read {size} bytes at {address:#x}"
        super().__init__(f"{text}: {why}" if why else text)


class MemoryReader(Protocol):
    def read(self, address: int, size: int) -> bytes:
        """Return exactly ``size`` bytes or raise UnreadableMemory."""


class SegmentMemory:
    """Memory made of (start address, bytes) segments: for tests and files.

    Segments are kept sorted by start so a read finds its segment by
    bisection: snapshots of large maps hold thousands of segments.
    """

    def __init__(self, segments: Iterable[Tuple[int, bytes]] = ()):
        self._starts: List[int] = []
        self._data: List[bytes] = []
        self._longest = 0
        for start, data in segments:
            self.add(start, data)

    def add(self, start: int, data: bytes) -> None:
        self._longest = max(self._longest, len(data))
        index = bisect.bisect_left(self._starts, start)
        if index < len(self._starts) and self._starts[index] == start:
            self._data[index] = bytes(data)
            return
        self._starts.insert(index, start)
        self._data.insert(index, bytes(data))

    def read(self, address: int, size: int) -> bytes:
        if address <= 0 or size < 0 or address + size > ADDRESS_LIMIT:
            raise UnreadableMemory(address, size, "bad address")
        # Overlapping segments are allowed: try the nearest starts at or below the address.
        index = bisect.bisect_right(self._starts, address) - 1
        while index >= 0 and self._starts[index] + self._longest >= address + size:
            start, data = self._starts[index], self._data[index]
            if address + size <= start + len(data):
                offset = address - start
                return data[offset:offset + size]
            index -= 1
        raise UnreadableMemory(address, size, "not mapped")


def read_u64(memory: MemoryReader, address: int) -> int:
    return struct.unpack("<Q", memory.read(address, 8))[0]


def read_go_string(memory: MemoryReader, header_address: int, limit: int = 1 << 16) -> str:
    """Read a Go string whose (ptr, len) header is at ``header_address``."""
    pointer, length = struct.unpack("<QQ", memory.read(header_address, 16))
    if length > limit:
        raise UnreadableMemory(pointer, length, f"string length {length} exceeds {limit}")
    if length == 0:
        return ""
    return memory.read(pointer, length).decode("utf-8", errors="replace")
