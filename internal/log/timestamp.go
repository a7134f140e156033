package log

import (
	"errors"
	"slices"
	"sort"

	"github.com/sluice-io/sluice/internal/record"
)

// errStop ends a record walk early.
var errStop = errors.New("stop")

// OffsetForTimestamp implements ListOffsets by timestamp: the earliest
// offset >= StartOffset whose record timestamp is >= ts, and that record's
// timestamp; ok is false when there is none. It picks the first segment
// whose largest timestamp is >= ts, starts at the time index entry before
// ts, skips batches whose maxTimestamp is < ts and walks the records
// (decompressing) of the first one that is not.
func (l *Log) OffsetForTimestamp(ts int64) (offset int64, timestamp int64, ok bool) {
	// after is the end offset of the segments searched so far. The next one
	// is found by offset, not base: the cleaner may merge segments between
	// two iterations (re-searching records below after is harmless: none
	// of them matched).
	after := int64(-1)
	for {
		l.mu.Lock()
		if l.closed {
			l.mu.Unlock()
			return -1, -1, false
		}
		start := l.start
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].meta.next > after })
		for ; i < len(l.segs); i++ {
			if s := l.segs[i]; s.meta.next > start && s.meta.maxTs >= ts {
				break
			}
		}
		if i == len(l.segs) {
			l.mu.Unlock()
			return -1, -1, false
		}
		s := l.segs[i]
		from := max(start-s.base, 0)
		if rel, ok := s.tidx.lookupBefore(ts); ok {
			from = max(from, rel)
		}
		_, pos := s.idx.lookup(from)
		limit, next := s.meta.size, s.meta.next
		s.acquire()
		l.mu.Unlock()

		offset, timestamp, ok = l.searchSegment(s, pos, limit, start, func(h *record.Header) bool {
			return h.MaxTimestamp >= ts
		}, func(off, rts int64) bool { return rts >= ts })
		s.release()
		if ok {
			return offset, timestamp, true
		}
		after = next
	}
}

// MaxTimestamp returns the offset and timestamp of the record with the
// largest timestamp at or above StartOffset (ListOffsets -3, KIP-734); the
// earliest such record on ties. It is -1, -1 when the log is empty or no
// batch carries a timestamp. Segments wholly above StartOffset answer from
// their tracked maximum; the one holding StartOffset, if it also holds
// records below it, is scanned.
func (l *Log) MaxTimestamp() (offset int64, timestamp int64) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return -1, -1
	}
	start := l.start
	var partial, best *segment
	for _, s := range l.segs {
		switch {
		case s.meta.next <= start || s.meta.maxTs < 0:
		case s.base < start:
			partial = s // only the segment holding start can straddle it
		case best == nil || s.meta.maxTs > best.meta.maxTs:
			best = s
		}
	}
	var ppos, plimit, bpos, blimit int64
	if partial != nil {
		_, ppos = partial.idx.lookup(start - partial.base)
		plimit = partial.meta.size
		partial.acquire()
		defer partial.release()
	}
	if best != nil {
		_, bpos = best.idx.lookup(best.meta.maxTsBatch - best.base)
		blimit = best.meta.size
		best.acquire()
		defer best.release()
	}
	var maxTs, batch int64
	if best != nil {
		maxTs, batch = best.meta.maxTs, best.meta.maxTsBatch
	}
	l.mu.Unlock()

	if partial != nil {
		if off, ts, ok := l.maxAbove(partial, ppos, plimit, start); ok && (best == nil || ts >= maxTs) {
			return off, ts
		}
	}
	if best == nil {
		return -1, -1
	}
	off, _, ok := l.searchSegment(best, bpos, blimit, start, func(h *record.Header) bool {
		return h.BaseOffset == batch
	}, func(off, rts int64) bool { return rts == maxTs })
	if !ok {
		off = batch // unreadable records: answer at batch granularity
	}
	return off, maxTs
}

