package main

import (
	"os"
	"runtime"
)

// minBrokerProcs is the fewest Ps (GOMAXPROCS) a broker process runs
// with, whatever its CPU affinity or quota.
//
// A goroutine in fdatasync keeps its P until the runtime's sysmon retakes
// it, one to two sysmon ticks later (20 µs when busy, up to 10 ms after a
// quiet spell). A durable broker is in fdatasync most of the time under
// load, so with one P (a broker pinned to one CPU, or a one-CPU container)
// the read loops, the write loops and the next fsync's leader wait that
// long after every fsync starts. In execution traces of the latency bench
// (5,000 records/s, 3 partitions, docs/BENCHMARKS.md) goroutines were
// runnable while every P was held by a syscall for 1.7-2.0 s of 11 s with
// one P, 0.6 s with two and 0.03-0.14 s with four. Four cost memory, though:
// RSS after producing 256 MiB grew by 48 MB against 22 MB with one P and
// 27 MB with two: server.getFrame's pooled buffers in use went from 7 MB
// to 15 MB (sync.Pool keeps one per P), so the floor is two until the
// frame pools share their buffers across Ps.
const minBrokerProcs = 2

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
