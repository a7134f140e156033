package log

import (
	"bytes"
	"testing"
	"time"
)

func TestRetentionByTime(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.RetentionMs = time.Hour.Milliseconds()
	l, _ := mustOpen(t, dir, cfg)
	defer l.Close()
	now := time.UnixMilli(100 * time.Hour.Milliseconds())
	old := now.Add(-3 * time.Hour).UnixMilli()
	// 20 old batches, then 20 recent ones (the first of those starts a
	// new segment, as its timestamp is far from the segment's first).
	oldBatches := fillLog(t, l, 20, old)
	cfg.SegmentMs = time.Hour.Milliseconds()
	l.SetConfig(cfg)
	recent := fillLog(t, l, 20, now.Add(-time.Minute).UnixMilli())
	segs := l.NumSegments()
	firstRecent := headers(t, recent[0])[0].BaseOffset

	// A read of the oldest segment, outstanding while it is deleted.
	rr, err := l.Read(0, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()

	n, err := l.EnforceRetention(now)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || l.NumSegments() != segs-n || l.StartOffset() != firstRecent {
		t.Fatalf("deleted %d of %d segments, start %d, want start %d", n, segs, l.StartOffset(), firstRecent)
	}
	if _, err := l.Read(firstRecent-1, 100, l.EndOffset()); !isOutOfRange(err) {
		t.Fatalf("read below start: %v", err)
	}
	if got := readAll(t, l, firstRecent); !bytes.Equal(got, bytes.Join(recent, nil)) {
		t.Fatal("recent data damaged")
	}
	// The deleted segment is gone from the directory but still readable.
	if _, err := l.Read(0, 1, 1); !isOutOfRange(err) {
		t.Fatalf("Read(0) after retention: %v", err)
	}
	got, err := rr.ReadAll(nil)
	if err != nil || !bytes.HasPrefix(got, bytes.Join(oldBatches, nil)) {
		t.Fatalf("outstanding read of a deleted segment: %d bytes, %v", len(got), err)
	}
	for _, f := range segFiles(t, dir, logSuffix) {
		if f == segmentPath(dir, 0, logSuffix) {
			t.Fatal("segment 0 still on disk")
		}
	}

	// Once everything expires, the active segment is rolled and goes too;
	// the new active segment starts at the LEO.
	end := l.EndOffset()
	n, err = l.EnforceRetention(now.Add(2 * time.Hour))
	if err != nil || n == 0 {
		t.Fatalf("second pass deleted %d: %v", n, err)
	}
	if l.NumSegments() != 1 || l.StartOffset() != end || l.EndOffset() != end || l.Size() != 0 {
		t.Fatalf("%d segments, start %d end %d size %d", l.NumSegments(), l.StartOffset(), l.EndOffset(), l.Size())
	}
	if info := mustAppend(t, l, simpleBatch(now.UnixMilli(), 1, 1)); info.FirstOffset != end {
		t.Fatalf("append at %d, want %d", info.FirstOffset, end)
	}
	l.Close()
	l, _ = mustOpen(t, dir, cfg)
	if l.StartOffset() != end || l.EndOffset() != end+1 {
		t.Fatalf("after reopen: start %d end %d", l.StartOffset(), l.EndOffset())
	}
}

func TestRetentionBySize(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	batches := fillLog(t, l, 40, 0)
	segs := l.NumSegments()
	if n, err := l.EnforceRetention(time.Now()); n != 0 || err != nil {
		t.Fatalf("unlimited retention deleted %d: %v", n, err)
	}
	cfg.RetentionBytes = 2500
	l.SetConfig(cfg)
	n, err := l.EnforceRetention(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Kafka keeps at least retention.bytes: a segment goes only if the
	// rest still reaches the limit.
	if l.Size() < 2500 || l.Size()-934 >= 2500 || l.NumSegments() != segs-n || n == 0 {
		t.Fatalf("size %d after deleting %d segments", l.Size(), n)
	}
	start := l.StartOffset()
	var want []byte
	for _, b := range batches {
		if headers(t, b)[0].BaseOffset >= start {
			want = append(want, b...)
		}
	}
	if got := readAll(t, l, start); !bytes.Equal(got, want) {
		t.Fatal("remaining data differs")
	}
	// The active segment is never deleted, however small the limit.
	cfg.RetentionBytes = 0
	l.SetConfig(cfg)
	if _, err := l.EnforceRetention(time.Now()); err != nil {
		t.Fatal(err)
	}
	if l.NumSegments() != 1 || l.Size() == 0 {
		t.Fatalf("%d segments, size %d", l.NumSegments(), l.Size())
	}
}

// TestNoTimestamps covers batches without timestamps (-1): no time index
// entries, no timestamp answers, retention by file modification time.
func TestNoTimestamps(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	cfg.RetentionMs = time.Hour.Milliseconds()
	l, _ := mustOpen(t, dir, cfg)
	for i := range 20 {
		mustAppend(t, l, simpleBatch(-1, 1+i%3, 80))
	}
	l.Close()
	for _, p := range segFiles(t, dir, timeIndexSuffix) {
		if fileSize(t, p) != 0 {
			t.Fatalf("%s has entries", p)
		}
	}
	l, c := mustOpen(t, dir, cfg)
	defer l.Close()
	if c.warned("") {
		t.Fatal("reopen warned")
	}
	if _, _, ok := l.OffsetForTimestamp(0); ok {
		t.Fatal("OffsetForTimestamp found a record")
	}
	if off, ts := l.MaxTimestamp(); off != -1 || ts != -1 {
		t.Fatalf("MaxTimestamp %d, %d", off, ts)
	}
	now := time.Now()
	if n, err := l.EnforceRetention(now); n != 0 || err != nil {
		t.Fatalf("fresh files deleted: %d, %v", n, err)
	}
	segs := l.NumSegments()
	if n, err := l.EnforceRetention(now.Add(2 * time.Hour)); n != segs || err != nil || l.Size() != 0 {
		t.Fatalf("deleted %d of %d segments (%v), size %d", n, segs, err, l.Size())
	}
}
