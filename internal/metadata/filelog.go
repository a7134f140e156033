package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
)

// metaLog is the metadata log as the Store uses it: an append-only
// sequence of atomic batches of encoded records, each record one offset.
type metaLog interface {
	// Replay calls fn for every batch in order. It is called once, before
	// the first Append.
	Replay(fn func(baseOffset int64, recs [][]byte) error) error
	// Append writes recs as one batch at the next offset and makes it
	// durable (fsync) before returning its base offset.
	Append(recs [][]byte) (int64, error)
	Close() error
}

// fileLog is a minimal metadata log in one file, used until the partition
// log package (internal/log) can host the metadata log as Kafka record
// batches. Each batch is a frame:
//
//	[length u32: bytes after this field][crc32c u32: of the bytes after it]
//	[baseOffset i64][count u32] count × ([len uvarint][record bytes])
//
// On replay a frame that is short, fails its CRC or does not continue the
// offsets is a torn tail: the file is truncated there (and the loss
// logged), as Kafka's log recovery does.
type fileLog struct {
	f      *os.File
	path   string
	size   int64
	next   int64 // offset of the next record
	logger *slog.Logger
	failed error // set when a failed write left the file in doubt
}

const fileLogName = "metadata.frames"

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func openFileLog(dir string, logger *slog.Logger) (*fileLog, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fileLogName)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := syncDir(dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &fileLog{f: f, path: path, logger: logger}, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func (l *fileLog) Replay(fn func(int64, [][]byte) error) error {
	data, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	pos := 0
	for pos < len(data) {
		base, recs, n, reason := parseFrame(data[pos:], l.next)
		if reason != "" {
			l.logger.Warn("metadata log: truncating torn or corrupt tail",
				"file", l.path, "position", pos, "dropped_bytes", len(data)-pos, "reason", reason)
			if err := l.f.Truncate(int64(pos)); err != nil {
				return err
			}
			if err := l.f.Sync(); err != nil {
				return err
			}
			break
		}
		if err := fn(base, recs); err != nil {
			return err
		}
		l.next = base + int64(len(recs))
		pos += n
	}
	l.size = int64(pos)
	return nil
}

// parseFrame parses the frame at the front of b, expecting base offset
// want. It returns the frame size, or a reason why b holds no valid frame.
func parseFrame(b []byte, want int64) (int64, [][]byte, int, string) {
	if len(b) < 8 {
		return 0, nil, 0, "short frame header"
	}
	length := int(binary.BigEndian.Uint32(b))
	if length < 16 || length > len(b)-4 {
		return 0, nil, 0, fmt.Sprintf("frame length %d with %d bytes left", length, len(b)-4)
	}
	body := b[8 : 4+length]
	if crc32.Checksum(body, crcTable) != binary.BigEndian.Uint32(b[4:]) {
		return 0, nil, 0, "crc mismatch"
	}
	base := int64(binary.BigEndian.Uint64(body))
	count := binary.BigEndian.Uint32(body[8:])
	if base != want {
		return 0, nil, 0, fmt.Sprintf("base offset %d, want %d", base, want)
	}
	rest := body[12:]
	recs := make([][]byte, 0, min(int(count), len(rest)))
	for range count {
		n, k := binary.Uvarint(rest)
		if k <= 0 || n > uint64(len(rest)-k) {
			return 0, nil, 0, "bad record length"
		}
		recs = append(recs, rest[k:k+int(n)])
		rest = rest[k+int(n):]
	}
	if len(rest) != 0 {
		return 0, nil, 0, "trailing bytes in frame"
	}
	return base, recs, 4 + length, ""
}

func (l *fileLog) Append(recs [][]byte) (int64, error) {
	if l.failed != nil {
		return 0, l.failed
	}
	frame := make([]byte, 8, 64)
	frame = binary.BigEndian.AppendUint64(frame, uint64(l.next))
	frame = binary.BigEndian.AppendUint32(frame, uint32(len(recs)))
	for _, r := range recs {
		frame = binary.AppendUvarint(frame, uint64(len(r)))
		frame = append(frame, r...)
	}
	binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
	binary.BigEndian.PutUint32(frame[4:], crc32.Checksum(frame[8:], crcTable))
	if _, err := l.f.WriteAt(frame, l.size); err != nil {
		return 0, l.fail(err)
	}
	if err := l.f.Sync(); err != nil {
		// After a failed fsync the page cache state is unknown: stop.
		l.failed = fmt.Errorf("metadata log unusable after failed fsync: %w", err)
		return 0, l.failed
	}
	base := l.next
	l.size += int64(len(frame))
	l.next += int64(len(recs))
	return base, nil
}

// fail cuts a partly written frame off; if even that fails the log
// refuses further appends (a restart recovers it by replay).
func (l *fileLog) fail(err error) error {
	if terr := l.f.Truncate(l.size); terr != nil {
		l.failed = fmt.Errorf("metadata log unusable after failed write: %w", err)
		return l.failed
	}
	return err
}

func (l *fileLog) Close() error { return l.f.Close() }
