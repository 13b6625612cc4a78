"""Time the map type descriptor lookup on real binaries (docs/rendering.md, "Timing").

    .venv/bin/python tests/unit/data/render/time_typedesc.py BINARY [MAP_TYPE_NAME] ...

Compares the full pyelftools DIE walk with typedesc's types-CU walk and
name search, each from a cold cache.
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4]))

from elftools.elf.elffile import ELFFile  # noqa: E402

from gdb_hiter.core.render import typedesc  # noqa: E402


def milliseconds(since: float) -> str:
    return f"{1000 * (time.perf_counter() - since):.1f} ms"


def main() -> None:
    paths = [argument for argument in sys.argv[1:] if not argument.startswith("map[")]
    names = [argument for argument in sys.argv[1:] if argument.startswith("map[")] or ["map[string]int"]
    for path in paths:
        start = time.perf_counter()
        with open(path, "rb") as handle:
            dies = sum(1 for unit in ELFFile(handle).get_dwarf_info().iter_CUs() for _ in unit.iter_DIEs())
        full_walk = milliseconds(start)
        typedesc._cache.clear()
        start = time.perf_counter()
        count = len(typedesc.map_type_descriptors(path))
        unit_walk = milliseconds(start)
        for name in names:
            typedesc._cache.clear()
            start = time.perf_counter()
            address = typedesc.map_type_descriptor_address(path, name)
            cold = milliseconds(start)
            start = time.perf_counter()
            typedesc.map_type_descriptor_address(path, name)
            warm = milliseconds(start)
            found = f"{address:#x}" if address else "not found"
            print(f"{path}: {dies} DIEs, full walk {full_walk}, types-CU walk {unit_walk} ({count} maps); "
                  f"{name} {found}: cold {cold}, warm {warm}")


if __name__ == "__main__":
    main()
