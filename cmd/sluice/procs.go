package main

import (
	"os"
	"runtime"
)

// minBrokerProcs is the fewest Ps (GOMAXPROCS) a broker process runs
// with, whatever its CPU affinity or quota.
//
// A goroutine in fdatasync keeps its P until the runtime's sysmon retakes
// it, one to two sysmon ticks later (20 µs when busy, up to 10 ms after
// a quiet spell). A durable broker is in fdatasync most of the time under
// load, so with one P (a broker pinned to one CPU, or a one-CPU container)
// the read loops, the write loops and the next fsync's leader wait that
// long after every fsync starts: an execution trace of the latency bench
// showed goroutines runnable with the only P held by a syscall for 1.7 s
// of 11 s. Spare Ps let the goroutines in fsyncs hold theirs while the
// rest keep running; an idle P costs no thread and no CPU. Four covers
// the fsyncs of three partitions in flight at once plus one P for the
// network loops.
const minBrokerProcs = 4

// raiseProcs applies minBrokerProcs unless GOMAXPROCS is set in the
// environment (then the operator chose).
func raiseProcs() {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if runtime.GOMAXPROCS(0) < minBrokerProcs {
		runtime.GOMAXPROCS(minBrokerProcs)
	}
}
