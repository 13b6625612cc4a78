//go:build ignore

// Command gen writes golden.json: real fmt.Sprintf("%#v") output of Go
// values, with each value's type, its bytes as they are in memory and the
// memory its strings, slices and top-level pointers point to, so that
// tests/unit/test_render.py can render the same bytes and compare.
//
// Regenerate with go1.22.10 (the version the checked-in file records):
//
//	cd tests/unit/data/render && GOTOOLCHAIN=local go run gen.go > golden.json
//
// Interfaces and non-nil maps are left out: render prints them differently
// from %#v on purpose (docs/rendering.md); their tests are written by hand.
package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"reflect"
	"runtime"
	"strconv"
	"unicode/utf8"
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

type (
	MyInt    int
	MyUint8  uint8
	MyString string
	MyFloat  float32
	Bytes    []byte
	Arr4     [4]uint16
	Empty    struct{}
	PtrInt   *int
)

type typeJSON struct {
	Kind     string      `json:"kind"`
	Name     string      `json:"name"`
	Size     uintptr     `json:"size"`
	Align    int         `json:"align,omitempty"`
	Elem     *typeJSON   `json:"elem,omitempty"`
	Key      *typeJSON   `json:"key,omitempty"`
	Length   *int        `json:"length,omitempty"`
	Fields   []fieldJSON `json:"fields,omitempty"`
	Expanded *bool       `json:"expanded,omitempty"`
}

type fieldJSON struct {
	Name     string    `json:"name"`
	Offset   uintptr   `json:"offset"`
	Embedded bool      `json:"embedded,omitempty"`
	Type     *typeJSON `json:"type"`
}

type valueCase struct {
	Name     string      `json:"name"`
	Type     *typeJSON   `json:"type"`
	Data     string      `json:"data"`
	Segments [][2]string `json:"segments"` // [hex address, hex bytes]
	Text     string      `json:"text"`
}

type golden struct {
	GoVersion     string      `json:"go_version"`
	Values        []valueCase `json:"values"`
	Float64       [][2]string `json:"float64"` // [hex bits, %#v]
	Float32       [][2]string `json:"float32"`
	Strings       [][2]string `json:"strings"`        // [hex bytes, %#v]
	PrintableRuns [][2]int    `json:"printable_runs"` // inclusive rune ranges where strconv.IsPrint
}

// typeName is the name as DWARF spells it: import path for defined types.
func typeName(t reflect.Type) string {
	if t.Name() != "" && t.PkgPath() != "" {
		return t.PkgPath() + "." + t.Name()
	}
	return t.String()
}

// describe mirrors gotypes.GoType. Like the gdb converter, it expands a
// pointer's target only for the root type and cuts recursion with stubs.
func describe(t reflect.Type, root bool, stack []reflect.Type) *typeJSON {
	kind := t.Kind().String()
	if t.Kind() == reflect.Interface {
		panic("not covered by the golden file: " + t.String())
	}
	d := &typeJSON{Kind: kind, Name: typeName(t), Size: t.Size(), Align: t.Align()}
	for _, seen := range stack {
		if seen == t {
			no := false
			d.Expanded = &no
			return d
		}
	}
	stack = append(stack, t)
	switch t.Kind() {
	case reflect.Pointer:
		if root {
			d.Elem = describe(t.Elem(), false, stack)
		} else {
			d.Elem = stub(t.Elem())
		}
	case reflect.Slice:
		d.Elem = describe(t.Elem(), false, stack)
	case reflect.Map:
		// Rendering prints a map's address only: its key and value are names.
		d.Key = stub(t.Key())
		d.Elem = stub(t.Elem())
	case reflect.Array:
		n := t.Len()
		d.Length = &n
		d.Elem = describe(t.Elem(), false, stack)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			d.Fields = append(d.Fields, fieldJSON{Name: f.Name, Offset: f.Offset, Embedded: f.Anonymous, Type: describe(f.Type, false, stack)})
		}
	}
	return d
}

