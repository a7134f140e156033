package log

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// TestRecoveryTail damages the tail of the active segment in various ways
// and checks that reopening keeps every batch before the damage, drops the
// rest, and appends continue at the right offset.
func TestRecoveryTail(t *testing.T) {
	tail := simpleBatch(0, 3, 40) // a valid batch, to be written with a bad base offset
	binary.BigEndian.PutUint64(tail, 999)
	flipped := simpleBatch(0, 2, 40)
	flipped[len(flipped)-5] ^= 0x40
	cases := []struct {
		name    string
		damage  func(valid []byte, next int64) []byte // bytes appended to the .log file
		segment int64                                 // SegmentBytes
	}{
		{"garbage", func([]byte, int64) []byte { return bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 50) }, 0},
		{"zeros", func([]byte, int64) []byte { return make([]byte, 4096) }, 0},
		{"short header", func(v []byte, next int64) []byte { return nextBatch(next)[:30] }, 0},
		{"half batch", func(v []byte, next int64) []byte { b := nextBatch(next); return b[:len(b)/2] }, 0},
		{"all but one byte", func(v []byte, next int64) []byte { b := nextBatch(next); return b[:len(b)-1] }, 0},
		{"flipped crc", func(v []byte, next int64) []byte {
			b := nextBatch(next)
			b[18] ^= 1
			return b
		}, 0},
		{"flipped record byte", func(v []byte, next int64) []byte {
			b := bytes.Clone(flipped)
			binary.BigEndian.PutUint64(b, uint64(next))
			return b
		}, 0},
		{"wrong base offset", func([]byte, int64) []byte { return tail }, 0},
		{"base offset repeated", func(v []byte, next int64) []byte { return nextBatch(next - 1) }, 0},
		{"bad magic", func(v []byte, next int64) []byte { b := nextBatch(next); b[16] = 1; return b }, 0},
		{"huge length", func(v []byte, next int64) []byte {
			b := nextBatch(next)
			binary.BigEndian.PutUint32(b[8:], 0x7fffffff)
			return b
		}, 0},
		{"valid then garbage", func(v []byte, next int64) []byte {
			return append(nextBatch(next), 1, 2, 3)
		}, 0},
		{"garbage, several segments", func([]byte, int64) []byte { return []byte("torn write") }, 900},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testConfig()
			cfg.IndexIntervalBytes = 128
			if c.segment > 0 {
				cfg.SegmentBytes = c.segment
			}
			l, _ := mustOpen(t, dir, cfg)
			batches := fillLog(t, l, 12, 500)
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			valid := bytes.Join(batches, nil)
			damage := c.damage(valid, end)
			keep := int64(0)
			if c.name == "valid then garbage" {
				keep = int64(len(damage) - 3)
			}
			logFile := lastSegFile(t, dir, logSuffix)
			before := fileSize(t, logFile)
			appendToFile(t, logFile, damage)

			l, capt := mustOpen(t, dir, cfg)
			defer l.Close()
			if !capt.warned("truncating") {
				t.Errorf("no truncation warning")
			}
			if got := fileSize(t, logFile); got != before+keep {
				t.Errorf("file size %d after recovery, want %d", got, before+keep)
			}
			wantEnd := end
			if keep > 0 {
				wantEnd = end + 1
				valid = append(valid, damage[:keep]...)
			}
			if l.EndOffset() != wantEnd {
				t.Fatalf("EndOffset %d, want %d", l.EndOffset(), wantEnd)
			}
			if got := readAll(t, l, 0); !bytes.Equal(got, valid) {
				t.Fatal("recovered bytes differ")
			}
			info := mustAppend(t, l, simpleBatch(0, 2, 5))
			if info.FirstOffset != wantEnd {
				t.Fatalf("append after recovery at %d, want %d", info.FirstOffset, wantEnd)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			l2, capt := mustOpen(t, dir, cfg)
			defer l2.Close()
			if capt.warned("") || l2.EndOffset() != info.LastOffset+1 {
				t.Fatalf("second reopen: end %d, warnings:\n%s", l2.EndOffset(), capt)
			}
		})
	}
}

