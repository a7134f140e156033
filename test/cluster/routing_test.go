package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestPartitionsSpreadAndRouted: on three nodes, a topic's partitions are
// spread over the brokers, Metadata from any node lists every broker and
// the quorum leader as controller, a client bootstrapped with one node
// produces to and reads back from every partition, and a Produce sent to a
// broker that does not lead the partition gets NOT_LEADER_OR_FOLLOWER with
// the leader in KIP-951's CurrentLeader and NodeEndpoints.
func TestPartitionsSpreadAndRouted(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	agreedLeader(t, c.nodes, -1)
	topic := "spread"
	adm := c.nodes[0].admin(t)
	if _, err := adm.CreateTopic(ctx(t), 6, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	var leaders map[int32]int32
	waitFor(t, 10*time.Second, "every node to list 3 brokers and the topic's leaders", func() error {
		for _, nd := range c.nodes {
			md, err := nd.admin(t).Metadata(ctx(t), topic)
			if err != nil {
				return err
			}
			if len(md.Brokers) != 3 {
				return fmt.Errorf("node %d lists %d brokers", nd.id, len(md.Brokers))
			}
			leaders = map[int32]int32{}
			for _, p := range md.Topics[topic].Partitions {
				leaders[p.Partition] = p.Leader
			}
			if len(leaders) != 6 {
				return fmt.Errorf("node %d: %d partitions", nd.id, len(leaders))
			}
		}
		return nil
	})
	used := map[int32]bool{}
	for _, l := range leaders {
		used[l] = true
	}
	if len(used) != 3 {
		t.Fatalf("6 partitions led by %d brokers only: %v", len(used), leaders)
	}

	// One bootstrap broker reaches every partition.
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[2].addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(),
			2: kgo.NewOffset().AtStart(), 3: kgo.NewOffset().AtStart(), 4: kgo.NewOffset().AtStart(), 5: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for p := range int32(6) {
		for i := range 10 {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(fmt.Sprintf("p%d-%d", p, i))}
			if err := cl.ProduceSync(ctx(t), r).FirstErr(); err != nil {
				t.Fatalf("produce to partition %d (leader %d): %v", p, leaders[p], err)
			}
		}
	}
	got := map[int32]int{}
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for n := 0; n < 60; {
		fs := cl.PollFetches(cctx)
		if err := cctx.Err(); err != nil {
			t.Fatalf("consumed %d of 60: %v", n, got)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("p%d-%d", r.Partition, got[r.Partition]); string(r.Value) != want {
				t.Fatalf("partition %d offset %d: %q, want %q", r.Partition, r.Offset, r.Value, want)
			}
			got[r.Partition]++
			n++
		})
	}

	// The wrong broker answers NOT_LEADER_OR_FOLLOWER with the leader.
	var wrong *node
	for _, nd := range c.nodes {
		if nd.id != leaders[0] {
			wrong = nd
			break
		}
	}
	direct, err := kgo.NewClient(kgo.SeedBrokers(wrong.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition = 0
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := direct.SeedBrokers()[0].Request(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	pr := resp.(*kmsg.ProduceResponse)
	part := pr.Topics[0].Partitions[0]
	if part.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("produce to node %d for partition led by %d: code %d", wrong.id, leaders[0], part.ErrorCode)
	}
	if pr.GetVersion() >= 10 {
		if part.CurrentLeader.LeaderID != leaders[0] || len(pr.Brokers) != 1 || pr.Brokers[0].NodeID != leaders[0] {
			t.Fatalf("KIP-951 hint: leader %+v, brokers %+v (leader is %d)", part.CurrentLeader, pr.Brokers, leaders[0])
		}
	}
}
