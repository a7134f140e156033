package integration

import (
	"bytes"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestFetchLongPoll: a fetch with MaxWait 2s and MinBytes 1 on an empty
// partition is parked, and answered with the records produced meanwhile
// from another goroutine. A fetch nobody produces to returns empty, and
// not before its MaxWait.
func TestFetchLongPoll(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	id := topicID(t, cl, topic)

	// Nothing produced: MinBytes is never met, so the broker waits out
	// MaxWait and answers without records or error.
	rc := dialRaw(t, tb.Addr())
	req := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 300)
	req.SetVersion(15)
	start := time.Now()
	resp := rc.roundTrip(1, req).(*kmsg.FetchResponse)
	if waited := time.Since(start); waited < 250*time.Millisecond {
		t.Errorf("empty long poll answered after %v, before MaxWait 300ms", waited)
	}
	if p := onlyPartition(t, resp); p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 0 {
		t.Errorf("empty long poll: error %v, %d record bytes, HWM %d; want none, 0, 0", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
	}

	// The request is on the wire before the produce starts.
	req = fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 2000)
	req.SetVersion(15)
	rc.send(2, req)
	produced := make(chan error, 1)
	go func() {
		ctx := testCtx(t, 10*time.Second)
		produced <- cl.ProduceSync(ctx, &kgo.Record{Value: []byte("wake up")}).FirstErr()
	}()
	resp = rc.recv(2, req).(*kmsg.FetchResponse)
	if err := <-produced; err != nil {
		t.Fatalf("produce: %v", err)
	}
	p := onlyPartition(t, resp)
	if p.ErrorCode != 0 {
		t.Fatalf("long poll: error %v", kerr.ErrorForCode(p.ErrorCode))
	}
	batches := parseBatches(t, p.RecordBatches)
	if len(batches) == 0 {
		t.Fatalf("long poll returned no records (HWM %d): it did not wake up on the produce within MaxWait 2s", p.HighWatermark)
	}
	recs := batchRecords(t, batches[0])
	if batches[0].FirstOffset != 0 || len(recs) != 1 || string(recs[0].Value) != "wake up" {
		t.Errorf("long poll returned batch at %d with %d records, want the produced record at 0", batches[0].FirstOffset, len(recs))
	}
}

