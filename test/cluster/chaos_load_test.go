package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// The chaos test's workload: idempotent acks=all producers writing
// numbered records, a read_committed consumer group committing, and a
// sampler of the group's committed offsets. Each remembers what the
// checker needs.

// recKey names a record by its payload: producer and sequence.
type recKey struct {
	producer, seq int
}

func (k recKey) value() string { return fmt.Sprintf("p%d-%07d", k.producer, k.seq) }

func parseValue(v []byte) (recKey, bool) {
	var k recKey
	n, err := fmt.Sscanf(string(v), "p%d-%07d", &k.producer, &k.seq)
	return k, n == 2 && err == nil
}

// ackSet collects the produce results: acked[k] is the partition of each
// record whose produce was acknowledged with no error.
type ackSet struct {
	mu     sync.Mutex
	acked  map[recKey]int32
	failed int
	errs   []string // the first delivery errors
	sent   int
}

// producer writes one record every interval, cycling over partitions,
// until stop closes; then flushes (bounded by flushWithin).
func runProducer(t *testing.T, c *testcluster.Cluster, topic string, id int, parts int32, interval time.Duration,
	acks *ackSet, stop <-chan struct{}, done *sync.WaitGroup) {
	cl := c.Client(t,
		kgo.RequiredAcks(kgo.AllISRAcks()), // idempotent: kgo's default
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProduceRequestTimeout(5*time.Second),
		kgo.RecordDeliveryTimeout(20*time.Second),
	)
	done.Add(1)
	go func() {
		defer done.Done()
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-stop:
				fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := cl.Flush(fctx); err != nil {
					// Records still retrying (NOT_ENOUGH_REPLICAS while an
					// ISR that shrank has not grown back) stay unacknowledged:
					// the client's cleanup fails them.
					t.Logf("producer %d: flush after the final heal: %v", id, err)
				}
				return
			case <-tick.C:
			}
			k := recKey{id, seq}
			p := int32(seq) % parts
			acks.mu.Lock()
			acks.sent++
			acks.mu.Unlock()
			cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: p, Value: []byte(k.value())},
				func(r *kgo.Record, err error) {
					acks.mu.Lock()
					defer acks.mu.Unlock()
					if err != nil {
						acks.failed++
						if len(acks.errs) < 5 {
							acks.errs = append(acks.errs, fmt.Sprintf("%s on partition %d: %v", k.value(), r.Partition, err))
						}
						return
					}
					acks.acked[k] = r.Partition
				})
		}
	}()
}

// consumed is one record the group's consumer was handed.
type consumed struct {
	partition int32
	offset    int64
	value     string
}

// groupLog collects what the consumer read, and the committed offsets
// the sampler saw, with the first regression found.
type groupLog struct {
	mu        sync.Mutex
	records   []consumed
	seen      map[string]bool
	committed map[int32]int64 // highest committed offset seen per partition
	backwards []string
	commits   int
}

func (g *groupLog) has(v string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.seen[v]
}

// runConsumer consumes topic in group read_committed, committing after
// each poll, until stop closes (runStrictConsumer without its checks).
func runConsumer(t *testing.T, c *testcluster.Cluster, topic, group string, gl *groupLog, stop <-chan struct{}, done *sync.WaitGroup) {
	runStrictConsumer(t, c, topic, group, gl, nil, stop, done)
}

// runOffsetSampler asks the group's coordinator for its committed
// offsets every 100 ms until stop closes (and once more after), and
// records any partition whose committed offset went below one seen
// before: a commit that was answered, then lost.
func runOffsetSampler(t *testing.T, c *testcluster.Cluster, group string, gl *groupLog, stop <-chan struct{}, done *sync.WaitGroup) {
	adm := kadm.NewClient(c.Client(t))
	sample := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		offs, err := adm.FetchOffsets(ctx, group)
		if err != nil || offs.Error() != nil {
			return // the coordinator may be moving: the next sample asks again
		}
		gl.mu.Lock()
		defer gl.mu.Unlock()
		offs.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return
			}
			if prev, ok := gl.committed[o.Partition]; ok && o.At < prev && len(gl.backwards) < 10 {
				gl.backwards = append(gl.backwards, fmt.Sprintf("(c) partition %d: committed offset %d after %d", o.Partition, o.At, prev))
			}
			if o.At > gl.committed[o.Partition] {
				gl.committed[o.Partition] = o.At
			}
		})
	}
	done.Add(1)
	go func() {
		defer done.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				sample()
			}
		}
	}()
}
