package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestIdempotentRetryAfterFailover: an idempotent batch acknowledged
// (acks=all) by a leader that then crashes, sent again unchanged to the new
// leader (a producer retrying a batch whose answer it lost), is answered
// as Kafka answers a duplicate: no error and the ORIGINAL base offset,
// with one copy in the log. The new leader learned the producer's
// sequences as a follower: the next sequence appends after it, and a gap
// gets OUT_OF_ORDER_SEQUENCE_NUMBER.
func TestIdempotentRetryAfterFailover(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "idem-retry"
	v, vid, _ := createLedByVictim(t, c, topic, map[string]string{"min.insync.replicas": "2"})
	produceTo(t, producer(t, c), topic, 0, values("pre", 2)...) // offsets 0-1

	ipr := kmsg.NewPtrInitProducerIDRequest()
	ipr.ProducerID, ipr.ProducerEpoch = -1, -1
	resp, err := c.Request(ctx(t), (v+1)%3, ipr)
	if err != nil {
		t.Fatal(err)
	}
	ir := resp.(*kmsg.InitProducerIDResponse)
	if ir.ErrorCode != 0 {
		t.Fatalf("InitProducerId: %v", kerr.ErrorForCode(ir.ErrorCode))
	}
	pid, epoch := ir.ProducerID, ir.ProducerEpoch
	first := idempotentBatch(t, pid, epoch, 0, "idem", 3)

	code, base := produceRaw(t, c, v, topic, first)
	if code != 0 || base != 2 {
		t.Fatalf("first send: %v at %d, want offset 2", kerr.ErrorForCode(code), base)
	}
	// acks=all answered, so the whole ISR has the batch: the crash loses
	// nothing.
	c.Crash(v)
	n := c.NodeByID(waitOtherLeader(c, v, vid, topic)).Index()
	c.WaitFor("the new leader to take the retried batch", func() error {
		code, base = produceRaw(t, c, n, topic, first)
		if code != 0 {
			return kerr.ErrorForCode(code)
		}
		return nil
	})
	if base != 2 {
		t.Fatalf("retried batch answered with base offset %d, want the original 2", base)
	}
	if code, base := produceRaw(t, c, n, topic, idempotentBatch(t, pid, epoch, 3, "next", 2)); code != 0 || base != 5 {
		t.Fatalf("next sequence: %v at %d, want offset 5", kerr.ErrorForCode(code), base)
	}
	if code, _ := produceRaw(t, c, n, topic, idempotentBatch(t, pid, epoch, 10, "gap", 1)); code != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("sequence 10 after 4: %v, want OUT_OF_ORDER_SEQUENCE_NUMBER", kerr.ErrorForCode(code))
	}
	if end := leaderEnd(t, c, n, topic); end != 7 {
		t.Fatalf("log end %d, want 7 (one copy of the retried batch)", end)
	}
	got := consumePartition(t, c, topic, 0, 7)
	want := append(append(values("pre", 2), values("idem", 3)...), values("next", 2)...)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("log: %v, want %v", got, want)
	}
}

// idempotentBatch is a batch of n records "prefix-i" from producer pid at
// epoch, starting at sequence seq.
func idempotentBatch(t *testing.T, pid int64, epoch int16, seq int32, prefix string, n int) []byte {
	t.Helper()
	var recs []record.Record
	for i, v := range values(prefix, n) {
		recs = append(recs, record.Record{OffsetDelta: int32(i), Value: []byte(v)})
	}
	b, err := record.Build(record.BatchSpec{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		BaseTimestamp: time.Now().UnixMilli(), Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// produceRaw sends batch to topic-0 at node i with acks=all and returns
// the partition's error code and base offset (-2 when the request failed).
func produceRaw(t *testing.T, c *testcluster.Cluster, i int, topic string, batch []byte) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := c.Request(rctx, i, req)
	if err != nil {
		return -2, -1
	}
	p := resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}
