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

// FloorResult is the disk floor: the acknowledgement latency of an ideal
// durable broker on this disk, with no network, no protocol and no broker
// code, at the latency phase's rate, size and partition count.
type FloorResult struct {
	Label    string
	Ack      Summary // arrival to the end of the fdatasync that covers it
	Sync     Summary // each fdatasync call
	Syncs    int64
	Elapsed  time.Duration
	Records  int64
	MaxBatch int // most records one fdatasync covered
	Err      string
}

// runDiskFloor appends records of size bytes at rate records/s for d,
// over one file per partition (record n to partitionOf(n), as the latency
// phase spreads them) in a temporary directory under
// parent, and makes them durable the way a perfect group commit would: one
// flusher per file writes everything that arrived while it was busy in one
// write and then calls the fdatasync the log uses. A record is
// acknowledged when the fdatasync covering it returns, measured from when
// the pacer handed it over, as the latency phase measures from the
// Produce call.
//
// It is the reference a broker's figures are read against: the part of a
// durable acknowledgement that is the disk's. It is not a strict bound: a
// broker that syncs less often sends the disk fewer flushes, and a disk
// that throttles by operations may then stall less.
func runDiskFloor(ctx context.Context, parent string, partitions, rate, size int, d time.Duration, partitionOf func(n int64) int) (res FloorResult, err error) {
	dir, err := os.MkdirTemp(parent, "sluice-bench-floor-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)

	type flusher struct {
		mu      sync.Mutex
		pending []time.Time // arrival times not yet written
		wake    chan struct{}
		f       *os.File
	}
	var (
		mu         sync.Mutex
		ack, syncH Hist
		syncs      int64
		maxBatch   int
		firstErr   error
	)
	fail := func(e error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = e
		}
		mu.Unlock()
	}
	fl := make([]*flusher, partitions)
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := range fl {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("p%d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			close(done)
			wg.Wait()
			return res, err
		}
		defer f.Close()
		fl[i] = &flusher{wake: make(chan struct{}, 1), f: f}
		wg.Add(1)
		go func(x *flusher) {
			defer wg.Done()
			var buf []byte
			var batch []time.Time
			for {
				select {
				case <-x.wake:
				case <-done:
				}
				x.mu.Lock()
				batch, x.pending = x.pending, batch[:0]
				x.mu.Unlock()
				if len(batch) == 0 {
					select {
					case <-done:
						return
					default:
						continue
					}
				}
				if need := len(batch) * size; cap(buf) < need {
					buf = make([]byte, need)
				}
				start := time.Now()
				if _, err := x.f.Write(buf[:len(batch)*size]); err != nil {
					fail(err)
					return
				}
				if err := sluicelog.DataSync(x.f); err != nil {
					fail(err)
					return
				}
				now := time.Now()
				mu.Lock()
				syncH.RecordDuration(now.Sub(start))
				syncs++
				maxBatch = max(maxBatch, len(batch))
				for _, at := range batch {
					ack.RecordDuration(now.Sub(at))
				}
				mu.Unlock()
			}
		}(fl[i])
	}

	total := int64(float64(rate) * d.Seconds())
	interval := float64(time.Second) / float64(rate)
	start := time.Now()
	var n int64
	for n < total && ctx.Err() == nil {
		due := min(total, int64(float64(time.Since(start))/interval)+1)
		for ; n < due; n++ {
			x := fl[partitionOf(n)%partitions]
			x.mu.Lock()
			x.pending = append(x.pending, time.Now())
			x.mu.Unlock()
			select {
			case x.wake <- struct{}{}:
			default:
			}
		}
		if w := time.Until(start.Add(time.Duration(float64(n) * interval))); w > 0 {
			time.Sleep(w)
		}
	}
	res.Elapsed = time.Since(start)
	close(done)
	wg.Wait()

	res.Records, res.Syncs, res.MaxBatch = n, syncs, maxBatch
	res.Ack, res.Sync = ack.Summarize(), syncH.Summarize()
	if firstErr != nil {
		return res, firstErr
	}
	return res, ctx.Err()
}
