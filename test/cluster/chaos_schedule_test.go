package cluster

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// The fault schedule of the chaos test: drawn in full from the seed
// before the cluster starts, so a seed names one schedule (the cluster's
// timing around it is not replayable, the faults and their holds are).

// faultKind is one way of hurting a node or a link.
type faultKind int

const (
	faultCrash   faultKind = iota // Crash(a), hold, Restart(a): log recovery
	faultPause                    // Pause(a), hold, Resume(a): a GC pause or SIGSTOP
	faultCut                      // Cut(a, b), hold, Heal(a, b)
	faultIsolate                  // Isolate(a), hold, HealAll
	faultStop                     // Stop(a), hold, Restart(a): a clean shutdown
	numFaultKinds
)

func (k faultKind) String() string {
	return [...]string{"crash", "pause", "cut", "isolate", "stop"}[k]
}

// fault is one step: applied, held, lifted, then a gap before the next.
// Only one fault is in force at a time, so at most one of the three
// voters is ever away: the quorum keeps a majority throughout.
type fault struct {
	kind faultKind
	a, b int // node indexes; b only for a cut
	hold time.Duration
	gap  time.Duration
}

func (f fault) String() string {
	who := fmt.Sprintf("node %d", f.a+1)
	if f.kind == faultCut {
		who = fmt.Sprintf("nodes %d-%d", f.a+1, f.b+1)
	}
	return fmt.Sprintf("%s %s hold %s gap %s", f.kind, who, f.hold, f.gap)
}

// Holds are 100 ms .. 2 s, skewed short (the square of a uniform draw)
// so that a CI run fits its budget while some faults outlast the 1 s
// broker session and get their node fenced.
const (
	minHold = 100 * time.Millisecond
	maxHold = 2 * time.Second
	maxGap  = 300 * time.Millisecond
)

// drawSchedule draws n faults on a cluster of nodes from seed.
func drawSchedule(seed int64, n, nodes int) []fault {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(seed)^0x5eed))
	out := make([]fault, 0, n)
	for range n {
		f := fault{kind: faultKind(r.IntN(int(numFaultKinds))), a: r.IntN(nodes)}
		if f.kind == faultCut {
			f.b = (f.a + 1 + r.IntN(nodes-1)) % nodes
		}
		u := r.Float64()
		f.hold = minHold + time.Duration(u*u*float64(maxHold-minHold))
		f.gap = time.Duration(r.Int64N(int64(maxGap)))
		out = append(out, f)
	}
	return out
}

func scheduleString(s []fault) string {
	var b strings.Builder
	for i, f := range s {
		fmt.Fprintf(&b, "  %3d %s\n", i, f)
	}
	return b.String()
}

// apply puts f in force, waits its hold, lifts it and waits its gap.
// Restart blocks until the node has rejoined the quorum and registered
// (testcluster.Restart), which is part of the fault's cost.
func (f fault) apply(c *testcluster.Cluster, stop <-chan struct{}) {
	switch f.kind {
	case faultCrash:
		c.Crash(f.a)
	case faultPause:
		c.Pause(f.a)
	case faultCut:
		c.Cut(f.a, f.b)
	case faultIsolate:
		c.Isolate(f.a)
	case faultStop:
		c.Stop(f.a)
	}
	wait(f.hold, stop)
	switch f.kind {
	case faultCrash, faultStop:
		c.Restart(f.a)
	case faultPause:
		c.Resume(f.a)
	case faultCut:
		c.Heal(f.a, f.b)
	case faultIsolate:
		c.HealAll()
	}
	wait(f.gap, stop)
}

// wait holds a fault for d (the schedule's own pacing, not a
// synchronisation: nothing is waited for but time) or until stop closes.
func wait(d time.Duration, stop <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-stop:
	}
}
