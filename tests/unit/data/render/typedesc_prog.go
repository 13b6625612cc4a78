//go:build ignore

// A program whose map types test_typedesc.py looks up in the built binary.
// It only has to link, but each map must be written to: an empty literal
// and len() need no type descriptor, and the linker drops unused ones
// (their DW_AT_go_runtime_type is then 0).
package main

import (
	"fmt"
	"os"
)

type Key struct {
	A int32
	B string
}

var (
	mStrInt = map[string]int{"a": 1}
	mKey    = map[Key][17]int64{{1, "x"}: {1}}
	mBig    = map[[200]byte]*Key{}
	mNested = map[[2]int]map[string]int{}
	mIface  = map[interface{}]error{}
)

func main() {
	mBig[[200]byte{byte(len(os.Args))}] = &Key{}
	mNested[[2]int{len(os.Args)}] = mStrInt
	mIface[len(os.Args)] = nil
	fmt.Fprintln(os.Stderr, len(mStrInt), len(mKey), len(mBig), len(mNested), len(mIface))
}