func onlyPartition(t *testing.T, resp *kmsg.FetchResponse) kmsg.FetchResponseTopicPartition {
	t.Helper()
	if resp.ErrorCode != 0 {
		t.Fatalf("fetch: top-level error %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// TestFetchOffsetOutOfRange: past the log end offset is
// OFFSET_OUT_OF_RANGE; exactly at it is an empty, successful fetch.
func TestFetchOffsetOutOfRange(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("a"), kgo.StringRecord("b"), kgo.StringRecord("c"))
	id := topicID(t, cl, topic)

	p := fetchPartition(t, cl, fetchReq(topic, id, 0, 100, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at 100 (end 3): error %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(p.ErrorCode))
	}
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, 4, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at 4 (end 3): error %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(p.ErrorCode))
	}
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, -5, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("fetch at -5: error %v, want OFFSET_OUT_OF_RANGE", kerr.ErrorForCode(p.ErrorCode))
	}
	p = fetchPartition(t, cl, fetchReq(topic, id, 3, 0, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("fetch partition 3 of a 1-partition topic: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(p.ErrorCode))
	}
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, 3, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != 0 || len(p.RecordBatches) != 0 || p.HighWatermark != 3 {
		t.Errorf("fetch at the end (3): error %v, %d bytes, HWM %d; want none, 0, 3", kerr.ErrorForCode(p.ErrorCode), len(p.RecordBatches), p.HighWatermark)
	}
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, 1, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != 0 || p.HighWatermark != 3 || p.LogStartOffset != 0 {
		t.Fatalf("fetch at 1: error %v, HWM %d, log start %d; want none, 3, 0", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark, p.LogStartOffset)
	}
	var values []string
	for _, b := range parseBatches(t, p.RecordBatches) {
		for _, r := range batchRecords(t, b) {
			if off := b.FirstOffset + int64(r.OffsetDelta); off >= 1 {
				values = append(values, string(r.Value))
			}
		}
	}
	if strings.Join(values, ",") != "b,c" {
		t.Errorf("fetch at 1 returned records %v at offsets >= 1, want [b c]", values)
	}
}

// TestFetchMaxBytes: partition and response byte limits are respected,
// except that the first batch is always returned whole (KIP-74).
func TestFetchMaxBytes(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	id := topicID(t, cl, topic)

	// Partition 0: offset 0 is a ~5000-byte batch, 1..6 ~1000 bytes each.
	// Partition 1: 3 batches of ~1000 bytes. One batch per produce call.
	value := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b) // incompressible, though nothing is compressed here
		return b
	}
	big := value(5000)
	produceSync(t, cl, &kgo.Record{Partition: 0, Value: big})
	for i := 0; i < 6; i++ {
		produceSync(t, cl, &kgo.Record{Partition: 0, Value: value(1000)})
	}
	for i := 0; i < 3; i++ {
		produceSync(t, cl, &kgo.Record{Partition: 1, Value: value(1000)})
	}

	// KIP-74: the first batch exceeds PartitionMaxBytes and is returned.
	p := fetchPartition(t, cl, fetchReq(topic, id, 0, 0, 1000, 1<<20, 0, 0))
	bs := parseBatches(t, p.RecordBatches)
	if p.ErrorCode != 0 || len(bs) == 0 || bs[0].FirstOffset != 0 {
		t.Fatalf("partition max 1000 at offset 0: error %v, %d complete batches; want the first (5000-byte) batch", kerr.ErrorForCode(p.ErrorCode), len(bs))
	}
	if recs := batchRecords(t, bs[0]); len(recs) != 1 || !bytes.Equal(recs[0].Value, big) {
		t.Errorf("first batch does not hold the 5000-byte record")
	}
	if len(p.RecordBatches) > 12+int(bs[0].Length) {
		t.Errorf("partition max 1000: %d bytes returned, more than the oversized first batch (%d)", len(p.RecordBatches), 12+bs[0].Length)
	}

	// Same with the response limit.
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, 0, 1<<20, 100, 0, 0))
	if bs := parseBatches(t, p.RecordBatches); len(bs) == 0 || bs[0].FirstOffset != 0 {
		t.Errorf("response max 100 at offset 0: %d complete batches, want the first batch anyway", len(bs))
	} else if len(p.RecordBatches) > 12+int(bs[0].Length) {
		t.Errorf("response max 100: %d bytes, more than the oversized first batch", len(p.RecordBatches))
	}

	// Partition limit 2500 from offset 1: at most 2500 bytes, at least
	// two whole ~1070-byte batches, starting at offset 1.
	p = fetchPartition(t, cl, fetchReq(topic, id, 0, 1, 2500, 1<<20, 0, 0))
	bs = parseBatches(t, p.RecordBatches)
	if len(p.RecordBatches) > 2500 {
		t.Errorf("partition max 2500: %d bytes returned", len(p.RecordBatches))
	}
	if len(bs) < 2 || bs[0].FirstOffset != 1 {
		t.Errorf("partition max 2500 from offset 1: %d complete batches (first at %d), want >= 2 starting at 1", len(bs), firstOffset(bs))
	}

	// Response limit 2500 across both partitions: the sum respects it and
	// partition 0 (first in the request) gets data.
	req := fetchReq(topic, id, 0, 1, 1<<20, 2500, 0, 0)
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LogStartOffset = 1, 0, 1<<20, -1, -1
	req.Topics[0].Partitions = append(req.Topics[0].Partitions, rp)
	resp := fetch(t, cl, req)
	total := 0
	var p0 []kmsg.RecordBatch
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			if rp.ErrorCode != 0 {
				t.Errorf("partition %d: error %v", rp.Partition, kerr.ErrorForCode(rp.ErrorCode))
			}
			total += len(rp.RecordBatches)
			if rp.Partition == 0 {
				p0 = parseBatches(t, rp.RecordBatches)
			}
		}
	}
	if total > 2500 {
		t.Errorf("response max 2500 over 2 partitions: %d record bytes returned", total)
	}
	if len(p0) == 0 || p0[0].FirstOffset != 1 {
		t.Errorf("response max 2500: partition 0 got %d complete batches (first at %d), want data from offset 1", len(p0), firstOffset(p0))
	}
}

