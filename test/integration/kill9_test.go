package integration

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestKill9MidProduce runs the sluice binary, produces continuously with
// acks=all while recording every acknowledged (partition, offset, value),
// SIGKILLs the process mid-stream, restarts it on the same directory and
// checks that every acknowledged record is there at its offset, that the
// log holds nothing else but our records, and that new records continue
// at the recovered end offsets.
func TestKill9MidProduce(t *testing.T) {
	dir := t.TempDir()
	topic := topicName(t, "")
	const partitions = 3
	// Small segments so the kills also land around segment rolls.
	const segBytes = "log.segment.bytes=65536"
	p := startProc(t, dir, segBytes)
	createTopic(t, newAdmin(t, p.addr), topic, partitions, nil)

	acked := map[int32]map[int64]string{0: {}, 1: {}, 2: {}}
	seq := 0
	// Three kill cycles; each restart recovers the previous kill's tail
	// and the next cycle appends after it.
	for cycle := 0; cycle < 3; cycle++ {
		if cycle > 0 {
			p = startProc(t, dir, segBytes)
		}
		produceUntilKilled(t, p, topic, partitions, &seq, acked)
	}

	p = startProc(t, dir, segBytes)
	got := consumeAll(t, p.addr, topic)
	seen := map[string]bool{}
	for part, recs := range got {
		for _, r := range recs {
			v := string(r.Value)
			var n int
			if _, err := fmt.Sscanf(v, "kill9-%d", &n); err != nil || int32(n%partitions) != part {
				t.Fatalf("%d/%d holds %q, which this test never produced there", part, r.Offset, v)
			}
			if seen[v] {
				t.Fatalf("%q is in the log twice", v)
			}
			seen[v] = true
		}
	}
	lost := 0
	for part, offs := range acked {
		for off, v := range offs {
			if off >= int64(len(got[part])) {
				lost++
				if lost <= 5 {
					t.Errorf("acknowledged %q at %d/%d is gone (partition now ends at %d)", v, part, off, len(got[part]))
				}
				continue
			}
			if g := string(got[part][off].Value); g != v {
				t.Errorf("acknowledged %q at %d/%d, now %q is there", v, part, off, g)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d acknowledged records lost", lost)
	}

	// New records continue at the recovered end offsets.
	cl := newClient(t, p.addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for part := int32(0); part < partitions; part++ {
		r := &kgo.Record{Partition: part, Value: []byte("after-kill")}
		produceSync(t, cl, r)
		if want := int64(len(got[part])); r.Offset != want {
			t.Errorf("partition %d: first produce after recovery at offset %d, want %d", part, r.Offset, want)
		}
	}
	after := consumeAll(t, p.addr, topic)
	for part := int32(0); part < partitions; part++ {
		n := len(got[part])
		if len(after[part]) != n+1 || string(after[part][n].Value) != "after-kill" {
			t.Errorf("partition %d: %d records after the new produce, want %d ending with after-kill", part, len(after[part]), n+1)
		}
	}
}

// produceUntilKilled produces kill9-<seq> records (partition seq%partitions)
// with acks=all until 2000 more are acknowledged, SIGKILLs p while the
// producer is still going, and adds every acknowledged record to acked.
// Two acknowledgements for one offset fail the test.
func produceUntilKilled(t *testing.T, p *procBroker, topic string, partitions int, seq *int, acked map[int32]map[int64]string) {
	t.Helper()
	prod, err := kgo.NewClient(
		kgo.SeedBrokers(p.addr),
		kgo.DisableIdempotentWrite(), // Sluice has no InitProducerId yet
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(2000),
		kgo.RecordDeliveryTimeout(5*time.Second),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()

	var (
		mu       sync.Mutex
		dup      []string
		nAcked   atomic.Int64
		nFailed  atomic.Int64
		inflight sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	loopDone := make(chan struct{})
	go func() {
		defer close(loopDone)
		for ; ctx.Err() == nil; *seq++ {
			r := &kgo.Record{Partition: int32(*seq % partitions), Value: []byte(fmt.Sprintf("kill9-%08d", *seq))}
			inflight.Add(1)
			prod.Produce(ctx, r, func(r *kgo.Record, err error) {
				defer inflight.Done()
				if err != nil {
					nFailed.Add(1)
					return
				}
				mu.Lock()
				if old, ok := acked[r.Partition][r.Offset]; ok {
					dup = append(dup, fmt.Sprintf("%d/%d acked for %q and %q", r.Partition, r.Offset, old, r.Value))
				}
				acked[r.Partition][r.Offset] = string(r.Value)
				mu.Unlock()
				nAcked.Add(1)
			})
		}
	}()

	waitFor(t, 60*time.Second, "2000 acknowledged records", func() error {
		if n := nAcked.Load(); n < 2000 {
			return fmt.Errorf("%d acknowledged, %d failed", n, nFailed.Load())
		}
		return nil
	})
	if n := nFailed.Load(); n != 0 {
		t.Fatalf("%d records failed before the kill", n)
	}
	p.kill() // SIGKILL while the producer loop is still running
	cancel()
	<-loopDone
	prod.Close() // fails whatever is still buffered or in flight
	inflight.Wait()
	t.Logf("acknowledged %d records before SIGKILL; %d failed with it", nAcked.Load(), nFailed.Load())
	if nFailed.Load() == 0 {
		t.Errorf("no record was in flight at the kill; the test did not kill mid-produce")
	}
	if len(dup) > 0 {
		t.Fatalf("offsets acknowledged twice (recovery reused offsets): %v", dup)
	}
}
