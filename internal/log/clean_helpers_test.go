package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/record"
)

// kv is one record for keyedBatch; a nil val is a tombstone.
type kv struct {
	key string
	val *string
}

func put(k, v string) kv { return kv{k, &v} }
func del(k string) kv    { return kv{key: k} }

// keyedBatch builds a batch of records with the given keys and values,
// timestamps ts, ts+1, ... and the codec/flags in attrs.
func keyedBatch(t testing.TB, ts int64, attrs int16, pid int64, kvs ...kv) []byte {
	t.Helper()
	recs := make([]record.Record, len(kvs))
	for i, x := range kvs {
		recs[i] = record.Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte(x.key)}
		if x.val != nil {
			recs[i].Value = []byte(*x.val)
		}
	}
	seq := int32(-1)
	if pid >= 0 {
		seq = 0
	}
	b, err := record.Build(record.BatchSpec{ProducerID: pid, BaseSequence: seq, Attributes: attrs,
		BaseTimestamp: ts, PartitionLeaderEpoch: -1, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// controlBatch is a transaction marker of pid (commit or abort).
func controlBatch(t testing.TB, ts int64, pid int64, commit bool) []byte {
	t.Helper()
	typ := byte(0)
	if commit {
		typ = 1
	}
	b, err := record.Build(record.BatchSpec{ProducerID: pid, Attributes: record.ControlBit | record.TransactionalBit,
		BaseTimestamp: ts, PartitionLeaderEpoch: -1,
		Records: []record.Record{{Key: []byte{0, 0, 0, typ}, Value: []byte{0, 0, 0, 0, 0, 0}}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rec is a record as read back.
type rec struct {
	off      int64
	key, val string
	tomb     bool
	ts       int64
}

func (r rec) String() string {
	if r.tomb {
		return fmt.Sprintf("%d:%s=<nil>", r.off, r.key)
	}
	return fmt.Sprintf("%d:%s=%s", r.off, r.key, r.val)
}

// readRecords reads the whole log and decodes every data record, checking
// CRCs and that offsets strictly increase.
func readRecords(t testing.TB, l *Log) []rec {
	t.Helper()
	var out []rec
	last := int64(-1)
	b := readAll(t, l, l.StartOffset())
	for _, h := range headers(t, b) {
		if h.BaseOffset <= last {
			t.Fatalf("batch at %d after offset %d", h.BaseOffset, last)
		}
		last = h.LastOffset()
	}
	err := record.Split(b, func(h record.Header, batch []byte) error {
		if h.IsControl() {
			return nil
		}
		return record.Records(batch, func(r *record.Record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if off > h.LastOffset() {
				t.Fatalf("record %d past its batch's last offset %d", off, h.LastOffset())
			}
			out = append(out, rec{off: off, key: string(r.Key), val: string(r.Value), tomb: r.Value == nil,
				ts: h.BaseTimestamp + r.TimestampDelta})
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// latestPerKey is what a fully compacted list keeps: the last record of
// each key, in offset order.
func latestPerKey(rs []rec) []rec {
	last := map[string]int64{}
	for _, r := range rs {
		last[r.key] = r.off
	}
	var out []rec
	for _, r := range rs {
		if last[r.key] == r.off {
			out = append(out, r)
		}
	}
	return out
}

func sameRecs(t testing.TB, what string, got, want []rec) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%s:\n got  %v\n want %v", what, got, want)
	}
}

// smallSegments makes every batch of the tests below its own segment.
func smallSegments() Config {
	c := testConfig()
	c.SegmentBytes = 100
	c.IndexIntervalBytes = 1
	return c
}

func cleanOpts(l *Log, now time.Time) CleanOptions {
	return CleanOptions{Now: now, Limit: l.EndOffset(), DeleteRetentionMs: 1000}
}

func mustClean(t testing.TB, l *Log, o CleanOptions) CleanResult {
	t.Helper()
	res, err := l.Clean(o)
	if err != nil {
		t.Fatalf("Clean: %v", err)
	}
	return res
}

func reopen(t testing.TB, l *Log, cfg Config) *Log {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, _ := mustOpen(t, l.Dir(), cfg)
	t.Cleanup(func() { l2.Close() })
	return l2
}

func copyDir(t testing.TB, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		copyFile(t, filepath.Join(from, e.Name()), filepath.Join(to, e.Name()))
	}
}

func copyFile(t testing.TB, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