// nextBatch is a valid one-record batch with base offset next.
func nextBatch(next int64) []byte {
	b := simpleBatch(0, 1, 30)
	binary.BigEndian.PutUint64(b, uint64(next))
	return b
}

func TestRecoveryGarbageSegment(t *testing.T) {
	for _, base := range []int64{0, 42} {
		dir := t.TempDir()
		garbage := bytes.Repeat([]byte("not a batch at all "), 100)
		if err := os.WriteFile(segmentPath(dir, base, logSuffix), garbage, 0o644); err != nil {
			t.Fatal(err)
		}
		l, capt := mustOpen(t, dir, testConfig())
		if l.EndOffset() != base || l.StartOffset() != base || l.Size() != 0 || !capt.warned("truncating") {
			t.Fatalf("end %d start %d size %d", l.EndOffset(), l.StartOffset(), l.Size())
		}
		if fileSize(t, segmentPath(dir, base, logSuffix)) != 0 {
			t.Fatal("garbage not truncated")
		}
		if info := mustAppend(t, l, simpleBatch(0, 1, 1)); info.FirstOffset != base {
			t.Fatalf("append at %d", info.FirstOffset)
		}
		l.Close()
	}
}

func TestRecoveryEmptyDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "t-3")
	l, _ := mustOpen(t, dir, testConfig())
	if l.EndOffset() != 0 || l.StartOffset() != 0 || l.DurableOffset() != 0 {
		t.Fatal("empty log not at 0")
	}
	if len(segFiles(t, dir, logSuffix)) != 1 {
		t.Fatal("no segment file created")
	}
	l.Close()
}

// TestRecoveryIndexes deletes and corrupts index files and checks that
// reopening rebuilds them identically and lookups still work.
func TestRecoveryIndexes(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 3000
	cfg.IndexIntervalBytes = 300
	l, _ := mustOpen(t, dir, cfg)
	var batches [][]byte
	for i := range 60 {
		b := buildBatch(int64(1000+i*10), []int64{0, 3, 1}, 50)
		mustAppend(t, l, b)
		batches = append(batches, b)
	}
	if l.NumSegments() < 4 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	l.Close()
	idx := segFiles(t, dir, indexSuffix)
	tidx := segFiles(t, dir, timeIndexSuffix)
	orig := map[string][]byte{}
	for _, p := range append(append([]string(nil), idx...), tidx...) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) == 0 {
			t.Fatalf("%s is empty; test needs entries", p)
		}
		orig[p] = b
	}

	damage := []struct {
		name string
		do   func()
	}{
		{"missing", func() {
			for _, p := range append(append([]string(nil), idx...), tidx...) {
				os.Remove(p)
			}
		}},
		{"odd size", func() {
			appendToFile(t, idx[0], []byte{1, 2, 3})
			appendToFile(t, tidx[1], []byte{1})
		}},
		{"non-monotonic", func() {
			b := bytes.Clone(orig[idx[1]])
			copy(b[len(b)-8:], b[:8])
			b = append(b, b[:8]...)
			os.WriteFile(idx[1], b, 0o644)
			tb := append(bytes.Clone(orig[tidx[0]]), orig[tidx[0]][:12]...)
			os.WriteFile(tidx[0], tb, 0o644)
		}},
		{"past the log", func() {
			b := binary.BigEndian.AppendUint32(bytes.Clone(orig[idx[2]]), 0xfff0)
			b = binary.BigEndian.AppendUint32(b, 1<<30)
			os.WriteFile(idx[2], b, 0o644)
			tb := binary.BigEndian.AppendUint64(bytes.Clone(orig[tidx[2]]), 1<<62)
			tb = binary.BigEndian.AppendUint32(tb, 1<<20)
			os.WriteFile(tidx[2], tb, 0o644)
		}},
		{"wrong position", func() {
			b := bytes.Clone(orig[idx[0]])
			binary.BigEndian.PutUint32(b[len(b)-4:], binary.BigEndian.Uint32(b[len(b)-4:])+1)
			os.WriteFile(idx[0], b, 0o644)
		}},
		{"truncated", func() {
			os.WriteFile(idx[1], orig[idx[1]][:8], 0o644)
			os.WriteFile(tidx[1], nil, 0o644)
		}},
		{"zeros", func() {
			os.WriteFile(idx[2], make([]byte, 64), 0o644)
			os.WriteFile(tidx[2], make([]byte, 48), 0o644)
		}},
	}
	for _, d := range damage {
		t.Run(d.name, func(t *testing.T) {
			d.do()
			l, _ := mustOpen(t, dir, cfg)
			checkLookups(t, l, batches)
			l.Close()
			for p, want := range orig {
				got, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: rebuilt index differs (%d bytes, want %d)", filepath.Base(p), len(got), len(want))
				}
			}
			// Restore for the next case.
			for p, b := range orig {
				os.WriteFile(p, b, 0o644)
			}
		})
	}
}

