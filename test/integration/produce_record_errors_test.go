package integration

import (
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// produceRecordErrors sends batch to partition 0 of topic at a Produce
// version over rc and returns the partition's answer.
func produceRecordErrors(t *testing.T, rc *rawConn, corr int32, version int16, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	resp := rc.roundTrip(corr, produceRequest(version, topic, batch, 10000)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// recordErrorIndexes lists the batch indexes of a partition's record
// errors, failing on one without a message.
func recordErrorIndexes(t *testing.T, p kmsg.ProduceResponseTopicPartition) []int32 {
	t.Helper()
	var out []int32
	for _, e := range p.ErrorRecords {
		if e.ErrorMessage == nil || *e.ErrorMessage == "" {
			t.Errorf("record error %d has no message", e.RelativeOffset)
		}
		out = append(out, e.RelativeOffset)
	}
	return out
}

func sameIndexes(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestProduceRecordErrors (KIP-467): a batch with some invalid records is
// refused whole, and from Produce v8 the answer lists each failing record
// (its index in the batch and why) in RecordErrors, with an ErrorMessage:
// keyless records on a compacted topic (INVALID_RECORD), CreateTime
// timestamps outside message.timestamp.before/after.max.ms
// (INVALID_TIMESTAMP, also when the batch header understates its
// MaxTimestamp), a record's key checked before its timestamp. Nothing of a
// refused batch is written; LogAppendTime topics take any timestamp.
func TestProduceRecordErrors(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	cl := newClient(t, tb.Addr())
	compacted, timed, both, appendTime := topicName(t, "compacted"), topicName(t, "timed"), topicName(t, "both"), topicName(t, "append")
	minute := kadm.StringPtr("60000")
	createTopic(t, adm, compacted, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")})
	createTopic(t, adm, timed, 1, map[string]*string{"message.timestamp.before.max.ms": minute, "message.timestamp.after.max.ms": minute})
	createTopic(t, adm, both, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact,delete"),
		"message.timestamp.after.max.ms": minute})
	createTopic(t, adm, appendTime, 1, map[string]*string{"message.timestamp.type": kadm.StringPtr("LogAppendTime"),
		"message.timestamp.after.max.ms": minute, "message.timestamp.before.max.ms": minute})
	rc := dialRaw(t, tb.Addr())
	corr := int32(0)
	next := func() int32 { corr++; return corr }
	now := time.Now().UnixMilli()
	hour := time.Hour.Milliseconds()
	k := []byte("k")
	end := func(topic string) int64 {
		off, _, code := listOffset(t, cl, topic, 0, tsLatest)
		if code != 0 {
			t.Fatalf("list offsets: %v", kerr.ErrorForCode(code))
		}
		return off
	}

	// Records 1 and 3 of four have no key.
	keyless := buildBatch(now, []rawRecord{
		{offsetDelta: 0, key: k, value: []byte("a")},
		{offsetDelta: 1, value: []byte("b")},
		{offsetDelta: 2, key: k, value: []byte("c")},
		{offsetDelta: 3, value: []byte("d")},
	})
	p := produceRecordErrors(t, rc, next(), 9, compacted, keyless)
	if p.ErrorCode != kerr.InvalidRecord.Code || !sameIndexes(recordErrorIndexes(t, p), []int32{1, 3}) {
		t.Errorf("keyless records on a compacted topic: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	if p.ErrorMessage == nil || !strings.Contains(*p.ErrorMessage, "2 record") {
		t.Errorf("ErrorMessage %v, want one counting 2 records", p.ErrorMessage)
	}
	if msg := p.ErrorRecords[0].ErrorMessage; msg == nil || !strings.Contains(*msg, "without key") {
		t.Errorf("record error message %v", msg)
	}
	// Before KIP-467 (v7) the code alone.
	if p := produceRecordErrors(t, rc, next(), 7, compacted, keyless); p.ErrorCode != kerr.InvalidRecord.Code || len(p.ErrorRecords) != 0 {
		t.Errorf("Produce v7: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	if got := end(compacted); got != 0 {
		t.Errorf("refused batches wrote %d records", got)
	}

	// Record 1 an hour ahead, record 2 an hour behind: out of a minute's range.
	skewed := buildBatch(now, []rawRecord{
		{offsetDelta: 0, value: []byte("a")},
		{offsetDelta: 1, tsDelta: hour, value: []byte("b")},
		{offsetDelta: 2, tsDelta: -hour, value: []byte("c")},
	})
	p = produceRecordErrors(t, rc, next(), 12, timed, skewed)
	if p.ErrorCode != kerr.InvalidTimestamp.Code || !sameIndexes(recordErrorIndexes(t, p), []int32{1, 2}) {
		t.Errorf("skewed timestamps: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	// A header that claims MaxTimestamp = the first record's changes nothing.
	lying := buildBatch(now, []rawRecord{{offsetDelta: 0, value: []byte("a")}, {offsetDelta: 1, tsDelta: hour, value: []byte("b")}})
	binary.BigEndian.PutUint64(lying[35:43], uint64(now))
	setBatchCRC(lying)
	p = produceRecordErrors(t, rc, next(), 12, timed, lying)
	if p.ErrorCode != kerr.InvalidTimestamp.Code || !sameIndexes(recordErrorIndexes(t, p), []int32{1}) {
		t.Errorf("understated MaxTimestamp: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	if got := end(timed); got != 0 {
		t.Errorf("refused batches wrote %d records", got)
	}
	// A record without a timestamp (-1) is not range-checked, as in
	// Kafka's validator.
	untimed := buildBatch(-1, []rawRecord{{offsetDelta: 0, value: []byte("no time")}})
	if p := produceRecordErrors(t, rc, next(), 12, timed, untimed); p.ErrorCode != 0 {
		t.Errorf("a record without a timestamp: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	if got := end(timed); got != 1 {
		t.Errorf("the record without a timestamp: log end %d, want 1", got)
	}
	ok := buildBatch(now, []rawRecord{{offsetDelta: 0, value: []byte("a")}, {offsetDelta: 1, tsDelta: 1000, value: []byte("b")}})
	if p := produceRecordErrors(t, rc, next(), 12, timed, ok); p.ErrorCode != 0 {
		t.Errorf("timestamps in range: %v", kerr.ErrorForCode(p.ErrorCode))
	}

	// Record 0 keyless and late, record 1 keyed and late, record 2 fine:
	// one error each (the key first), and the code is INVALID_TIMESTAMP.
	mixed := buildBatch(now, []rawRecord{
		{offsetDelta: 0, tsDelta: hour, value: []byte("a")},
		{offsetDelta: 1, tsDelta: hour, key: k, value: []byte("b")},
		{offsetDelta: 2, key: k, value: []byte("c")},
	})
	p = produceRecordErrors(t, rc, next(), 12, both, mixed)
	if p.ErrorCode != kerr.InvalidTimestamp.Code || !sameIndexes(recordErrorIndexes(t, p), []int32{0, 1}) {
		t.Fatalf("mixed: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
	if m0, m1 := *p.ErrorRecords[0].ErrorMessage, *p.ErrorRecords[1].ErrorMessage; !strings.Contains(m0, "without key") || !strings.Contains(m1, "Timestamp") {
		t.Errorf("mixed: record errors %q, %q", m0, m1)
	}

	// LogAppendTime: the broker's time replaces the records', no check.
	if p := produceRecordErrors(t, rc, next(), 12, appendTime, skewed); p.ErrorCode != 0 || len(p.ErrorRecords) != 0 {
		t.Errorf("LogAppendTime topic: %v, record errors %+v", kerr.ErrorForCode(p.ErrorCode), p.ErrorRecords)
	}
}

// TestProduceTimestampDifferenceFallback: the deprecated
// message.timestamp.difference.max.ms limits a side whose
// message.timestamp.before.max.ms or .after.max.ms is unlimited, as Kafka
// 3.x's LogConfig does; a side with a bound keeps it. (Kafka 4's default
// after.max.ms is an hour, so the fallback reaches that side only when it
// is set to Long.MAX_VALUE, Kafka 3's default.)
func TestProduceTimestampDifferenceFallback(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	minute, twoHours := kadm.StringPtr("60000"), kadm.StringPtr("7200000")
	onlyDiff, afterSet := topicName(t, "diff"), topicName(t, "after")
	createTopic(t, adm, onlyDiff, 1, map[string]*string{"message.timestamp.difference.max.ms": minute,
		"message.timestamp.after.max.ms": kadm.StringPtr("9223372036854775807")})
	createTopic(t, adm, afterSet, 1, map[string]*string{"message.timestamp.difference.max.ms": minute,
		"message.timestamp.after.max.ms": twoHours})
	rc := dialRaw(t, tb.Addr())
	now := time.Now().UnixMilli()
	hour := time.Hour.Milliseconds()
	ahead := buildBatch(now+hour, []rawRecord{{offsetDelta: 0, value: []byte("ahead")}})
	behind := buildBatch(now-hour, []rawRecord{{offsetDelta: 0, value: []byte("behind")}})
	inRange := buildBatch(now, []rawRecord{{offsetDelta: 0, value: []byte("now")}})

	for _, c := range []struct {
		topic, what string
		batch       []byte
		want        int16
	}{
		{onlyDiff, "an hour ahead (after.max.ms unlimited: the difference applies)", ahead, kerr.InvalidTimestamp.Code},
		{onlyDiff, "an hour behind (before.max.ms default, unlimited)", behind, kerr.InvalidTimestamp.Code},
		{onlyDiff, "now", inRange, 0},
		{afterSet, "an hour ahead (after.max.ms two hours)", ahead, 0},
		{afterSet, "an hour behind (before.max.ms default: the difference applies)", behind, kerr.InvalidTimestamp.Code},
	} {
		p := produceRecordErrors(t, rc, int32(len(c.what)), 12, c.topic, c.batch)
		if p.ErrorCode != c.want {
			t.Errorf("%s: %s: %v, want %v", c.topic, c.what, kerr.ErrorForCode(p.ErrorCode), kerr.ErrorForCode(c.want))
		}
	}
}
