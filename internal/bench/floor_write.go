package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	sluicelog "github.com/sluice-io/sluice/internal/log"
)

// WriteFloorResult is the durable write floor: how fast this disk makes a
// produce phase's bytes durable with no broker in the way.
type WriteFloorResult struct {
	Label   string
	Bytes   int64
	Elapsed time.Duration // first write to the last fdatasync's return
	Syncs   int64
	Sync    Summary
	Err     string
}

// MiBps is durable MiB per second.
func (r WriteFloorResult) MiBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
}

// runWriteFloor writes total bytes spread over one file per partition in
// a temporary directory under parent, in chunks of chunk bytes (the
// producer's batch limit), and makes them durable with a perfect group
// commit: per file, a writer appends while it is less than window bytes
// (the producer's requests in flight × chunk) ahead of what is durable,
// and a flusher calls the log's fdatasync over and over, each call
// covering everything written before it started. No broker does less work
// for an acks=all produce whose acknowledgements wait for the disk.
func runWriteFloor(ctx context.Context, parent string, partitions int, total, chunk, window int64) (res WriteFloorResult, err error) {
	dir, err := os.MkdirTemp(parent, "sluice-bench-wfloor-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	var (
		mu       sync.Mutex
		syncH    Hist
		syncs    int64
		firstErr error
	)
	fail := func(e error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = e
		}
		mu.Unlock()
	}
	buf := make([]byte, chunk) // only read: shared by every writer
	start := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < partitions; i++ {
		share := total / int64(partitions)
		if int64(i) < total%int64(partitions) {
			share++
		}
		if share == 0 {
			continue
		}
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("p%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			fail(err)
			break
		}
		defer f.Close()
		// written and durable only grow; durable <= written <= share.
		var (
			fmu              sync.Mutex
			cond             = sync.NewCond(&fmu)
			written, durable int64
			stopped          bool
		)
		stop := func() {
			fmu.Lock()
			stopped = true
			cond.Broadcast()
			fmu.Unlock()
		}
		wg.Add(2)
		go func() { // writer
			defer wg.Done()
			for {
				fmu.Lock()
				for !stopped && written < share && written-durable >= window {
					cond.Wait()
				}
				if stopped || written >= share {
					fmu.Unlock()
					return
				}
				n := min(chunk, share-written)
				fmu.Unlock()
				if ctx.Err() != nil {
					fail(ctx.Err())
					stop()
					return
				}
				if _, err := f.Write(buf[:n]); err != nil {
					fail(err)
					stop()
					return
				}
				fmu.Lock()
				written += n
				cond.Broadcast()
				fmu.Unlock()
			}
		}()
		go func() { // flusher
			defer wg.Done()
			for {
				fmu.Lock()
				for !stopped && written == durable {
					cond.Wait()
				}
				if stopped {
					fmu.Unlock()
					return
				}
				upTo := written
				fmu.Unlock()
				t := time.Now()
				if err := sluicelog.DataSync(f); err != nil {
					fail(err)
					stop()
					return
				}
				d := time.Since(t)
				mu.Lock()
				syncH.RecordDuration(d)
				syncs++
				mu.Unlock()
				fmu.Lock()
				durable = upTo
				done := durable == share
				cond.Broadcast()
				fmu.Unlock()
				if done {
					stop()
					return
				}
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(start)
	res.Bytes, res.Syncs, res.Sync = total, syncs, syncH.Summarize()
	return res, firstErr
}
