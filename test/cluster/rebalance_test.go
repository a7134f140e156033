package cluster

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Automatic leader rebalance (internal/controller/rebalance.go): a broker
// that was stopped gets leadership of its preferred partitions back once it
// is in their ISR again, unless auto.leader.rebalance.enable=false.

// rebalanceInterval is the imbalance check interval the tests use
// (leader.imbalance.check.interval.ms, Sluice's test-sized extension).
const rebalanceInterval = 200 * time.Millisecond

// stopAndReturnPreferred creates a one-partition RF 3 topic whose preferred
// replica is a node that is not the active controller, stops that node so
// leadership moves away, restarts it and waits until it is back in the
// ISR. It returns the node's index and id.
func stopAndReturnPreferred(t *testing.T, c *testcluster.Cluster, topic string) (int, int32) {
	t.Helper()
	v := victim(t, c)
	vid := c.Node(v).ID()
	replicas := []int32{vid}
	for j := range c.N() {
		if j != v {
			replicas = append(replicas, c.Node(j).ID())
		}
	}
	tcCreateAssigned(t, c, topic, replicas, nil)
	if l := c.WaitPartitionLeader(topic, 0); l != vid {
		t.Fatalf("leader %d, want the preferred replica %d", l, vid)
	}
	c.Stop(v) // controlled shutdown: leadership moves to an in-sync replica
	waitState(c, v, topic, func(l int32, _ []int32) error {
		if l == vid || l < 0 {
			return fmt.Errorf("leader %d, want another broker", l)
		}
		return nil
	})
	c.Restart(v)
	waitState(c, -1, topic, func(_ int32, isr []int32) error {
		if !slices.Contains(isr, vid) {
			return fmt.Errorf("isr %v without %d", isr, vid)
		}
		return nil
	})
	return v, vid
}

// TestAutoLeaderRebalanceReturnsLeadership: with the feature on (Kafka's
// default), the preferred replica leads again within a few check
// intervals of rejoining the ISR, with no ElectLeaders from anyone.
func TestAutoLeaderRebalanceReturnsLeadership(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("leader.imbalance.check.interval.ms", fmt.Sprint(rebalanceInterval.Milliseconds())))
	const topic = "rebalance-on"
	_, vid := stopAndReturnPreferred(t, c, topic)
	waitState(c, -1, topic, func(l int32, _ []int32) error {
		if l != vid {
			return fmt.Errorf("leader %d, want the preferred replica %d back", l, vid)
		}
		return nil
	})
}

// TestAutoLeaderRebalanceDisabled: with auto.leader.rebalance.enable=false
// the leadership stays where the shutdown moved it for many check
// intervals although the preferred replica could lead, which a PREFERRED
// ElectLeaders then shows.
func TestAutoLeaderRebalanceDisabled(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("leader.imbalance.check.interval.ms", fmt.Sprint(rebalanceInterval.Milliseconds())),
		testcluster.WithProp("auto.leader.rebalance.enable", "false"))
	const topic = "rebalance-off"
	_, vid := stopAndReturnPreferred(t, c, topic)
	// Ten intervals (and as many lease ticks) with the leader elsewhere:
	// an enabled check would have moved it in the first one or two.
	deadline := time.Now().Add(10 * rebalanceInterval)
	for time.Now().Before(deadline) {
		l, _, err := partitionState(c, 0, topic)
		if err != nil {
			t.Fatal(err)
		}
		if l == vid {
			t.Fatalf("leadership returned to %d with auto.leader.rebalance.enable=false", vid)
		}
		time.Sleep(20 * time.Millisecond) // the poll's period, not a synchronisation
	}
	res, err := c.Admin(t).ElectLeaders(ctx(t), kadm.ElectPreferredReplica, kadm.TopicsSet{topic: {0: {}}})
	if err != nil {
		t.Fatal(err)
	}
	if r := res[topic][0]; r.Err != nil {
		t.Fatalf("preferred election: %v", r.Err)
	}
	waitState(c, -1, topic, func(l int32, _ []int32) error {
		if l != vid {
			return fmt.Errorf("leader %d, want %d", l, vid)
		}
		return nil
	})
}
