package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const (
	tsLatest   = -1
	tsEarliest = -2
	tsMax      = -3 // KIP-734, ListOffsets v7+
)

// listOffset issues ListOffsets (newest version both sides support) for
// one partition and returns offset, timestamp and the error code.
func listOffset(t *testing.T, cl *kgo.Client, topic string, partition int32, ts int64) (offset, timestamp int64, code int16) {
	t.Helper()
	req := kmsg.NewPtrListOffsetsRequest()
	req.ReplicaID = -1
	rt := kmsg.NewListOffsetsRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewListOffsetsRequestTopicPartition()
	rp.Partition, rp.Timestamp, rp.CurrentLeaderEpoch = partition, ts, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 15*time.Second), req)
	if err != nil {
		t.Fatalf("list offsets %s/%d ts=%d: %v", topic, partition, ts, err)
	}
	if ts == tsMax && req.GetVersion() < 7 {
		t.Fatalf("ListOffsets for max timestamp went out as v%d, need v7+", req.GetVersion())
	}
	resp := kresp.(*kmsg.ListOffsetsResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("list offsets response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	return p.Offset, p.Timestamp, p.ErrorCode
}

// TestListOffsets covers earliest, latest, by-timestamp and max-timestamp
// lookups on records produced with explicit timestamps.
func TestListOffsets(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))

	const base = int64(1_700_000_000_000)
	// Empty partition: earliest = latest = 0, max timestamp finds nothing.
	if off, _, code := listOffset(t, cl, topic, 0, tsEarliest); code != 0 || off != 0 {
		t.Errorf("empty: earliest = %d (err %v), want 0", off, kerr.ErrorForCode(code))
	}
	if off, _, code := listOffset(t, cl, topic, 0, tsLatest); code != 0 || off != 0 {
		t.Errorf("empty: latest = %d (err %v), want 0", off, kerr.ErrorForCode(code))
	}
	if off, ts, code := listOffset(t, cl, topic, 0, base); code != 0 || off != -1 || ts != -1 {
		t.Errorf("empty: by timestamp = offset %d ts %d (err %v), want -1/-1", off, ts, kerr.ErrorForCode(code))
	}

	// Offsets 0..9 at base+0s..base+9s: 0..4 in one batch, 5..9 in single
	// record batches. Offset 10 has a timestamp below the maximum (offset 7
	// is re-stamped far ahead) to make max-timestamp differ from latest.
	stamp := func(i int) int64 {
		if i == 7 {
			return base + 1_000_000
		}
		return base + int64(i)*1000
	}
	var first []*kgo.Record
	for i := 0; i < 5; i++ {
		first = append(first, &kgo.Record{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(stamp(i))})
	}
	produceSync(t, cl, first...)
	for i := 5; i < 11; i++ {
		produceSync(t, cl, &kgo.Record{Value: []byte{byte(i)}, Timestamp: time.UnixMilli(stamp(i))})
	}

	cases := []struct {
		name       string
		ts         int64
		wantOffset int64
		wantTs     int64 // checked when not 0
	}{
		{"earliest", tsEarliest, 0, 0},
		{"latest", tsLatest, 11, 0},
		{"before first", base - 5000, 0, base},
		{"exact first", base, 0, base},
		{"between 1 and 2 (inside a batch)", base + 1500, 2, base + 2000},
		{"exact 4", base + 4000, 4, base + 4000},
		{"between 4 and 5 (across batches)", base + 4001, 5, base + 5000},
		{"between 6 and 8: offset 7 is later than both", base + 6500, 7, base + 1_000_000},
		{"exact 10 (lower than 7's)", base + 10_000, 7, base + 1_000_000},
		{"past every record", base + 1_000_001, -1, -1},
		{"max timestamp", tsMax, 7, base + 1_000_000},
	}
	for _, c := range cases {
		off, ts, code := listOffset(t, cl, topic, 0, c.ts)
		if code != 0 {
			t.Errorf("%s (ts=%d): error %v", c.name, c.ts, kerr.ErrorForCode(code))
			continue
		}
		if off != c.wantOffset || (c.wantTs != 0 && ts != c.wantTs) {
			t.Errorf("%s (ts=%d): got offset %d ts %d, want offset %d ts %d", c.name, c.ts, off, ts, c.wantOffset, c.wantTs)
		}
	}

	// Unknown partition and topic.
	if _, _, code := listOffset(t, cl, topic, 5, tsLatest); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("partition 5 of a 1-partition topic: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	if _, _, code := listOffset(t, cl, topicName(t, "missing"), 0, tsLatest); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("missing topic: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
}
