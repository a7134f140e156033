package console

import (
	"fmt"
	"testing"
	"time"
)

// TestLagHistoryBounds: at most maxLagGroups series (the least recently
// viewed goes), series not viewed for lagWatch are not sampled, and a
// series whose session ended is dropped.
func TestLagHistoryBounds(t *testing.T) {
	h := newLagHistory()
	alice, bob := &session{id: "alice"}, &session{id: "bob"}
	for i := range maxLagGroups + 5 {
		h.view(alice, fmt.Sprint("g", i), false, int64(i))
	}
	if n := len(h.due(time.Now())); n != maxLagGroups {
		t.Fatalf("%d series due, want %d", n, maxLagGroups)
	}
	if h.samples(alice, "g0") != nil || h.samples(alice, fmt.Sprint("g", maxLagGroups+4)) == nil {
		t.Error("want the least recently viewed series dropped, the newest kept")
	}
	if n := len(h.due(time.Now().Add(lagWatch + time.Second))); n != 0 {
		t.Errorf("%d series due %v after their last view, want none", n, lagWatch)
	}

	h.view(bob, "g10", false, 7)
	if got := h.samples(bob, "g10"); len(got) != 1 || got[0] != 7 {
		t.Errorf("bob's series %v: want his own, [7]", got)
	}
	bob.closed.Store(true)
	for _, tg := range h.due(time.Now()) {
		if tg.se == bob {
			t.Error("a series of an ended session is still sampled")
		}
	}
	if h.samples(bob, "g10") != nil {
		t.Error("an ended session's series is kept")
	}
}
