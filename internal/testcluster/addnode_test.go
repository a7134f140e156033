package testcluster

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestAddNode: a node added to a running two-node cluster registers as
// broker 3 without a vote (DescribeQuorum lists it as an observer), takes
// a partition placed on it and serves it, survives a Crash and Restart
// like the first nodes, and the quorum's leader is still found by voters
// alone.
func TestAddNode(t *testing.T) {
	t.Parallel()
	c := New(t, 2)
	nd := c.AddNode(nil)
	if nd.ID() != 3 || nd.Index() != 2 || c.N() != 3 || !nd.Observer() || c.Node(0).Observer() {
		t.Fatalf("added node: id %d index %d of %d, observer %v", nd.ID(), nd.Index(), c.N(), nd.Observer())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))

	qreq := kmsg.NewPtrDescribeQuorumRequest()
	qt := kmsg.NewDescribeQuorumRequestTopic()
	qt.Topic = "__cluster_metadata"
	qt.Partitions = append(qt.Partitions, kmsg.DescribeQuorumRequestTopicPartition{})
	qreq.Topics = append(qreq.Topics, qt)
	c.WaitFor("node 3 an observer of the quorum", func() error {
		resp, err := qreq.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
			return kerr.UnknownServerError
		}
		p := resp.Topics[0].Partitions[0]
		for _, v := range p.CurrentVoters {
			if v.ReplicaID == 3 {
				t.Fatalf("node 3 is a voter: %+v", p.CurrentVoters)
			}
		}
		for _, o := range p.Observers {
			if o.ReplicaID == 3 {
				return nil
			}
		}
		return kerr.ErrorForCode(p.ErrorCode)
	})

	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "added", -1, -1
	ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
	ra.Replicas = []int32{3}
	rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	req.Topics = append(req.Topics, rt)
	if resp, err := req.RequestWith(ctx, cl); err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create: %v %+v", err, resp)
	}
	if l := c.WaitPartitionLeader("added", 0); l != 3 {
		t.Fatalf("added-0 led by %d, want 3", l)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "added", Value: []byte("on the new node")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	c.Crash(2)
	c.WaitFenced(2)
	c.Restart(2)
	c.WaitUnfenced(2)
	if l := c.WaitPartitionLeader("added", 0); l != 3 {
		t.Fatalf("after the restart added-0 is led by %d, want 3", l)
	}
	if c.WaitLeader().Observer() {
		t.Fatal("an observer leads the quorum")
	}
	rd := c.Client(t, kgo.ConsumeTopics("added"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	fs := rd.PollFetches(ctx)
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	if rs := fs.Records(); len(rs) != 1 || string(rs[0].Value) != "on the new node" {
		t.Fatalf("read back %d records: %v", len(rs), rs)
	}
}
