package log

import (
	"bufio"
	"fmt"
	"io"

	"github.com/sluice-io/sluice/internal/record"
)

// offsetMap is the cleaner's key -> latest offset map over the dirty range.
// Keys are held exactly (not hashed as Kafka does), so two keys can never
// be confused and a live record can never be dropped for a collision; the
// memory bound is enforced by estimating each entry's cost.
type offsetMap struct {
	m     map[string]int64
	bytes int64 // estimated memory held by m
	limit int64 // <= 0: unbounded
	last  int64 // largest offset put, -1 when empty
}

// mapEntryOverhead approximates a Go map entry with a string key and an
// int64 value (header, bucket slot, string header, load factor slack).
const mapEntryOverhead = 48

func newOffsetMap(limit int64) *offsetMap {
	return &offsetMap{m: map[string]int64{}, limit: limit, last: -1}
}

func entryCost(key string) int64 { return int64(len(key)) + mapEntryOverhead }

// latest returns the latest offset of key in the dirty range.
func (m *offsetMap) latest(key []byte) (int64, bool) {
	off, ok := m.m[string(key)]
	return off, ok
}

// merge adds one segment's entries if they fit. The first segment is
// always taken, so a pass always makes progress even when a single
// segment needs more than the dedupe buffer.
func (m *offsetMap) merge(seg map[string]int64) bool {
	var add int64
	for k := range seg {
		if _, ok := m.m[k]; !ok {
			add += entryCost(k)
		}
	}
	if len(m.m) > 0 && m.limit > 0 && m.bytes+add > m.limit {
		return false
	}
	for k, off := range seg {
		// INVARIANT: segments are merged in offset order, so the value
		// kept is the latest offset of the key.
		m.m[k] = off
		m.last = max(m.last, off)
	}
	m.bytes += add
	return true
}

// abortedIndex answers whether a transactional batch belongs to an aborted
// transaction: same producer, base offset between the transaction's first
// offset and its abort marker.
type abortedIndex map[int64][]AbortedTxn

func newAbortedIndex(txns []AbortedTxn) abortedIndex {
	x := abortedIndex{}
	for _, t := range txns {
		x[t.ProducerID] = append(x[t.ProducerID], t)
	}
	return x
}

func (x abortedIndex) aborted(h *record.Header) bool {
	if !h.IsTransactional() || h.IsControl() {
		return false
	}
	for _, t := range x[h.ProducerID] {
		if t.FirstOffset <= h.BaseOffset && h.BaseOffset <= t.LastOffset {
			return true
		}
	}
	return false
}

// batchReader streams the whole batches of a sealed segment (up to the
// size seen when the cleaner took its reference; sealed segments never
// change).
type batchReader struct {
	s   *segment
	br  *bufio.Reader
	pos int64
	buf []byte
}

func newBatchReader(s *segment, bufSize int) *batchReader {
	n := int(min(int64(bufSize), max(s.meta.size, 4096)))
	return &batchReader{s: s, br: bufio.NewReaderSize(io.NewSectionReader(s.log, 0, s.meta.size), n)}
}

// next returns the next batch (valid until the following call) or io.EOF.
func (r *batchReader) next() (record.Header, []byte, error) {
	if r.pos >= r.s.meta.size {
		return record.Header{}, nil, io.EOF
	}
	var hdr [record.HeaderSize]byte
	if _, err := io.ReadFull(r.br, hdr[:]); err != nil {
		return record.Header{}, nil, fmt.Errorf("%s at %d: %w", r.s.log.Name(), r.pos, err)
	}
	h, err := record.ParseHeader(hdr[:])
	if err != nil {
		return h, nil, fmt.Errorf("%s at %d: %w", r.s.log.Name(), r.pos, err)
	}
	size := h.Size()
	if r.pos+int64(size) > r.s.meta.size {
		return h, nil, fmt.Errorf("%s at %d: %w: batch passes the segment end", r.s.log.Name(), r.pos, record.ErrCorrupt)
	}
	if cap(r.buf) < size {
		r.buf = make([]byte, size)
	}
	b := r.buf[:size]
	copy(b, hdr[:])
	if _, err := io.ReadFull(r.br, b[record.HeaderSize:]); err != nil {
		return h, nil, fmt.Errorf("%s at %d: %w", r.s.log.Name(), r.pos, err)
	}
	r.pos += int64(size)
	return h, b, nil
}

// buildOffsetMap maps every key written in [first, end) to its latest
// offset, segment by segment, stopping before a segment that does not fit
// the map. mapEnd is the first offset the map does not cover: records at
// or above it are kept as they are by this pass. Aborted transactional
// records and control records are not keys' values, so they stay out.
func buildOffsetMap(segs []*segment, first, end int64, o *CleanOptions, ab abortedIndex) (*offsetMap, int64, error) {
	m := newOffsetMap(o.MapBytes)
	mapEnd := first
	for _, s := range segs {
		if s.meta.next <= first || s.base >= end {
			continue
		}
		seg := map[string]int64{}
		r := newBatchReader(s, o.ioBuffer())
		segEnd := min(s.meta.next, end)
		for {
			h, b, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, 0, err
			}
			if h.BaseOffset < first {
				continue
			}
			if h.LastOffset() >= end {
				segEnd = min(segEnd, h.BaseOffset)
				break
			}
			if h.IsControl() || ab.aborted(&h) {
				continue
			}
			base := h.BaseOffset
			err = record.Records(b, func(rec *record.Record) error {
				if rec.Key != nil {
					seg[string(rec.Key)] = base + int64(rec.OffsetDelta)
				}
				return nil
			})
			if err != nil {
				return nil, 0, fmt.Errorf("%s: batch %d: %w", s.log.Name(), base, err)
			}
		}
		if !m.merge(seg) {
			break
		}
		mapEnd = max(mapEnd, segEnd)
		if segEnd < s.meta.next {
			break
		}
	}
	return m, mapEnd, nil
}
