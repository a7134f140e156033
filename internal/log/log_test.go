package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/record"
)

// fillLog appends n batches of 1..4 records (about 300 bytes each, some
// two batches per Append) and returns the bytes as written, with offsets.
func fillLog(t testing.TB, l *Log, n int, ts int64) [][]byte {
	t.Helper()
	var out [][]byte
	for i := 0; i < n; {
		var group [][]byte
		for j := 0; j < 1+i%2 && i < n; j++ {
			group = append(group, simpleBatch(ts+int64(i), 1+i%4, 60))
			i++
		}
		joined := bytes.Join(group, nil)
		info, err := l.Append(joined, 7)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		var p int
		for _, g := range group {
			out = append(out, joined[p:p+len(g)])
			p += len(g)
		}
		if got := int64(binary.BigEndian.Uint64(joined)); got != info.FirstOffset {
			t.Fatalf("batch base %d, AppendInfo.FirstOffset %d", got, info.FirstOffset)
		}
	}
	return out
}

func TestAppendReadRoundTrip(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 2000
	cfg.IndexIntervalBytes = 500
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()

	batches := fillLog(t, l, 60, 1000)
	all := bytes.Join(batches, nil)
	if l.NumSegments() < 5 {
		t.Fatalf("only %d segments; expected rolls", l.NumSegments())
	}
	hs := headers(t, all)
	var next int64
	for _, h := range hs {
		if h.BaseOffset != next || h.PartitionLeaderEpoch != 7 {
			t.Fatalf("batch base %d epoch %d, want base %d epoch 7", h.BaseOffset, h.PartitionLeaderEpoch, next)
		}
		next = h.LastOffset() + 1
	}
	if l.EndOffset() != next || l.StartOffset() != 0 {
		t.Fatalf("offsets [%d, %d), want [0, %d)", l.StartOffset(), l.EndOffset(), next)
	}
	if got := readAll(t, l, 0); !bytes.Equal(got, all) {
		t.Fatalf("read back %d bytes, differ from the %d appended", len(got), len(all))
	}
	if l.Size() != int64(len(all)) {
		t.Fatalf("Size %d, want %d", l.Size(), len(all))
	}

	// Every offset, including those inside batches, starts the read at
	// its batch; maxBytes 1 returns exactly that batch (KIP-74).
	for i, h := range hs {
		for o := h.BaseOffset; o <= h.LastOffset(); o++ {
			rr, err := l.Read(o, 1, l.EndOffset())
			if err != nil {
				t.Fatalf("Read(%d): %v", o, err)
			}
			b, err := rr.ReadAll(nil)
			rr.Release()
			if err != nil || !bytes.Equal(b, batches[i]) {
				t.Fatalf("Read(%d, 1): got %d bytes (err %v), want batch %d", o, len(b), err, i)
			}
			if got := readAll(t, l, o); !bytes.Equal(got, bytes.Join(batches[i:], nil)) {
				t.Fatalf("Read(%d) from batch %d: wrong bytes", o, i)
			}
		}
	}

	// maxBytes: exactly fitting batches, and one byte short.
	two := len(batches[3]) + len(batches[4])
	for _, c := range []struct{ max, want int }{{two, 2}, {two - 1, 1}, {two + len(batches[5]), 3}} {
		rr, err := l.Read(hs[3].BaseOffset, c.max, l.EndOffset())
		if err != nil {
			t.Fatal(err)
		}
		if got := len(headers(t, mustReadAll(t, rr))); got != c.want {
			t.Fatalf("maxBytes %d: %d batches, want %d", c.max, got, c.want)
		}
	}

	// maxOffset (high watermark): stop before the batch starting at it,
	// but include a batch it falls inside of.
	for _, c := range []struct {
		hw   int64
		want int
	}{{hs[10].BaseOffset, 10}, {hs[10].BaseOffset + 1, 11}, {0, 0}, {hs[0].LastOffset() + 1, 1}} {
		rr, err := l.Read(0, 1<<30, c.hw)
		if err != nil {
			t.Fatal(err)
		}
		got := mustReadAll(t, rr)
		if len(got) > 0 && len(headers(t, got)) != c.want || len(got) == 0 && c.want != 0 {
			t.Fatalf("maxOffset %d: wrong batch count, want %d", c.hw, c.want)
		}
	}

	// Out of range and the end.
	for _, o := range []int64{-1, l.EndOffset() + 1} {
		if _, err := l.Read(o, 100, l.EndOffset()); !isOutOfRange(err) {
			t.Fatalf("Read(%d): %v, want ErrOffsetOutOfRange", o, err)
		}
	}
	rr, err := l.Read(l.EndOffset(), 100, l.EndOffset())
	if err != nil || rr.Size != 0 || len(rr.Slices) != 0 {
		t.Fatalf("Read(LEO) = %+v, %v; want empty", rr, err)
	}
	rr.Release()
}

