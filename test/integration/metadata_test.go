package integration

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metadata sends a raw Metadata request (topics nil = all topics).
func metadata(t *testing.T, cl *kgo.Client, topics []string) *kmsg.MetadataResponse {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	if topics != nil {
		req.Topics = []kmsg.MetadataRequestTopic{}
	}
	for _, name := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(name)
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("metadata: %v", err)
	}
	return resp
}

// TestMetadata: the broker advertises itself at its listener, is the
// controller, reports a cluster ID; a nil topic list means every topic,
// an empty one means none; partitions have the broker as sole replica.
func TestMetadata(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	a, b := topicName(t, "a"), topicName(t, "b")
	createTopic(t, adm, a, 3, nil)
	createTopic(t, adm, b, 1, nil)
	cl := newClient(t, tb.Addr())

	resp := metadata(t, cl, nil)
	host, port, _ := net.SplitHostPort(tb.Addr())
	if len(resp.Brokers) != 1 || resp.Brokers[0].NodeID != brokerNodeID || resp.Brokers[0].Host != host || strconv.Itoa(int(resp.Brokers[0].Port)) != port {
		t.Errorf("brokers %+v, want node 1 at %s", resp.Brokers, tb.Addr())
	}
	if resp.ControllerID != brokerNodeID {
		t.Errorf("controller id %d, want 1", resp.ControllerID)
	}
	if resp.ClusterID == nil || *resp.ClusterID == "" {
		t.Errorf("no cluster id")
	}
	seen := map[string]kmsg.MetadataResponseTopic{}
	for _, rt := range resp.Topics {
		if rt.Topic != nil {
			seen[*rt.Topic] = rt
		}
	}
	if len(seen[a].Partitions) != 3 || len(seen[b].Partitions) != 1 {
		t.Errorf("all-topics metadata: %q has %d partitions, %q has %d; want 3 and 1", a, len(seen[a].Partitions), b, len(seen[b].Partitions))
	}
	for _, p := range seen[a].Partitions {
		if p.ErrorCode != 0 || p.Leader != brokerNodeID || len(p.Replicas) != 1 || p.Replicas[0] != brokerNodeID || len(p.ISR) != 1 || p.ISR[0] != brokerNodeID {
			t.Errorf("%s/%d: error %d leader %d replicas %v isr %v; want 1, [1], [1]", a, p.Partition, p.ErrorCode, p.Leader, p.Replicas, p.ISR)
		}
	}

	if none := metadata(t, cl, []string{}); len(none.Topics) != 0 {
		t.Errorf("metadata with an empty topic list returned %d topics, want none", len(none.Topics))
	}
	if one := metadata(t, cl, []string{b}); len(one.Topics) != 1 || one.Topics[0].Topic == nil || *one.Topics[0].Topic != b {
		t.Errorf("metadata for [%s] returned %+v", b, one.Topics)
	}
}
