package coordinator

import "time"

// Clock is where the coordinator gets time and timers, so tests can drive
// session and rebalance timeouts without sleeping.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f on its own goroutine after d. The coordinator only
	// ever queues work onto a shard loop from f.
	AfterFunc(d time.Duration, f func()) Stopper
}

// Stopper cancels a timer; it reports whether the call stopped it.
type Stopper interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Stopper { return time.AfterFunc(d, f) }
