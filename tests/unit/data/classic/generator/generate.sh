#!/bin/bash
# Regenerate tests/unit/data/classic/*.json from live processes under gdb.
# Usage: generate.sh [WORK_DIR]   (default /tmp/classic-gen)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../../../../.." && pwd)
WORK=${1:-/tmp/classic-gen}
PY=$REPO/.venv/bin/python
mkdir -p "$WORK/dumps" "$WORK/logs"
SCENARIOS="plain deleted growing samesize indirect int8 iterating iter-growing iter-samesize
           iter-grew-mid iter-grew-done iter-cleared iter-done types"

declare -A GOROOT_OF
while read -r version goroot; do GOROOT_OF[$version]=$goroot; done < <("$REPO/scripts/go-toolchains")

# toolchain name : go version : GOEXPERIMENT : layout family
TARGETS="go1.19:go1.19::classic-go1.18 go1.21.13:go1.21.13::classic-go1.18
         go1.22.10:go1.22.10::classic-go1.18 go1.23.9:go1.23.9::classic-go1.18
         go1.24.11-noswiss:go1.24.11:noswissmap:classic-go1.24
         go1.25.5-noswiss:go1.25.5:noswissmap:classic-go1.24"
PAIRS=()
for target in $TARGETS; do
  IFS=: read -r name version experiment layout <<< "$target"
  goroot=${GOROOT_OF[$version]}
  binary=$WORK/bin-$name
  (cd "$HERE" && GOROOT=$goroot GOEXPERIMENT=$experiment CGO_ENABLED=0 GOFLAGS=-mod=mod \
     "$goroot/bin/go" build -gcflags=all='-N -l' -o "$binary" .)
  PAIRS+=("$name=$binary")
  for scenario in $SCENARIOS; do
    # iter-growing wants the iterator reading a not-yet-evacuated old bucket
    # (checkBucket set), which depends on the random start bucket: retry.
    for attempt in 1 2 3 4 5 6 7 8; do
      SCENARIO=$scenario TOOLCHAIN=$name LAYOUT=$layout WORK=$WORK REPO=$REPO \
        gdb -batch -nx -ex "file $binary" -x "$HERE/capture.py" > "$WORK/logs/$name-$scenario.log" 2>&1
      [ "$scenario" != iter-growing ] && break
      grep -q '"checkBucket": 18446744073709551615' "$WORK/logs/$name-$scenario.log" || break
    done
    echo "$name $scenario: $(grep -o '^SUMMARY .\{0,90\}' "$WORK/logs/$name-$scenario.log" || echo FAILED)"
  done
done
cd "$HERE" && "$PY" assemble.py "$WORK" "${PAIRS[@]}"
