package integration

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDescribeQuorum checks the one-voter metadata quorum: this node leads
// __cluster_metadata-0, its high watermark follows every metadata change,
// and any other partition is UNKNOWN_TOPIC_OR_PARTITION.
func TestDescribeQuorum(t *testing.T) {
	tb := startBroker(t)
	describe := func(topic string, part int32) kmsg.DescribeQuorumResponseTopicPartition {
		t.Helper()
		req := kmsg.NewPtrDescribeQuorumRequest()
		rt := kmsg.NewDescribeQuorumRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewDescribeQuorumRequestTopicPartition()
		rp.Partition = part
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := direct(t, tb.Addr(), req).(*kmsg.DescribeQuorumResponse)
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || len(resp.Nodes) != 1 || resp.Nodes[0].NodeID != brokerNodeID {
			t.Fatalf("answer %+v", resp)
		}
		return resp.Topics[0].Partitions[0]
	}
	before := describe("__cluster_metadata", 0)
	if before.ErrorCode != 0 || before.LeaderID != brokerNodeID || len(before.CurrentVoters) != 1 ||
		before.CurrentVoters[0].LogEndOffset != before.HighWatermark || before.HighWatermark < 1 {
		t.Fatalf("quorum %+v", before)
	}
	createTopic(t, newAdmin(t, tb.Addr()), topicName(t, ""), 1, nil)
	if after := describe("__cluster_metadata", 0); after.HighWatermark <= before.HighWatermark {
		t.Errorf("high watermark %d after creating a topic, was %d", after.HighWatermark, before.HighWatermark)
	}
	for _, c := range []struct {
		topic string
		part  int32
	}{{"__cluster_metadata", 1}, {"orders", 0}} {
		if p := describe(c.topic, c.part); p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
			t.Errorf("%s-%d: code %d", c.topic, c.part, p.ErrorCode)
		}
	}
}
