package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestTxnOffsetsAcrossBrokers: a consume-transform-produce transaction
// whose transaction coordinator (node 1), data partition (node 2) and
// group coordinator (node 3) are three different brokers, once on
// transaction version 2 (TxnOffsetCommit v5 adds the group's
// __consumer_offsets partition to the transaction from the group
// coordinator, over AddPartitionsToTxn to node 1) and once capped at Kafka
// 3.9 (AddOffsetsToTxn at node 1, then TxnOffsetCommit v4 at node 3,
// verified with node 1). Until the commit, read_committed sees none of
// the transaction's records, OffsetFetch shows the previous offset and
// require_stable answers UNSTABLE_OFFSET_COMMIT; after it, both the
// records and the offset. An aborted transaction leaves neither: its
// offset never shows up and the partition is stable again.
func TestTxnOffsetsAcrossBrokers(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "transaction.state.log.num.partitions="+strconv.Itoa(txnStatePartitions))
	agreedLeader(t, c.nodes, -1)
	txnLeaders, _ := txnStateLeaders(t, c)
	groupLeaders := offsetsLeaders(t, c)
	txnNode, dataNode, groupNode := c.nodes[0], c.nodes[1], c.nodes[2]
	const in = "txo-in"
	topics := []string{in, "txo-out-tv2", "txo-out-tv1"} // an output topic per flow
	for _, topic := range topics {
		createAssigned(t, c.nodes[0], topic, dataNode.id)
	}
	waitFor(t, 10*time.Second, "every node to see the topics", func() error {
		for _, nd := range c.nodes {
			for _, topic := range topics {
				md, err := metadataOf(t, nd, topic)
				if err != nil {
					return err
				}
				if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != 1 || md.Topics[0].Partitions[0].Leader != dataNode.id {
					return fmt.Errorf("node %d: %s not led by node %d yet", nd.id, topic, dataNode.id)
				}
			}
		}
		return nil
	})

	for _, flow := range []struct {
		name string
		opts []kgo.Opt
		tv1  bool
	}{
		{"tv2", nil, false},
		{"tv1", []kgo.Opt{kgo.MaxVersions(kversion.V3_9_0())}, true},
	} {
		t.Run(flow.name, func(t *testing.T) {
			out := "txo-out-" + flow.name
			id := ""
			for i := range 10000 {
				if cand := "txo-" + flow.name + "-" + strconv.Itoa(i); txnLeaders[txnPartition(cand)] == txnNode.id {
					id = cand
					break
				}
			}
			group := groupOn(t, groupLeaders, "txo-group-"+flow.name+"-", groupNode.id)
			seed := append([]kgo.Opt{kgo.SeedBrokers(dataNode.addr())}, flow.opts...)
			prod, err := kgo.NewClient(append(seed, kgo.TransactionalID(id), kgo.TransactionTimeout(20*time.Second),
				kgo.DefaultProduceTopic(out))...)
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			raw, err := kgo.NewClient(seed...) // requests sent to one broker, at the flow's versions
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			send := func(nd *node, req kmsg.Request) kmsg.Response {
				t.Helper()
				resp, err := raw.Broker(int(nd.id)).Request(ctx(t), req)
				if err != nil {
					t.Fatalf("%T to node %d: %v", req, nd.id, err)
				}
				return resp
			}
			// fetchOffset is the group's committed offset of in-0 at the
			// group coordinator, and its code with require_stable.
			fetchOffset := func() (int64, int16) {
				t.Helper()
				var offset int64
				var code int16
				for _, stable := range []bool{false, true} {
					req := kmsg.NewPtrOffsetFetchRequest()
					req.Group, req.RequireStable = group, stable
					rt := kmsg.NewOffsetFetchRequestTopic()
					rt.Topic, rt.Partitions = in, []int32{0}
					req.Topics = append(req.Topics, rt)
					rg := kmsg.NewOffsetFetchRequestGroup()
					rg.Group = group
					rgt := kmsg.NewOffsetFetchRequestGroupTopic()
					rgt.Topic, rgt.Partitions = in, []int32{0}
					rg.Topics = append(rg.Topics, rgt)
					req.Groups = append(req.Groups, rg)
					resp := send(groupNode, req).(*kmsg.OffsetFetchResponse)
					var p int16
					var off int64
					if len(resp.Groups) == 1 && len(resp.Groups[0].Topics) == 1 { // v8+
						g := resp.Groups[0]
						if g.ErrorCode != 0 {
							t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(g.ErrorCode))
						}
						off, p = g.Topics[0].Partitions[0].Offset, g.Topics[0].Partitions[0].ErrorCode
					} else if len(resp.Topics) == 1 {
						off, p = resp.Topics[0].Partitions[0].Offset, resp.Topics[0].Partitions[0].ErrorCode
					} else {
						t.Fatalf("OffsetFetch answer %+v", resp)
					}
					if stable {
						code = p
					} else {
						if p != 0 {
							t.Fatalf("OffsetFetch: %v", kerr.ErrorForCode(p))
						}
						offset = off
					}
				}
				return offset, code
			}

			run := func(value string, offset int64, commit bool) {
				t.Helper()
				cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				if err := prod.BeginTransaction(); err != nil {
					t.Fatal(err)
				}
				for i := range 2 {
					if err := prod.ProduceSync(cctx, &kgo.Record{Value: []byte(value + "-" + strconv.Itoa(i))}).FirstErr(); err != nil {
						t.Fatalf("produce %s: %v", value, err)
					}
				}
				pid, epoch, err := prod.ProducerID(cctx)
				if err != nil {
					t.Fatal(err)
				}
				if flow.tv1 {
					ao := kmsg.NewPtrAddOffsetsToTxnRequest()
					ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = id, pid, epoch, group
					if code := send(txnNode, ao).(*kmsg.AddOffsetsToTxnResponse).ErrorCode; code != 0 {
						t.Fatalf("AddOffsetsToTxn: %v", kerr.ErrorForCode(code))
					}
				}
				toc := kmsg.NewPtrTxnOffsetCommitRequest()
				toc.TransactionalID, toc.Group, toc.ProducerID, toc.ProducerEpoch = id, group, pid, epoch
				tt := kmsg.NewTxnOffsetCommitRequestTopic()
				tt.Topic = in
				tp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
				tp.Partition, tp.Offset = 0, offset
				tt.Partitions = append(tt.Partitions, tp)
				toc.Topics = append(toc.Topics, tt)
				// Asked of another broker, it is not the group's coordinator.
				if code := send(txnNode, toc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != kerr.NotCoordinator.Code {
					t.Fatalf("TxnOffsetCommit at the transaction coordinator: %v", kerr.ErrorForCode(code))
				}
				if code := send(groupNode, toc).(*kmsg.TxnOffsetCommitResponse).Topics[0].Partitions[0].ErrorCode; code != 0 {
					t.Fatalf("TxnOffsetCommit at the group coordinator: %v", kerr.ErrorForCode(code))
				}
				if _, code := fetchOffset(); code != kerr.UnstableOffsetCommit.Code {
					t.Fatalf("OffsetFetch require_stable in the transaction: %v", kerr.ErrorForCode(code))
				}
				if err := prod.EndTransaction(cctx, kgo.TransactionEndTry(commit)); err != nil {
					t.Fatalf("end transaction (commit %v): %v", commit, err)
				}
			}
			waitOffset := func(want int64) {
				t.Helper()
				waitFor(t, 10*time.Second, fmt.Sprintf("offset %d, stable", want), func() error {
					if off, code := fetchOffset(); off != want || code != 0 {
						return fmt.Errorf("offset %d, require_stable: %v", off, kerr.ErrorForCode(code))
					}
					return nil
				})
			}

			run("first", 10, true)
			waitOffset(10)
			if got := consumeValues(t, c.nodes[0], out, 1, 2, true); !slices.Equal(got, []string{"first-0", "first-1"}) {
				t.Fatalf("read_committed after the first commit: %v", got)
			}

			run("aborted", 20, false)
			if off, _ := fetchOffset(); off != 10 {
				t.Fatalf("offset %d after an aborted transaction", off)
			}
			waitOffset(10) // stable again: the abort dropped the pending offset

			// Pending offsets are invisible until the marker: checked
			// between TxnOffsetCommit and EndTxn by run, and here the
			// offset of the last one shows only after its commit.
			run("second", 30, true)
			waitOffset(30)
			want := []string{"first-0", "first-1", "second-0", "second-1"}
			if got := consumeValues(t, c.nodes[0], out, 1, 4, true); !slices.Equal(got, want) {
				t.Fatalf("read_committed: %v, want %v", got, want)
			}
		})
	}
}
