package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
)

func strictConfig() Config {
	c := testConfig()
	c.StrictRecovery = true
	c.IndexIntervalBytes = 128
	return c
}

// TestStrictTornTail: damage only at the end of the last segment is a torn
// tail, truncated as in the default mode.
func TestStrictTornTail(t *testing.T) {
	cases := map[string]func(next int64) []byte{
		"half batch":  func(next int64) []byte { b := nextBatch(next); return b[:len(b)/2] },
		"zeros":       func(int64) []byte { return make([]byte, 3000) },
		"garbage":     func(int64) []byte { return bytes.Repeat([]byte("torn write "), 40) },
		"flipped crc": func(next int64) []byte { b := nextBatch(next); b[18] ^= 1; return b },
		"flipped record": func(next int64) []byte {
			b := nextBatch(next)
			b[len(b)-3] ^= 0xff
			return b
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := strictConfig()
			l, _ := mustOpen(t, dir, cfg)
			fillLog(t, l, 10, 100)
			end := l.EndOffset()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			file := lastSegFile(t, dir, logSuffix)
			size := fileSize(t, file)
			appendToFile(t, file, damage(end))

			l, capt := mustOpen(t, dir, cfg)
			defer l.Close()
			if l.EndOffset() != end || fileSize(t, file) != size || !capt.warned("truncating") {
				t.Fatalf("end %d (want %d), file %d bytes (want %d), warned %v",
					l.EndOffset(), end, fileSize(t, file), size, capt.warned("truncating"))
			}
		})
	}
}

// TestStrictMidLogDamage: an invalid batch followed by a valid one fails
// Open with the file and position in the error, and changes nothing on
// disk; the default mode truncates there instead.
func TestStrictMidLogDamage(t *testing.T) {
	cases := map[string]func(b []byte){
		"flipped record bytes": func(b []byte) {
			for i := len(b) - 20; i < len(b)-4; i++ {
				b[i] ^= 0x5a
			}
		},
		"flipped crc":      func(b []byte) { b[19] ^= 0x80 },
		"bad length":       func(b []byte) { binary.BigEndian.PutUint32(b[8:], 7) },
		"bad magic":        func(b []byte) { b[16] = 9 },
		"wrong offset":     func(b []byte) { binary.BigEndian.PutUint64(b, 1<<40) },
		"zeroed page part": func(b []byte) { clear(b[:len(b)/2]) },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := strictConfig()
			l, _ := mustOpen(t, dir, cfg)
			batches := fillLog(t, l, 12, 100)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			file := lastSegFile(t, dir, logSuffix)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			victim := 5
			pos := 0
			for _, b := range batches[:victim] {
				pos += len(b)
			}
			offset := int64(binary.BigEndian.Uint64(data[pos:]))
			damage(data[pos : pos+len(batches[victim])])
			if err := os.WriteFile(file, data, 0o644); err != nil {
				t.Fatal(err)
			}

			logger, _ := newCapture(t)
			_, err = Open(dir, cfg, logger)
			var ce *CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open: %v, want a *CorruptError", err)
			}
			if ce.File != file || ce.Position != int64(pos) || ce.Offset != offset ||
				ce.NextValid != int64(pos+len(batches[victim])) {
				t.Fatalf("error %+v; want file %s position %d offset %d next valid %d",
					ce, file, pos, offset, pos+len(batches[victim]))
			}
			if msg := err.Error(); !strings.Contains(msg, file) || !strings.Contains(msg, "position "+strconv.Itoa(pos)) {
				t.Fatalf("error %q does not name the file and position", msg)
			}
			if after, _ := os.ReadFile(file); !bytes.Equal(after, data) {
				t.Fatal("strict Open changed the segment")
			}

			// The default mode treats it as a torn tail.
			cfg.StrictRecovery = false
			l, capt := mustOpen(t, dir, cfg)
			defer l.Close()
			if l.EndOffset() != offset || !capt.warned("truncating") {
				t.Fatalf("default mode: end %d, want %d", l.EndOffset(), offset)
			}
		})
	}
}

// TestStrictSealedSegment: damage at the end of a sealed segment is not a
// torn tail (the segment was fsynced whole at roll), even with intact
// indexes that the default mode would trust.
func TestStrictSealedSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := strictConfig()
	cfg.SegmentBytes = 900
	l, _ := mustOpen(t, dir, cfg)
	fillLog(t, l, 30, 100)
	if l.NumSegments() < 3 {
		t.Fatalf("%d segments", l.NumSegments())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	first := segFiles(t, dir, logSuffix)[0]
	data, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-2] ^= 0xff // inside the segment's last batch
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	logger, _ := newCapture(t)
	_, err = Open(dir, cfg, logger)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.File != first || ce.NextValid != -1 || !strings.Contains(err.Error(), "sealed") {
		t.Fatalf("Open: %v, want a *CorruptError naming %s as sealed", err, first)
	}
	if after, _ := os.ReadFile(first); !bytes.Equal(after, data) {
		t.Fatal("strict Open changed the segment")
	}

	// An intact log with several segments opens, and appends continue.
	dir2 := t.TempDir()
	l, _ = mustOpen(t, dir2, cfg)
	fillLog(t, l, 30, 100)
	end := l.EndOffset()
	l.Close()
	l, capt := mustOpen(t, dir2, cfg)
	defer l.Close()
	if l.EndOffset() != end || capt.warned("") {
		t.Fatalf("intact log: end %d want %d; log %s", l.EndOffset(), end, capt.String())
	}
	if info := mustAppend(t, l, simpleBatch(0, 1, 10)); info.FirstOffset != end {
		t.Fatalf("append at %d, want %d", info.FirstOffset, end)
	}
}

func TestFindBatch(t *testing.T) {
	b := nextBatch(40)
	garbage := bytes.Repeat([]byte{2, 0, 0, 0, 0x7f}, 30000) // magic-like bytes everywhere
	data := append(append(bytes.Clone(garbage), b...), 1, 2, 3)
	r := bytes.NewReader(data)
	if pos, ok, err := FindBatch(r, 0, int64(len(data)), 0); err != nil || !ok || pos != int64(len(garbage)) {
		t.Fatalf("FindBatch = %d, %v, %v; want %d", pos, ok, err, len(garbage))
	}
	if _, ok, _ := FindBatch(r, 0, int64(len(data)), 41); ok {
		t.Fatal("found a batch below minOffset")
	}
	if _, ok, _ := FindBatch(r, 0, int64(len(data)-4), 0); ok {
		t.Fatal("found a batch that runs past end")
	}
	if _, ok, _ := FindBatch(bytes.NewReader(make([]byte, 200000)), 0, 200000, 0); ok {
		t.Fatal("found a batch in zeros")
	}
}
