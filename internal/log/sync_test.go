package log

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

func TestSyncConcurrent(t *testing.T) {
	cfg := testConfig()
	cfg.SegmentBytes = 64 << 10 // some rolls during the run
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	var fsyncs atomic.Int64
	orig := syncFile
	syncFile = func(f *os.File) error { fsyncs.Add(1); return orig(f) }
	defer func() { syncFile = orig }()

	const writers, appends = 16, 40
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range appends {
				info, err := l.Append(simpleBatch(int64(w*1000+i), 1+i%3, 200), 1)
				if err != nil {
					errs <- err
					return
				}
				if err := l.Sync(info.LastOffset + 1); err != nil {
					errs <- err
					return
				}
				if d := l.DurableOffset(); d <= info.LastOffset {
					errs <- errors.New("Sync returned before the offset was durable")
					return
				}
			}
		}()
	}
	// Readers and syncers that only wait.
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range appends {
				if err := l.Sync(l.EndOffset()); err != nil {
					errs <- err
					return
				}
				if rr, err := l.Read(l.StartOffset(), 4096, l.DurableOffset()); err == nil {
					rr.Release()
				} else {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if l.DurableOffset() != l.EndOffset() {
		t.Fatalf("DurableOffset %d, EndOffset %d", l.DurableOffset(), l.EndOffset())
	}
	t.Logf("%d appends, %d segments, %d fsyncs", writers*appends, l.NumSegments(), fsyncs.Load())
	if fsyncs.Load() >= writers*appends {
		t.Errorf("%d fsyncs for %d syncs: no group commit", fsyncs.Load(), writers*appends)
	}
	// Sync beyond the end waits only for the end; Sync below durable is free.
	if err := l.Sync(l.EndOffset() + 100); err != nil {
		t.Fatal(err)
	}
	n := fsyncs.Load()
	if err := l.Sync(1); err != nil || fsyncs.Load() != n {
		t.Fatalf("covered Sync: %v, %d extra fsyncs", err, fsyncs.Load()-n)
	}
}

func TestSyncFailureFailsLog(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testConfig())
	info := mustAppend(t, l, simpleBatch(0, 2, 10))
	if err := l.Sync(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	durable := l.DurableOffset()
	mustAppend(t, l, simpleBatch(0, 2, 10))

	orig := syncFile
	syncFile = func(*os.File) error { return syscall.EIO }
	err := l.Sync(l.EndOffset())
	syncFile = orig
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync with failing fsync: %v", err)
	}
	// Failed for good, even though fsync works again.
	if err := l.Sync(l.EndOffset()); !errors.Is(err, ErrFailed) {
		t.Fatalf("second Sync: %v", err)
	}
	if _, err := l.Append(simpleBatch(0, 1, 1), 0); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append on failed log: %v", err)
	}
	if l.DurableOffset() != durable {
		t.Fatalf("DurableOffset moved to %d", l.DurableOffset())
	}
	if err := l.Close(); !errors.Is(err, ErrFailed) {
		t.Fatalf("Close: %v", err)
	}
	// Reopening recovers whatever is on disk.
	l, _ = mustOpen(t, dir, testConfig())
	defer l.Close()
	if l.EndOffset() != 4 {
		t.Fatalf("EndOffset %d after reopen", l.EndOffset())
	}
}

// TestSyncThen: a covered SyncThen calls back at once; one arriving while
// an fsync runs is called back when the next fsync covers it, with nobody
// blocked in Sync for it; a failed fsync calls every waiting callback with
// the failure.
func TestSyncThen(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	orig := syncFile
	defer func() { syncFile = orig }()
	release := make(chan error)
	entered := make(chan struct{}, 8)
	syncFile = func(f *os.File) error {
		entered <- struct{}{}
		if err := <-release; err != nil {
			return err
		}
		return orig(f)
	}

	a, err := l.Append(simpleBatch(1, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	l.SyncThen(a.LastOffset+1, func(err error) { aDone <- err })
	<-entered // SyncThen started a leader: the first fsync runs
	b, err := l.Append(simpleBatch(2, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	bDone := make(chan error, 1)
	l.SyncThen(b.LastOffset+1, func(err error) { bDone <- err })
	release <- nil
	if err := <-aDone; err != nil {
		t.Fatalf("first callback: %v", err)
	}
	select {
	case err := <-bDone:
		t.Fatalf("second callback (%v) before an fsync covered it", err)
	default:
	}
	<-entered // the second fsync, led for the waiting callback
	release <- nil
	if err := <-bDone; err != nil {
		t.Fatalf("second callback: %v", err)
	}
	if d := l.DurableOffset(); d != b.LastOffset+1 {
		t.Fatalf("durable %d, want %d", d, b.LastOffset+1)
	}
	// Covered already: called back before SyncThen returns.
	called := false
	l.SyncThen(a.LastOffset+1, func(err error) { called = err == nil })
	if !called {
		t.Fatal("a covered SyncThen did not call back at once")
	}

	c, err := l.Append(simpleBatch(3, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	cDone := make(chan error, 1)
	l.SyncThen(c.LastOffset+1, func(err error) { cDone <- err })
	<-entered
	release <- syscall.EIO
	if err := <-cDone; !errors.Is(err, ErrFailed) {
		t.Fatalf("callback after a failed fsync: %v, want ErrFailed", err)
	}
	// The log is failed: a later SyncThen is called back with it at once.
	called = false
	l.SyncThen(c.LastOffset+1, func(err error) { called = errors.Is(err, ErrFailed) })
	if !called {
		t.Fatal("SyncThen on a failed log did not call back with the failure")
	}
}