func mustReadAll(t testing.TB, rr *ReadResult) []byte {
	t.Helper()
	defer rr.Release()
	b, err := rr.ReadAll(nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReadSpansSegments(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	batches := fillLog(t, l, 20, 0)
	rr, err := l.Read(0, 1<<30, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if len(rr.Slices) != l.NumSegments() {
		t.Fatalf("%d slices for %d segments", len(rr.Slices), l.NumSegments())
	}
	if got := mustReadAll(t, rr); !bytes.Equal(got, bytes.Join(batches, nil)) {
		t.Fatal("bytes differ")
	}
}

func TestKIP74OversizeFirstBatch(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	big := simpleBatch(0, 3, 5000)
	small := simpleBatch(0, 1, 10)
	mustAppend(t, l, big, small)
	rr, err := l.Read(1, 100, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if rr.Size != len(big) {
		t.Fatalf("Size %d, want the whole first batch %d", rr.Size, len(big))
	}
	rr.Release()
	// The oversize batch is alone in a segment when SegmentBytes is smaller.
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l.SetConfig(cfg)
	info := mustAppend(t, l, big)
	if info.FirstOffset != 4 || l.NumSegments() != 2 {
		t.Fatalf("FirstOffset %d, %d segments", info.FirstOffset, l.NumSegments())
	}
	mustAppend(t, l, small)
	if l.NumSegments() != 3 {
		t.Fatalf("%d segments, want 3 (oversize batch alone)", l.NumSegments())
	}
}

func TestAppendInfo(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	info := mustAppend(t, l, buildBatch(100, []int64{0, 5, 2}, 1), buildBatch(90, []int64{0, 1}, 1))
	want := AppendInfo{FirstOffset: 0, LastOffset: 4, MaxTimestamp: 105, OffsetOfMaxTimestamp: 2}
	if info != want {
		t.Fatalf("AppendInfo %+v, want %+v", info, want)
	}
	if _, err := l.Append(nil, 0); err == nil {
		t.Fatal("empty append accepted")
	}
	if _, err := l.Append(simpleBatch(0, 1, 1)[:30], 0); !errors.Is(err, record.ErrShort) {
		t.Fatalf("partial batch: %v", err)
	}
	bad := simpleBatch(0, 1, 1)
	binary.BigEndian.PutUint32(bad[23:], 0xffffffff) // lastOffsetDelta -1
	if _, err := l.Append(bad, 0); !errors.Is(err, record.ErrCorrupt) {
		t.Fatalf("lastOffsetDelta -1: %v", err)
	}
	if l.EndOffset() != 5 {
		t.Fatalf("EndOffset %d after rejected appends", l.EndOffset())
	}
}

func TestReopenContinues(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1500
	cfg.IndexIntervalBytes = 200
	l, c := mustOpen(t, dir, cfg)
	batches := fillLog(t, l, 30, 0)
	end := l.EndOffset()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(simpleBatch(0, 1, 1), 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Append after Close: %v", err)
	}
	l, c = mustOpen(t, dir, cfg)
	defer l.Close()
	if strings := c.String(); bytes.Contains([]byte(strings), []byte("level=WARN")) {
		t.Fatalf("clean reopen warned:\n%s", strings)
	}
	if l.EndOffset() != end || l.DurableOffset() != end {
		t.Fatalf("EndOffset %d DurableOffset %d, want %d", l.EndOffset(), l.DurableOffset(), end)
	}
	if got := readAll(t, l, 0); !bytes.Equal(got, bytes.Join(batches, nil)) {
		t.Fatal("bytes differ after reopen")
	}
	info := mustAppend(t, l, simpleBatch(0, 2, 1))
	if info.FirstOffset != end {
		t.Fatalf("append after reopen at %d, want %d", info.FirstOffset, end)
	}
}

func TestTimeRoll(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentMs = 1000
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	now := time.UnixMilli(1_000_000)
	l.now = func() time.Time { return now }
	mustAppend(t, l, simpleBatch(now.UnixMilli(), 1, 1))
	if err := l.MaybeRoll(now.Add(time.Second)); err != nil || l.NumSegments() != 1 {
		t.Fatalf("rolled too early: %v, %d segments", err, l.NumSegments())
	}
	if err := l.MaybeRoll(now.Add(1001 * time.Millisecond)); err != nil || l.NumSegments() != 2 {
		t.Fatalf("no roll after segment.ms: %v, %d segments", err, l.NumSegments())
	}
	// An empty active segment never rolls.
	if err := l.MaybeRoll(now.Add(time.Hour)); err != nil || l.NumSegments() != 2 {
		t.Fatalf("empty segment rolled: %v, %d segments", err, l.NumSegments())
	}
	// On append, age is measured in message time (Kafka): old data
	// replayed together does not roll, data newer than segment.ms does.
	mustAppend(t, l, simpleBatch(5000, 1, 1))
	mustAppend(t, l, simpleBatch(5900, 1, 1))
	if l.NumSegments() != 2 {
		t.Fatalf("%d segments after appends within segment.ms", l.NumSegments())
	}
	mustAppend(t, l, simpleBatch(6001, 1, 1))
	if l.NumSegments() != 3 {
		t.Fatalf("%d segments, want a roll", l.NumSegments())
	}
}

func TestTruncateTo(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	cfg.IndexIntervalBytes = 100
	l, _ := mustOpen(t, dir, cfg)
	batches := fillLog(t, l, 40, 0)
	hs := headers(t, bytes.Join(batches, nil))

	// Inside a batch of a middle segment: that whole batch goes.
	k := 25
	if err := l.TruncateTo(hs[k].BaseOffset + int64(hs[k].LastOffsetDelta)); err != nil {
		t.Fatal(err)
	}
	if l.EndOffset() != hs[k].BaseOffset || l.DurableOffset() > l.EndOffset() {
		t.Fatalf("EndOffset %d DurableOffset %d, want %d", l.EndOffset(), l.DurableOffset(), hs[k].BaseOffset)
	}
	if got := readAll(t, l, 0); !bytes.Equal(got, bytes.Join(batches[:k], nil)) {
		t.Fatal("bytes differ after truncation")
	}
	info := mustAppend(t, l, simpleBatch(0, 2, 1))
	if info.FirstOffset != hs[k].BaseOffset {
		t.Fatalf("append after truncate at %d", info.FirstOffset)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, c := mustOpen(t, dir, cfg)
	if c.warned("") {
		t.Fatalf("reopen after truncation warned:\n%s", c)
	}
	if l.EndOffset() != info.LastOffset+1 {
		t.Fatalf("EndOffset %d after reopen", l.EndOffset())
	}
	// At a segment boundary, then everything.
	if err := l.TruncateTo(hs[10].BaseOffset); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, l, 0); !bytes.Equal(got, bytes.Join(batches[:10], nil)) {
		t.Fatal("bytes differ after second truncation")
	}
	if err := l.TruncateTo(0); err != nil || l.EndOffset() != 0 || l.Size() != 0 {
		t.Fatalf("TruncateTo(0): %v, end %d size %d", err, l.EndOffset(), l.Size())
	}
	mustAppend(t, l, simpleBatch(0, 1, 1))
	l.Close()
}

func TestDeleteRecordsBefore(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 1000
	l, _ := mustOpen(t, dir, cfg)
	batches := fillLog(t, l, 30, 0)
	hs := headers(t, bytes.Join(batches, nil))
	segs := l.NumSegments()
	target := hs[21].BaseOffset + 1 // inside a batch of two records
	if err := l.DeleteRecordsBefore(l.EndOffset() + 1); !isOutOfRange(err) {
		t.Fatalf("beyond the end: %v", err)
	}
	if err := l.DeleteRecordsBefore(target); err != nil {
		t.Fatal(err)
	}
	if l.StartOffset() != target || l.NumSegments() >= segs {
		t.Fatalf("StartOffset %d, %d segments (had %d)", l.StartOffset(), l.NumSegments(), segs)
	}
	if _, err := l.Read(target-1, 100, l.EndOffset()); !isOutOfRange(err) {
		t.Fatalf("read below start: %v", err)
	}
	// The batch holding the start is returned whole.
	if got := readAll(t, l, target); !bytes.Equal(got, bytes.Join(batches[21:], nil)) {
		t.Fatal("read from the start offset")
	}
	l.Close()
	l, _ = mustOpen(t, dir, cfg)
	if l.StartOffset() != target {
		t.Fatalf("StartOffset %d after reopen, want %d", l.StartOffset(), target)
	}
	// A persisted start beyond what survived empties the log there.
	end := l.EndOffset()
	l.Close()
	if err := writeStartOffset(dir, end+100); err != nil {
		t.Fatal(err)
	}
	l, c := mustOpen(t, dir, cfg)
	defer l.Close()
	if l.StartOffset() != end+100 || l.EndOffset() != end+100 || l.Size() != 0 || !c.warned("beyond") {
		t.Fatalf("start %d end %d size %d", l.StartOffset(), l.EndOffset(), l.Size())
	}
	if info := mustAppend(t, l, simpleBatch(0, 1, 1)); info.FirstOffset != end+100 {
		t.Fatalf("append at %d", info.FirstOffset)
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir() + "/p-0"
	l, _ := mustOpen(t, dir, testConfig())
	batches := fillLog(t, l, 3, 0)
	rr, err := l.Read(0, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Delete(); err != nil {
		t.Fatal(err)
	}
	if len(segFiles(t, dir, "")) != 0 {
		t.Fatal("directory not removed")
	}
	if got := mustReadAll(t, rr); !bytes.Equal(got, bytes.Join(batches, nil)) {
		t.Fatal("outstanding read lost its bytes")
	}
	if _, err := l.Read(0, 1, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Read after Delete: %v", err)
	}
}
