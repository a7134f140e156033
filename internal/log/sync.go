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
		if ok, err := l.settledLocked(upTo); ok {
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
		ready, more := l.takeSettledLocked(err)
		if err != nil {
			l.syncMu.Unlock()
			runSettled(ready)
			return err
		}
		if len(ready) > 0 || more > 0 {
			// Those this fsync did not cover get a leader for the
			// next one (a waiter may take it first: then this one
			// waits), started before the settled callbacks run, off
			// syncMu: the goroutines those wake (the connections'
			// writers) are then the next to run, not queued behind
			// it.
			l.syncMu.Unlock()
			if more > 0 {
				go l.Sync(more)
			}
			runSettled(ready)
			l.syncMu.Lock()
		}
	}
}

// settledLocked reports whether Sync(upTo) would return now, and what
// (syncMu held): ErrDropped below a hole Heal left, nil once durable, the
// log's failure after that.
func (l *Log) settledLocked(upTo int64) (bool, error) {
	if l.droppedBy(upTo) {
		return true, fmt.Errorf("%w: %s: below offset %d", ErrDropped, l.dir, upTo)
	}
	if l.durable.Load() >= min(upTo, l.EndOffset()) {
		return true, nil
	}
	if err := l.failure(); err != nil {
		return true, err
	}
	return false, nil
}

// syncCallback is a SyncThen caller waiting for its offsets.
type syncCallback struct {
	upTo int64
	done func(error)
	err  error
}

// SyncThen is Sync calling done instead of blocking: at once when the
// offsets are durable already (or cannot be), else on the goroutine whose
// fsync settles them, so done must not block. It starts a leader when no
// fsync is running. A produce answered this way needs no goroutine of its
// own to wait for its fsync and be woken and scheduled after it: the
// fsync's leader completes it.
func (l *Log) SyncThen(upTo int64, done func(error)) {
	l.syncMu.Lock()
	if ok, err := l.settledLocked(upTo); ok {
		l.syncMu.Unlock()
		done(err)
		return
	}
	l.callbacks = append(l.callbacks, syncCallback{upTo: upTo, done: done})
	lead := !l.syncing
	l.syncMu.Unlock()
	if lead {
		go l.Sync(upTo)
	}
}

// takeSettledLocked removes from the waiting callbacks those settled after
// a fsync ended with err (all of them when it failed, each with the error
// Sync would give) and returns them, with the highest offset of those still
// waiting (0: none). syncMu held.
func (l *Log) takeSettledLocked(err error) ([]syncCallback, int64) {
	if len(l.callbacks) == 0 {
		return nil, 0
	}
	var ready []syncCallback
	var more int64
	kept := l.callbacks[:0]
	for _, cb := range l.callbacks {
		ok, serr := l.settledLocked(cb.upTo)
		if !ok && err != nil {
			ok, serr = true, err
		}
		if ok {
			cb.err = serr
			ready = append(ready, cb)
			continue
		}
		more = max(more, cb.upTo)
		kept = append(kept, cb)
	}
	clear(l.callbacks[len(kept):])
	l.callbacks = kept
	return ready, more
}

func runSettled(ready []syncCallback) {
	for _, cb := range ready {
		cb.done(cb.err)
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
