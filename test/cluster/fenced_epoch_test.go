package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestLeaderEpochFencingAfterFailover: KIP-320 on a new leader, as Kafka's
// Partition.checkCurrentLeaderEpoch. After the leader of an RF 3 partition
// crashes, a Fetch, ListOffsets or OffsetForLeaderEpoch sent to the new
// leader with the old CurrentLeaderEpoch gets FENCED_LEADER_EPOCH, one with
// an epoch ahead of the leader's gets UNKNOWN_LEADER_EPOCH, and the current
// epoch is served.
func TestLeaderEpochFencingAfterFailover(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "fenced-epoch"
	v, vid, topicID := createLedByVictim(t, c, topic, nil)
	oldEpoch := partitionInfo(t, c, v, topic, 0).LeaderEpoch
	produceTo(t, producer(t, c), topic, 0, values("f", 3)...)

	c.Crash(v)
	newID := waitOtherLeader(c, v, vid, topic)
	n := c.NodeByID(newID).Index()
	cur := partitionInfo(t, c, n, topic, 0).LeaderEpoch
	if cur <= oldEpoch {
		t.Fatalf("leader epoch %d after the failover, want more than %d", cur, oldEpoch)
	}

	// The new leader may learn its leadership a moment after the
	// Metadata names it: poll until the current epoch is served.
	c.WaitFor("the new leader to serve its current epoch", func() error {
		for name, send := range epochRequests(c, n, topic, topicID) {
			if code := send(cur); code != 0 {
				return fmt.Errorf("%s with the current epoch %d: %v", name, cur, kerr.ErrorForCode(code))
			}
		}
		return nil
	})
	for name, send := range epochRequests(c, n, topic, topicID) {
		if code := send(oldEpoch); code != kerr.FencedLeaderEpoch.Code {
			t.Errorf("%s with the old epoch %d (leader's %d): %v, want FENCED_LEADER_EPOCH", name, oldEpoch, cur, kerr.ErrorForCode(code))
		}
		if code := send(cur + 1); code != kerr.UnknownLeaderEpoch.Code {
			t.Errorf("%s with epoch %d ahead of the leader's %d: %v, want UNKNOWN_LEADER_EPOCH", name, cur+1, cur, kerr.ErrorForCode(code))
		}
		if code := send(cur); code != 0 {
			t.Errorf("%s with the current epoch %d: %v", name, cur, kerr.ErrorForCode(code))
		}
	}
}

// epochRequests are the three requests that carry a CurrentLeaderEpoch,
// each sent for topic-0 to node i and returning the partition's error code
// (or -2 when the request itself failed).
func epochRequests(c *testcluster.Cluster, i int, topic string, topicID [16]byte) map[string]func(epoch int32) int16 {
	send := func(req kmsg.Request) kmsg.Response {
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := c.Request(rctx, i, req)
		if err != nil {
			return nil
		}
		return resp
	}
	return map[string]func(int32) int16{
		"Fetch": func(epoch int32) int16 {
			req := kmsg.NewPtrFetchRequest()
			req.ReplicaID, req.ReplicaState.ID = -1, -1
			req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, 1<<20
			req.SessionEpoch = -1
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = topic, topicID
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 0, 1<<20, epoch, -1, -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, ok := send(req).(*kmsg.FetchResponse)
			if !ok || resp.ErrorCode != 0 || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				return -2
			}
			return resp.Topics[0].Partitions[0].ErrorCode
		},
		"ListOffsets": func(epoch int32) int16 {
			req := kmsg.NewPtrListOffsetsRequest()
			req.ReplicaID = -1
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = 0, -1, epoch
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, ok := send(req).(*kmsg.ListOffsetsResponse)
			if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				return -2
			}
			return resp.Topics[0].Partitions[0].ErrorCode
		},
		"OffsetForLeaderEpoch": func(epoch int32) int16 {
			req := kmsg.NewPtrOffsetForLeaderEpochRequest()
			req.ReplicaID = -1
			rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
			rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, epoch, 0
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
			resp, ok := send(req).(*kmsg.OffsetForLeaderEpochResponse)
			if !ok || len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
				return -2
			}
			return resp.Topics[0].Partitions[0].ErrorCode
		},
	}
}
