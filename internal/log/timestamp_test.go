package log

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/sluice-io/sluice/internal/record"
)

type stamped struct{ off, ts int64 }

// oracleForTimestamp is the brute-force answer: the first record at or
// above start with a timestamp >= ts.
func oracleForTimestamp(recs []stamped, start, ts int64) (int64, int64, bool) {
	for _, r := range recs {
		if r.off >= start && r.ts >= ts {
			return r.off, r.ts, true
		}
	}
	return -1, -1, false
}

func oracleMax(recs []stamped, start int64) (int64, int64) {
	off, ts := int64(-1), int64(-1)
	for _, r := range recs {
		if r.off >= start && r.ts > ts {
			off, ts = r.off, r.ts
		}
	}
	return off, ts
}

func TestOffsetForTimestamp(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	l, _ := mustOpen(t, dir, cfg)
	defer func() { l.Close() }()
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("MaxTimestamp of an empty log: %d, %d", off, ts)
	}
	if _, _, ok := l.OffsetForTimestamp(0); ok {
		t.Fatal("OffsetForTimestamp found something in an empty log")
	}

	// Timestamps wander up with jitter, so neither batches nor records
	// are in timestamp order.
	rng := rand.New(rand.NewPCG(1, 2))
	var recs []stamped
	var next int64
	base := int64(1_000_000)
	for i := range 80 {
		n := 1 + rng.IntN(5)
		deltas := make([]int64, n)
		for j := range deltas {
			deltas[j] = rng.Int64N(40) - 10
		}
		bts := base + int64(i)*10 + rng.Int64N(30) - 15
		mustAppend(t, l, buildBatch(bts, deltas, 20))
		for j, d := range deltas {
			recs = append(recs, stamped{next + int64(j), bts + d})
		}
		next += int64(n)
	}
	if l.NumSegments() < 4 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	check := func(start int64) {
		t.Helper()
		for ts := base - 100; ts < base+900; ts++ {
			wo, wts, wok := oracleForTimestamp(recs, start, ts)
			off, fts, ok := l.OffsetForTimestamp(ts)
			if off != wo || fts != wts || ok != wok {
				t.Fatalf("start %d: OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d, %v", start, ts, off, fts, ok, wo, wts, wok)
			}
		}
		wo, wts := oracleMax(recs, start)
		if off, ts := l.MaxTimestamp(); off != wo || ts != wts {
			t.Fatalf("start %d: MaxTimestamp = %d, %d; want %d, %d", start, off, ts, wo, wts)
		}
	}
	check(0)
	l.Close()
	l, _ = mustOpen(t, dir, cfg) // from the files' indexes
	check(0)
	// Move the start past the max and into the middle of segments.
	mo, _ := oracleMax(recs, 0)
	starts := []int64{mo + 1, next / 2, next - 3}
	slices.Sort(starts)
	for _, s := range starts {
		if err := l.DeleteRecordsBefore(s); err != nil {
			t.Fatal(err)
		}
		check(s)
	}
}

// TestTimestampsCompressed checks record-level answers inside gzip batches
// and LogAppendTime batches (whose record timestamps are the batch's).
func TestTimestampsCompressed(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	mustAppend(t, l, gzipBatch(t, buildBatch(100, []int64{0, 9, 4}, 10)))
	lat := buildBatch(200, []int64{0, 1}, 10)
	record.SetLogAppendTime(lat, 500)
	mustAppend(t, l, lat)
	for _, c := range []struct{ ts, off, fts int64 }{{100, 0, 100}, {101, 1, 109}, {109, 1, 109}, {110, 3, 500}, {500, 3, 500}} {
		if off, fts, ok := l.OffsetForTimestamp(c.ts); !ok || off != c.off || fts != c.fts {
			t.Errorf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", c.ts, off, fts, ok, c.off, c.fts)
		}
	}
	if _, _, ok := l.OffsetForTimestamp(501); ok {
		t.Error("found a record newer than every one")
	}
	if off, ts := l.MaxTimestamp(); off != 3 || ts != 500 {
		t.Errorf("MaxTimestamp = %d, %d", off, ts)
	}
}

// gzipBatch recompresses an uncompressed batch's records with gzip.
func gzipBatch(t *testing.T, b []byte) []byte {
	var z bytes.Buffer
	w := gzip.NewWriter(&z)
	w.Write(b[record.HeaderSize:])
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := append(bytes.Clone(b[:record.HeaderSize]), z.Bytes()...)
	binary.BigEndian.PutUint32(out[8:], uint32(len(out)-record.LogOverhead))
	binary.BigEndian.PutUint16(out[21:], record.CodecGzip)
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
	return out
}
