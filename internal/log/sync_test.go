package log

import (
	"errors"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
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

// TestSyncHandsLeadToFlusher: a caller whose offsets the running fsync
// does not cover waits, and the next fsync starts as soon as that one ends,
// led by the log's flusher (flushPending), not by the waiter once it is
// woken and scheduled; the first caller returns as soon as its own fsync
// ends.
func TestSyncHandsLeadToFlusher(t *testing.T) {
	l, _ := mustOpen(t, t.TempDir(), testConfig())
	defer l.Close()
	orig := syncFile
	entered := make(chan string, 4)
	release := make(chan struct{}, 4)
	syncFile = func(f *os.File) error {
		stack := string(debug.Stack())
		who := "caller"
		if strings.Contains(stack, "flushPending") {
			who = "flusher"
		}
		entered <- who
		<-release
		return orig(f)
	}
	defer func() { syncFile = orig }()

	a, err := l.Append(simpleBatch(1, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	aDone := make(chan error, 1)
	go func() { aDone <- l.Sync(a.LastOffset + 1) }()
	if who := <-entered; who != "caller" {
		t.Fatalf("first fsync led by the %s, want the caller", who)
	}
	b, err := l.Append(simpleBatch(2, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	bDone := make(chan error, 1)
	go func() { bDone <- l.Sync(b.LastOffset + 1) }()
	// b is waiting once wanted covers it.
	for {
		l.syncMu.Lock()
		w := l.wanted
		l.syncMu.Unlock()
		if w > a.LastOffset+1 {
			break
		}
		runtime.Gosched()
	}
	release <- struct{}{} // the first fsync ends
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if who := <-entered; who != "flusher" {
		t.Fatalf("second fsync led by the %s, want the flusher", who)
	}
	select {
	case err := <-bDone:
		t.Fatalf("second Sync returned (%v) before its fsync ended", err)
	default:
	}
	release <- struct{}{}
	if err := <-bDone; err != nil {
		t.Fatal(err)
	}
	if l.DurableOffset() != l.EndOffset() {
		t.Fatalf("durable %d, end %d", l.DurableOffset(), l.EndOffset())
	}
	// The flusher gives the lead back: a later Sync leads its own.
	c, err := l.Append(simpleBatch(3, 1, 100), 1)
	if err != nil {
		t.Fatal(err)
	}
	cDone := make(chan error, 1)
	go func() { cDone <- l.Sync(c.LastOffset + 1) }()
	if who := <-entered; who != "caller" {
		t.Fatalf("third fsync led by the %s, want the caller", who)
	}
	release <- struct{}{}
	if err := <-cDone; err != nil {
		t.Fatal(err)
	}
}
