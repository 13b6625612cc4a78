// Scenario program for the classic map decoder: builds one map in a chosen
// state, writes the ground truth (hmap address, type descriptor, live
// entries) to a JSON file and calls stopHere so gdb can dump memory.
package main

import (
	"fmt"
	"os"
	"strings"
	"unsafe"
)

type hmapMirror struct {
	count      int
	flags      uint8
	B          uint8
	noverflow  uint16
	hash0      uint32
	buckets    unsafe.Pointer
	oldbuckets unsafe.Pointer
	nevacuate  uintptr
}

func header[K comparable, V any](m map[K]V) *hmapMirror {
	return *(**hmapMirror)(unsafe.Pointer(&m))
}

func typeOf(x any) uintptr { return (*[2]uintptr)(unsafe.Pointer(&x))[0] }

type bigKey struct {
	ID  int64
	Pad [128]byte
}

type bigVal struct {
	V   int64
	Pad [150]byte
}

var truthPath string

type pair struct{ k, v int64 }

func writeTruth(scenario string, hmap unsafe.Pointer, maptype uintptr, length int, entries []pair, visited []pair) {
	var b strings.Builder
	h := (*hmapMirror)(hmap)
	fmt.Fprintf(&b, "{\"scenario\": %q, \"hmap\": %d, \"maptype\": %d, \"len\": %d, \"B\": %d, \"flags\": %d, \"noverflow\": %d, \"oldbuckets\": %d, \"nevacuate\": %d,\n",
		scenario, uintptr(hmap), maptype, length, h.B, h.flags, h.noverflow, uintptr(h.oldbuckets), h.nevacuate)
	list := func(name string, ps []pair) {
		fmt.Fprintf(&b, "\"%s\": [", name)
		for i, p := range ps {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "[%d, %d]", p.k, p.v)
		}
		b.WriteString("]")
	}
	list("entries", entries)
	b.WriteString(",\n")
	list("visited", visited)
	b.WriteString("}\n")
	if err := os.WriteFile(truthPath, []byte(b.String()), 0o644); err != nil {
		panic(err)
	}
}

// stopHere is where gdb stops. h is the map's hmap: passed as an argument
// so that gdb reads it after any stack copy (a non-escaping hmap lives on
// the goroutine stack and moves with it).
//
//go:noinline
func stopHere(h unsafe.Pointer) {}

// live keeps the ground truth of an int64 map without ranging over it.
type live struct {
	order []int64
	vals  map[int64]int64 // never iterated; lookups only
}

func newLive() *live { return &live{vals: map[int64]int64{}} }
func (l *live) set(k, v int64) {
	if _, ok := l.vals[k]; !ok {
		l.order = append(l.order, k)
	}
	l.vals[k] = v
}
func (l *live) del(k int64) {
	if _, ok := l.vals[k]; ok {
		delete(l.vals, k)
		for i, x := range l.order {
			if x == k {
				l.order = append(l.order[:i], l.order[i+1:]...)
				break
			}
		}
	}
}
func (l *live) pairs() []pair {
	out := make([]pair, 0, len(l.order))
	for _, k := range l.order {
		out = append(out, pair{k, l.vals[k]})
	}
	return out
}

func intMap(name string, m map[int64]int64, l *live, visited []pair) {
	writeTruth(name, unsafe.Pointer(header(m)), typeOf(m), len(m), l.pairs(), visited)
	stopHere(unsafe.Pointer(header(m)))
}

func grow(m map[int64]int64, l *live, next *int64, extra int) {
	for {
		k := *next
		*next++
		m[k] = k * 10
		l.set(k, k*10)
		h := header(m)
		if h.oldbuckets != nil && h.nevacuate > 0 {
			if extra == 0 {
				return
			}
			extra--
		}
	}
}

// fillTo inserts until the map has 2^b buckets and is not growing.
func fillTo(m map[int64]int64, l *live, next *int64, b uint8) {
	for header(m).B < b || header(m).oldbuckets != nil {
		m[*next] = *next * 10
		l.set(*next, *next*10)
		*next++
	}
}

