package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// followerCutOut creates topic on two nodes that are not the active
// controller, cuts the follower off its leader, produces n records
// prefixed p and waits until the leader has shrunk the ISR to itself. It
// returns the controller's, leader's and follower's indexes and the topic
// id; the cut is healed at cleanup.
func followerCutOut(t *testing.T, c *testcluster.Cluster, topic, p string, n int) (ctl, li, fi int, topicID [16]byte) {
	t.Helper()
	ctl = c.WaitLeader().Index()
	li, fi = (ctl+1)%3, (ctl+2)%3
	lid, fid := c.Node(li).ID(), c.Node(fi).ID()
	topicID = tcCreateAssigned(t, c, topic, []int32{lid, fid}, nil)
	both := []int32{lid, fid}
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != lid || !sameSet(isr, both) {
			return fmt.Errorf("leader %d isr %v", l, isr)
		}
		return nil
	})
	c.Cut(li, fi)
	t.Cleanup(c.HealAll)
	produceTo(t, producer(t, c), topic, 0, values(p, n)...)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != lid || !slices.Equal(isr, []int32{lid}) {
			return fmt.Errorf("leader %d isr %v, want the follower out", l, isr)
		}
		return nil
	})
	return ctl, li, fi, topicID
}

// replicaFetchAt is a Fetch (v15) of topicID's partition 0 from offset at,
// sent in the name of broker fid with broker epoch epoch (-1: none).
func replicaFetchAt(fid int32, epoch int64, topicID [16]byte, at int64, maxWaitMs, minBytes int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.Version = 15
	req.ReplicaState.ID, req.ReplicaState.Epoch = fid, epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = maxWaitMs, minBytes, 1<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch = 0, at, -1, -1
	rp.LogStartOffset, rp.PartitionMaxBytes = -1, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// TestStaleBrokerEpochFetchKeepsFollowerOutOfISR: KIP-903 on the leader,
// as Kafka's Partition.isReplicaIsrEligible. A replica fetch whose
// ReplicaState.ReplicaEpoch is not the follower's registered broker
// epoch is served (no STALE_BROKER_EPOCH on Fetch: Kafka answers it like
// any other), but the follower is not added to the ISR however caught up
// it is; a fetch with its registered epoch adds it (one without, -1,
// skips the check).
//
// The real follower is cut from its leader (it keeps heartbeating to
// the controller, so it stays registered and unfenced) and leaves the
// ISR; the test then fetches in its name with raw kmsg requests.
func TestStaleBrokerEpochFetchKeepsFollowerOutOfISR(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "stale-epoch"
	ctl, li, fi, topicID := followerCutOut(t, c, topic, "e", 5)
	fid := c.Node(fi).ID()
	both := []int32{c.Node(li).ID(), fid}
	epoch := c.Node(fi).Broker().BrokerEpoch()
	if epoch < 0 {
		t.Fatalf("follower %d has no broker epoch", fid)
	}

	end := leaderEnd(t, c, li, topic)
	fetchAs := func(replicaEpoch int64) {
		t.Helper()
		req := replicaFetchAt(fid, replicaEpoch, topicID, end, 0, 0)
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Request(rctx, li, req)
		if err != nil {
			t.Fatalf("replica fetch: %v", err)
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			t.Fatalf("replica fetch with epoch %d: %v %+v", replicaEpoch, kerr.ErrorForCode(fr.ErrorCode), fr.Topics)
		}
		if code := fr.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("replica fetch with epoch %d: %v", replicaEpoch, kerr.ErrorForCode(code))
		}
	}

	// Caught up but stale: served, never added. An ISR change is one
	// AlterPartition round trip (milliseconds in process), so a second
	// of such fetches would show it.
	for _, stale := range []int64{epoch - 1, epoch + 1} {
		until := time.Now().Add(time.Second)
		for time.Now().Before(until) {
			fetchAs(stale)
			if _, isr, err := partitionState(c, ctl, topic); err == nil && slices.Contains(isr, fid) {
				t.Fatalf("a fetch with broker epoch %d (registered %d) put %d in the ISR %v", stale, epoch, fid, isr)
			}
		}
	}

	// The registered epoch: added at once.
	fetchAs(epoch)
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if !sameSet(isr, both) {
			return fmt.Errorf("isr %v, want %v after a fetch with the registered epoch", isr, both)
		}
		return nil
	})
}

// leaderEnd is topic-0's latest offset at node i (its leader).
func leaderEnd(t *testing.T, c *testcluster.Cluster, i int, topic string) int64 {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.Request(ctx(t), i, req)
	if err != nil {
		t.Fatal(err)
	}
	lr := resp.(*kmsg.ListOffsetsResponse)
	if len(lr.Topics) != 1 || len(lr.Topics[0].Partitions) != 1 || lr.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("list offsets: %+v", lr.Topics)
	}
	return lr.Topics[0].Partitions[0].Offset
}
