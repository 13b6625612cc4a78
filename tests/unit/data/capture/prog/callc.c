#include <signal.h>
#include "_cgo_export.h"

// callC calls back into Go, then, in mode 1 ("crash") on its second call,
// dies by SIGSEGV with the default action: a C crash the Go runtime cannot
// turn into a panic.
void callC(int call, int mode) {
	goBack(call);
	if (mode == 1 && call == 1) {
		signal(SIGSEGV, SIG_DFL);
		raise(SIGSEGV);
	}
}
