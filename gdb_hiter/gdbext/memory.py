"""The memory reader the core decoders use inside gdb: the inferior's memory."""

from __future__ import annotations

import gdb

from ..core.memory import ADDRESS_LIMIT, UnreadableMemory


class InferiorMemory:
    """``read(address, size)`` over ``gdb.selected_inferior().read_memory``.

    One call per read: decoders ask for whole bucket or group arrays, so the
    number of gdb round trips stays small.
    """

    def __init__(self, inferior=None):
        self._inferior = inferior or gdb.selected_inferior()

    def read(self, address: int, size: int) -> bytes:
        if address <= 0 or size < 0 or address + size > ADDRESS_LIMIT:
            raise UnreadableMemory(address, size, "bad address")
        if size == 0:
            return b""
        try:
            return self._inferior.read_memory(address, size).tobytes()
        except gdb.MemoryError as error:
            raise UnreadableMemory(address, size, str(error)) from None
