// Stops at main.stopHere in well-defined map states; prints ground truth
// lines "GT <case> ..." to stdout before each stop.
package main

import (
	"fmt"
	"os"
	"sort"
	"unsafe"
)

// mapHeader mirrors the first fields of internal/runtime/maps.Map (same in 1.24-1.27).
type mapHeader struct {
	used   uint64
	seed   uintptr
	dirPtr unsafe.Pointer
	dirLen int
}

func dirLen(m map[int64]int64) int { return (*(**mapHeader)(unsafe.Pointer(&m))).dirLen }

type BigKey struct{ A [17]int64 } // 136 B > 128: stored indirectly
type BigVal struct{ B [18]int64 } // 144 B > 128: stored indirectly

var (
	gNil     map[int64]int64
	gEmpty   map[int64]int64
	gSmall   map[int64]int64
	gOne     map[int64]int64
	gMulti   map[int64]int64
	gDel     map[int64]int64
	gBig     map[BigKey]BigVal
	gStr     map[string]int64
	gCleared map[int64]int64

	gIterSmall map[int64]int64
	gIterGrow  map[int64]int64
	gIterClear map[int64]int64
	gIterSplit map[int32]int32

	phase   int
	current string
	sink    int64
)

//go:noinline
func stopHere() { sink++ }

func stop(name string) {
	current = name
	phase++
	fmt.Printf("STOP %d %s\n", phase, name)
	stopHere()
}

func truthInt(name string, m map[int64]int64) {
	keys := make([]int64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	fmt.Printf("GT %s len %d\n", name, len(m))
	for _, k := range keys {
		fmt.Printf("GT %s kv %d %d\n", name, k, m[k])
	}
}

func truthInt32(name string, m map[int32]int32) {
	fmt.Printf("GT %s len %d\n", name, len(m))
	for k, v := range m {
		fmt.Printf("GT %s kv %d %d\n", name, k, v)
	}
}

func stackMap() {
	m := make(map[int64]int64) // does not escape, hint <= 8: Map and group on the stack
	for i := int64(1); i <= 3; i++ {
		m[i*11] = i * 111
	}
	truthInt("stack", m)
	stop("stack")
	for k := range m {
		sink += m[k]
	}
}

func iterSmall() {
	n := 0
	for k, v := range gIterSmall {
		n++
		if n == 3 {
			fmt.Printf("GT itersmall seen %d cur %d %d\n", n, k, v)
			stop("itersmall")
		}
	}
}

func iterMulti() {
	n := 0
	for k, v := range gMulti {
		n++
		if n == 700 {
			fmt.Printf("GT itermulti seen %d cur %d %d\n", n, k, v)
			stop("itermulti")
		}
	}
}

func iterGrow() {
	n := 0
	for k, v := range gIterGrow {
		n++
		if n == 2 {
			for i := int64(1000); i < 1040; i++ { // forces the table to grow: the iterator's table goes stale
				gIterGrow[i] = i * 2
			}
			fmt.Printf("GT itergrow seen %d cur %d %d\n", n, k, v)
			truthInt("itergrow", gIterGrow)
			stop("itergrow")
		}
	}
}

func iterClear() {
	n := 0
	for k, v := range gIterClear {
		n++
		if n == 2 {
			clear(gIterClear)
			gIterClear[-5] = -50
			fmt.Printf("GT iterclear seen %d cur %d %d\n", n, k, v)
			truthInt("iterclear", gIterClear)
			stop("iterclear")
		}
	}
}

func iterSplit() {
	n := 0
	for k, v := range gIterSplit {
		n++
		if n == 5 {
			// The single full table splits: the directory grows under the iterator.
			for i := int32(100000); len(gIterSplit) < 1000; i++ {
				gIterSplit[i] = i + 1
			}
			fmt.Printf("GT itersplit seen %d cur %d %d\n", n, k, v)
			truthInt32("itersplit", gIterSplit)
			stop("itersplit")
		}
	}
}

func main() {
	gEmpty = make(map[int64]int64)
	gSmall = map[int64]int64{}
	for i := int64(1); i <= 5; i++ {
		gSmall[i] = i * 10
	}
	gOne = map[int64]int64{}
	for i := int64(0); i < 100; i++ {
		gOne[i*3] = i*7 + 1
	}
	gMulti = map[int64]int64{}
	// Insert until the directory first grows to 4 entries: at that moment one
	// table (localDepth 1) still fills two directory entries.
	for i := int64(0); dirLen(gMulti) < 4; i++ {
		gMulti[i] = i*3 + 1
	}
	gDel = map[int64]int64{}
	for i := int64(0); i < 200; i++ {
		gDel[i] = -i
	}
	for i := int64(0); i < 200; i += 4 {
		delete(gDel, i)
	}
	gBig = map[BigKey]BigVal{}
	for i := int64(0); i < 12; i++ {
		var k BigKey
		var v BigVal
		k.A[0], k.A[16] = i, i+100
		v.B[0], v.B[17] = i*5, i+200
		gBig[k] = v
	}
	gStr = map[string]int64{}
	for i := int64(0); i < 12; i++ {
		gStr[fmt.Sprintf("key-%02d", i)] = i + 1000
	}
	gCleared = map[int64]int64{}
	for i := int64(0); i < 20; i++ {
		gCleared[i] = i
	}
	clear(gCleared)

	truthInt("small", gSmall)
	truthInt("one", gOne)
	truthInt("multi", gMulti)
	truthInt("del", gDel)
	fmt.Printf("GT big len %d\n", len(gBig))
	for k, v := range gBig {
		fmt.Printf("GT big kv %d %d %d %d\n", k.A[0], k.A[16], v.B[0], v.B[17])
	}
	fmt.Printf("GT str len %d\n", len(gStr))
	for k, v := range gStr {
		fmt.Printf("GT str kv %s %d\n", k, v)
	}
	fmt.Printf("GT cleared len %d\n", len(gCleared))
	stop("maps")

	stackMap()

	gIterSmall = map[int64]int64{}
	for i := int64(1); i <= 6; i++ {
		gIterSmall[i] = i * 100
	}
	iterSmall()
	iterMulti()

	gIterGrow = map[int64]int64{}
	for i := int64(0); i < 10; i++ {
		gIterGrow[i] = i
	}
	iterGrow()

	gIterClear = map[int64]int64{}
	for i := int64(0); i < 30; i++ {
		gIterClear[i] = i
	}
	iterClear()

	gIterSplit = map[int32]int32{}
	for i := int32(0); i < 880; i++ {
		gIterSplit[i] = i + 1
	}
	iterSplit()
	fmt.Println("DONE")
	os.Stdout.Sync()
}
