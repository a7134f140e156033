package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// Leader elections by the controller (internal/controller's
// partition_change.go): a fenced leader's partition goes to an in-sync
// replica, or stays leaderless unless unclean.leader.election.enable.

// victim picks a node that is not the active controller, so that its
// crash is noticed by lease expiry alone (no new quorum term, whose fresh
// leases would add a session timeout).
func victim(t *testing.T, c *testcluster.Cluster) int {
	t.Helper()
	ctl := c.WaitLeader().Index()
	return (ctl + 1) % c.N()
}

// createLedByVictim creates topic with one partition on all three nodes,
// led by victim's node (so not the active controller's) with every replica
// in its ISR, and returns that node's index and id and the topic's id.
func createLedByVictim(t *testing.T, c *testcluster.Cluster, topic string, configs map[string]string) (v int, vid int32, topicID [16]byte) {
	t.Helper()
	v = victim(t, c)
	vid = c.Node(v).ID()
	replicas := []int32{vid}
	for j := range c.N() {
		if j != v {
			replicas = append(replicas, c.Node(j).ID())
		}
	}
	topicID = tcCreateAssigned(t, c, topic, replicas, configs)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != vid || !sameSet(isr, replicas) {
			return fmt.Errorf("leader %d isr %v", l, isr)
		}
		return nil
	})
	return v, vid, topicID
}

// tcCreateAssigned creates topic with one partition on replicas (the first
// leads) and returns its id.
func tcCreateAssigned(t *testing.T, c *testcluster.Cluster, topic string, replicas []int32, configs map[string]string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Partition, ra.Replicas = 0, replicas
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	for k, v := range configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, rc)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), c.Client(t))
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	return resp.Topics[0].TopicID
}

// partitionState is topic-0's leader and ISR in node via's Metadata.
func partitionState(c *testcluster.Cluster, via int, topic string) (int32, []int32, error) {
	m, err := c.Metadata(via, topic)
	if err != nil {
		return 0, nil, err
	}
	if len(m.Topics) != 1 || m.Topics[0].ErrorCode != 0 || len(m.Topics[0].Partitions) != 1 {
		return 0, nil, fmt.Errorf("metadata of %s: %+v", topic, m.Topics)
	}
	p := m.Topics[0].Partitions[0]
	return p.Leader, p.ISR, nil
}

// waitState waits until every running node other than skip shows topic-0
// with leader and (when isr is not nil) that ISR.
func waitState(c *testcluster.Cluster, skip int, topic string, ok func(leader int32, isr []int32) error) {
	c.WaitFor(topic+"-0's state", func() error {
		for j := range c.N() {
			if j == skip || !c.Node(j).Running() {
				continue
			}
			l, isr, err := partitionState(c, j, topic)
			if err != nil {
				return err
			}
			if err := ok(l, isr); err != nil {
				return fmt.Errorf("node %d: %w", j+1, err)
			}
		}
		return nil
	})
}

// TestLeaderCrashElectsFromISR: an RF 3 partition whose ISR holds all
// three (set by its leader with AlterPartition, as replication will)
// gets a new leader from the ISR within the session timeout (plus a lease
// check and the image's propagation) when its leader crashes; the ISR
// loses the crashed broker. Restarted, the broker is added back by the
// new leader's own AlterPartition once it caught up, and a PREFERRED ElectLeaders moves the
// leadership back to it.
func TestLeaderCrashElectsFromISR(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	v := victim(t, c)
	vid := c.Node(v).ID()
	replicas := []int32{vid}
	for j := range c.N() {
		if j != v {
			replicas = append(replicas, c.Node(j).ID())
		}
	}
	const topic = "elect-isr"
	id := tcCreateAssigned(t, c, topic, replicas, nil)
	if l := c.WaitPartitionLeader(topic, 0); l != vid {
		t.Fatalf("leader %d, want the first replica %d", l, vid)
	}
	all := func(ids ...int32) []broker.ISRMember {
		var out []broker.ISRMember
		for _, id := range ids {
			out = append(out, broker.ISRMember{ID: id, Epoch: -1})
		}
		return out
	}
	// A new partition's ISR is all its replicas already: the leader's
	// AlterPartition to the same ISR changes nothing (partition epoch 0).
	st, err := c.Node(v).Broker().AlterISR(ctx(t), broker.ISRUpdate{TopicID: metadata.UUID(id), Partition: 0,
		LeaderEpoch: 0, PartitionEpoch: 0, ISR: all(replicas...)})
	if err != nil || len(st.ISR) != 3 || st.PartitionEpoch != 0 || st.LeaderEpoch != 0 || st.Leader != vid {
		t.Fatalf("AlterISR to all three: %+v %v", st, err)
	}
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if len(isr) != 3 {
			return fmt.Errorf("isr %v", isr)
		}
		return nil
	})

	start := time.Now()
	c.Crash(v)
	var newLeader int32
	waitState(c, v, topic, func(l int32, isr []int32) error {
		if l == vid || l < 0 {
			return fmt.Errorf("leader %d", l)
		}
		if slices.Contains(isr, vid) || len(isr) != 2 {
			return fmt.Errorf("isr %v still holds the crashed broker", isr)
		}
		newLeader = l
		return nil
	})
	took := time.Since(start)
	t.Logf("new leader %d %s after the crash (session timeout %s)", newLeader, took, testcluster.SessionTimeout)
	if newLeader != replicas[1] {
		t.Errorf("new leader %d, want the first in-sync replica %d", newLeader, replicas[1])
	}
	if took > testcluster.SessionTimeout+2*time.Second {
		t.Errorf("new leader after %s: want about the session timeout %s", took, testcluster.SessionTimeout)
	}

	// Back: the new leader adds it to the ISR by itself once its
	// fetches caught up (AlterPartition); the preferred election moves
	// the leadership home.
	c.Restart(v)
	c.WaitUnfenced(v)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != newLeader || len(isr) != 3 {
			return fmt.Errorf("leader %d isr %v, want %d with all three", l, isr, newLeader)
		}
		return nil
	})
	el := kmsg.NewPtrElectLeadersRequest()
	el.ElectionType = 0
	et := kmsg.NewElectLeadersRequestTopic()
	et.Topic, et.Partitions = topic, []int32{0}
	el.Topics = append(el.Topics, et)
	var resp *kmsg.ElectLeadersResponse
	c.WaitFor("a preferred election", func() error {
		resp, err = el.RequestWith(ctx(t), c.Client(t, kgo.SeedBrokers(c.Node(v).Addr())))
		if err != nil {
			return err
		}
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			return kerr.ErrorForCode(code)
		}
		return nil
	})
	waitState(c, -1, topic, func(l int32, _ []int32) error {
		if l != vid {
			return fmt.Errorf("leader %d, want the preferred %d", l, vid)
		}
		return nil
	})
}

