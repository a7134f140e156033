package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A latency record's value starts with the send time (nanoseconds since
// the phase's base time, big endian) and a flag byte: 1 for the warm-up
// records that are not measured.
const latencyHeader = 9

// LatencyResult is one fixed-rate run.
type LatencyResult struct {
	Target   string
	Size     int
	Rate     int // records/s asked for
	Duration time.Duration

	Sent, Acked, Received int64
	Elapsed               time.Duration // first send to last send
	MaxBehind             time.Duration // worst lag of the pacer behind schedule
	Ack, E2E              Summary
	ClientCPU, BrokerCPU  time.Duration // as in PhaseResult
	Err                   string
}

// AchievedRate is records sent per second.
func (r LatencyResult) AchievedRate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// stickyRunBytes is how many record bytes kgo's default partitioner
// (UniformBytesPartitioner) sends to one partition before it picks another
// for records without keys; the Java client's batch.size plays this part.
const stickyRunBytes = 64 << 10

// latencyPartition is the partition of the latency phase's record n (warm-up
// records included), shared by the floors so all of them spread the same
// records the same way: runs of stickyRunBytes per partition in turn
// ("sticky"), or one record per partition in turn ("round-robin").
func (c *Config) latencyPartition(n int64) int {
	p := max(int(c.Partitions), 1)
	if c.LatencyPartitioner == "round-robin" {
		return int(n % int64(p))
	}
	run := max(int64(stickyRunBytes/max(c.LatencySize, 1)), 1)
	return int((n / run) % int64(p))
}

// partitionerText says how c.latencyPartition spreads records, for reports.
func partitionerText(c *Config) string {
	if c.LatencyPartitioner == "round-robin" {
		return "round-robin (record n to partition n mod partitions, as keyed records spread)"
	}
	return fmt.Sprintf("sticky (%d records to a partition, then the next: kgo's default partitioner sends 64 KiB of unkeyed records to one partition before it picks another)", max(stickyRunBytes/max(c.LatencySize, 1), 1))
}

// runLatency produces at c.Rate records/s for c.Duration with one
// unbatched (linger 0) producer while one consumer tails the topic. Ack
// latency runs from the Produce call to its promise; end-to-end latency
// from the Produce call to the consumer holding the record, read from the
// timestamp in the value (same process, same monotonic clock).
func runLatency(ctx context.Context, c *Config, pr *progress, target string, seeds []string, topic string, res *LatencyResult) error {
	ranges, err := listRanges(ctx, seeds, topic, c.conn...)
	if err != nil {
		return err
	}
	base := time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	prod, err := kgo.NewClient(append(producerOpts(c, seeds, topic, 0), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		return err
	}
	defer prod.Close()
	tail := !c.LatencyNoConsumer
	var cons *kgo.Client
	if tail {
		if cons, err = kgo.NewClient(consumerOpts(c, seeds, topic, ranges)...); err != nil {
			return err
		}
		defer cons.Close()
	}

	var (
		ackMu    sync.Mutex
		ack, e2e Hist
		acked    atomic.Int64
		received atomic.Int64
		warmSeen atomic.Int64
	)
	fe := &firstErr{cancel: cancel}
	setErr := fe.set

	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for tail && ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			for _, e := range fs.Errors() {
				setErr(fmt.Errorf("fetch %s/%d: %w", e.Topic, e.Partition, e.Err))
				return
			}
			now := int64(time.Since(base))
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Value) < latencyHeader {
					return
				}
				if r.Value[8] == 1 {
					warmSeen.Add(1)
					return
				}
				e2e.Record(now - int64(binary.BigEndian.Uint64(r.Value)))
				received.Add(1)
			})
		}
	}()

	var seq int64 // records handed to the producer, warm-up included
	send := func(warm bool) {
		v := make([]byte, c.LatencySize)
		part := int32(c.latencyPartition(seq))
		seq++
		at := time.Now()
		binary.BigEndian.PutUint64(v, uint64(at.Sub(base)))
		if warm {
			v[8] = 1
		}
		prod.Produce(ctx, &kgo.Record{Value: v, Partition: part}, func(_ *kgo.Record, err error) {
			if err != nil {
				setErr(err)
				return
			}
			if warm {
				return
			}
			d := time.Since(at)
			ackMu.Lock()
			ack.RecordDuration(d)
			ackMu.Unlock()
			acked.Add(1)
		})
	}

	// Warm up: connections, metadata and the consumer's first fetch are
	// settled before anything is measured.
	const warmN = 20
	for i := 0; i < warmN; i++ {
		send(true)
	}
	if err := prod.Flush(ctx); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	for tail && warmSeen.Load() < warmN {
		if ctx.Err() != nil {
			return errors.Join(fe.get(), fmt.Errorf("warm-up: consumer saw %d of %d records: %w", warmSeen.Load(), warmN, ctx.Err()))
		}
		time.Sleep(5 * time.Millisecond)
	}

	seq = 0 // the measured records spread as the floors' do, from record 0
	total := int64(float64(c.Rate) * c.Duration.Seconds())
	var m meter
	label := fmt.Sprintf("%s latency %dB @%d/s", target, c.LatencySize, c.Rate)
	stop := pr.track(label, &m, total)
	interval := float64(time.Second) / float64(c.Rate)
	start := time.Now()
	var sent int64
	var maxBehind time.Duration
	for sent < total && ctx.Err() == nil {
		// Send every record that is due by now, then sleep until the next.
		due := min(total, int64(float64(time.Since(start))/interval)+1)
		for ; sent < due && ctx.Err() == nil; sent++ {
			sched := start.Add(time.Duration(float64(sent) * interval))
			if behind := time.Since(sched); behind > maxBehind {
				maxBehind = behind
			}
			send(false)
			m.records.Add(1)
			m.bytes.Add(int64(c.LatencySize))
		}
		next := start.Add(time.Duration(float64(sent) * interval))
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
	}
	res.Elapsed = time.Since(start)
	res.Sent = sent
	res.MaxBehind = maxBehind
	flushErr := prod.Flush(ctx)
	stop()

	// Give the consumer until every acknowledged record has arrived.
	deadline := time.Now().Add(30 * time.Second)
	for tail && received.Load() < acked.Load() && ctx.Err() == nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-consDone

	res.Acked, res.Received = acked.Load(), received.Load()
	ackMu.Lock()
	res.Ack = ack.Summarize()
	ackMu.Unlock()
	res.E2E = e2e.Summarize()
	if err := fe.get(); err != nil {
		return err
	}
	if flushErr != nil {
		return flushErr
	}
	if res.Sent < total {
		return fmt.Errorf("sent %d of %d records: %w", res.Sent, total, context.Cause(ctx))
	}
	if tail && res.Received < res.Acked {
		return fmt.Errorf("consumer got %d of %d acknowledged records", res.Received, res.Acked)
	}
	pr.note("%s: %d records at %.0f/s; ack p50 %s p99 %s; e2e p50 %s p99 %s",
		label, res.Sent, res.AchievedRate(), fmtDur(res.Ack.P50), fmtDur(res.Ack.P99), fmtDur(res.E2E.P50), fmtDur(res.E2E.P99))
	return nil
}
