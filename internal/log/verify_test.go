package log

import (
	"os"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/record"
)

// flipBit flips one bit of the file at pos.
func flipBit(t *testing.T, path string, pos int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, pos); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0x10
	if _, err := f.WriteAt(b, pos); err != nil {
		t.Fatal(err)
	}
}

// sealedLog writes batches of 2 records (offsets 2i, 2i+1) of ~250 bytes
// into segments of 4 batches each; every batch is indexed.
func sealedLog(t *testing.T, batches int) (*Log, string, int64) {
	t.Helper()
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 1
	batchSize := int64(len(simpleBatch(0, 2, 100)))
	cfg.SegmentBytes = 4 * batchSize
	l, _ := mustOpen(t, dir, cfg)
	t.Cleanup(func() { l.Close() })
	for range batches {
		mustAppend(t, l, simpleBatch(0, 2, 100))
	}
	return l, dir, batchSize
}

func verifyAll(t *testing.T, l *Log) []BadBatch {
	t.Helper()
	var bad []BadBatch
	for _, base := range l.SealedSegments() {
		_, ok, err := l.VerifySegment(base, nil, func(b BadBatch) { bad = append(bad, b) })
		if err != nil || !ok {
			t.Fatalf("VerifySegment(%d): ok %v, %v", base, ok, err)
		}
	}
	return bad
}

func TestVerifySegmentFindsFlippedBit(t *testing.T) {
	l, dir, bs := sealedLog(t, 10)
	if got := l.SealedSegments(); len(got) != 2 || got[0] != 0 || got[1] != 8 {
		t.Fatalf("sealed segments %v", got)
	}
	if bad := verifyAll(t, l); len(bad) != 0 {
		t.Fatalf("clean log reported %+v", bad)
	}
	// A bit in the records of the second batch of the second segment.
	seg := segmentPath(dir, 8, logSuffix)
	flipBit(t, seg, bs+record.HeaderSize+20)
	bad := verifyAll(t, l)
	if len(bad) != 1 {
		t.Fatalf("reported %+v, want one bad batch", bad)
	}
	b := bad[0]
	if b.File != seg || b.Segment != 8 || b.Position != bs || b.Bytes != bs || b.FirstOffset != 10 || b.LastOffset != 11 ||
		!strings.Contains(b.Reason, "CRC-32C mismatch") {
		t.Fatalf("bad batch %+v", b)
	}
}

// TestVerifySegmentResyncsAfterBadHeader: a flip in a batch length makes
// the header useless; verification reports the stretch up to the next
// indexed batch and checks the rest.
func TestVerifySegmentResyncsAfterBadHeader(t *testing.T) {
	l, dir, bs := sealedLog(t, 6)
	seg := segmentPath(dir, 0, logSuffix)
	flipBit(t, seg, bs+8) // high bits of batchLength of the batch at offset 2
	bad := verifyAll(t, l)
	if len(bad) != 1 {
		t.Fatalf("reported %+v", bad)
	}
	b := bad[0]
	if b.Position != bs || b.Bytes != bs || b.FirstOffset != 2 || b.LastOffset != 3 {
		t.Fatalf("bad stretch %+v, want position %d, %d bytes, offsets 2-3", b, bs, bs)
	}
	// Reads serve the batch before the damage and fail at it.
	hs := headers(t, readAll(t, l, 0))
	if len(hs) != 1 || hs[0].BaseOffset != 0 {
		t.Fatalf("read before the damage: %+v", hs)
	}
	if rr, err := l.Read(2, 1<<20, l.EndOffset()); err == nil {
		rr.Release()
		t.Fatal("read at the damaged batch succeeded")
	}
	// A flip in the base offset (outside the CRC) shows as offsets out
	// of place; neither stretch's offsets are known before the next good
	// batch, so both cover everything from the last good batch to it.
	flipBit(t, seg, 2*bs+6)
	bad = verifyAll(t, l)
	if len(bad) != 2 || bad[1].Position != 2*bs || bad[1].FirstOffset != 2 || bad[1].LastOffset != 5 ||
		bad[0].LastOffset != 5 || !strings.Contains(bad[1].Reason, "out of place") {
		t.Fatalf("reported %+v", bad)
	}
}

func TestVerifySegmentGoneOrActive(t *testing.T) {
	l, _, _ := sealedLog(t, 5)
	if _, ok, err := l.VerifySegment(8, nil, func(BadBatch) {}); ok || err != nil {
		t.Fatalf("active segment verified: ok %v, %v", ok, err)
	}
	if _, ok, err := l.VerifySegment(3, nil, func(BadBatch) {}); ok || err != nil {
		t.Fatalf("no such segment: ok %v, %v", ok, err)
	}
}

func TestVerifyDir(t *testing.T) {
	l, dir, bs := sealedLog(t, 10)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var bad []BadBatch
	report := func(b BadBatch) { bad = append(bad, b) }
	sum, err := VerifyDir(dir, report)
	if err != nil || sum.Dirs != 1 || sum.Segments != 3 || sum.Batches != 10 || sum.Damaged != 0 || len(bad) != 0 {
		t.Fatalf("clean dir: %+v, %v, %+v", sum, err, bad)
	}
	// A torn tail in the active segment is not damage; a flipped bit in
	// a sealed one is. The parent directory is searched for partitions.
	appendToFile(t, segmentPath(dir, 16, logSuffix), []byte("torn"))
	flipBit(t, segmentPath(dir, 0, logSuffix), 3*bs+record.HeaderSize+5)
	sum, err = VerifyDir(dir+"/..", report)
	if err != nil || sum.Damaged != 1 || sum.TornTails != 1 || len(bad) != 2 {
		t.Fatalf("damaged dir: %+v, %v, %+v", sum, err, bad)
	}
	if b := bad[0]; b.Tail || b.Segment != 0 || b.FirstOffset != 6 || b.LastOffset != 7 {
		t.Fatalf("damage %+v", b)
	}
	if b := bad[1]; !b.Tail || b.Segment != 16 || b.Bytes != 4 {
		t.Fatalf("torn tail %+v", b)
	}
	if _, err := VerifyDir(t.TempDir(), report); err == nil || !strings.Contains(err.Error(), "no segment files") {
		t.Fatalf("empty dir: %v", err)
	}
}