// TestUncleanLeaderElection: an RF 2 partition whose ISR is its leader
// alone (its follower cut off from it for longer than
// replica.lag.time.max.ms, so the leader shrank the ISR itself) loses the
// leader to a crash: without unclean.leader.election.enable it stays
// leaderless (an out-of-sync replica may miss acknowledged records); with
// it on the topic from the start the other replica leads at once, and
// once it is turned on for the other topic the controller elects it there
// too; the new leader's ISR is itself alone. (RF 2 on the two brokers
// that are not the active controller: a follower on the controller's
// node could not be cut off without cutting the leader's heartbeats.)
func TestUncleanLeaderElection(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	v := victim(t, c)
	vid := c.Node(v).ID()
	ctl := c.WaitLeader().Index()
	w := 3 - v - ctl // the third node
	replicas := []int32{vid, c.Node(w).ID()}
	tcCreateAssigned(t, c, "clean-only", replicas, nil)
	tcCreateAssigned(t, c, "unclean-ok", replicas, map[string]string{"unclean.leader.election.enable": "true"})
	for _, topic := range []string{"clean-only", "unclean-ok"} {
		if l := c.WaitPartitionLeader(topic, 0); l != vid {
			t.Fatalf("%s: leader %d, want %d", topic, l, vid)
		}
	}
	// The follower cannot fetch and the leader's log grows: the leader
	// drops it from the ISR after replica.lag.time.max.ms (an idle
	// partition's follower stays caught up, as in Kafka).
	c.Cut(v, w)
	for _, topic := range []string{"clean-only", "unclean-ok"} {
		if code := produceOnce(t, c, v, topic, 1, 5*time.Second); code != 0 {
			t.Fatalf("%s: acks=1 to the leader: %v", topic, kerr.ErrorForCode(code))
		}
	}
	for _, topic := range []string{"clean-only", "unclean-ok"} {
		waitState(c, -1, topic, func(l int32, isr []int32) error {
			if l != vid || !slices.Equal(isr, []int32{vid}) {
				return fmt.Errorf("leader %d isr %v, want %d alone", l, isr, vid)
			}
			return nil
		})
	}

	c.Crash(v)
	c.WaitFenced(v)
	uncleanLeader := func(l int32, isr []int32) error {
		if l < 0 || l == vid {
			return fmt.Errorf("leader %d", l)
		}
		if !slices.Equal(isr, []int32{l}) {
			return fmt.Errorf("isr %v, want the unclean leader alone", isr)
		}
		return nil
	}
	waitState(c, v, "unclean-ok", uncleanLeader)
	waitState(c, v, "clean-only", func(l int32, isr []int32) error {
		if l != -1 || !slices.Equal(isr, []int32{vid}) {
			return fmt.Errorf("leader %d isr %v, want leaderless with the crashed broker the last in sync", l, isr)
		}
		return nil
	})

	adm := c.Admin(t)
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	rs, err := adm.AlterTopicConfigs(cctx, []kadm.AlterConfig{{Name: "unclean.leader.election.enable", Value: kmsg.StringPtr("true")}}, "clean-only")
	if err == nil {
		_, err = rs.On("clean-only", nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	waitState(c, v, "clean-only", uncleanLeader)
}
