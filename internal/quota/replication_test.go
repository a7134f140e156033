package quota

import (
	"testing"
	"time"
)

func TestReplicationThrottle(t *testing.T) {
	now := time.Unix(1000, 0)
	r := NewReplication(11, time.Second, func() time.Time { return now })
	if r.IsThrottled("t", 0) {
		t.Fatal("throttled with nothing configured")
	}
	r.SetThrottled(map[string]Throttled{"t": {Parts: map[int32]bool{1: true}}, "all": {All: true}})
	if r.IsThrottled("t", 0) || !r.IsThrottled("t", 1) || !r.IsThrottled("all", 7) || r.IsThrottled("u", 1) {
		t.Fatal("IsThrottled does not follow the lists")
	}
	// Unbounded by default: any amount is within it.
	r.Record(1 << 30)
	if r.Exceeded() {
		t.Fatal("exceeded without a rate")
	}
	r = NewReplication(11, time.Second, func() time.Time { return now })
	r.SetRate(1000)
	// The rate is measured over at least (11-1) windows: 10 s × 1000 B/s
	// may be recorded at once before the bound is reached.
	r.Record(9000)
	if r.Exceeded() {
		t.Fatalf("exceeded at %.0f B/s", r.ByteRate())
	}
	r.Record(2000)
	if !r.Exceeded() {
		t.Fatalf("not exceeded at %.0f B/s over a bound of 1000", r.ByteRate())
	}
	// Time passing without records brings the rate back under.
	now = now.Add(12 * time.Second)
	if r.Exceeded() {
		t.Fatalf("still exceeded at %.0f B/s", r.ByteRate())
	}
}
