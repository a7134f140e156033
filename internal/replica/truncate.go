package replica

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-io/sluice/internal/fsutil"
	"github.com/sluice-io/sluice/internal/log"
)

// Truncation and reset: what a follower does to its log when the leader
// changes (issue #17). The fetcher calls TruncateTo with the divergence
// point (TruncationOffset, diverge.go) and ResetTo when its log lies
// wholly below the leader's log start (OFFSET_OUT_OF_RANGE).
//
// Both run under appendMu, so no append, marker or roll interleaves with
// the rewrite of the log, the epoch cache and the producer state: an
// append after them sees the state the new log end implies.
//
// INVARIANT (offsets monotonic after truncation): the log end after
// TruncateTo is at most offset and is a batch boundary; the next append
// (a follower's copy of the leader's batch) starts exactly there, so
// offsets in the log stay strictly increasing.
//
// INVARIANT: HW <= LEO after both: TruncateTo lowers the HW to the new log
// end when it was above it, and ResetTo sets it to the new start. (A
// follower's HW came from a leader and covers only records every ISR
// member has, so a clean leader change never cuts below it; an unclean
// election can, and so can a HW taken as the LEO when the log was opened.)
// The LSO follows: it is min(HW, first unstable offset) of the reloaded
// producer state.
//
// INVARIANT: the producer state after TruncateTo is exactly what opening
// the truncated log gives (snapshots at or below the new end, then a scan
// to it), and the epoch cache holds no entry starting at or beyond the
// new end.

// TruncateTo removes every offset >= offset from a follower's log: the
// batch holding offset goes too, so the new end (Log().EndOffset(), where
// the next fetch starts) may be below offset. An offset at or past the
// end changes nothing but the epoch cache; below the log start it empties the log, which then
// starts at offset (Kafka's truncateFullyAndStartAt). The log change is
// fsynced before TruncateTo returns.
func (p *Partition) TruncateTo(offset int64) error {
	return p.cutWith(offset, nil, p.truncateLocked)
}

// truncateIn is TruncateTo for the fetcher: only while this broker still
// follows the partition in leaderEpoch (followingLocked).
func (p *Partition) truncateIn(leaderEpoch int32, offset int64) error {
	return p.cutWith(offset, func() error { return p.followingLocked(leaderEpoch) }, p.truncateLocked)
}

