package log

import (
	"errors"
	"fmt"
)

// TruncateTo removes every offset >= offset (replication: a follower
// dropping a diverged tail). Only whole batches are removed: if offset falls
// inside a batch, that batch goes too and EndOffset becomes its base offset.
// Below StartOffset the log is emptied and restarts at offset. The change is
// fsynced before TruncateTo returns, so removed batches cannot reappear after
// a crash.
//
// A ReadResult taken before TruncateTo may cover removed bytes; callers
// must not truncate a log that serves reads of the removed range.
func (l *Log) TruncateTo(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if offset >= l.leo {
		return nil
	}
	if offset < 0 {
		return ErrOffsetOutOfRange
	}
	if offset < l.start {
		if err := writeStartOffset(l.dir, offset); err != nil {
			return fmt.Errorf("log: persist start offset: %w", err)
		}
		if err := l.resetTo(offset); err != nil {
			return l.fail(fmt.Errorf("truncate: %w", err))
		}
		return nil
	}

	// The cleaner checkpoint comes down first, so a crash in between
	// leaves it low (more to clean), never above new batches.
	l.lowerCleanCheckpoint(offset)
	// Whole segments at or above offset (the first one always stays).
	removed := false
	for len(l.segs) > 1 && l.active().base >= offset {
		s := l.active()
		l.mu.Lock()
		l.segs = l.segs[:len(l.segs)-1]
		l.truncGen++
		l.mu.Unlock()
		removed = true
		err := s.removeFiles()
		s.release()
		if err != nil {
			return l.fail(fmt.Errorf("truncate: %w", err))
		}
	}

	s := l.active()
	cut, newNext, err := l.batchPosition(s, offset)
	if err != nil {
		return l.fail(fmt.Errorf("truncate: %w", err))
	}
	if err := s.log.Truncate(cut); err != nil {
		return l.fail(fmt.Errorf("truncate: %w", err))
	}
	l.mu.Lock()
	err = errors.Join(s.idx.cut(cut), s.tidx.cut(newNext-s.base))
	var problem error
	if err == nil {
		problem, err = s.reloadTail(cut, l.cfg.IndexIntervalBytes)
	}
	if err == nil && problem == nil && s.meta.next != newNext {
		problem = fmt.Errorf("segment ends at %d after truncation, expected %d", s.meta.next, newNext)
	}
	l.leo = s.meta.next
	l.truncGen++
	if l.durable.Load() > l.leo {
		l.durable.Store(l.leo)
	}
	l.mu.Unlock()
	if err == nil && problem != nil {
		err = problem
	}
	if err == nil {
		err = errors.Join(s.idx.flush(), s.tidx.flush())
	}
	if err == nil {
		err = s.syncAll()
	}
	if err == nil && removed {
		err = syncDir(l.dir)
	}
	if err != nil {
		return l.fail(fmt.Errorf("truncate: %w", err))
	}
	if l.start > l.leo {
		// The start was inside the removed batch.
		if err := writeStartOffset(l.dir, l.leo); err != nil {
			return l.fail(fmt.Errorf("truncate: persist start offset: %w", err))
		}
		l.mu.Lock()
		l.start = l.leo
		l.mu.Unlock()
	}
	l.lowerCleanCheckpoint(l.leo)
	l.logger.Info("truncated log", "dir", l.dir, "to", offset, "end", l.leo)
	return nil
}

// batchPosition finds the batch of s holding offset (the first one whose
// last offset is >= offset) and returns its position and base offset, or
// the segment end when there is none. Caller holds appendMu.
func (l *Log) batchPosition(s *segment, offset int64) (pos, base int64, err error) {
	_, pos = s.idx.lookup(offset - s.base)
	for pos < s.meta.size {
		h, err := readHeaderAt(s.log, pos)
		if err != nil {
			return 0, 0, fmt.Errorf("%s at %d: %w", s.log.Name(), pos, err)
		}
		if h.LastOffset() >= offset {
			return pos, h.BaseOffset, nil
		}
		pos += int64(h.Size())
	}
	return s.meta.size, s.meta.next, nil
}

// ResetTo empties the log and restarts it at offset, above or below the
// current range: a raft follower installing a snapshot, or a replica
// reset to its leader's start. The new start offset is persisted before
// any segment is deleted, so a crash leaves either the old log or an
// empty one at offset.
func (l *Log) ResetTo(offset int64) error {
	if offset < 0 {
		return ErrOffsetOutOfRange
	}
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if err := writeStartOffset(l.dir, offset); err != nil {
		return fmt.Errorf("log: persist start offset: %w", err)
	}
	// A reset that stops part-way has deleted some segments' files that
	// the log still lists: refuse writes until a heal or reopen.
	if err := l.resetTo(offset); err != nil {
		return l.fail(fmt.Errorf("reset: %w", err))
	}
	return nil
}

// resetTo deletes every segment and starts an empty one at offset. Caller
// holds appendMu (or is Open).
func (l *Log) resetTo(offset int64) error {
	l.lowerCleanCheckpoint(offset)
	old := l.segs
	for _, s := range old {
		if err := s.removeFiles(); err != nil {
			return err
		}
	}
	s, err := openSegment(l.dir, offset, true, l.now().UnixMilli())
	if err != nil {
		return err
	}
	l.mu.Lock()
	l.segs = []*segment{s}
	l.start, l.leo = offset, offset
	l.truncGen++
	l.mu.Unlock()
	for _, s := range old {
		s.release()
	}
	if err := syncDir(l.dir); err != nil {
		return err
	}
	l.durable.Store(offset)
	return nil
}
