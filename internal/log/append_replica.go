package log

import (
	"errors"
	"fmt"
	"math"

	"github.com/sluice-io/sluice/internal/record"
)

// ErrNonMonotonic is a replica append whose batches do not start at or
// above the LEO, or do not strictly increase (Kafka's "out of order
// offsets" on a follower): nothing of it is written.
var ErrNonMonotonic = errors.New("log: replica append: offsets not above the log end")

// AppendReplica writes batches a follower fetched from its leader as they
// are: base offsets and partition leader epochs are kept (the leader
// assigned them), so the follower's log is the leader's byte for byte.
// The first base offset must be >= the LEO, and each batch's above the
// previous batch's last offset; gaps are allowed (a compacted leader has
// them). It returns once the bytes are in the page cache; Sync makes them
// durable.
//
// INVARIANT: the active segment has no gaps (recovery checks it strictly):
// a batch above the LEO first rolls to a new segment named after its base
// offset, so a gap only ever lies between segments.
func (l *Log) AppendReplica(batches []byte) (AppendInfo, error) {
	info := AppendInfo{FirstOffset: -1, MaxTimestamp: -1, OffsetOfMaxTimestamp: -1}
	if len(batches) == 0 {
		return info, errors.New("log: replica append: no batches")
	}
	if len(batches) > math.MaxInt32 {
		return info, fmt.Errorf("log: replica append: %d bytes in one append", len(batches))
	}
	// runs are maximal sequences of contiguous batches: each is written
	// with one write, and a new run starts at every gap.
	type run struct {
		from, to int64 // byte range in batches
		base     int64
		hs       []batchInfo
	}
	var runs []run
	prev := int64(-1)
	p := int64(0)
	err := record.Split(batches, func(h record.Header, _ []byte) error {
		if h.LastOffsetDelta < 0 {
			return fmt.Errorf("%w: lastOffsetDelta %d", record.ErrCorrupt, h.LastOffsetDelta)
		}
		if prev >= 0 && h.BaseOffset <= prev {
			return fmt.Errorf("%w: batch at %d after offset %d", ErrNonMonotonic, h.BaseOffset, prev)
		}
		bi := batchInfo{last: h.LastOffset(), maxTs: h.MaxTimestamp, size: int64(h.Size())}
		if len(runs) == 0 || h.BaseOffset != prev+1 {
			runs = append(runs, run{from: p, base: h.BaseOffset})
		}
		r := &runs[len(runs)-1]
		r.hs = append(r.hs, bi)
		p += bi.size
		r.to = p
		prev = bi.last
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("log: replica append: %w", err)
	}

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		return info, err
	}
	if runs[0].base < l.leo {
		return info, fmt.Errorf("%w: first base offset %d, log end %d", ErrNonMonotonic, runs[0].base, l.leo)
	}
	info.FirstOffset = runs[0].base
	for _, r := range runs {
		if err := l.appendRunLocked(batches[r.from:r.to], r.base, r.hs, &info); err != nil {
			return info, err
		}
	}
	return info, nil
}

// appendRunLocked writes contiguous batches starting at base (>= LEO).
// Caller holds appendMu.
func (l *Log) appendRunLocked(b []byte, base int64, hs []batchInfo, info *AppendInfo) error {
	nowMs := l.now().UnixMilli()
	last := hs[len(hs)-1].last
	maxTs := int64(-1)
	for _, h := range hs {
		maxTs = max(maxTs, h.maxTs)
	}
	s := l.active()
	if base != l.leo {
		if err := l.startSegmentAt(base, nowMs); err != nil {
			return err
		}
		s = l.active()
	} else if s.meta.size > 0 && (s.meta.size+int64(len(b)) > l.cfg.SegmentBytes ||
		s.rollDue(maxTs, nowMs, l.cfg.SegmentMs) || last-s.base > math.MaxUint32) {
		if err := l.roll(nowMs); err != nil {
			return err
		}
		s = l.active()
	}
	if last-s.base > math.MaxUint32 {
		return fmt.Errorf("log: replica append: offsets %d..%d overflow segment %d", base, last, s.base)
	}
	meta := s.meta
	var oi, ti []byte
	next := base
	for _, h := range hs {
		oi, ti = meta.track(s.base, next, h, l.cfg.IndexIntervalBytes, oi, ti)
		if h.maxTs > info.MaxTimestamp {
			info.MaxTimestamp, info.OffsetOfMaxTimestamp = h.maxTs, h.last
		}
		next = h.last + 1
	}
	if err := writeSegment(s.log, b, s.meta.size); err != nil {
		// As Append: a failed write leaves no trace.
		_ = s.log.Truncate(s.meta.size)
		return l.fail(fmt.Errorf("write %s: %w", s.log.Name(), err))
	}
	if len(b) <= writebackMaxBytes {
		_ = startWriteback(s.log, s.meta.size, int64(len(b)))
	}
	l.mu.Lock()
	s.meta = meta
	s.idx.buf = append(s.idx.buf, oi...)
	s.tidx.buf = append(s.tidx.buf, ti...)
	s.lastWriteMs = nowMs
	l.leo = next
	l.mu.Unlock()
	if err := errors.Join(s.idx.flush(), s.tidx.flush()); err != nil {
		return l.fail(fmt.Errorf("write index: %w", err))
	}
	info.LastOffset = next - 1
	return nil
}

// startSegmentAt makes the active segment start at base (> LEO): a
// non-empty active segment is sealed and a new one created at base; an
// empty one is replaced (nothing can be read from it). The offsets between
// the old LEO and base never existed on the leader. Caller holds appendMu.
func (l *Log) startSegmentAt(base int64, nowMs int64) error {
	old := l.active()
	if old.meta.size > 0 {
		l.mu.Lock()
		old.addSealEntry()
		l.mu.Unlock()
		if err := errors.Join(old.idx.flush(), old.tidx.flush()); err != nil {
			return l.fail(fmt.Errorf("seal %s: %w", old.log.Name(), err))
		}
		if err := old.syncAll(); err != nil {
			return l.fail(fmt.Errorf("seal %s: %w", old.log.Name(), err))
		}
	}
	s, err := openSegment(l.dir, base, true, nowMs)
	if err != nil {
		return l.fail(fmt.Errorf("replica append: create segment %d: %w", base, err))
	}
	l.dirDirty.Store(true)
	l.mu.Lock()
	if old.meta.size == 0 {
		l.segs[len(l.segs)-1] = s
	} else {
		l.segs = append(l.segs, s)
	}
	l.leo = base
	l.mu.Unlock()
	if old.meta.size == 0 {
		err := old.removeFiles()
		old.release()
		if err != nil {
			return l.fail(fmt.Errorf("replica append: remove empty segment %d: %w", old.base, err))
		}
	}
	return nil
}
