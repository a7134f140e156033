package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestLogAppendTime: on a topic with message.timestamp.type=LogAppendTime
// the broker stamps batches with its clock: the produce response carries
// that time, fetched batches are marked LogAppendTime with it as max
// timestamp, consumers see it, and timestamp lookups use it. A CreateTime
// topic keeps the producer's timestamp and answers LogAppendTime -1.
func TestLogAppendTime(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	lat, ct := topicName(t, "append"), topicName(t, "create")
	createTopic(t, adm, lat, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime")})
	createTopic(t, adm, ct, 1, nil)
	cl := newClient(t, tb.Addr())

	const producerTS = int64(1_000_000) // 1970: far from the broker's clock
	batch := buildBatch(producerTS, []rawRecord{{offsetDelta: 0, value: []byte("a")}, {offsetDelta: 1, tsDelta: 5, value: []byte("b")}})

	before := time.Now().Add(-time.Second).UnixMilli()
	pr := produceRaw(t, cl, lat, 0, batch)
	after := time.Now().Add(time.Second).UnixMilli()
	if pr.ErrorCode != 0 {
		t.Fatalf("produce to LogAppendTime topic: %v", kerr.ErrorForCode(pr.ErrorCode))
	}
	appendTS := pr.LogAppendTime
	if appendTS < before || appendTS > after {
		t.Fatalf("produce response LogAppendTime = %d, want the broker's clock (%d..%d)", appendTS, before, after)
	}

	bs := parseBatches(t, fetchPartition(t, cl, fetchReq(lat, topicID(t, cl, lat), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches)
	if len(bs) != 1 {
		t.Fatalf("fetched %d batches, want 1", len(bs))
	}
	if bs[0].Attributes&0x08 == 0 || bs[0].MaxTimestamp != appendTS {
		t.Errorf("stored batch: attributes %#x, max timestamp %d; want the LogAppendTime bit (0x08) and %d", bs[0].Attributes, bs[0].MaxTimestamp, appendTS)
	}

	cons := newClient(t, tb.Addr(), kgo.ConsumeTopics(lat), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(time.Second))
	ctx := testCtx(t, 20*time.Second)
	var recs []*kgo.Record
	for len(recs) < 2 && ctx.Err() == nil {
		fs := cons.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("consume: %v", errs[0].Err)
		}
		recs = append(recs, fs.Records()...)
	}
	if len(recs) != 2 {
		t.Fatalf("consumed %d records, want 2", len(recs))
	}
	for _, r := range recs {
		if r.Timestamp.UnixMilli() != appendTS || r.Attrs.TimestampType() != 1 {
			t.Errorf("consumed %q: timestamp %d type %d, want %d type 1 (LogAppendTime)", r.Value, r.Timestamp.UnixMilli(), r.Attrs.TimestampType(), appendTS)
		}
	}

	// 2_000_000 is after the producer's timestamps but before the append
	// time: by LogAppendTime the first record qualifies.
	if off, ts, code := listOffset(t, cl, lat, 0, 2_000_000); code != 0 || off != 0 || ts != appendTS {
		t.Errorf("LogAppendTime topic, offset for ts 2000000: %d@%d (err %d), want 0@%d", off, ts, code, appendTS)
	}
	if off, ts, code := listOffset(t, cl, lat, 0, tsMax); code != 0 || ts != appendTS || off < 0 || off > 1 {
		t.Errorf("LogAppendTime topic, max timestamp: %d@%d (err %d), want offset 0 or 1 at %d", off, ts, code, appendTS)
	}

	// CreateTime keeps the producer's timestamps.
	pr = produceRaw(t, cl, ct, 0, batch)
	if pr.ErrorCode != 0 || pr.LogAppendTime != -1 {
		t.Errorf("produce to CreateTime topic: error %v, LogAppendTime %d; want none, -1", kerr.ErrorForCode(pr.ErrorCode), pr.LogAppendTime)
	}
	if off, ts, code := listOffset(t, cl, ct, 0, 2_000_000); code != 0 || off != -1 || ts != -1 {
		t.Errorf("CreateTime topic, offset for ts 2000000: %d@%d (err %d), want -1@-1", off, ts, code)
	}
	if off, ts, code := listOffset(t, cl, ct, 0, producerTS+1); code != 0 || off != 1 || ts != producerTS+5 {
		t.Errorf("CreateTime topic, offset for ts %d: %d@%d (err %d), want 1@%d", producerTS+1, off, ts, code, producerTS+5)
	}
}
