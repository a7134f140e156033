package log

import (
	"bytes"
	"errors"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"

	"github.com/sluice-io/sluice/internal/record"
)

// failNext makes the next op on any segment fail with err, once.
func failNext(t *testing.T, op FaultOp, err error) {
	t.Helper()
	fired := false
	restore := SetFaultHook(func(o FaultOp, _ string) error {
		if o != op || fired {
			return nil
		}
		fired = true
		return err
	})
	t.Cleanup(restore)
}

// TestHealAfterTornWrite: a write that fails half-way (EIO, ENOSPC) leaves
// no trace in the file or in memory, and Heal brings the log back with
// every fsynced batch and the offsets continuing.
func TestHealAfterTornWrite(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testConfig())
	defer l.Close()
	info := mustAppend(t, l, simpleBatch(0, 3, 100), simpleBatch(0, 2, 100))
	if err := l.Sync(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	path := lastSegFile(t, dir, logSuffix)
	size := fileSize(t, path)

	failNext(t, FaultWrite, syscall.ENOSPC)
	_, err := l.Append(simpleBatch(0, 4, 1000), 0)
	if !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Append with a failing write: %v", err)
	}
	if got := fileSize(t, path); got != size {
		t.Fatalf("segment is %d bytes after the failed append, was %d: the torn part was not cut", got, size)
	}
	if l.EndOffset() != 5 || l.Failure() == nil {
		t.Fatalf("EndOffset %d, Failure %v", l.EndOffset(), l.Failure())
	}
	if err := l.MaybeRoll(l.now()); err != nil {
		t.Fatalf("MaybeRoll on a failed log: %v (want nil: the failure was reported once)", err)
	}

	hi, err := l.Heal(true)
	if err != nil {
		t.Fatal(err)
	}
	if hi.Dropped != 0 || l.Failure() != nil || l.EndOffset() != 5 {
		t.Fatalf("Heal: %+v, Failure %v, EndOffset %d", hi, l.Failure(), l.EndOffset())
	}
	next := mustAppend(t, l, simpleBatch(0, 1, 10))
	if next.FirstOffset != 5 {
		t.Fatalf("append after heal got offset %d, want 5", next.FirstOffset)
	}
	if err := l.Sync(next.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	hs := headers(t, readAll(t, l, 0))
	if len(hs) != 3 || hs[2].BaseOffset != 5 {
		t.Fatalf("batches after heal: %+v", hs)
	}
}

// TestHealDropsUnsynced: after a failed fsync only what an earlier fsync
// confirmed is kept; the dropped offsets are a gap, a Sync still waiting
// for them fails, and the log reopens consistently.
func TestHealDropsUnsynced(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testConfig())
	info := mustAppend(t, l, simpleBatch(0, 2, 10))
	if err := l.Sync(info.LastOffset + 1); err != nil {
		t.Fatal(err)
	}
	lost := mustAppend(t, l, simpleBatch(0, 3, 10))
	failNext(t, FaultSync, syscall.EIO)
	if err := l.Sync(lost.LastOffset + 1); !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Sync with a failing fsync: %v", err)
	}
	if err := l.Sync(info.LastOffset + 1); err != nil {
		t.Fatalf("Sync of offsets fsynced before the failure: %v", err)
	}

	hi, err := l.Heal(true)
	if err != nil {
		t.Fatal(err)
	}
	if hi.Dropped != 3 || hi.DroppedFrom != 2 || l.EndOffset() != 5 || l.DurableOffset() != 5 {
		t.Fatalf("Heal: %+v, EndOffset %d, DurableOffset %d", hi, l.EndOffset(), l.DurableOffset())
	}
	if err := l.Sync(lost.LastOffset + 1); !errors.Is(err, ErrDropped) {
		t.Fatalf("Sync of dropped offsets after heal: %v, want ErrDropped", err)
	}
	next := mustAppend(t, l, simpleBatch(0, 1, 10))
	if next.FirstOffset != 5 {
		t.Fatalf("append after heal got offset %d, want 5 (offsets are never reused)", next.FirstOffset)
	}
	if err := l.Sync(next.LastOffset + 1); err != nil {
		t.Fatalf("Sync of a new append: %v", err)
	}
	hs := headers(t, readAll(t, l, 0))
	if len(hs) != 2 || hs[0].BaseOffset != 0 || hs[1].BaseOffset != 5 {
		t.Fatalf("batches after heal: %+v", hs)
	}
	if hs := headers(t, readAll(t, l, 3)); len(hs) != 1 || hs[0].BaseOffset != 5 {
		t.Fatalf("read in the gap: %+v", hs)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, c := mustOpen(t, dir, testConfig())
	defer l.Close()
	if l.EndOffset() != 6 || c.warned("truncating") {
		t.Fatalf("reopened: EndOffset %d, log:\n%s", l.EndOffset(), c)
	}
}

