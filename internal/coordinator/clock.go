package coordinator

import "github.com/sluice-io/sluice/internal/clock"

// Clock is where the coordinator gets time and timers, so tests can drive
// session and rebalance timeouts without sleeping: the broker's one clock
// seam (internal/clock). The coordinator only ever queues work onto a
// shard loop from a timer's function.
type Clock = clock.Clock

// Stopper cancels a timer; it reports whether the call stopped it.
type Stopper = clock.Stopper

// realClock is the wall clock.
var realClock = clock.Real
