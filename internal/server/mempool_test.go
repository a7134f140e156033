package server

import (
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reserveAsync starts a reservation and reports its result on the channel.
func reserveAsync(p *memPool, n int64, u *poolUser, done <-chan struct{}) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- p.reserve(n, u, done) }()
	return ch
}

func waitResult(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: still blocked after 5s", what)
		return nil
	}
}

func assertBlocked(t *testing.T, ch <-chan error, what string) {
	t.Helper()
	select {
	case err := <-ch:
		t.Fatalf("%s: returned %v, want it blocked", what, err)
	case <-time.After(50 * time.Millisecond):
	}
}

func TestMemPoolUnbounded(t *testing.T) {
	p := newMemPool(-1)
	var u poolUser
	for range 10 {
		if err := p.reserve(1<<30, &u, nil); err != nil {
			t.Fatal(err)
		}
	}
	if s := p.stats(); s.Used != 10<<30 || s.Depleted != 0 || u.overdraft {
		t.Fatalf("unbounded pool: %+v, overdraft %v", s, u.overdraft)
	}
	p.release(10 << 30)
	if p.stats().Used != 0 {
		t.Fatal("release did not return the bytes")
	}
}

// TestMemPoolBlocksAndOverdraws: within the limit reservations pass; the
// first reader refused memory takes the overdraft (so partial frames cannot
// deadlock the pool); others wait until bytes are released or the
// overdraft is handed back; a closed connection stops waiting.
func TestMemPoolBlocksAndOverdraws(t *testing.T) {
	p := newMemPool(100)
	var a, b, c poolUser
	if err := p.reserve(60, &a, nil); err != nil {
		t.Fatal(err)
	}
	if err := p.reserve(30, &b, nil); err != nil {
		t.Fatal(err)
	}
	// a needs 50 more: over the limit, and nobody holds the overdraft.
	if err := waitResult(t, reserveAsync(p, 50, &a, nil), "first overdraft"); err != nil {
		t.Fatal(err)
	}
	if !a.overdraft || p.stats().Used != 140 {
		t.Fatalf("a should hold the overdraft with 140 used: %v, %+v", a.overdraft, p.stats())
	}
	// The holder keeps growing its frame without waiting.
	if err := p.reserve(10, &a, nil); err != nil {
		t.Fatal(err)
	}
	// b waits: the pool is over its limit and the overdraft is taken.
	bCh := reserveAsync(p, 20, &b, nil)
	assertBlocked(t, bCh, "b over the limit while a holds the overdraft")
	// a has read its frame, but the pool stays overdrawn until it is
	// answered: nobody else may overdraw meanwhile.
	p.endFrame(&a)
	assertBlocked(t, bCh, "b while the pool is overdrawn by a's read frame")
	// a's frame answered: b fits again.
	p.release(120)
	if err := waitResult(t, bCh, "b after a's frame was answered"); err != nil {
		t.Fatal(err)
	}
	if a.overdraft || b.overdraft || p.stats().Used != 50 {
		t.Fatalf("b fitted under the limit: overdraft a %v b %v, %+v", a.overdraft, b.overdraft, p.stats())
	}
	// c needs more than is left with the pool not overdrawn: it overdraws.
	if err := waitResult(t, reserveAsync(p, 70, &c, nil), "c overdraws"); err != nil || !c.overdraft {
		t.Fatalf("c: %v, overdraft %v", err, c.overdraft)
	}
	p.endFrame(&c)
	p.release(70)
	if p.stats().Used != 50 || p.stats().Depleted <= 0 {
		t.Fatalf("after the waits: %+v", p.stats())
	}

	// A connection closed while waiting gets an error and leaves no waiter.
	var d, e poolUser
	if err := p.reserve(100, &d, nil); err != nil { // takes the overdraft
		t.Fatal(err)
	}
	done := make(chan struct{})
	eCh := reserveAsync(p, 1, &e, done)
	assertBlocked(t, eCh, "e over the limit")
	close(done)
	if err := waitResult(t, eCh, "e after its connection closed"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("closed waiter: %v", err)
	}
	if p.waiters.Load() != 0 || p.stats().Used != 150 {
		t.Fatalf("after a cancelled wait: %d waiters, %+v", p.waiters.Load(), p.stats())
	}
}

// TestMemPoolStress: readers grow frames piece by piece against a small
// pool; every frame completes (no deadlock), the bytes held never exceed
// the limit plus one frame, and all of it comes back.
func TestMemPoolStress(t *testing.T) {
	const limit, maxFrame, readers, frames = 1 << 20, 1 << 20, 16, 100
	p := newMemPool(limit)
	// Every increase of used is a reservation, so the reserver's look
	// right after it sees each peak (or less, if a release got in between).
	var peak atomic.Int64
	notePeak := func() {
		for u := p.used.Load(); u > peak.Load(); {
			if peak.CompareAndSwap(peak.Load(), u) {
				return
			}
		}
	}
	var wg sync.WaitGroup
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 1))
			// As a connection's write loop: answers frames and releases
			// them, independently of its read loop.
			answers := make(chan int64, 4)
			var writer sync.WaitGroup
			writer.Add(1)
			go func() {
				defer writer.Done()
				wrng := rand.New(rand.NewPCG(uint64(r), 2))
				for held := range answers {
					time.Sleep(time.Duration(wrng.IntN(200)) * time.Microsecond)
					p.release(held)
				}
			}()
			defer writer.Wait()
			defer close(answers)
			var u poolUser
			for range frames {
				size := 1 + rng.Int64N(maxFrame)
				var held int64
				for held < size {
					step := min(size-held, 1+rng.Int64N(64<<10))
					if err := p.reserve(step, &u, nil); err != nil {
						t.Error(err)
						return
					}
					held += step
					notePeak()
				}
				p.endFrame(&u)
				answers <- held
			}
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(30 * time.Second):
		t.Fatalf("readers stuck: %+v, %d waiting", p.stats(), p.waiters.Load())
	}
	if s := p.stats(); s.Used != 0 {
		t.Fatalf("after every frame was answered: %+v", s)
	}
	if pk := peak.Load(); pk > limit+maxFrame {
		t.Fatalf("peak %d bytes held, bound is limit+one frame = %d", pk, limit+maxFrame)
	}
	t.Logf("peak %d of limit %d, depleted %v", peak.Load(), limit, p.stats().Depleted)
}

// TestOSReturnAfterBurst: once the pool drains after more than
// osFreeAfter bytes of unpooled buffers, memory is handed back to the OS;
// pooled sizes never count.
func TestOSReturnAfterBurst(t *testing.T) {
	p := newMemPool(-1)
	var freed atomic.Int32
	p.os.free = func() { freed.Add(1) }
	var u poolUser
	for range 100 {
		p.os.allocated(4 << 20) // a pooled size class
	}
	_ = p.reserve(1, &u, nil)
	p.release(1)
	if p.os.big.Load() != 0 {
		t.Fatal("pooled buffers counted as a burst")
	}
	for range 5 {
		p.os.allocated(16 << 20)
	}
	_ = p.reserve(1, &u, nil)
	p.release(1) // drained: 80 MiB of large buffers came before
	deadline := time.Now().Add(5 * time.Second)
	for freed.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("memory not returned after the burst")
		}
		time.Sleep(time.Millisecond)
	}
	if p.os.big.Load() != 0 {
		t.Fatal("burst not reset after the return")
	}
}
