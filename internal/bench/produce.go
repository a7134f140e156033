package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// PhaseResult is one throughput phase's totals.
type PhaseResult struct {
	Records int64
	Bytes   int64 // record value bytes
	Elapsed time.Duration
	// CPU time used during the phase by this process (clients, and
	// in-process brokers) and by a broker running as its own process
	// (-1: none, or unknown).
	ClientCPU, BrokerCPU time.Duration
}

// MiBps is value MiB per second.
func (r PhaseResult) MiBps() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Bytes) / (1 << 20) / r.Elapsed.Seconds()
}

// RecPerSec is records per second.
func (r PhaseResult) RecPerSec() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Records) / r.Elapsed.Seconds()
}

// phase is the bookkeeping of one timed throughput phase (produce or
// consume): what it has counted, its first error, which cancels the
// phase's context, and its live progress line.
type phase struct {
	pr    *progress
	label string
	m     meter
	fe    firstErr
	stop  func()
	start time.Time
}

// startPhase starts the progress line for a phase of total records, then
// the clock. The returned context is cancelled by the first error the
// phase sets; the caller must call cancel.
func startPhase(ctx context.Context, pr *progress, label string, total int64) (*phase, context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	ph := &phase{pr: pr, label: label, fe: firstErr{cancel: cancel}}
	ph.stop = pr.track(label, &ph.m, total)
	ph.start = time.Now()
	return ph, ctx, cancel
}

// end stops the clock, then the progress line, and returns the phase's
// totals with its first error.
func (ph *phase) end() (PhaseResult, error) {
	elapsed := time.Since(ph.start)
	ph.stop()
	res := PhaseResult{Records: ph.m.records.Load(), Bytes: ph.m.bytes.Load(), Elapsed: elapsed}
	return res, ph.fe.get()
}

// note reports a finished phase's throughput.
func (ph *phase) note(res PhaseResult) {
	ph.pr.note("%s: %d records, %.1f MiB in %v: %.1f MiB/s, %.0f rec/s",
		ph.label, res.Records, float64(res.Bytes)/(1<<20), res.Elapsed.Round(time.Millisecond), res.MiBps(), res.RecPerSec())
}

// producerOpts are the options every bench producer uses.
//
// Idempotence is disabled because Sluice does not implement InitProducerId
// yet; every target is measured the same way, so no target pays for
// producer IDs and sequence checks. Without idempotence kgo may keep
// MaxInflight produce requests in flight per broker.
func producerOpts(c *Config, seeds []string, topic string, linger time.Duration) []kgo.Opt {
	cc, _ := CompressionCodec(c.Compression)
	return append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.DefaultProduceTopic(topic),
		kgo.DisableIdempotentWrite(),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(linger),
		kgo.ProducerBatchMaxBytes(c.BatchMaxBytes),
		kgo.ProducerBatchCompression(cc),
		kgo.MaxProduceRequestsInflightPerBroker(c.MaxInflight),
		kgo.MaxBufferedRecords(1 << 20),
		kgo.MaxBufferedBytes(64 << 20),
		kgo.ProduceRequestTimeout(30 * time.Second),
	}, c.conn...)
}

// payload is size bytes that do not compress, different per producer.
func payload(size int, seed uint64) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}

// runProduce writes records values of size bytes to topic with
// c.Producers concurrent clients, as fast as acks=all allows, and times
// from the first Produce call until every record is acknowledged.
func runProduce(ctx context.Context, c *Config, pr *progress, target string, seeds []string, topic string, size int, records int64) (PhaseResult, error) {
	clients := make([]*kgo.Client, c.Producers)
	for i := range clients {
		cl, err := kgo.NewClient(producerOpts(c, seeds, topic, c.Linger)...)
		if err != nil {
			return PhaseResult{}, err
		}
		defer cl.Close()
		clients[i] = cl
	}

	ph, ctx, cancel := startPhase(ctx, pr, fmt.Sprintf("%s produce %dB", target, size), records)
	defer cancel()
	m, setErr := &ph.m, ph.fe.set

	var wg sync.WaitGroup
	for i, cl := range clients {
		share := records / int64(len(clients))
		if int64(i) < records%int64(len(clients)) {
			share++
		}
		value := payload(size, uint64(i)+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Records share one read-only value: only the client reads it.
			cb := func(r *kgo.Record, err error) {
				if err != nil {
					setErr(err)
					return
				}
				m.records.Add(1)
				m.bytes.Add(int64(len(r.Value)))
			}
			for j := int64(0); j < share && ctx.Err() == nil; j++ {
				cl.Produce(ctx, &kgo.Record{Value: value}, cb)
			}
			if err := cl.Flush(ctx); err != nil {
				setErr(err)
			}
		}()
	}
	wg.Wait()

	res, err := ph.end()
	if err != nil {
		return res, err
	}
	if res.Records != records {
		return res, fmt.Errorf("%d of %d records acknowledged", res.Records, records)
	}
	ph.note(res)
	return res, nil
}