func stub(t reflect.Type) *typeJSON {
	no := false
	d := &typeJSON{Kind: t.Kind().String(), Name: typeName(t), Size: t.Size(), Align: t.Align(), Expanded: &no}
	if t.Kind() == reflect.Array {
		n := t.Len()
		d.Length = &n
	}
	return d
}

type memoryDump map[uintptr][]byte

func (m memoryDump) add(address unsafe.Pointer, size uintptr) {
	if address == nil || size == 0 {
		return
	}
	m[uintptr(address)] = append([]byte(nil), unsafe.Slice((*byte)(address), size)...)
}

// dump records the memory render will need to print v at this depth.
func (m memoryDump) dump(v reflect.Value, depth int) {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		m.add(unsafe.Pointer(unsafe.StringData(s)), uintptr(len(s)))
	case reflect.Slice:
		if v.IsNil() || v.Len() == 0 {
			return
		}
		m.add(v.UnsafePointer(), uintptr(v.Len())*v.Type().Elem().Size())
		for i := 0; i < v.Len(); i++ {
			m.dump(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			m.dump(v.Index(i), depth+1)
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			m.dump(v.Field(i), depth+1)
		}
	case reflect.Pointer:
		if depth == 0 && !v.IsNil() {
			switch v.Elem().Kind() {
			case reflect.Array, reflect.Slice, reflect.Struct, reflect.Map:
				m.add(v.UnsafePointer(), v.Type().Elem().Size())
				m.dump(v.Elem(), depth+1)
			}
		}
	case reflect.Func:
		// %#v prints a func's code pointer: the first word of its closure.
		if !v.IsNil() {
			m.add(*(*unsafe.Pointer)(unsafe.Pointer(v.UnsafeAddr())), 8)
		}
	}
}

var keepAlive []any

func record[T any](out *golden, name string, value T) {
	p := new(T)
	*p = value
	keepAlive = append(keepAlive, p)
	v := reflect.ValueOf(p).Elem()
	mem := memoryDump{}
	mem.dump(v, 0)
	c := valueCase{
		Name: name,
		Type: describe(v.Type(), true, nil),
		Data: hex.EncodeToString(unsafe.Slice((*byte)(unsafe.Pointer(p)), v.Type().Size())),
		Text: fmt.Sprintf("%#v", value),
	}
	for address, bytes := range mem {
		c.Segments = append(c.Segments, [2]string{strconv.FormatUint(uint64(address), 16), hex.EncodeToString(bytes)})
	}
	if c.Segments == nil {
		c.Segments = [][2]string{}
	}
	sortSegments(c.Segments)
	out.Values = append(out.Values, c)
}

