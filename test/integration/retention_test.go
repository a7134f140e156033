package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRetention: segments past retention.ms (by record timestamp) or
// beyond retention.bytes are deleted: the log start offset moves forward,
// fetching below it is OFFSET_OUT_OF_RANGE, the rest stays readable, the
// end is unchanged, and (as in Kafka) size retention never leaves less
// than retention.bytes. A topic within its retention keeps everything.
//
// Records are written while retention checks are off (Kafka's default
// 5-minute interval), then the broker restarts checking every 100ms, so
// retention judges the complete logs.
func TestRetention(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	byTime, bySize, kept := topicName(t, "time"), topicName(t, "size"), topicName(t, "kept")
	withCfg := func(kv ...string) map[string]*string {
		m := map[string]*string{"segment.bytes": kadm.StringPtr("1024")}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kadm.StringPtr(kv[i+1])
		}
		return m
	}
	createTopic(t, adm, byTime, 1, withCfg("retention.ms", "60000"))
	createTopic(t, adm, bySize, 1, withCfg("retention.bytes", "2048"))
	createTopic(t, adm, kept, 1, withCfg())

	cl := newClient(t, tb.Addr(), kgo.ProducerBatchCompression(kgo.NoCompression()))
	old := time.Now().Add(-time.Hour) // older than byTime's 1 minute
	value := make([]byte, 200)
	for i := 0; i < 20; i++ {
		// One batch per call, so each topic rolls through several segments.
		produceSync(t, cl,
			&kgo.Record{Topic: byTime, Value: value, Timestamp: old},
			&kgo.Record{Topic: bySize, Value: value},
			&kgo.Record{Topic: kept, Value: value, Timestamp: old},
		)
	}

	tb.props["log.retention.check.interval.ms"] = "100"
	tb.Restart()
	cl = newClient(t, tb.Addr())
	start := func(topic string) int64 {
		off, _, code := listOffset(t, cl, topic, 0, tsEarliest)
		if code != 0 {
			t.Fatalf("earliest offset of %q: %v", topic, kerr.ErrorForCode(code))
		}
		return off
	}

	// Every record of byTime is an hour old: all of it goes, the active
	// segment included (rolled first, as Kafka does).
	waitFor(t, 15*time.Second, "time retention to delete all of "+byTime, func() error {
		if s := start(byTime); s != 20 {
			return fmt.Errorf("log start offset %d", s)
		}
		return nil
	})
	id := topicID(t, cl, byTime)
	if p := fetchPartition(t, cl, fetchReq(byTime, id, 0, 0, 1<<20, 1<<20, 0, 0)); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("%s: fetch at 0 (log start 20): error %v, want OFFSET_OUT_OF_RANGE", byTime, kerr.ErrorForCode(p.ErrorCode))
	}
	if p := fetchPartition(t, cl, fetchReq(byTime, id, 0, 20, 1<<20, 1<<20, 0, 0)); p.ErrorCode != 0 || p.LogStartOffset != 20 || p.HighWatermark != 20 {
		t.Errorf("%s: fetch at 20: error %v, log start %d, HWM %d; want none, 20, 20", byTime, kerr.ErrorForCode(p.ErrorCode), p.LogStartOffset, p.HighWatermark)
	}

	// bySize: ~20 x 270 bytes; old segments go, but never below 2048 bytes.
	waitFor(t, 15*time.Second, "size retention to delete old segments of "+bySize, func() error {
		if s := start(bySize); s == 0 {
			return fmt.Errorf("log start offset still 0")
		}
		return nil
	})
	s := start(bySize)
	id = topicID(t, cl, bySize)
	if p := fetchPartition(t, cl, fetchReq(bySize, id, 0, 0, 1<<20, 1<<20, 0, 0)); p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Errorf("%s: fetch at 0 (log start %d): error %v, want OFFSET_OUT_OF_RANGE", bySize, s, kerr.ErrorForCode(p.ErrorCode))
	}
	p := fetchPartition(t, cl, fetchReq(bySize, id, 0, s, 16<<20, 16<<20, 0, 0))
	bs := parseBatches(t, p.RecordBatches)
	if p.ErrorCode != 0 || len(bs) == 0 || bs[0].FirstOffset != s || p.HighWatermark != 20 {
		t.Fatalf("%s: fetch at log start %d: error %v, %d batches (first at %d), HWM %d", bySize, s, kerr.ErrorForCode(p.ErrorCode), len(bs), firstOffset(bs), p.HighWatermark)
	}
	if len(p.RecordBatches) < 2048 {
		t.Errorf("%s: %d bytes left from offset %d, less than retention.bytes=2048: Kafka deletes a segment only while the rest stays >= retention.bytes", bySize, len(p.RecordBatches), s)
	}

	if s := start(kept); s != 0 {
		t.Errorf("%s (7-day retention, 1-hour-old records): log start %d, want 0", kept, s)
	}
}
