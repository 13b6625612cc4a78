"""Assemble ../<toolchain>.json from $WORK/dumps and the binaries' DWARF.

Usage: assemble.py WORK TOOLCHAIN=BINARY...
"""

import glob
import json
import os
import sys

from dwarf_offsets import struct_offsets

OUT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(work, pairs):
    for pair in pairs:
        toolchain, binary = pair.split("=", 1)
        record = {"toolchain": toolchain, "layout": None, "dwarf": struct_offsets(binary), "scenarios": {}}
        for path in sorted(glob.glob(f"{work}/dumps/{toolchain}-*.json")):
            dump = json.load(open(path))
            record["layout"] = dump["layout"]
            if dump["scenario"] == "types":
                record["types"] = {"types": dump["types"], "segments": dump["segments"]}
            else:
                record["scenarios"][dump["scenario"]] = {
                    key: dump[key] for key in ("hmap", "maptype", "hiter", "stack_window", "truth", "segments")}
        with open(f"{OUT}/{toolchain}.json", "w") as handle:
            json.dump(record, handle, separators=(",", ":"))
        print(toolchain, len(record["scenarios"]), "scenarios", os.path.getsize(f"{OUT}/{toolchain}.json"), "bytes")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
