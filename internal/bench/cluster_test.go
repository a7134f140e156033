package bench

import (
	"slices"
	"testing"
	"time"
)

func TestClusterSpec(t *testing.T) {
	for _, tc := range []struct {
		spec      ClusterSpec
		rf        int16
		minInsync int
		props     []string
	}{
		{ClusterSpec{Nodes: 3}, 3, 2, nil},
		{ClusterSpec{Nodes: 1}, 1, 1, nil},
		{ClusterSpec{Nodes: 5, MinInsync: 9}, 3, 3, nil},
		{ClusterSpec{Nodes: 3, SessionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, Overrides: []string{"a=b"}}, 3, 2,
			[]string{"broker.session.timeout.ms=1000", "broker.heartbeat.interval.ms=100", "a=b"}},
	} {
		if got := tc.spec.rf(); got != tc.rf {
			t.Errorf("%+v: rf %d, want %d", tc.spec, got, tc.rf)
		}
		if got := tc.spec.minInsync(); got != tc.minInsync {
			t.Errorf("%+v: min.insync %d, want %d", tc.spec, got, tc.minInsync)
		}
		if got := tc.spec.props(); !slices.Equal(got, tc.props) {
			t.Errorf("%+v: props %v, want %v", tc.spec, got, tc.props)
		}
	}
}

// TestAckWatch: only an acknowledgement of a record sent after the kill
// counts, and the watch ends with the last of the victim's partitions.
func TestAckWatch(t *testing.T) {
	w := &ackWatch{lastAck: make([]time.Time, 3)}
	before := time.Now()
	done := w.arm([]int32{0, 2})
	w.acked(0, before, nil) // sent before the kill
	w.acked(1, time.Now(), nil)
	select {
	case <-done:
		t.Fatal("done before any post-kill ack of the victim's partitions")
	default:
	}
	w.acked(0, time.Now(), nil)
	w.acked(2, time.Now(), nil)
	select {
	case <-done:
	default:
		t.Fatal("not done after both partitions acknowledged")
	}
	if d, left := w.disarm(); left != 0 || d <= 0 {
		t.Fatalf("disarm: %v, %d left", d, left)
	}
	if err := w.ackedSince(before); err != nil {
		t.Fatal(err)
	}
}

func TestPickVictimAlternates(t *testing.T) {
	st := steady{leaders: []int32{1, 2, 3}, controller: 2}
	for k := range 6 {
		got := pickVictim(st, k)
		if isCtl := got == st.controller; isCtl != (k%2 == 1) {
			t.Errorf("kill %d: victim %d, controller %v", k, got, isCtl)
		}
	}
	// No leader is the controller: the rotation alone.
	st = steady{leaders: []int32{1, 2, 3}, controller: 9}
	if got := pickVictim(st, 1); got != 2 {
		t.Errorf("victim %d, want 2", got)
	}
}
