package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// ISR changes made by the leader itself (replica/isr_wiring.go): a
// follower that stops fetching for longer than replica.lag.time.max.ms is
// dropped with AlterPartition; one that caught up is added back.

// TestPausedFollowerLeavesAndRejoinsTheISR: RF 3 with
// min.insync.replicas=2 and a session timeout (5 s) longer than the pause
// (about 2 s), so the follower is not fenced and only its leader can drop
// it. Paused while
// the leader's log grows, it leaves the ISR no earlier than
// replica.lag.time.max.ms, and an acks=all write waiting on it then
// succeeds with the two left; later acks=all writes succeed at once.
// Resumed, it catches up and the leader adds it back.
func TestPausedFollowerLeavesAndRejoinsTheISR(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "5000"))
	// The leader is the controller's node and the paused follower another
	// one, so the quorum keeps a majority while it is paused.
	ctl := c.WaitLeader().Index()
	paused, other := (ctl+1)%3, (ctl+2)%3
	lid, pid, oid := c.Node(ctl).ID(), c.Node(paused).ID(), c.Node(other).ID()
	const topic = "isr-pause"
	tcCreateAssigned(t, c, topic, []int32{lid, oid, pid}, map[string]string{"min.insync.replicas": "2"})
	if l := c.WaitPartitionLeader(topic, 0); l != lid {
		t.Fatalf("leader %d, want %d", l, lid)
	}
	all := []int32{lid, oid, pid}
	slices.Sort(all)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if !sameSet(isr, all) {
			return fmt.Errorf("isr %v, want %v", isr, all)
		}
		return nil
	})
	if code := produceOnce(t, c, ctl, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all with the ISR whole: %v", kerr.ErrorForCode(code))
	}

	c.Pause(paused)
	t.Cleanup(func() { c.Resume(paused) })
	pausedAt := time.Now()
	// The write waits for the paused member until the leader drops it,
	// then the HW covers it with two in sync (KIP-497: not before the
	// controller accepted the shrink).
	if code := produceOnce(t, c, ctl, topic, -1, 15*time.Second); code != 0 {
		t.Fatalf("acks=all across the shrink: %v", kerr.ErrorForCode(code))
	}
	waited := time.Since(pausedAt)
	two := []int32{lid, oid}
	slices.Sort(two)
	waitState(c, paused, topic, func(l int32, isr []int32) error {
		if l != lid || !sameSet(isr, two) {
			return fmt.Errorf("leader %d isr %v, want %d with %v", l, isr, lid, two)
		}
		return nil
	})
	// The leader dropped it, not the controller's fencing: the broker is
	// still registered and unfenced (Metadata lists only those).
	m, err := c.Metadata(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(m.Brokers, func(b kmsg.MetadataResponseBroker) bool { return b.NodeID == pid }) {
		t.Fatalf("the paused broker %d was fenced (session timeout too short for this machine?)", pid)
	}
	t.Logf("acks=all answered %s after the pause (replica.lag.time.max.ms %s)", waited, testcluster.ReplicaLagTimeMax)
	if waited < testcluster.ReplicaLagTimeMax {
		t.Errorf("the ISR shrank %s after the pause, before replica.lag.time.max.ms %s", waited, testcluster.ReplicaLagTimeMax)
	}
	start := time.Now()
	if code := produceOnce(t, c, ctl, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all with two in sync: %v", kerr.ErrorForCode(code))
	}
	if d := time.Since(start); d > testcluster.ReplicaLagTimeMax {
		t.Errorf("acks=all with the ISR shrunk took %s", d)
	}

	c.Resume(paused)
	resumed := time.Now()
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != lid || !sameSet(isr, all) {
			return fmt.Errorf("leader %d isr %v, want %d with %v", l, isr, lid, all)
		}
		return nil
	})
	t.Logf("back in the ISR %s after the resume", time.Since(resumed))
	// Back in the ISR, it holds every record: the leader counts it
	// toward acks=all again.
	if code := produceOnce(t, c, ctl, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all with the ISR whole again: %v", kerr.ErrorForCode(code))
	}
	c.WaitFor("the rejoined follower's log to match the leader's", func() error {
		want, err := segmentBytes(c, lid, topic, 0)
		if err != nil {
			return err
		}
		got, err := segmentBytes(c, pid, topic, 0)
		if err != nil {
			return err
		}
		if string(got) != string(want) {
			return fmt.Errorf("follower %d bytes, leader %d", len(got), len(want))
		}
		return nil
	})
}

// sameSet reports whether a and b hold the same ids in any order.
func sameSet(a, b []int32) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
