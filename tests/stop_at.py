"""Sourced into gdb by the tests: a breakpoint on main.stopHere that stops only at the wanted call.

The fixtures count their stops in ``main.stopCount`` (announceStop sets it
before calling stopHere). The tests used to say ``break main.stopHere if
main.stopCount == N`` and, at a stop, ``condition 1 main.stopCount == N+1``;
in about 1 session in 150 (6 of 900, two cores loaded) gdb 13.1 then ran
past the second stop to the program's end ("no process"). The same stop
checked here, from a Python breakpoint reading the variable through the
symbol table, never missed (0 of 900), nor did the gdb condition with Go's
asynchronous preemption off (0 of 1,500, GODEBUG=asyncpreemptoff=1): the
miss needs gdb's own condition evaluation and the preemption signals
together. ``STOP_AT.want = N`` chooses the stop.
"""

import gdb  # type: ignore[import-not-found]


class StopAt(gdb.Breakpoint):
    want = 1

    def stop(self):
        return int(gdb.lookup_global_symbol("main.stopCount").value()) == self.want


STOP_AT = StopAt("main.stopHere")
