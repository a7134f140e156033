package log

import (
	"fmt"
	"hash/crc32"
	"io"

	"github.com/sluice-io/sluice/internal/record"
)

// Strict recovery (Config.StrictRecovery) tells a torn tail from damage in
// the middle of the log. A crash can only tear what had not been fsynced:
// the end of the last segment. A writer that fsyncs each batch before
// appending the next (the metadata log) has at most one batch in flight,
// so after a torn tail no valid batch follows. Recovery therefore looks,
// past the first invalid batch of the last segment, for any later valid
// batch (FindBatch): none means a torn tail, truncated as in the default
// mode; one means the bytes in between were damaged at rest, and Open
// fails with a *CorruptError rather than drop every batch after them.
// Sealed segments were fsynced whole at roll, so any damage in them fails
// Open. (A writer with several batches in flight could see a later batch
// survive a power loss that tore an earlier one: strict mode is not for
// it.)

// CorruptError is Open's error, in strict recovery, for damage that is not
// a torn tail. Nothing was changed on disk.
type CorruptError struct {
	File      string // the segment file
	Position  int64  // of the first invalid batch
	Offset    int64  // the offset that batch should start at
	Reason    error  // why the batch is invalid
	NextValid int64  // position of the first valid batch after it in File, -1 if none
}

func (e *CorruptError) Error() string {
	where := fmt.Sprintf("%s is damaged at position %d, offset %d: %v", e.File, e.Position, e.Offset, e.Reason)
	if e.NextValid >= 0 {
		return fmt.Sprintf("%s; a valid batch follows at position %d, so this is not a torn tail", where, e.NextValid)
	}
	return where + "; the segment is sealed, so this is not a torn tail"
}

func (e *CorruptError) Unwrap() error { return e.Reason }

// refuseMidLogDamage is strict recovery's verdict on the invalid batch
// that stopped a scan of s at s.meta.size (stop says why): nil for a torn
// tail (the last segment, no valid batch after it), else a *CorruptError.
func (s *segment) refuseMidLogDamage(fileSize int64, sealed bool, stop error) error {
	next, found, err := FindBatch(s.log, s.meta.size+1, fileSize, s.meta.next)
	if err != nil {
		return err
	}
	if !found && !sealed {
		return nil
	}
	e := &CorruptError{File: s.log.Name(), Position: s.meta.size, Offset: s.meta.next, Reason: stop, NextValid: -1}
	if found {
		e.NextValid = next
	}
	return e
}

// findWindow is how much FindBatch reads at a time.
const findWindow = 64 << 10

// FindBatch returns the position of the first valid batch that starts in
// [from, end) of r and lies wholly before end: its header parses (magic
// 2), its base offset is at least minOffset, its lastOffsetDelta is not
// negative and its CRC-32C matches. Random or zeroed bytes pass all of
// these by chance with odds far below 2^-32 per position.
func FindBatch(r io.ReaderAt, from, end, minOffset int64) (pos int64, found bool, err error) {
	buf := make([]byte, findWindow+record.HeaderSize)
	crc := crc32.New(castagnoli)
	for base := from; base+record.HeaderSize <= end; base += findWindow {
		n := min(int64(len(buf)), end-base)
		w := buf[:n]
		if m, err := r.ReadAt(w, base); int64(m) < n {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, false, err
		}
		for i := 0; i < findWindow && int64(i)+record.HeaderSize <= n; i++ {
			if w[i+16] != 2 { // magic: the cheap filter first
				continue
			}
			h, err := record.ParseHeader(w[i:])
			q := base + int64(i)
			if err != nil || h.BaseOffset < minOffset || h.LastOffsetDelta < 0 || q+int64(h.Size()) > end {
				continue
			}
			crc.Reset()
			if _, err := io.Copy(crc, io.NewSectionReader(r, q+21, int64(h.Size())-21)); err != nil {
				return 0, false, err
			}
			if crc.Sum32() == h.CRC {
				return q, true, nil
			}
		}
	}
	return 0, false, nil
}