// sameSizeGrow inserts and deletes until the map is in a same-size grow.
func sameSizeGrow(m map[int64]int64, l *live) {
	next := int64(1)
	for n := 0; n < 1000000; n++ {
		k := next
		next++
		m[k] = k
		l.set(k, k)
		h := header(m)
		if h.flags&8 != 0 && h.oldbuckets != nil {
			return
		}
		if len(m) >= 24 {
			for len(l.order) > 4 {
				victim := l.order[0]
				delete(m, victim)
				l.del(victim)
			}
		}
	}
	panic("no same-size grow")
}

func main() {
	scenario := os.Args[1]
	truthPath = os.Args[2]
	switch scenario {
	case "plain":
		m := map[int64]int64{}
		l := newLive()
		// at least 100 entries, not growing, with overflow buckets
		for i := int64(0); i < 100 || header(m).oldbuckets != nil || header(m).noverflow == 0; i++ {
			m[i*7+1] = i * 1000
			l.set(i*7+1, i*1000)
		}
		intMap(scenario, m, l, nil)
	case "deleted":
		m := map[int64]int64{}
		l := newLive()
		for i := int64(0); i < 40; i++ {
			m[i] = -i
			l.set(i, -i)
		}
		for i := int64(0); i < 40; i += 3 {
			delete(m, i)
			l.del(i)
		}
		intMap(scenario, m, l, nil)
	case "growing":
		m := map[int64]int64{}
		l := newLive()
		next := int64(1)
		fillTo(m, l, &next, 4)
		grow(m, l, &next, 2)
		intMap(scenario, m, l, nil)
	case "samesize", "iter-samesize":
		m := make(map[int64]int64, 20)
		l := newLive()
		sameSizeGrow(m, l)
		var visited []pair
		if scenario == "iter-samesize" {
			for k, v := range m {
				visited = append(visited, pair{k, v})
				break
			}
		}
		intMap(scenario, m, l, visited)
	case "indirect":
		m := map[bigKey]bigVal{}
		var entries []pair
		for i := int64(0); i < 12; i++ {
			k := bigKey{ID: i*11 + 3}
			k.Pad[0], k.Pad[127] = byte(i), 0xAB
			v := bigVal{V: i * -5}
			v.Pad[149] = 0xCD
			m[k] = v
			entries = append(entries, pair{k.ID, v.V})
		}
		writeTruth(scenario, unsafe.Pointer(header(m)), typeOf(m), len(m), entries, nil)
		stopHere(unsafe.Pointer(header(m)))
	case "int8":
		m := map[int8]int64{}
		var entries []pair
		for i := int8(-5); i < 5; i++ {
			m[i] = int64(i) * 1000
			entries = append(entries, pair{int64(i), int64(i) * 1000})
		}
		writeTruth(scenario, unsafe.Pointer(header(m)), typeOf(m), len(m), entries, nil)
		stopHere(unsafe.Pointer(header(m)))
	case "iterating":
		m := map[int64]int64{}
		l := newLive()
		for i := int64(0); i < 30; i++ {
			m[i] = i + 100
			l.set(i, i+100)
		}
		var visited []pair
		for k, v := range m {
			visited = append(visited, pair{k, v})
			if len(visited) == 5 {
				intMap(scenario, m, l, visited)
			}
		}
	case "iter-growing":
		// Many old buckets still to evacuate, so the first bucket the
		// iterator starts is most likely read from oldbuckets (checkBucket set).
		m := map[int64]int64{}
		l := newLive()
		next := int64(1)
		fillTo(m, l, &next, 4)
		grow(m, l, &next, 0)
		var visited []pair
		for k, v := range m {
			visited = append(visited, pair{k, v})
			if len(visited) == 1 {
				intMap(scenario, m, l, visited)
			}
		}
	case "iter-grew-mid", "iter-grew-done":
		// Inserts during the range make the map grow: stop while the grow is
		// in progress (mid) or after it finished (done).
		m := map[int64]int64{}
		l := newLive()
		for i := int64(1); i <= 50 || header(m).oldbuckets != nil; i++ {
			m[i] = i
			l.set(i, i)
		}
		var visited []pair
		for k, v := range m {
			visited = append(visited, pair{k, v})
			if len(visited) == 1 {
				startB := header(m).B
				for i := int64(1000); ; i++ {
					m[i] = i
					l.set(i, i)
					h := header(m)
					if scenario == "iter-grew-mid" && h.oldbuckets != nil {
						break
					}
					if scenario == "iter-grew-done" && h.B > startB && h.oldbuckets == nil {
						break
					}
				}
			}
			if len(visited) == 4 {
				intMap(scenario, m, l, visited)
			}
		}
	case "iter-cleared":
		// The iterator is stopped right after the map was cleared and refilled:
		// in 1.24+ noswiss its clearSeq no longer matches the map's.
		m := map[int64]int64{}
		l := newLive()
		for i := int64(1); i <= 20; i++ {
			m[i] = i
		}
		var visited []pair
		for k, v := range m {
			visited = append(visited, pair{k, v})
			if len(visited) == 2 {
				clearMap(m)
				for i := int64(500); i < 505; i++ {
					m[i] = i
					l.set(i, i)
				}
			}
			if len(visited) == 3 {
				intMap(scenario, m, l, visited)
			}
		}
	case "iter-done":
		m := map[int64]int64{}
		l := newLive()
		for i := int64(1); i <= 20; i++ {
			m[i] = i * i
			l.set(i, i*i)
		}
		var visited []pair
		for k, v := range m {
			visited = append(visited, pair{k, v})
		}
		intMap(scenario, m, l, visited)
	case "types":
		// Type descriptors of maps with odd key/elem sizes and alignments.
		type empty struct{}
		type k3 [3]byte
		type big129 [129]byte
		type exact128 [128]byte
		type mixed struct {
			A int8
			B int64
			C int16
		}
		var b strings.Builder
		b.WriteString("{\"types\": [")
		add := func(name string, m any, ks, es uintptr) {
			if b.Len() > len("{\"types\": [") {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "{\"name\": %q, \"maptype\": %d, \"key_size\": %d, \"elem_size\": %d}", name, typeOf(m), ks, es)
		}
		add("map[int8]int64", map[int8]int64{}, 1, 8)
		add("map[[3]byte]int16", map[k3]int16{}, 3, 2)
		add("map[struct{}]struct{}", map[empty]empty{}, 0, 0)
		add("map[string][129]byte", map[string]big129{}, 16, 129)
		add("map[[129]byte]int8", map[big129]int8{}, 129, 1)
		add("map[[128]byte][128]byte", map[exact128]exact128{}, 128, 128)
		add("map[float64]complex128", map[float64]complex128{}, 8, 16)
		add("map[int32]int8", map[int32]int8{}, 4, 1)
		add("map[interface{}]string", map[any]string{}, 16, 16)
		add("map[mixed]bool", map[mixed]bool{}, unsafe.Sizeof(mixed{}), 1)
		add("map[string]int", map[string]int{}, 16, 8)
		b.WriteString("]}\n")
		if err := os.WriteFile(truthPath, []byte(b.String()), 0o644); err != nil {
			panic(err)
		}
		stopHere(nil)
	case "big":
		const n = 1000000
		m := make(map[int64]int64)
		var sumK, sumV int64
		for i := int64(0); i < n; i++ {
			m[i*3] = i ^ 0x5555
			sumK += i * 3
			sumV += i ^ 0x5555
		}
		writeTruth(scenario, unsafe.Pointer(header(m)), typeOf(m), len(m), []pair{{sumK, sumV}}, nil)
		stopHere(unsafe.Pointer(header(m)))
	default:
		panic("unknown scenario " + scenario)
	}
}
