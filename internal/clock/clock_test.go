package clock

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// TestFake: timers run only when the clock is advanced past them, in due
// order, and a stopped timer never runs.
func TestFake(t *testing.T) {
	c := NewFake(time.Unix(0, 0))
	var mu sync.Mutex
	var ran []int
	var wg sync.WaitGroup
	at := func(d time.Duration, id int) Stopper {
		wg.Add(1)
		return c.AfterFunc(d, func() {
			defer wg.Done()
			mu.Lock()
			ran = append(ran, id)
			mu.Unlock()
		})
	}
	at(30*time.Millisecond, 3)
	at(10*time.Millisecond, 1)
	stopped := at(20*time.Millisecond, 2)
	if !stopped.Stop() {
		t.Fatal("Stop of a pending timer reported false")
	}
	wg.Done() // the stopped timer will not run
	c.Advance(5 * time.Millisecond)
	if c.Pending() != 2 {
		t.Fatalf("pending after 5ms: %d", c.Pending())
	}
	c.Advance(30 * time.Millisecond)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(ran) // each runs on its own goroutine: order of running is not order of finishing
	if !slices.Equal(ran, []int{1, 3}) || c.Pending() != 0 {
		t.Fatalf("ran %v, pending %d", ran, c.Pending())
	}
	if got := c.Now(); !got.Equal(time.Unix(0, 0).Add(35 * time.Millisecond)) {
		t.Fatalf("now %v", got)
	}
	if stopped.Stop() {
		t.Fatal("second Stop reported true")
	}
}
