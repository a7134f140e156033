package cluster

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// produceValue sends one Produce of a single record holding value to
// node i and returns the partition's error code (REQUEST_TIMED_OUT when
// no answer came within timeout and a second).
func produceValue(t *testing.T, c *testcluster.Cluster, i int, topic string, acks int16, timeout time.Duration, value string) int16 {
	t.Helper()
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli(), Records: []record.Record{{Value: []byte(value)}}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), timeout+time.Second)
	defer cancel()
	resp, err := c.Request(rctx, i, req)
	if err != nil {
		return kerr.RequestTimedOut.Code
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// TestIsolatedLeaderCannotAckAllAndTruncates: RF 3, min.insync.replicas
// 2. The partition's leader (not the controller) is cut off from the
// other brokers; clients still reach it. Its acks=all writes are appended
// to its own log but never acknowledged: the followers cannot fetch them
// and it cannot shrink the ISR without the controller, so each one times
// out. The majority fences it and elects an in-sync follower, which takes
// acks=all writes. Healed, the old leader learns the new epoch, truncates
// its unacknowledged tail and copies the new leader: every replica holds
// the same log byte for byte, every acknowledged record once and in order,
// none of the isolated leader's writes.
func TestIsolatedLeaderCannotAckAllAndTruncates(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	v := victim(t, c)
	oldID := c.Node(v).ID()
	replicas := []int32{oldID}
	for j := range c.N() {
		if j != v {
			replicas = append(replicas, c.Node(j).ID())
		}
	}
	const topic = "isolate-acks-all"
	tcCreateAssigned(t, c, topic, replicas, map[string]string{"min.insync.replicas": "2"})
	if l := c.WaitPartitionLeader(topic, 0); l != oldID {
		t.Fatalf("leader %d, want %d", l, oldID)
	}
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if !sameSet(isr, replicas) {
			return fmt.Errorf("isr %v", isr)
		}
		return nil
	})
	var acked []string
	write := func(i int, value string) {
		t.Helper()
		if code := produceValue(t, c, i, topic, -1, 5*time.Second, value); code != 0 {
			t.Fatalf("acks=all %s at node %d: %v", value, c.Node(i).ID(), kerr.ErrorForCode(code))
		}
		acked = append(acked, value)
	}
	for i := range 3 {
		write(v, fmt.Sprintf("before-%d", i))
	}

	// Cut from the brokers, not from clients (Isolate would cut both, and
	// nothing could be sent to it).
	for j := range c.N() {
		if j != v {
			c.Cut(v, j)
		}
	}
	var lost []string
	for i := range 3 {
		val := fmt.Sprintf("isolated-%d", i)
		code := produceValue(t, c, v, topic, -1, 500*time.Millisecond, val)
		if code == 0 {
			t.Fatalf("the isolated leader acknowledged acks=all %s", val)
		}
		t.Logf("acks=all %s on the isolated leader: %v", val, kerr.ErrorForCode(code))
		lost = append(lost, val)
	}
	newID := waitOtherLeader(c, v, oldID, topic)
	newIdx := c.NodeByID(newID).Index()
	for i := range 4 {
		write(newIdx, fmt.Sprintf("after-%d", i))
	}
	// Still cut off, the old leader acknowledges nothing: its view of the
	// ISR is stale and its followers are gone.
	if code := produceValue(t, c, v, topic, -1, 300*time.Millisecond, "isolated-late"); code == 0 {
		t.Fatal("the isolated leader acknowledged acks=all after a new leader was elected")
	}
	lost = append(lost, "isolated-late")

	c.HealAll()
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if l != newID || !sameSet(isr, replicas) {
			return fmt.Errorf("leader %d isr %v, want %d with every replica", l, isr, newID)
		}
		return nil
	})
	waitLogsEqual(c, topic, newID, replicas)
	b, err := segmentBytes(c, oldID, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	err = record.Split(b, func(h record.Header, raw []byte) error {
		return record.Records(raw, func(r *record.Record) error {
			got = append(got, string(r.Value))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, acked) {
		t.Fatalf("the old leader's log holds %v, want the acknowledged %v (and none of %v)", got, acked, lost)
	}
}
