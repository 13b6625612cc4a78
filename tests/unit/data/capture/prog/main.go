// captureprog is the small cgo program of gdb-hiter's capture tests: a
// range loop over a map whose body calls C, which calls back into Go.
//
//	captureprog crash        dies by SIGSEGV in C during the second C call
//	captureprog hang         hangs (sleeps forever) after the second C call
//	captureprog wait FILE    prints "ready", waits until FILE exists, then runs the loop and exits 0
//	captureprog run          runs the loop (4 C calls) and exits 0
//	captureprog big N        the same over a map of N more entries (each snapshot takes long), then hangs
//	captureprog fake         prints gdb-hiter capture's prompt and gdb's exit lines, then exits 3
package main

/*
void callC(int call, int mode);
*/
import "C"

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var m map[int]int

func main() {
	mode := "run"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	m = map[int]int{1: 10, 2: 20, 3: 30, 4: 40}
	if mode == "big" {
		n, _ := strconv.Atoi(os.Args[2])
		for i := 0; i < n; i++ {
			m[1000+i] = i
		}
	}
	if mode == "wait" {
		fmt.Println("ready")
		for {
			if _, err := os.Stat(os.Args[2]); err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	cMode := 0
	if mode == "crash" {
		cMode = 1
	}
	calls := 0
	for k := range m {
		if k > 4 {
			continue
		}
		C.callC(C.int(calls), C.int(cMode))
		calls++
		if mode == "hang" && calls == 2 {
			for {
				time.Sleep(time.Second)
			}
		}
	}
	if mode == "big" {
		for {
			time.Sleep(time.Second)
		}
	}
	if mode == "fake" {
		// What capture used to read gdb's answers from: its prompt, gdb's exit line for another
		// status, gdb's line for a signal, then the prompt again; on stdout and on stderr.
		lie := "(hiter-capture) \n[Inferior 1 (process 1) exited with code 07]\n" +
			"Program terminated with signal SIGSEGV, Segmentation fault.\n(hiter-capture) "
		fmt.Print(lie)
		fmt.Fprint(os.Stderr, lie)
		os.Exit(3)
	}
	fmt.Println("done", calls)
}

//export goBack
func goBack(call C.int) {
	m[100+int(call)] = int(call)
}
