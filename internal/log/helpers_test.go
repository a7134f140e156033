package log

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// buildBatch encodes an uncompressed v2 batch (base offset 0) with one
// record per timestamp delta, each with a value of valueSize bytes.
func buildBatch(baseTs int64, deltas []int64, valueSize int) []byte {
	var recs []byte
	maxTs := baseTs
	for i, d := range deltas {
		r := kmsg.Record{TimestampDelta64: d, OffsetDelta: int32(i),
			Key: []byte{byte(i)}, Value: bytes.Repeat([]byte{byte('a' + i%26)}, valueSize)}
		r.Length = int32(len(r.AppendTo(nil)) - 1) // Length 0 encodes in one byte
		recs = r.AppendTo(recs)
		maxTs = max(maxTs, baseTs+d)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(len(deltas) - 1),
		FirstTimestamp: baseTs, MaxTimestamp: maxTs, ProducerID: -1, ProducerEpoch: -1,
		FirstSequence: -1, NumRecords: int32(len(deltas)), Records: recs,
	}
	b.Length = int32(len(b.AppendTo(nil)) - record.LogOverhead)
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
	return out
}

// simpleBatch is a batch of n records all stamped ts.
func simpleBatch(ts int64, n, valueSize int) []byte {
	return buildBatch(ts, make([]int64, n), valueSize)
}

// logCapture is a slog handler target that keeps the text output.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   testing.TB
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *logCapture) warned(substr string) bool {
	for _, line := range strings.Split(c.String(), "\n") {
		if strings.Contains(line, "level=WARN") && strings.Contains(line, substr) {
			return true
		}
	}
	return false
}

func newCapture(t testing.TB) (*slog.Logger, *logCapture) {
	c := &logCapture{t: t}
	return slog.New(slog.NewTextHandler(c, &slog.HandlerOptions{Level: slog.LevelInfo})), c
}

func testConfig() Config {
	c := DefaultConfig()
	c.RetentionMs, c.RetentionBytes = -1, -1
	return c
}

func mustOpen(t testing.TB, dir string, cfg Config) (*Log, *logCapture) {
	t.Helper()
	logger, c := newCapture(t)
	l, err := Open(dir, cfg, logger)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l, c
}

func mustAppend(t testing.TB, l *Log, batches ...[]byte) AppendInfo {
	t.Helper()
	joined := bytes.Join(batches, nil)
	info, err := l.Append(joined, 7)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, b := range batches { // as written: offsets and epoch assigned
		joined = joined[copy(b, joined):]
	}
	return info
}

// readAll reads [offset, EndOffset) with unlimited size and returns the bytes.
func readAll(t testing.TB, l *Log, offset int64) []byte {
	t.Helper()
	rr, err := l.Read(offset, 1<<30, l.EndOffset())
	if err != nil {
		t.Fatalf("Read(%d): %v", offset, err)
	}
	defer rr.Release()
	b, err := rr.ReadAll(nil)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if len(b) != rr.Size {
		t.Fatalf("ReadAll returned %d bytes, Size %d", len(b), rr.Size)
	}
	return b
}

// headers splits b into batch headers, checking every CRC.
func headers(t testing.TB, b []byte) []record.Header {
	t.Helper()
	var hs []record.Header
	err := record.Split(b, func(h record.Header, batch []byte) error {
		if err := record.CheckCRC(batch); err != nil {
			return err
		}
		hs = append(hs, h)
		return nil
	})
	if err != nil {
		t.Fatalf("split: %v", err)
	}
	return hs
}

func segFiles(t testing.TB, dir, suffix string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+suffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lastSegFile(t testing.TB, dir, suffix string) string {
	t.Helper()
	m := segFiles(t, dir, suffix)
	if len(m) == 0 {
		t.Fatalf("no %s files in %s", suffix, dir)
	}
	return m[len(m)-1]
}

func appendToFile(t testing.TB, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func fileSize(t testing.TB, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

func isOutOfRange(err error) bool { return errors.Is(err, ErrOffsetOutOfRange) }
