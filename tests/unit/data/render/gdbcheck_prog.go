//go:build ignore

// The program gdbcheck.py debugs: one map per interesting key/element type,
// each with one entry, and a line per map on stdout with the %#v of the
// entry's key and element (or gdb-hiter's own text for interfaces and
// nested maps, docs/rendering.md). Then it stops at runtime.Breakpoint.
package main

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"runtime"
	"strings"
	"unsafe"
)

type Key struct {
	A int32
	B string
}

type Inner struct{ X, Y uint16 }

type Outer struct {
	Inner
	P     *int64
	S     []byte
	Arr   [3]int8
	F     float32
	C     complex128
	Up    uintptr
	U     unsafe.Pointer
	Ch    chan int
	Fn    func(int) string
	NilM  map[string]int
	flag  bool
	Anon  struct{ Q bool; R string }
	Names []string
	_     int16
}

type Node struct {
	Next *Node
	Kids []Node
	V    int
}

type MyInt int
type MyString string
type Bytes []byte
type List []List

var sink int64 = 42

var (
	mStrInt   map[string]int
	mKey      map[Key][17]int64
	mOuter    map[int]Outer
	mPtr      map[uint8]*Key
	mNode     map[string]Node
	mFloat    map[float64]complex64
	mMyInt    map[MyInt]Bytes
	mSlice    map[bool][]string
	mBig      map[[200]byte][300]byte
	mAnon     map[struct{ A int32; B string }]bool
	mNamedStr map[MyString]uintptr
	mBytes    map[int16][]byte
	mList     map[int8]List
	mLong     map[uint]string
	mF32      map[float32]float32
	mIface    map[interface{}]error
	mErrNil   map[string]error
	mNested   map[[2]int]map[string]int
	mChan     map[int]chan string
	mFunc     map[int]func()
	mUnsafe   map[unsafe.Pointer]bool
	mPtrBig   map[int]*[300]byte
)

func line(name string, k, v interface{}) {
	fmt.Printf("%s\t%#v\t%#v\n", name, k, v)
}

// ours prints an interface the way gdb-hiter renders it (docs/rendering.md).
func ours(static string, v *interface{}, hasMethods bool) string {
	if *v == nil {
		return static + "(nil)"
	}
	data := (*[2]uintptr)(unsafe.Pointer(v))[1]
	return fmt.Sprintf("%s(%T @ %#x)", static, *v, data)
}

func main() {
	mStrInt = map[string]int{"a\tb": -1}
	mKey = map[Key][17]int64{{1, "x"}: {1, 2, 3, 16: -17}}
	fn := func(i int) string { return "" }
	o := Outer{Inner: Inner{1, 2}, P: &sink, S: []byte{1, 2}, Arr: [3]int8{-1, 0, 1}, F: 1.5, C: complex(1, -2),
		Up: 0x1234, U: unsafe.Pointer(&sink), Ch: make(chan int), Fn: fn, flag: true, Names: []string{"x", "yy"}}
	o.Anon.R = "r"
	mOuter = map[int]Outer{7: o}
	mPtr = map[uint8]*Key{3: {9, "nine"}}
	mNode = map[string]Node{"n": {V: 1, Next: &Node{}, Kids: []Node{{V: 2, Kids: []Node{{V: 3}}}}}}
	mFloat = map[float64]complex64{-0.1: complex(1e-7, float32(1<<25))}
	mMyInt = map[MyInt]Bytes{-5: {0xff, 0}}
	mSlice = map[bool][]string{true: {"a", "é\x00"}}
	mBig = map[[200]byte][300]byte{{1, 2}: {299: 3}}
	mAnon = map[struct{ A int32; B string }]bool{{1, "x"}: true}
	mNamedStr = map[MyString]uintptr{"s": 0xdeadbeef}
	mBytes = map[int16][]byte{-2: []byte("hi\n")}
	mList = map[int8]List{1: {{}, nil, {{}}}}
	mLong = map[uint]string{9: strings.Repeat("long", 600)}
	mF32 = map[float32]float32{0.1: 16777217}
	mIface = map[interface{}]error{Key{1, "k"}: errors.New("boom")}
	mErrNil = map[string]error{"e": nil}
	mNested = map[[2]int]map[string]int{{1, 2}: mStrInt}
	mChan = map[int]chan string{1: make(chan string)}
	mFunc = map[int]func(){1: main}
	mUnsafe = map[unsafe.Pointer]bool{unsafe.Pointer(&sink): true}
	mPtrBig = map[int]*[300]byte{1: {5}}

	line("mStrInt", "a\tb", mStrInt["a\tb"])
	for k, v := range mKey {
		line("mKey", k, v)
	}
	line("mOuter", 7, mOuter[7])
	line("mPtr", uint8(3), mPtr[3])
	line("mNode", "n", mNode["n"])
	for k, v := range mFloat {
		line("mFloat", k, v)
	}
	line("mMyInt", MyInt(-5), mMyInt[-5])
	line("mSlice", true, mSlice[true])
	for k, v := range mBig {
		line("mBig", k, v)
	}
	for k, v := range mAnon {
		line("mAnon", k, v)
	}
	line("mNamedStr", MyString("s"), mNamedStr["s"])
	line("mBytes", int16(-2), mBytes[-2])
	line("mList", int8(1), mList[1])
	line("mLong", uint(9), mLong[9])
	for k, v := range mF32 {
		line("mF32", k, v)
	}
	for k, v := range mIface {
		kk, vv := interface{}(k), interface{}(v)
		fmt.Printf("%s\t%s\t%s\n", "mIface", ours("interface {}", &kk, false), ours("error", &vv, true))
	}
	ev := interface{}(nil)
	fmt.Printf("%s\t%#v\t%s\n", "mErrNil", "e", ours("error", &ev, true))
	for k, v := range mNested {
		fmt.Printf("%s\t%#v\tmap[string]int(%#x)\n", "mNested", k, reflect.ValueOf(v).Pointer())
	}
	line("mChan", 1, mChan[1])
	fmt.Printf("%s\t%#v\t%#v\n", "mFunc", 1, mFunc[1])
	for k, v := range mUnsafe {
		line("mUnsafe", k, v)
	}
	line("mPtrBig", 1, mPtrBig[1])
	runtime.Breakpoint()
	fmt.Fprintln(os.Stderr, "done")
}