// checkLookups reads from every offset and looks up every timestamp.
func checkLookups(t *testing.T, l *Log, batches [][]byte) {
	t.Helper()
	for i, b := range batches {
		base := int64(binary.BigEndian.Uint64(b))
		for o := base; o < base+3; o++ {
			rr, err := l.Read(o, 1, l.EndOffset())
			if err != nil {
				t.Fatalf("Read(%d): %v", o, err)
			}
			if got := mustReadAll(t, rr); !bytes.Equal(got, b) {
				t.Fatalf("Read(%d) did not return batch %d", o, i)
			}
		}
		ts := int64(1000 + i*10)
		if off, fts, ok := l.OffsetForTimestamp(ts + 2); !ok || off != base+1 || fts != ts+3 {
			t.Fatalf("OffsetForTimestamp(%d) = %d, %d, %v; want %d, %d", ts+2, off, fts, ok, base+1, ts+3)
		}
	}
}

// TestRecoveryMidSegment corrupts a batch in the middle of the active
// segment: everything from it on goes, including index entries that
// pointed past the new end.
func TestRecoveryMidSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.IndexIntervalBytes = 100
	l, _ := mustOpen(t, dir, cfg)
	batches := fillLog(t, l, 30, 0)
	l.Close()
	idxBefore := fileSize(t, segmentPath(dir, 0, indexSuffix))
	k := 12
	pos := len(bytes.Join(batches[:k], nil))
	f, err := os.OpenFile(segmentPath(dir, 0, logSuffix), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{0xff}, int64(pos+len(batches[k])-1)); err != nil {
		t.Fatal(err)
	}
	f.Close()

	l, capt := mustOpen(t, dir, cfg)
	defer l.Close()
	want := headers(t, batches[k])[0].BaseOffset
	if l.EndOffset() != want || !capt.warned("crc") {
		t.Fatalf("EndOffset %d, want %d", l.EndOffset(), want)
	}
	idx := fileSize(t, segmentPath(dir, 0, indexSuffix))
	if idx >= idxBefore || idx%offsetEntrySize != 0 {
		t.Fatalf("index %d bytes, was %d", idx, idxBefore)
	}
	b, _ := os.ReadFile(segmentPath(dir, 0, indexSuffix))
	for i := 0; i < len(b); i += offsetEntrySize {
		if p := int(binary.BigEndian.Uint32(b[i+4:])); p >= pos {
			t.Fatalf("index entry points to %d, past the new end %d", p, pos)
		}
	}
	checkAll := func() {
		for i := range k {
			base := headers(t, batches[i])[0].BaseOffset
			rr, err := l.Read(base, 1, l.EndOffset())
			if err != nil {
				t.Fatal(err)
			}
			if got := mustReadAll(t, rr); !bytes.Equal(got, batches[i]) {
				t.Fatalf("batch %d differs", i)
			}
		}
	}
	checkAll()
	for range 20 {
		mustAppend(t, l, simpleBatch(0, 1, 60))
	}
	checkAll()
}
