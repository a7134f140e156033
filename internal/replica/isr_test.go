package replica

import (
	"slices"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clock"
)

const lagMax = 30 * time.Second

func newTestISR(c *clock.Fake, isr []int32, epochStart int64) *ISR {
	return NewISR(ISRConfig{Leader: 1, Replicas: []int32{1, 2, 3}, ISR: isr, EpochStart: epochStart,
		LagMax: lagMax, Now: c.Now()})
}

func eqIDs(t *testing.T, what string, got []int32, want ...int32) {
	t.Helper()
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
}

// TestISRShrinkAfterLag: a follower that stops fetching leaves the ISR
// just after replica.lag.time.max.ms; one that keeps reaching the leader's
// end stays; the leader never leaves.
func TestISRShrinkAfterLag(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2, 3}, 0)
	leo := int64(0)
	for range 30 {
		c.Advance(time.Second)
		leo += 10
		s.Fetched(2, leo, leo, c.Now()) // 2 keeps up; 3 is silent
		eqIDs(t, "out of sync while within the lag time", s.OutOfSync(leo, c.Now()))
	}
	c.Advance(time.Millisecond)
	eqIDs(t, "out of sync after the lag time", s.OutOfSync(leo, c.Now()), 3)
	isr, ok := s.ProposeShrink([]int32{1, 3})
	if !ok {
		t.Fatalf("shrink not proposed")
	}
	eqIDs(t, "proposed ISR (never without the leader)", isr, 1, 2)
	s.Committed(nil, isr, c.Now())
	eqIDs(t, "committed", s.Current(), 1, 2)

	// Alone, the leader is never out of sync with itself.
	s = newTestISR(c, []int32{1}, 0)
	c.Advance(time.Hour)
	eqIDs(t, "leader alone", s.OutOfSync(leo, c.Now()))
	if _, ok := s.ProposeShrink([]int32{1}); ok {
		t.Fatalf("the leader was dropped")
	}
}

// TestISRCaughtUpRules: Kafka's lastCaughtUpTimeMs. A follower always a
// little behind stays in sync as long as each fetch reaches the leader's
// end at its previous fetch; one that never does drops out; one at the
// leader's end stays in sync without fetching (an idle partition).
func TestISRCaughtUpRules(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2, 3}, 0)
	leo := int64(100)
	s.Fetched(2, 100, leo, c.Now())
	s.Fetched(3, 100, leo, c.Now())
	for range 40 {
		c.Advance(time.Second)
		prev := leo
		leo += 10
		s.Fetched(2, prev, leo, c.Now())   // reaches the previous end: caught up as of then
		s.Fetched(3, prev-5, leo, c.Now()) // falls ever further behind
	}
	eqIDs(t, "out of sync", s.OutOfSync(leo, c.Now()), 3)

	// Idle: 2 fetched the end, nothing is written, no fetch for a minute.
	s = newTestISR(c, []int32{1, 2}, 0)
	s.Fetched(2, leo, leo, c.Now())
	c.Advance(time.Minute)
	eqIDs(t, "idle follower at the end", s.OutOfSync(leo, c.Now()))
	eqIDs(t, "once the leader writes", s.OutOfSync(leo+1, c.Now()), 2)
}

// TestISRNewLeaderGrace: a new leader counts the ISR as caught up when it
// takes over, so members have the lag time to fetch before they drop.
func TestISRNewLeaderGrace(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2, 3}, 50)
	c.Advance(lagMax)
	eqIDs(t, "at the lag time", s.OutOfSync(50, c.Now()))
	c.Advance(time.Millisecond)
	eqIDs(t, "after it", s.OutOfSync(50, c.Now()), 2, 3)
}

