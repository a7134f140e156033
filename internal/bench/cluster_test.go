package bench

import (
	"errors"
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
	if d, gap, errs, left := w.disarm(); left != 0 || d <= 0 || gap <= 0 || errs != 0 {
		t.Fatalf("disarm: %v, gap %v, %d errors, %d left", d, gap, errs, left)
	}
	if err := w.ackedSince(before); err != nil {
		t.Fatal(err)
	}
}

// TestAckWatchAfterExit: a partition acknowledged after the signal but
// before the process exited is not done until a record sent after the
// exit is acknowledged too; errors count while armed, on any partition.
func TestAckWatchAfterExit(t *testing.T) {
	w := &ackWatch{lastAck: make([]time.Time, 2)}
	w.acked(0, time.Now(), nil)
	w.acked(1, time.Now(), nil)
	w.acked(1, time.Now(), errors.New("before the signal"))
	first := w.arm([]int32{0})
	w.acked(0, time.Now(), nil) // the old leader, still up
	select {
	case <-first:
	default:
		t.Fatal("first not done after a post-signal ack")
	}
	after := w.await(time.Now())                  // the exit
	w.acked(0, time.Now().Add(-time.Second), nil) // a retry of a record sent before the exit
	w.acked(1, time.Now(), errors.New("an unwatched partition"))
	select {
	case <-after:
		t.Fatal("done on a record sent before the exit")
	default:
	}
	if _, gap, errs, left := w.disarm(); left != 1 || errs != 1 || gap <= 0 {
		t.Fatalf("%d partitions left (want 1), %d errors (want 1), gap %v", left, errs, gap)
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
