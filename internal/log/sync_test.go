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
