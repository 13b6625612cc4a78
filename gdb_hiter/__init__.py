"""gdb-hiter: Go maps and map iterators as they are in memory.

The package has two halves:

* ``gdb_hiter.core`` never imports ``gdb``: layouts, decoders over a
  memory-reader interface, version detection, snapshots, diffs, rendering.
  It runs and is tested in plain CPython.
* ``gdb_hiter.gdbext`` is the thin layer inside gdb: commands, printers,
  breakpoints and the reader that goes through the inferior.
"""

__version__ = "0.1.0"