func firstOffset(bs []kmsg.RecordBatch) int64 {
	if len(bs) == 0 {
		return -1
	}
	return bs[0].FirstOffset
}

// TestFetchTopicIDs: Fetch v13+ addresses topics by ID; the response
// carries the ID; an unknown ID is UNKNOWN_TOPIC_ID.
func TestFetchTopicIDs(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("one"), kgo.StringRecord("two"))
	id := topicID(t, cl, topic)

	req := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 0, 0)
	resp := fetch(t, cl, req)
	if v := req.GetVersion(); v < 13 {
		t.Fatalf("fetch went out as v%d; the broker should allow v13+", v)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].TopicID != id {
		t.Fatalf("fetch v%d by topic ID: response topics %+v, want one with the requested ID", req.GetVersion(), resp.Topics)
	}
	var got []string
	for _, b := range parseBatches(t, onlyPartition(t, resp).RecordBatches) {
		for _, r := range batchRecords(t, b) {
			got = append(got, string(r.Value))
		}
	}
	if strings.Join(got, ",") != "one,two" {
		t.Errorf("fetch by topic ID returned %v, want [one two]", got)
	}

	// The same over a raw connection at exactly v13.
	rc := dialRaw(t, tb.Addr())
	raw := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 0, 0)
	raw.SetVersion(13)
	r13 := rc.roundTrip(5, raw).(*kmsg.FetchResponse)
	if p := onlyPartition(t, r13); p.ErrorCode != 0 || p.HighWatermark != 2 || r13.Topics[0].TopicID != id {
		t.Errorf("fetch v13: error %v, HWM %d, topic id %x; want none, 2, %x", kerr.ErrorForCode(p.ErrorCode), p.HighWatermark, r13.Topics[0].TopicID, id)
	}

	// And by name at v4 (pre-flexible) and v12 (last by-name version).
	for _, v := range []int16{4, 12} {
		byName := fetchReq(topic, [16]byte{}, 0, 0, 1<<20, 1<<20, 0, 0)
		byName.SetVersion(v)
		r := rc.roundTrip(int32(10+v), byName).(*kmsg.FetchResponse)
		p := onlyPartition(t, r)
		var vals []string
		for _, b := range parseBatches(t, p.RecordBatches) {
			for _, rec := range batchRecords(t, b) {
				vals = append(vals, string(rec.Value))
			}
		}
		if p.ErrorCode != 0 || r.Topics[0].Topic != topic || strings.Join(vals, ",") != "one,two" {
			t.Errorf("fetch v%d by name: error %v, topic %q, records %v; want none, %q, [one two]", v, kerr.ErrorForCode(p.ErrorCode), r.Topics[0].Topic, vals, topic)
		}
	}

	var unknown [16]byte
	rand.Read(unknown[:])
	p := fetchPartition(t, cl, fetchReq("", unknown, 0, 0, 1<<20, 1<<20, 0, 0))
	if p.ErrorCode != kerr.UnknownTopicID.Code {
		t.Errorf("fetch of unknown topic ID: error %v, want UNKNOWN_TOPIC_ID", kerr.ErrorForCode(p.ErrorCode))
	}
}
