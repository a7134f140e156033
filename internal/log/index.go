package log

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"sort"
)

// Entry sizes of the two index files (layouts in doc.go).
const (
	offsetEntrySize = 8  // uint32 relative offset, uint32 file position
	timeEntrySize   = 12 // int64 max timestamp so far, uint32 relative offset
)

// indexFile is a plain file of fixed-size entries that is only ever appended
// to (or rewritten whole), with an in-memory copy of its contents used for
// every lookup. buf[:written] is what the file holds; buf[written:] are entries
// added in memory but not written yet.
type indexFile struct {
	f       *os.File
	entSize int
	buf     []byte
	written int
}

func (x *indexFile) entries() int { return len(x.buf) / x.entSize }

// flush writes the pending entries with one pwrite.
func (x *indexFile) flush() error {
	if x.written == len(x.buf) {
		return nil
	}
	if _, err := x.f.WriteAt(x.buf[x.written:], int64(x.written)); err != nil {
		return err
	}
	x.written = len(x.buf)
	return nil
}

// rewrite replaces the file contents with buf (after a rebuild or truncation).
func (x *indexFile) rewrite() error {
	x.written = 0
	if err := x.f.Truncate(0); err != nil {
		return err
	}
	return x.flush()
}

// truncateEntries keeps the first n entries in memory and on disk.
func (x *indexFile) truncateEntries(n int) error {
	if n >= x.entries() {
		return nil
	}
	x.buf = x.buf[:n*x.entSize]
	if x.written > len(x.buf) {
		x.written = len(x.buf)
		return x.f.Truncate(int64(x.written))
	}
	return nil
}

// reset empties the in-memory copy; rewrite then empties the file.
func (x *indexFile) reset() { x.buf, x.written = x.buf[:0], 0 }

// load reads the whole file into memory.
func (x *indexFile) load() error {
	st, err := x.f.Stat()
	if err != nil {
		return err
	}
	x.buf = make([]byte, st.Size())
	if _, err := x.f.ReadAt(x.buf, 0); err != nil {
		return err
	}
	x.written = len(x.buf)
	return nil
}

// offsetIndex maps offsets to file positions: one entry (baseOffset of a batch
// relative to the segment base, position of that batch) per
// IndexIntervalBytes of log. A missing entry means "the segment start".
type offsetIndex struct{ indexFile }

func (x *offsetIndex) entry(i int) (rel uint32, pos uint32) {
	b := x.buf[i*offsetEntrySize:]
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
}

// appendOffsetEntry encodes one offset index entry onto b.
func appendOffsetEntry(b []byte, rel, pos uint32) []byte {
	b = binary.BigEndian.AppendUint32(b, rel)
	return binary.BigEndian.AppendUint32(b, pos)
}

// lookup returns the entry with the largest relative offset <= rel, or the
// segment start (0, 0) when there is none. The batch at the returned
// position has a base offset <= rel, so scanning forward from it finds the
// batch containing rel.
func (x *offsetIndex) lookup(rel int64) (entryRel int64, pos int64) {
	n := x.entries()
	i := sort.Search(n, func(i int) bool {
		r, _ := x.entry(i)
		return int64(r) > rel
	})
	if i == 0 {
		return 0, 0
	}
	r, p := x.entry(i - 1)
	return int64(r), int64(p)
}

// last returns the last entry, or (0, 0) when empty.
func (x *offsetIndex) last() (rel int64, pos int64) {
	if n := x.entries(); n > 0 {
		r, p := x.entry(n - 1)
		return int64(r), int64(p)
	}
	return 0, 0
}

// validate checks the on-disk invariants: whole entries, relative offsets
// and positions strictly increasing, every position inside the log file.
func (x *offsetIndex) validate(logSize int64) error {
	if len(x.buf)%offsetEntrySize != 0 {
		return fmt.Errorf("size %d not a multiple of %d", len(x.buf), offsetEntrySize)
	}
	for i := range x.entries() {
		r, p := x.entry(i)
		if int64(p) >= logSize {
			return fmt.Errorf("entry %d points to position %d past the log end %d", i, p, logSize)
		}
		if i > 0 {
			pr, pp := x.entry(i - 1)
			if r <= pr || p <= pp {
				return fmt.Errorf("entry %d (%d@%d) not after entry %d (%d@%d)", i, r, p, i-1, pr, pp)
			}
		}
	}
	return nil
}

// cut drops the entries at or past pos (a truncated log tail).
func (x *offsetIndex) cut(pos int64) error {
	n := sort.Search(x.entries(), func(i int) bool {
		_, p := x.entry(i)
		return int64(p) >= pos
	})
	return x.truncateEntries(n)
}

// timeIndex maps timestamps to offsets: each entry is the largest batch
// maxTimestamp seen in the segment so far and the relative base offset of
// the first batch that carried it, written alongside offset index entries
// when it grew (and once more when the segment is sealed). An entry (ts, rel)
// promises that every record at or before the indexing point has a
// timestamp <= ts.
type timeIndex struct{ indexFile }

func (x *timeIndex) entry(i int) (ts int64, rel uint32) {
	b := x.buf[i*timeEntrySize:]
	return int64(binary.BigEndian.Uint64(b)), binary.BigEndian.Uint32(b[8:])
}

// lastTs is the timestamp of the last entry, or MinInt64 when empty.
func (x *timeIndex) lastTs() int64 {
	if n := x.entries(); n > 0 {
		ts, _ := x.entry(n - 1)
		return ts
	}
	return math.MinInt64
}

// appendTimeEntry encodes one time index entry onto b.
func appendTimeEntry(b []byte, ts int64, rel uint32) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	return binary.BigEndian.AppendUint32(b, rel)
}

// lookupBefore returns the relative offset of the last entry whose
// timestamp is < ts: every record up to that entry's indexing point is older
// than ts, so a search for ts can start there. ok is false when there is none.
func (x *timeIndex) lookupBefore(ts int64) (rel int64, ok bool) {
	i := sort.Search(x.entries(), func(i int) bool {
		t, _ := x.entry(i)
		return t >= ts
	})
	if i == 0 {
		return 0, false
	}
	_, r := x.entry(i - 1)
	return int64(r), true
}

// validate checks whole entries, strictly increasing timestamps,
// non-decreasing offsets, all below span (the segment's offset count).
func (x *timeIndex) validate(span int64) error {
	if len(x.buf)%timeEntrySize != 0 {
		return fmt.Errorf("size %d not a multiple of %d", len(x.buf), timeEntrySize)
	}
	for i := range x.entries() {
		ts, r := x.entry(i)
		if int64(r) >= span {
			return fmt.Errorf("entry %d points to relative offset %d past the segment's %d offsets", i, r, span)
		}
		if i > 0 {
			pts, pr := x.entry(i - 1)
			if ts <= pts || r < pr {
				return fmt.Errorf("entry %d (%d@%d) not after entry %d (%d@%d)", i, ts, r, i-1, pts, pr)
			}
		}
	}
	return nil
}

// cut drops the entries pointing at or past relative offset rel.
func (x *timeIndex) cut(rel int64) error {
	n := sort.Search(x.entries(), func(i int) bool {
		_, r := x.entry(i)
		return int64(r) >= rel
	})
	return x.truncateEntries(n)
}
