"""python -m gdb_hiter.cli: the gdb-hiter command line."""

from . import main

raise SystemExit(main())