func sortSegments(s [][2]string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j][0] < s[j-1][0]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func values(out *golden) {
	sink := int64(42)
	fn := func(i int) string { return strconv.Itoa(i) }
	ch := make(chan int)
	record(out, "bool true", true)
	record(out, "bool false", false)
	record(out, "int", 12345)
	record(out, "int negative", -7)
	record(out, "int8 min", int8(math.MinInt8))
	record(out, "int16 max", int16(math.MaxInt16))
	record(out, "int32 min", int32(math.MinInt32))
	record(out, "int64 min", int64(math.MinInt64))
	record(out, "uint zero", uint(0))
	record(out, "uint8", uint8(200))
	record(out, "uint16", uint16(0xbeef))
	record(out, "uint32", uint32(math.MaxUint32))
	record(out, "uint64 max", uint64(math.MaxUint64))
	record(out, "uintptr", uintptr(0xc000012345))
	record(out, "named int", MyInt(-3))
	record(out, "named uint8", MyUint8(7))
	record(out, "float64 1", 1.0)
	record(out, "float64 1.5", 1.5)
	record(out, "float64 1e21", 1e21)
	record(out, "float64 -0", math.Copysign(0, -1))
	record(out, "float64 NaN", math.NaN())
	record(out, "float64 +Inf", math.Inf(1))
	record(out, "float64 -Inf", math.Inf(-1))
	record(out, "float32 0.1", float32(0.1))
	record(out, "named float32", MyFloat(3.25))
	record(out, "complex128", complex(1, -2))
	record(out, "complex128 inf nan", complex(math.Inf(-1), math.NaN()))
	record(out, "complex64", complex64(complex(0.1, 1e10)))
	record(out, "string empty", "")
	record(out, "string", "hello, world")
	record(out, "string escapes", "tab\tnl\nquote\"backslash\\bell\a\x00\x7f")
	record(out, "string utf8", "héllo, 世界 🎉")
	record(out, "string invalid utf8", "a\xffb\xe2\x82c\xed\xa0\x80")
	record(out, "string nonprint runes", "\u00a0\u200b\u2028\ufeff\U000e0001\ufffd")
	record(out, "named string", MyString("named"))
	record(out, "array int64", [3]int64{1, 2, 3})
	record(out, "array uint8", [3]uint8{1, 2, 255})
	record(out, "array empty", [0]int{})
	record(out, "array strings", [2]string{"a", "b"})
	record(out, "named array", Arr4{1, 2, 3, 4})
	record(out, "struct Key", Key{A: 1, B: "x"})
	record(out, "struct anonymous", struct {
		A int32
		B string
	}{A: 1, B: "x"})
	record(out, "struct empty named", Empty{})
	record(out, "struct empty anonymous", struct{}{})
	record(out, "struct Outer", Outer{
		Inner: Inner{1, 2}, P: &sink, S: []byte{1, 2}, Arr: [3]int8{-1, 0, 1}, F: 1.5,
		C: complex(1, -2), Up: 0x1234, U: unsafe.Pointer(&sink), Ch: ch, Fn: fn, flag: true,
		Anon: struct {
			Q bool
			R string
		}{true, "r"}, Names: []string{"x", "yy"},
	})
	record(out, "struct Outer zero", Outer{})
	record(out, "struct Node", Node{V: 1, Kids: []Node{{V: 2}, {V: 3, Kids: []Node{{V: 4}}}}})
	record(out, "pointer int64", &sink)
	record(out, "pointer nil", (*int64)(nil))
	record(out, "pointer to struct", &Key{A: 9, B: "nine"})
	record(out, "pointer to struct nil", (*Key)(nil))
	record(out, "pointer to array", &[2]uint16{1, 2})
	record(out, "pointer to slice", &[]int{5, 6})
	record(out, "pointer to Node", &Node{V: 7, Next: &Node{}})
	record(out, "pointer pointer", func() **int64 { p := &sink; return &p }())
	record(out, "named pointer", PtrInt(nil))
	record(out, "unsafe.Pointer", unsafe.Pointer(&sink))
	record(out, "unsafe.Pointer nil", unsafe.Pointer(nil))
	record(out, "chan", ch)
	record(out, "chan nil", (chan int)(nil))
	record(out, "chan recv-only", (<-chan string)(make(chan string)))
	record(out, "func", fn)
	record(out, "func nil", (func())(nil))
	record(out, "map nil", map[string]int(nil))
	record(out, "bytes", []byte{1, 2, 0xff})
	record(out, "bytes nil", []byte(nil))
	record(out, "bytes empty", []byte{})
	record(out, "named bytes", Bytes{0xab})
	record(out, "slice int", []int{1, 2})
	record(out, "slice nil", []int(nil))
	record(out, "slice strings", []string{"a", "", "c\n"})
	record(out, "slice of slices", [][]uint8{{1}, nil, {}})
	record(out, "slice of structs", []Key{{1, "a"}, {2, "b"}})
	record(out, "slice of pointers", []*int64{&sink, nil})
	record(out, "slice of floats", []float32{0.5, -1e-7})
	record(out, "slice subslice", []int{1, 2, 3, 4}[1:2])
}