// cutWith runs cut (truncateLocked or resetChecked) at a non-negative
// offset with appendMu held, after check when there is one.
func (p *Partition) cutWith(offset int64, check func() error, cut func(int64) error) error {
	if offset < 0 {
		return log.ErrOffsetOutOfRange
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if check != nil {
		if err := check(); err != nil {
			return err
		}
	}
	return cut(offset)
}

func (p *Partition) truncateLocked(offset int64) error {
	if err := p.offlineErr(); err != nil {
		return err
	}
	if end := p.log.EndOffset(); offset >= end {
		// The log keeps everything, but the epoch cache is still cut at
		// the log end, as Kafka's truncateTo does: a broker that took the
		// lead (its epoch entered at its log end) and lost it before
		// writing holds an epoch its new leader's log never had, and
		// would send it as LastFetchedEpoch for ever.
		if err := p.epochs.TruncateFromEnd(end); err != nil {
			return fmt.Errorf("replica: truncate leader epochs of %s: %w", p.Dir, err)
		}
		return nil
	}
	if offset < p.log.StartOffset() {
		return p.resetLocked(offset)
	}
	// Snapshots beyond the cut go first, and durably: one left behind
	// would describe batches the log no longer has, and once appends pass
	// its offset again the next open would load it.
	if err := removeSnapshotsAbove(p.Dir, offset); err != nil {
		return fmt.Errorf("replica: truncate %s: %w", p.Dir, err)
	}
	if err := p.log.TruncateTo(offset); err != nil {
		return p.noteStorage(err)
	}
	end := p.log.EndOffset()
	// As at open: the start may have moved up to the end when it lay
	// inside the removed batch.
	// The cache in memory is trimmed even when its file cannot be
	// written (openEpochs trims a stale file to the log at the next
	// open), so the rest goes on and the error is returned at the end.
	epochErr := errors.Join(p.epochs.TruncateFromEnd(end), p.epochs.TruncateFromStart(p.log.StartOffset()))
	if err := p.reloadProducerState(); err != nil {
		return errors.Join(err, epochErr)
	}
	p.forgetDamageFrom(end)
	p.lowerHW(end)
	if epochErr != nil {
		return fmt.Errorf("replica: truncate leader epochs of %s: %w", p.Dir, epochErr)
	}
	p.logger().Info("truncated follower log", "to", offset, "end", end)
	return nil
}

// ResetTo empties the log and restarts it at offset (Kafka's
// truncateFullyAndStartAt): the follower's log ends before the leader's
// log start, so nothing it holds can be kept. The epoch cache and the
// producer state are emptied (the leader's batches from offset rebuild
// them) and the HW becomes offset.
func (p *Partition) ResetTo(offset int64) error {
	return p.cutWith(offset, nil, p.resetChecked)
}

// resetIn is ResetTo for the fetcher: only while this broker still
// follows the partition in leaderEpoch (followingLocked).
func (p *Partition) resetIn(leaderEpoch int32, offset int64) error {
	return p.cutWith(offset, func() error { return p.followingLocked(leaderEpoch) }, p.resetChecked)
}

// resetChecked is resetLocked on a log whose directory is online.
func (p *Partition) resetChecked(offset int64) error {
	if err := p.offlineErr(); err != nil {
		return err
	}
	return p.resetLocked(offset)
}

// resetLocked is ResetTo with appendMu held.
func (p *Partition) resetLocked(offset int64) error {
	if err := removeSnapshotsAbove(p.Dir, -1); err != nil {
		return fmt.Errorf("replica: reset %s: %w", p.Dir, err)
	}
	if err := p.log.ResetTo(offset); err != nil {
		return p.noteStorage(err)
	}
	epochErr := p.epochs.Reset(nil) // emptied in memory even if the file write fails
	p.psMu.Lock()
	p.ps = newProducerState()
	p.psMu.Unlock()
	p.corrupt.Store(nil)
	p.setHW(offset)
	if epochErr != nil {
		return fmt.Errorf("replica: reset leader epochs of %s: %w", p.Dir, epochErr)
	}
	p.logger().Info("reset follower log", "start", offset)
	return nil
}

// reloadProducerState replaces the producer state with a rebuild from the
// snapshots and the log, as at open (the same path heal takes). Caller
// holds appendMu. On failure the partition is marked stale and its
// directory taken offline, so appends stop until the directory's
// maintenance heals it (heal rebuilds a stale state) rather than run with
// a state that may not match the log.
func (p *Partition) reloadProducerState() error {
	fresh := &Partition{Dir: p.Dir, log: p.log, lg: p.lg}
	if err := fresh.loadProducerState(); err != nil {
		err = fmt.Errorf("replica: reload producer state of %s: %w", p.Dir, err)
		p.stale.Store(true)
		if d := p.logDir(); d != nil {
			d.setOffline(err)
		}
		return err
	}
	p.psMu.Lock()
	p.ps = fresh.ps
	p.psMu.Unlock()
	return nil
}

// removeSnapshotsAbove deletes the producer snapshots whose offset is
// above off and fsyncs the directory when it removed any.
func removeSnapshotsAbove(dir string, off int64) error {
	offs, err := listSnapshots(dir)
	if err != nil {
		return err
	}
	removed := false
	for _, o := range offs {
		if o <= off {
			continue
		}
		if err := os.Remove(filepath.Join(dir, snapshotName(o))); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		removed = true
	}
	if removed {
		return fsutil.SyncDir(dir)
	}
	return nil
}

// forgetDamageFrom drops the scrubber's findings at or beyond end: those
// bytes are gone, and the offsets will hold the leader's batches. (The
// scrubber replaces the list on its next pass anyway; this keeps reads of
// the new batches from stopping short of damage that no longer exists.)
func (p *Partition) forgetDamageFrom(end int64) {
	for {
		cur := p.corrupt.Load()
		if cur == nil {
			return
		}
		var kept []log.BadBatch
		for _, b := range *cur {
			if b.FirstOffset < end {
				kept = append(kept, b)
			}
		}
		if len(kept) == len(*cur) {
			return
		}
		var next *[]log.BadBatch
		if len(kept) > 0 {
			next = &kept
		}
		if p.corrupt.CompareAndSwap(cur, next) {
			return
		}
	}
}

// lowerHW brings the HW down to end when it is above it and wakes every
// waiter, so a parked fetch re-reads against the shorter log.
func (p *Partition) lowerHW(end int64) {
	p.mu.Lock()
	if p.hw > end {
		p.hw = end
	}
	p.unflushed = 0
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	p.wake(ws)
}

// setHW sets the HW to off (a reset log) and wakes every waiter.
func (p *Partition) setHW(off int64) {
	p.mu.Lock()
	p.hw = off
	p.unflushed = 0
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	p.wake(ws)
}