// TestISRExpand: a follower outside the ISR joins once its fetch offset
// reached the HW and the start of the leader's epoch; one change at a
// time; the HW counts it while the expansion is in flight (maximal ISR).
func TestISRExpand(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2}, 40) // the leader's epoch began at 40
	leo, hw := int64(60), int64(55)
	s.Fetched(2, 55, leo, c.Now())
	s.Fetched(3, 30, leo, c.Now())
	if s.ShouldExpand(3, hw) {
		t.Fatalf("3 below the HW may join")
	}
	s.Fetched(3, 55, leo, c.Now())
	if !s.ShouldExpand(3, hw) || s.ShouldExpand(2, hw) || s.ShouldExpand(9, hw) {
		t.Fatalf("expand decisions: 3 %v, 2 (a member) %v, 9 (no replica) %v",
			s.ShouldExpand(3, hw), s.ShouldExpand(2, hw), s.ShouldExpand(9, hw))
	}
	// Past the HW but not the start of the leader's epoch (a low HW
	// after a leader change): not yet.
	s2 := newTestISR(c, []int32{1, 2}, 58)
	s2.Fetched(3, 55, leo, c.Now())
	if s2.ShouldExpand(3, 50) {
		t.Fatalf("3 below the leader's epoch start may join")
	}

	isr, ok := s.ProposeExpand(3, hw)
	if !ok {
		t.Fatalf("expansion not proposed")
	}
	eqIDs(t, "proposed", isr, 1, 2, 3)
	eqIDs(t, "in flight", s.InFlight(), 1, 2, 3)
	eqIDs(t, "committed while in flight", s.Current(), 1, 2)
	eqIDs(t, "maximal", s.MaximalISR(), 1, 2, 3)
	// One change at a time.
	if _, ok := s.ProposeExpand(3, hw); ok {
		t.Fatalf("second proposal while one is in flight")
	}
	c.Advance(time.Hour)
	eqIDs(t, "no shrink while in flight", s.OutOfSync(leo, c.Now()))
	// The HW waits for 3 (in the maximal ISR) as for 2.
	s.Fetched(2, 60, leo, c.Now())
	if got := s.HighWatermark(leo, leo, c.Now()); got != 55 {
		t.Fatalf("HW %d, want 55 (3's offset)", got)
	}
	s.Committed(nil, []int32{1, 2, 3}, c.Now())
	eqIDs(t, "committed", s.Current(), 1, 2, 3)
	eqIDs(t, "in flight after commit", s.InFlight())
}

// TestISRMaximalHighWatermark: while a shrink is in flight the HW still
// waits for the member being removed (the controller may refuse); after a
// refusal it still does; once committed it no longer does. The HW never
// passes the leader's own offset, and a member not heard from holds it.
func TestISRMaximalHighWatermark(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2, 3}, 0)
	leo := int64(100)
	if got := s.HighWatermark(leo, leo, c.Now()); got != -1 {
		t.Fatalf("HW %d before any fetch, want -1", got)
	}
	s.Fetched(2, 100, leo, c.Now())
	s.Fetched(3, 70, leo, c.Now())
	if got := s.HighWatermark(90, leo, c.Now()); got != 70 {
		t.Fatalf("HW %d, want 70", got)
	}
	s.Fetched(3, 95, leo, c.Now())
	if got := s.HighWatermark(90, leo, c.Now()); got != 90 {
		t.Fatalf("HW %d, want the leader's durable 90", got)
	}
	s.Fetched(3, 80, leo, c.Now()) // 3 truncated, say
	if _, ok := s.ProposeShrink([]int32{3}); !ok {
		t.Fatalf("shrink not proposed")
	}
	if got := s.HighWatermark(leo, leo, c.Now()); got != 80 {
		t.Fatalf("HW %d with the shrink in flight, want 80", got)
	}
	s.Failed()
	eqIDs(t, "after refusal", s.Current(), 1, 2, 3)
	if got := s.HighWatermark(leo, leo, c.Now()); got != 80 {
		t.Fatalf("HW %d after the refusal, want 80", got)
	}
	if _, ok := s.ProposeShrink([]int32{3}); !ok {
		t.Fatalf("shrink not proposed again")
	}
	s.Committed(nil, []int32{1, 2}, c.Now())
	// 3 is outside the ISR now but still counts as caught up (the
	// leader took over less than the lag time ago): it may be about to
	// rejoin, and Kafka's HW waits for it.
	if got := s.HighWatermark(leo, leo, c.Now()); got != 80 {
		t.Fatalf("HW %d with 3 caught up outside the ISR, want 80", got)
	}
	c.Advance(lagMax + time.Millisecond)
	s.Fetched(2, 100, leo, c.Now())
	if got := s.HighWatermark(leo, leo, c.Now()); got != 100 {
		t.Fatalf("HW %d once 3 lags outside the ISR, want 100", got)
	}
}

// TestISRReassignment: Committed with a new assignment forgets removed
// replicas and starts added ones unknown (holding the HW only once in the
// ISR).
func TestISRReassignment(t *testing.T) {
	c := clock.NewFake(time.Unix(1000, 0))
	s := newTestISR(c, []int32{1, 2, 3}, 0)
	s.Fetched(2, 10, 10, c.Now())
	s.Fetched(3, 10, 10, c.Now())
	s.Committed([]int32{1, 2, 4}, []int32{1, 2}, c.Now())
	if s.ShouldExpand(3, 0) {
		t.Fatalf("removed replica may join")
	}
	if got := s.HighWatermark(10, 10, c.Now()); got != 10 {
		t.Fatalf("HW %d: the new replica 4 (unknown, outside the ISR) must not hold it", got)
	}
	s.Fetched(4, 10, 10, c.Now())
	if !s.ShouldExpand(4, 10) {
		t.Fatalf("caught-up new replica may not join")
	}
}
