package log

import (
	"fmt"
	"os"
	"time"

	"github.com/sluice-io/sluice/internal/metrics"
)

// syncFile makes a regular file's data durable: fdatasync(2) on Linux,
// f.Sync elsewhere. fdatasync skips the timestamps fsync would also write,
// and those cost a journal commit on every call even when the size did not
// change; the size, which readers need, is still made durable. It is a
// variable so tests can fail or skip syncs.
var syncFile = datasync

// syncDirFile fsyncs a directory: its entries are what matters there, and
// fsync is what every filesystem documents for them.
var syncDirFile = func(f *os.File) error { return f.Sync() }

// syncDir fsyncs a directory, making file creations and removals in it durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = syncDirFile(d)
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Sync blocks until every offset < upTo is fsynced (upTo is capped at the
// LEO). It is a group commit: at most one fsync runs at a time, and callers
// arriving meanwhile wait for it; when it ends each waiter is either covered
// or one of them leads the next fsync, which covers everything appended up to
// its start. A failed fsync fails the log: this and every later Sync and
// Append return the error (wrapping ErrFailed), except that a Sync whose
// offsets an earlier fsync already covered still succeeds (they are on
// disk, whatever failed after).
func (l *Log) Sync(upTo int64) error {
	l.syncMu.Lock()
	for {
		// Checked on every round, not once: a caller that waited through a
		// failed fsync may wake after Heal, whose durable offset lies past
		// the dropped offsets this caller is waiting for.
		if l.droppedBy(upTo) {
			l.syncMu.Unlock()
			return fmt.Errorf("%w: %s: below offset %d", ErrDropped, l.dir, upTo)
		}
		if l.durable.Load() >= min(upTo, l.EndOffset()) {
			l.syncMu.Unlock()
			return nil
		}
		if err := l.failure(); err != nil {
			l.syncMu.Unlock()
			return err
		}
		if l.syncing {
			l.syncCond.Wait()
			continue
		}
		// Lead one fsync with syncMu released, so others can queue behind it.
		l.syncing = true
		l.syncMu.Unlock()
		err := l.flush()
		l.syncMu.Lock()
		l.syncing = false
		l.syncCond.Broadcast()
		if err != nil {
			l.syncMu.Unlock()
			return err
		}
	}
}

// flush fsyncs everything appended so far: the active segment's log file
// (sealed segments were fsynced when they were rolled) and, if files were
// created or removed, the directory. Then it advances the durable offset to
// the LEO seen at its start, unless TruncateTo ran meanwhile.
func (l *Log) flush() error {
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return err
	}
	s := l.active()
	s.acquire()
	target, gen := l.leo, l.truncGen
	dirty := l.dirDirty.Swap(false)
	l.mu.Unlock()
	defer s.release()

	began := time.Now()
	err := syncSegment(s.log)
	metrics.Fsync(time.Since(began))
	if err == nil && dirty {
		err = syncDir(l.dir)
	}
	if err != nil {
		return l.fail(fmt.Errorf("fsync: %w", err))
	}
	l.mu.Lock()
	if gen == l.truncGen && target > l.durable.Load() {
		l.durable.Store(target)
	}
	l.mu.Unlock()
	return nil
}

// DataSync is the sync the log makes appends durable with (fdatasync(2) on
// Linux), for tools that measure what a durable acknowledgement costs on a
// disk without a broker in the way.
func DataSync(f *os.File) error { return datasync(f) }
