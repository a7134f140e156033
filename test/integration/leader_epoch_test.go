package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// leaderEpoch returns the leader epoch Metadata reports for topic/partition.
func leaderEpoch(t *testing.T, cl *kgo.Client, topic string, partition int32) int32 {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	for _, mt := range resp.Topics {
		for _, mp := range mt.Partitions {
			if mt.Topic != nil && *mt.Topic == topic && mp.Partition == partition {
				if mp.Leader != brokerNodeID || mp.LeaderEpoch < 0 {
					t.Fatalf("metadata %s/%d: leader %d epoch %d", topic, partition, mp.Leader, mp.LeaderEpoch)
				}
				return mp.LeaderEpoch
			}
		}
	}
	t.Fatalf("metadata lacks %s/%d", topic, partition)
	return -1
}

// TestLeaderEpochs: batches carry the leader epoch Metadata reports;
// OffsetForLeaderEpoch ends the current epoch at the log end; a
// CurrentLeaderEpoch newer than the leader's is UNKNOWN_LEADER_EPOCH in
// Fetch, ListOffsets and OffsetForLeaderEpoch.
func TestLeaderEpochs(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("a"), kgo.StringRecord("b"), kgo.StringRecord("c"))
	epoch := leaderEpoch(t, cl, topic, 0)
	id := topicID(t, cl, topic)

	p := fetchPartition(t, cl, fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 0, 0))
	for _, b := range parseBatches(t, p.RecordBatches) {
		if b.PartitionLeaderEpoch != epoch {
			t.Errorf("batch at %d has partition leader epoch %d, metadata says %d", b.FirstOffset, b.PartitionLeaderEpoch, epoch)
		}
	}

	ofle := func(current, asked int32) kmsg.OffsetForLeaderEpochResponseTopicPartition {
		req := kmsg.NewPtrOffsetForLeaderEpochRequest()
		req.ReplicaID = -1
		rt := kmsg.NewOffsetForLeaderEpochRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetForLeaderEpochRequestTopicPartition()
		rp.Partition, rp.CurrentLeaderEpoch, rp.LeaderEpoch = 0, current, asked
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		kresp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 15*time.Second), req)
		if err != nil {
			t.Fatalf("offset for leader epoch: %v", err)
		}
		resp := kresp.(*kmsg.OffsetForLeaderEpochResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			t.Fatalf("offset for leader epoch: response %+v", resp.Topics)
		}
		return resp.Topics[0].Partitions[0]
	}
	if r := ofle(epoch, epoch); r.ErrorCode != 0 || r.LeaderEpoch != epoch || r.EndOffset != 3 {
		t.Errorf("OffsetForLeaderEpoch(epoch %d): error %v, epoch %d, end %d; want none, %d, 3", epoch, kerr.ErrorForCode(r.ErrorCode), r.LeaderEpoch, r.EndOffset, epoch)
	}
	if r := ofle(epoch+1, epoch); r.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("OffsetForLeaderEpoch with current epoch %d (leader's %d): error %v, want UNKNOWN_LEADER_EPOCH", epoch+1, epoch, kerr.ErrorForCode(r.ErrorCode))
	}

	fr := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 0, 0)
	fr.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch + 1
	if p := fetchPartition(t, cl, fr); p.ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("fetch with current leader epoch %d (leader's %d): error %v, want UNKNOWN_LEADER_EPOCH", epoch+1, epoch, kerr.ErrorForCode(p.ErrorCode))
	}
	fr.Topics[0].Partitions[0].CurrentLeaderEpoch = epoch
	if p := fetchPartition(t, cl, fr); p.ErrorCode != 0 {
		t.Errorf("fetch with the current leader epoch: error %v", kerr.ErrorForCode(p.ErrorCode))
	}

	lo := kmsg.NewPtrListOffsetsRequest()
	lo.ReplicaID = -1
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Partition, lp.Timestamp, lp.CurrentLeaderEpoch = 0, tsLatest, epoch+1
	lt.Partitions = append(lt.Partitions, lp)
	lo.Topics = append(lo.Topics, lt)
	kresp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 15*time.Second), lo)
	if err != nil {
		t.Fatalf("list offsets: %v", err)
	}
	if r := kresp.(*kmsg.ListOffsetsResponse); len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].ErrorCode != kerr.UnknownLeaderEpoch.Code {
		t.Errorf("list offsets with current leader epoch %d (leader's %d): response %+v, want UNKNOWN_LEADER_EPOCH", epoch+1, epoch, r.Topics)
	}
}
