package integration

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestFetchSessionsUsedByKgo: a kgo consumer (fetch sessions on, its
// default) tailing a 20-partition topic holds one fetch session of 20
// partitions on a broker process of its own (the gauges are Kafka's
// FetchSessionCache ones), gets every record produced while it tails, and
// leaves the cache when kgo closes it (a fetch at epoch -1).
func TestFetchSessionsUsedByKgo(t *testing.T) {
	const parts, n = 20, 400
	p := startProc(t, t.TempDir(), "metrics.listener=http://127.0.0.1:0")
	m := metricsLineRE.FindStringSubmatch(p.logs.tail(1 << 20))
	if m == nil {
		t.Fatal("no metrics listener line in the log")
	}
	metricsURL := "http://" + m[1] + "/metrics"
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, p.addr), topic, parts, nil)

	offsets := map[int32]kgo.Offset{}
	for i := range int32(parts) {
		offsets[i] = kgo.NewOffset().AtStart()
	}
	cons := newClient(t, p.addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchMaxWait(200*time.Millisecond))
	prod := newClient(t, p.addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	got := map[string]bool{}
	next := map[int32]int64{}
	ctx := testCtx(t, 60*time.Second)
	for round := range 4 {
		for i := range n / 4 {
			k := round*(n/4) + i
			prod.Produce(ctx, &kgo.Record{Partition: int32(k % parts), Value: []byte(strconv.Itoa(k))}, nil)
		}
		if err := prod.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for len(got) < (round+1)*(n/4) {
			fs := cons.PollFetches(ctx)
			if err := fs.Err(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset != next[r.Partition] {
					t.Fatalf("partition %d: offset %d, want %d (a gap or a record twice)", r.Partition, r.Offset, next[r.Partition])
				}
				next[r.Partition]++
				if got[string(r.Value)] {
					t.Fatalf("record %s twice", r.Value)
				}
				got[string(r.Value)] = true
			})
		}
		if s := metricValue(t, metricsURL, "kafka_server_fetchsessioncache_numincrementalfetchsessions"); s != 1 {
			t.Fatalf("round %d: %v fetch sessions open, want the consumer's one", round, s)
		}
		if c := metricValue(t, metricsURL, "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached"); c != parts {
			t.Fatalf("round %d: %v partitions cached, want %d", round, c, parts)
		}
	}
	for i := range n {
		if !got[strconv.Itoa(i)] {
			t.Fatalf("record %d never arrived", i)
		}
	}
	// kgo ends its session on close with a fetch at epoch -1.
	cons.Close()
	waitFor(t, 5*time.Second, "the session closed", func() error {
		s := metricValue(t, metricsURL, "kafka_server_fetchsessioncache_numincrementalfetchsessions")
		c := metricValue(t, metricsURL, "kafka_server_fetchsessioncache_numincrementalfetchpartitionscached")
		if s != 0 || c != 0 {
			return fmt.Errorf("%v sessions, %v partitions cached", s, c)
		}
		return nil
	})
}