// TestHealKeepsUnsyncedWhenAsked: a log acknowledged before fsync keeps
// what recovery finds.
func TestHealKeepsUnsyncedWhenAsked(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testConfig())
	defer l.Close()
	mustAppend(t, l, simpleBatch(0, 2, 10), simpleBatch(0, 3, 10))
	failNext(t, FaultSync, syscall.EIO)
	if err := l.Sync(l.EndOffset()); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync: %v", err)
	}
	hi, err := l.Heal(false)
	if err != nil || hi.Dropped != 0 || l.EndOffset() != 5 {
		t.Fatalf("Heal(false): %+v, %v, EndOffset %d", hi, err, l.EndOffset())
	}
	if hs := headers(t, readAll(t, l, 0)); len(hs) != 2 {
		t.Fatalf("batches: %+v", hs)
	}
}

// TestHealRefusesLostData: if the files hold less than was fsynced, the
// log stays failed.
func TestHealRefusesLostData(t *testing.T) {
	dir := t.TempDir()
	l, _ := mustOpen(t, dir, testConfig())
	defer l.Close()
	mustAppend(t, l, simpleBatch(0, 2, 10))
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	failNext(t, FaultWrite, syscall.EIO)
	if _, err := l.Append(simpleBatch(0, 1, 10), 0); !errors.Is(err, ErrFailed) {
		t.Fatalf("Append: %v", err)
	}
	if err := os.Truncate(lastSegFile(t, dir, logSuffix), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Heal(true); !errors.Is(err, ErrLost) {
		t.Fatalf("Heal over lost data: %v, want ErrLost", err)
	}
	if l.Failure() == nil {
		t.Fatal("log no longer failed after a refused heal")
	}
}

// TestHealAcrossSegments: a failure while the active segment is empty
// (just rolled) and dropped offsets spanning a roll.
func TestHealAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 300
	l, _ := mustOpen(t, dir, cfg)
	defer l.Close()
	for range 3 {
		mustAppend(t, l, simpleBatch(0, 1, 150))
	}
	if err := l.Sync(l.EndOffset()); err != nil {
		t.Fatal(err)
	}
	durable := l.EndOffset()
	for range 3 {
		mustAppend(t, l, simpleBatch(0, 1, 150))
	}
	end := l.EndOffset()
	failNext(t, FaultSync, syscall.EIO)
	if err := l.Sync(end); !errors.Is(err, ErrFailed) {
		t.Fatalf("Sync: %v", err)
	}
	hi, err := l.Heal(true)
	if err != nil {
		t.Fatal(err)
	}
	if hi.DroppedFrom != durable || l.EndOffset() != end {
		t.Fatalf("Heal: %+v, EndOffset %d, want dropped from %d and end %d", hi, l.EndOffset(), durable, end)
	}
	next := mustAppend(t, l, simpleBatch(0, 1, 10))
	if next.FirstOffset != end {
		t.Fatalf("append after heal at %d, want %d", next.FirstOffset, end)
	}
	if hs := headers(t, readAll(t, l, 0)); int64(len(hs)) != durable+1 {
		t.Fatalf("%d batches after heal, want %d", len(hs), durable+1)
	}
}

// TestHealUnderConcurrentAppends: appenders and group-commit waiters keep
// going through a failed fsync and a heal; every append whose Sync
// succeeded is in the log with its bytes, before and after a reopen.
func TestHealUnderConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig()
	cfg.SegmentBytes = 4096
	l, _ := mustOpen(t, dir, cfg)
	type ack struct {
		first int64
		batch []byte
	}
	const writers, perWriter = 4, 60
	acks := make(chan ack, writers*perWriter)
	healed := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWriter {
				b := buildBatch(int64(w*1000+i), []int64{0}, 50+w)
				info, err := l.Append(b, 0)
				if err != nil {
					<-healed
					continue
				}
				if err := l.Sync(info.LastOffset + 1); err != nil {
					<-healed
					continue
				}
				acks <- ack{info.FirstOffset, b}
			}
		}()
	}
	// Fail one fsync once some data is in, then heal.
	for l.EndOffset() < 40 {
		runtime.Gosched()
	}
	failNext(t, FaultSync, syscall.EIO)
	for l.Failure() == nil {
		if err := l.Sync(l.EndOffset()); err != nil {
			break
		}
	}
	if _, err := l.Heal(true); err != nil {
		t.Fatal(err)
	}
	close(healed)
	wg.Wait()
	close(acks)
	var all []ack
	for a := range acks {
		all = append(all, a)
	}
	if len(all) < writers*perWriter/2 {
		t.Fatalf("only %d of %d appends acknowledged", len(all), writers*perWriter)
	}
	check := func(l *Log) {
		t.Helper()
		got := map[int64][]byte{}
		_ = record.Split(readAll(t, l, 0), func(h record.Header, b []byte) error {
			got[h.BaseOffset] = b
			return nil
		})
		for _, a := range all {
			if b, ok := got[a.first]; !ok || !bytes.Equal(b, a.batch) {
				t.Fatalf("acknowledged batch at %d missing or changed", a.first)
			}
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l, _ = mustOpen(t, dir, cfg)
	defer l.Close()
	check(l)
}