// Go's shortest float formatting, by kind of value.
func floats(out *golden) {
	rng := rand.New(rand.NewSource(1))
	f64 := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.2, 0.3, 1.0 / 3, 2.0 / 3, 100, 1e6, 999999, 1e20, 1e21, 1e-4, 1e-5,
		123456, 1234567, 0.000123, 0.0000123, math.MaxFloat64, math.SmallestNonzeroFloat64, 2.2250738585072014e-308,
		math.Pi, math.E, 5e-324, 1 << 53, 1<<53 + 1, 9007199254740993, 4.35, 0.5, 1e23, 8.41e21, 5e22,
		math.Inf(1), math.Inf(-1), math.NaN()}
	for i := 0; i < 150; i++ {
		f64 = append(f64, math.Float64frombits(rng.Uint64()))
	}
	for i := 0; i < 150; i++ {
		f64 = append(f64, float64(rng.Int63n(2000000000)-1000000000)/math.Pow(10, float64(rng.Intn(12))))
	}
	for i := 0; i < 60; i++ {
		f64 = append(f64, rng.NormFloat64()*math.Pow(10, float64(rng.Intn(40)-20)))
	}
	for _, f := range f64 {
		out.Float64 = append(out.Float64, [2]string{strconv.FormatUint(math.Float64bits(f), 16), fmt.Sprintf("%#v", f)})
	}
	f32 := []float32{0, float32(math.Copysign(0, -1)), 1, 0.1, 0.2, 1.0 / 3, 16777216, 16777217, 1e6, 1e7, 1e-5, 3.4028235e38,
		1.4e-45, 1.1754944e-38, 123456, 1234567, 0.3, 7.038531e-26, 9.999999e-10,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := 0; i < 200; i++ {
		f32 = append(f32, math.Float32frombits(rng.Uint32()))
	}
	for i := 0; i < 150; i++ {
		f32 = append(f32, float32(rng.Int63n(20000000)-10000000)/float32(math.Pow(10, float64(rng.Intn(9)))))
	}
	// Powers of two sit on the asymmetric boundary of the rounding interval.
	for e := -149; e <= 127; e += 7 {
		f32 = append(f32, float32(math.Ldexp(1, e)))
	}
	for _, f := range f32 {
		out.Float32 = append(out.Float32, [2]string{strconv.FormatUint(uint64(math.Float32bits(f)), 16), fmt.Sprintf("%#v", f)})
	}
}

func strs(out *golden) {
	var cases []string
	for b := 0; b < 256; b++ {
		cases = append(cases, string([]byte{byte(b)}))
	}
	cases = append(cases, "\xc0\x80", "\xe0\x80\x80", "\xed\x9f\xbf", "\xed\xa0\x80", "\xf4\x8f\xbf\xbf", "\xf4\x90\x80\x80",
		"\xf0\x9f\x98", "\xf0\x9f\x98\x80", "\xef\xbf\xbd", "\xe2\x80\xa8", "\u0378", "\U0010fffd", "\U000f0000", "\ue000",
		"\u061c", "\u1680", "\u3000", "a\u0301", "\u00ad", "\U0001f600\u200d\U0001f600", "`", "'", "\x1b[0m")
	rng := rand.New(rand.NewSource(2))
	for i := 0; i < 300; i++ {
		r := rune(rng.Intn(0x110000))
		if i%3 == 0 {
			r = rune(rng.Intn(0x3000))
		}
		if utf8.ValidRune(r) {
			cases = append(cases, string(r))
		}
	}
	for _, s := range cases {
		out.Strings = append(out.Strings, [2]string{hex.EncodeToString([]byte(s)), fmt.Sprintf("%#v", s)})
	}
	start := -1
	for r := rune(0); r <= utf8.MaxRune+1; r++ {
		printable := r <= utf8.MaxRune && strconv.IsPrint(r)
		if printable && start < 0 {
			start = int(r)
		} else if !printable && start >= 0 {
			out.PrintableRuns = append(out.PrintableRuns, [2]int{start, int(r) - 1})
			start = -1
		}
	}
}

func main() {
	out := &golden{GoVersion: runtime.Version()}
	values(out)
	floats(out)
	strs(out)
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
}
