package log

import (
	"errors"
	"fmt"
)

// ErrLost: Heal found fewer records on disk than had been fsynced. The log
// stays failed; only an operator can decide what to do with the directory.
var ErrLost = errors.New("log: fsynced records missing")

// ErrDropped: Sync was asked for offsets that Heal dropped (they were
// appended but never fsynced before the log failed). Their appends must be
// reported as failed: the offsets hold nothing and are never reused.
var ErrDropped = errors.New("log: offsets dropped when the log was healed")

// HealInfo describes what Heal did.
type HealInfo struct {
	// Dropped is the number of offsets, from DroppedFrom on, that had been
	// handed out but are not in the healed log (never fsynced, or cut as a
	// torn tail). The LEO stays where it was: they are a gap, never reused.
	Dropped     int64
	DroppedFrom int64
}

// hole is a range of offsets [from, to) that Heal dropped.
type hole struct{ from, to int64 }

// Heal brings a failed log back without a restart, once the disk takes
// writes again. It reloads the log from its files exactly as Open would
// (recovery: torn tails cut, indexes checked), into fresh state, so nothing
// the failed writes left in memory survives. With dropUnsynced, every batch
// at or above the offset last reported durable is then dropped: none of it
// was acknowledged as durable, and after a failed fsync the page cache may
// hold bytes the disk does not (the kernel may already have marked them
// clean), so only what an fsync confirmed is trusted. Without it (a log
// whose appends are acknowledged before fsync) what recovery keeps stays.
//
// The LEO does not move back: dropped offsets become a gap (the next append
// starts a new segment at the old LEO), so an offset is never handed out
// twice, and a Sync still waiting for a dropped offset returns ErrDropped
// instead of succeeding for records that are gone.
//
// On a log that has not failed Heal does nothing. If recovery finds less
// than was fsynced, Heal returns ErrLost and the log stays failed.
func (l *Log) Heal(dropUnsynced bool) (HealInfo, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return HealInfo{}, ErrClosed
	}
	if l.failure() == nil {
		return HealInfo{}, nil
	}
	// No fsync may run on the old files while they are replaced: wait for
	// the running one. None starts after it, the log being failed.
	l.syncMu.Lock()
	for l.syncing {
		l.syncCond.Wait()
	}
	l.syncMu.Unlock()

	l.mu.Lock()
	oldEnd := l.leo
	l.mu.Unlock()
	durable := l.durable.Load()

	// Recovery runs on a private Log: readers keep the old state (under
	// mu) until the new one is complete.
	fresh := &Log{dir: l.dir, logger: l.logger, now: l.now, cfg: l.cfg}
	fresh.syncCond.L = &fresh.syncMu
	discard := func() {
		for _, s := range fresh.segs {
			s.release()
		}
	}
	if err := fresh.recover(false); err != nil {
		discard()
		return HealInfo{}, fmt.Errorf("log: heal %s: recovery: %w", l.dir, err)
	}
	if fresh.leo < durable {
		discard()
		return HealInfo{}, fmt.Errorf("%w: %s: recovery ends at offset %d, offsets up to %d were fsynced", ErrLost, l.dir, fresh.leo, durable)
	}
	kept, err := fresh.dropFrom(durable, oldEnd, dropUnsynced)
	if err != nil {
		discard()
		return HealInfo{}, fmt.Errorf("log: heal %s: %w", l.dir, err)
	}
	info := HealInfo{DroppedFrom: kept, Dropped: max(oldEnd-kept, 0)}

	l.syncMu.Lock()
	if info.Dropped > 0 {
		l.holes = append(l.holes, hole{info.DroppedFrom, oldEnd})
	}
	l.mu.Lock()
	old := l.segs
	l.segs, l.start, l.leo = fresh.segs, fresh.start, fresh.leo
	l.truncGen++
	l.durable.Store(fresh.durable.Load())
	l.dirDirty.Store(fresh.dirDirty.Load())
	l.failErr.Store(nil)
	l.mu.Unlock()
	l.syncMu.Unlock()
	for _, s := range old {
		s.release()
	}
	l.logger.Warn("log healed", "dir", l.dir, "end", l.leo, "dropped_offsets", info.Dropped, "dropped_from", info.DroppedFrom)
	return info, nil
}

// dropFrom finishes a heal on a just-recovered private log: with
// dropUnsynced it cuts everything at or above durable, then moves the LEO
// up to oldEnd (the failed log's LEO) if it is below, leaving a gap. It
// returns the end of the records kept.
func (l *Log) dropFrom(durable, oldEnd int64, dropUnsynced bool) (kept int64, err error) {
	if dropUnsynced && l.leo > durable {
		if durable <= l.start {
			// Nothing from the start on was fsynced (DeleteRecords may
			// move the start past the durable offset): keep nothing.
			kept = l.start
			return kept, l.resetTo(max(oldEnd, l.leo))
		}
		if err := l.TruncateTo(durable); err != nil {
			return 0, err
		}
	}
	kept = l.leo
	if l.leo >= oldEnd {
		return kept, nil
	}
	// INVARIANT: no offset is handed out twice. The new active segment
	// starts at the failed log's LEO; the offsets in between hold nothing.
	nowMs := l.now().UnixMilli()
	if act := l.active(); act.meta.size > 0 {
		l.leo = oldEnd
		if err := l.roll(nowMs); err != nil {
			return 0, err
		}
	} else {
		s, err := openSegment(l.dir, oldEnd, true, nowMs)
		if err != nil {
			return 0, err
		}
		if err := act.removeFiles(); err != nil {
			s.release()
			return 0, err
		}
		act.release()
		l.segs[len(l.segs)-1] = s
		l.leo = oldEnd
		l.start = max(l.start, l.segs[0].base)
	}
	if err := syncDir(l.dir); err != nil {
		return 0, err
	}
	l.dirDirty.Store(false)
	l.durable.Store(l.leo)
	return kept, nil
}

// droppedBy reports whether offsets below upTo include one that Heal
// dropped. Caller holds syncMu.
func (l *Log) droppedBy(upTo int64) bool {
	for _, h := range l.holes {
		if upTo > h.from && upTo <= h.to {
			return true
		}
	}
	return false
}
