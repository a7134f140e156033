package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// memPool bounds the request bytes all connections of a server hold in
// memory: Kafka's queued.max.request.bytes. A connection reserves the
// capacity of its frame buffer as the buffer grows (frames.go) and releases
// it once the request has been answered; a reservation that does not fit
// blocks the connection's read loop, so it stops reading its socket until
// memory comes back (back-pressure, never an error).
//
// A frame that cannot grow while every byte of the pool is held by other
// frames still being read would wait forever: partial frames only release
// memory once they are complete. So, like Kafka's non-strict pool (which
// grants any allocation while memory is left), one frame at a time may
// overdraw: a reader refused memory while the pool is not overdrawn takes
// the overdraft and reserves beyond the limit until its frame is read, then
// hands the overdraft back. While the pool is overdrawn no other reader may
// overdraw; the overdrawn bytes belong to a complete frame, which is
// answered and released without reading anything more, or to the frame of
// the holder, whose client either sends it or goes quiet and is closed for
// idleness (idle.go).
//
// INVARIANT: used <= limit + what the overdraft holder reserved for one
// frame, and a frame is at most socket.request.max.bytes (config requires
// queued.max.request.bytes >= socket.request.max.bytes), so request bytes
// held stay below limit + socket.request.max.bytes (+ the rounding of a
// pooled buffer's size class).
type memPool struct {
	limit    int64 // <= 0: unbounded, only counted (Kafka's -1)
	used     atomic.Int64
	waiters  atomic.Int32
	depleted atomic.Int64 // nanoseconds readers spent waiting for memory
	os       *osReturner  // returns a burst's large buffers to the OS (osmem.go)

	mu        sync.Mutex
	wake      chan struct{} // closed and replaced when memory is released to waiters
	overdraft *poolUser     // the reader allowed past the limit, nil when none
}

// poolUser is one reader of frames (a connection's read loop); only that
// loop touches it.
type poolUser struct {
	overdraft bool // holds the pool's overdraft until its frame is read
}

func newMemPool(limit int64) *memPool {
	return &memPool{limit: limit, wake: make(chan struct{}), os: newOSReturner()}
}

// tryAdd reserves n bytes if they fit under the limit.
func (p *memPool) tryAdd(n int64) bool {
	if p.limit <= 0 {
		p.used.Add(n)
		return true
	}
	for {
		u := p.used.Load()
		if u+n > p.limit {
			return false
		}
		if p.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// reserve takes n bytes for u's current frame, waiting while the pool is
// exhausted. It fails only when done is closed (the connection ended).
func (p *memPool) reserve(n int64, u *poolUser, done <-chan struct{}) error {
	if u.overdraft {
		p.used.Add(n)
		return nil
	}
	if p.tryAdd(n) {
		return nil
	}
	return p.reserveSlow(n, u, done)
}

func (p *memPool) reserveSlow(n int64, u *poolUser, done <-chan struct{}) error {
	start := time.Now()
	defer func() { p.depleted.Add(int64(time.Since(start))) }()
	// Counted before the check under mu, so a release that decrements
	// used after our check sees a waiter and wakes us (release).
	p.waiters.Add(1)
	defer p.waiters.Add(-1)
	for {
		p.mu.Lock()
		if p.tryAdd(n) {
			p.mu.Unlock()
			return nil
		}
		if p.overdraft == nil && p.used.Load() <= p.limit {
			p.overdraft, u.overdraft = u, true
			p.used.Add(n)
			p.mu.Unlock()
			return nil
		}
		wake := p.wake
		p.mu.Unlock()
		select {
		case <-wake:
		case <-done:
			return net.ErrClosed
		}
	}
}

// release returns n bytes and wakes readers waiting for memory.
func (p *memPool) release(n int64) {
	if n == 0 {
		return
	}
	if p.used.Add(-n) == 0 {
		p.os.drained()
	}
	if p.waiters.Load() > 0 {
		p.broadcast()
	}
}

// endFrame is called when u has read its frame (or given up on it): the
// overdraft, if u held it, goes to the next reader that needs it.
func (p *memPool) endFrame(u *poolUser) {
	if !u.overdraft {
		return
	}
	p.mu.Lock()
	p.overdraft, u.overdraft = nil, false
	p.mu.Unlock()
	if p.waiters.Load() > 0 {
		p.broadcast()
	}
}

func (p *memPool) broadcast() {
	p.mu.Lock()
	close(p.wake)
	p.wake = make(chan struct{})
	p.mu.Unlock()
}

// PoolStats is the request memory pool's state (metrics).
type PoolStats struct {
	Used  int64 // bytes of request frames held
	Limit int64 // queued.max.request.bytes; <= 0: unbounded
	// Depleted is the total time readers waited for memory (Kafka's
	// MemoryPoolDepletedTimeTotal).
	Depleted time.Duration
}

func (p *memPool) stats() PoolStats {
	return PoolStats{Used: p.used.Load(), Limit: p.limit, Depleted: time.Duration(p.depleted.Load())}
}