// maxAbove finds the record with the largest timestamp at or above start in
// s, scanning batch headers from pos and walking the records of the batch
// straddling start and of the winning batch only.
func (l *Log) maxAbove(s *segment, pos, limit, start int64) (int64, int64, bool) {
	hr := getHeaderReader()
	defer putHeaderReader(hr)
	hr.reset(s.log)
	bestTs, bestOff, bestBatch := int64(-1), int64(-1), int64(-1)
	var bestPos int64
	for pos < limit {
		h, err := hr.header(pos, limit)
		if err != nil {
			l.logger.Warn("max timestamp scan stopped at unreadable batch", "err", err)
			break
		}
		batchPos := pos
		pos += int64(h.Size())
		switch {
		case h.LastOffset() < start || h.MaxTimestamp <= bestTs:
		case h.BaseOffset >= start:
			bestTs, bestOff, bestBatch, bestPos = h.MaxTimestamp, -1, h.BaseOffset, batchPos
		default: // straddles start: only its records >= start count
			var rmax, roff int64 = -1, -1
			l.searchSegment(s, batchPos, pos, start, func(*record.Header) bool { return true },
				func(off, ts int64) bool {
					if ts > rmax {
						rmax, roff = ts, off
					}
					return false
				})
			if rmax > bestTs {
				bestTs, bestOff, bestBatch = rmax, roff, -1
			}
		}
	}
	if bestBatch >= 0 {
		off, _, ok := l.searchSegment(s, bestPos, limit, start, func(h *record.Header) bool {
			return h.BaseOffset == bestBatch
		}, func(_, ts int64) bool { return ts == bestTs })
		if !ok {
			off = bestBatch
		}
		bestOff = off
	}
	return bestOff, bestTs, bestTs >= 0
}

// searchSegment scans the batches of s from pos to limit and, in the first
// batch that wantBatch accepts, returns the first record at or above start
// that wantRecord accepts. It keeps going to later batches if that batch has
// none. A batch whose records cannot be walked is answered at batch
// granularity (its first readable offset and maxTimestamp), and logged.
func (l *Log) searchSegment(s *segment, pos, limit, start int64,
	wantBatch func(*record.Header) bool, wantRecord func(off, ts int64) bool) (int64, int64, bool) {
	hr := getHeaderReader()
	defer putHeaderReader(hr)
	hr.reset(s.log)
	var buf []byte
	for pos < limit {
		h, err := hr.header(pos, limit)
		if err != nil {
			l.logger.Warn("timestamp lookup stopped at unreadable batch", "err", err)
			return -1, -1, false
		}
		batchPos := pos
		pos += int64(h.Size())
		if h.LastOffset() < start || !wantBatch(&h) {
			continue
		}
		buf = slices.Grow(buf[:0], h.Size())[:h.Size()]
		if _, err := s.log.ReadAt(buf, batchPos); err != nil {
			l.logger.Warn("timestamp lookup stopped at unreadable batch", "file", s.log.Name(), "position", batchPos, "err", err)
			return -1, -1, false
		}
		off, ts, found, err := firstRecord(buf, &h, start, wantRecord)
		if err != nil {
			l.logger.Warn("cannot walk the records of a batch; answering at batch granularity",
				"file", s.log.Name(), "offset", h.BaseOffset, "err", err)
			return max(h.BaseOffset, start), h.MaxTimestamp, true
		}
		if found {
			return off, ts, true
		}
	}
	return -1, -1, false
}

// firstRecord returns the first record of batch at or above start that want
// accepts, with its timestamp: the batch maxTimestamp for LogAppendTime
// batches, baseTimestamp+delta otherwise.
func firstRecord(batch []byte, h *record.Header, start int64, want func(off, ts int64) bool) (int64, int64, bool, error) {
	var off, ts int64
	found := false
	err := record.Records(batch, func(r *record.Record) error {
		o := h.BaseOffset + int64(r.OffsetDelta)
		if o < start {
			return nil
		}
		t := h.BaseTimestamp + r.TimestampDelta
		if h.Attributes&record.TimestampLogAppend != 0 {
			t = h.MaxTimestamp
		}
		if want(o, t) {
			off, ts, found = o, t, true
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		err = nil
	}
	return off, ts, found, err
}
