package integration

import (
	"bytes"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestProduceConsume100k produces 100,000 records to 6 partitions with
// each compression codec and consumes them back with a groupless
// consumer: every record exactly once, at the offset its produce was
// acknowledged with, in produce order per partition, keyed records on the
// partition Kafka's default partitioner picks; the stored batches keep
// the producer's codec (compression.type=producer).
func TestProduceConsume100k(t *testing.T) {
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		attr  int16 // codec bits of the batch attributes
	}{
		{"none", kgo.NoCompression(), 0},
		{"gzip", kgo.GzipCompression(), 1},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3},
		{"zstd", kgo.ZstdCompression(), 4},
	}
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			produceConsume(t, c.codec, c.attr, 100_000, 6)
		})
	}
}

// pcRecord returns the key (nil for every 10th), value and headers of
// record seq.
func pcRecord(seq int) (key, value []byte, headers []kgo.RecordHeader) {
	if seq%10 != 0 {
		key = []byte("key-" + strconv.Itoa(seq%997))
	}
	value = []byte(fmt.Sprintf("value-%07d", seq))
	if seq%7 == 0 {
		headers = []kgo.RecordHeader{{Key: "seq", Value: []byte(strconv.Itoa(seq))}}
	}
	return key, value, headers
}

func produceConsume(t *testing.T, codec kgo.CompressionCodec, codecAttr int16, n int, partitions int32) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, partitions, nil)

	prod := newClient(t, tb.Addr(),
		kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(codec),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // Kafka's default partitioner
	)
	ctx := testCtx(t, 2*time.Minute)

	ackOffset := make([]int64, n)
	ackPart := make([]int32, n)
	var (
		wg       sync.WaitGroup
		errMu    sync.Mutex
		firstErr error
	)
	for seq := 0; seq < n; seq++ {
		key, value, headers := pcRecord(seq)
		wg.Add(1)
		prod.Produce(ctx, &kgo.Record{Key: key, Value: value, Headers: headers}, func(r *kgo.Record, err error) {
			defer wg.Done()
			if err != nil {
				errMu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("record %s: %w", r.Value, err)
				}
				errMu.Unlock()
				return
			}
			ackOffset[seq], ackPart[seq] = r.Offset, r.Partition
		})
	}
	wg.Wait()
	if firstErr != nil {
		t.Fatalf("produce: %v", firstErr)
	}

	// Acknowledged offsets grow with produce order within each partition.
	lastAck := map[int32]int64{}
	for seq := 0; seq < n; seq++ {
		p := ackPart[seq]
		if last, ok := lastAck[p]; ok && ackOffset[seq] <= last {
			t.Fatalf("record %d acked at %d/%d, after an earlier record acked at offset %d", seq, p, ackOffset[seq], last)
		}
		lastAck[p] = ackOffset[seq]
	}

	// The log end offsets add up to exactly n: nothing extra was written.
	ends, err := newAdmin(t, tb.Addr()).ListEndOffsets(ctx, topic)
	if err != nil || ends.Error() != nil {
		t.Fatalf("list end offsets: %v / %v", err, ends.Error())
	}
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	if total != int64(n) {
		t.Fatalf("sum of log end offsets = %d, want %d", total, n)
	}

	cons := newClient(t, tb.Addr(),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(time.Second),
	)
	seen := make([]bool, n)
	got := 0
	nextOffset := map[int32]int64{}
	lastSeq := map[int32]int{}
	for got < n {
		fs := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records before the deadline", got, n)
		}
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("fetch error: %v", errs[0].Err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			var seq int
			if _, err := fmt.Sscanf(string(r.Value), "value-%d", &seq); err != nil || seq < 0 || seq >= n {
				t.Fatalf("unexpected record value %q at %d/%d", r.Value, r.Partition, r.Offset)
			}
			if seen[seq] {
				t.Fatalf("record %d consumed twice (second at %d/%d)", seq, r.Partition, r.Offset)
			}
			seen[seq] = true
			got++
			key, value, headers := pcRecord(seq)
			if !bytes.Equal(r.Key, key) || !bytes.Equal(r.Value, value) {
				t.Fatalf("record %d: key/value %q/%q, want %q/%q", seq, r.Key, r.Value, key, value)
			}
			if !headersEqual(r.Headers, headers) {
				t.Fatalf("record %d: headers %v, want %v", seq, r.Headers, headers)
			}
			if r.Partition != ackPart[seq] || r.Offset != ackOffset[seq] {
				t.Fatalf("record %d consumed at %d/%d, produce was acked at %d/%d", seq, r.Partition, r.Offset, ackPart[seq], ackOffset[seq])
			}
			if key != nil {
				if want := kafkaPartition(key, partitions); r.Partition != want {
					t.Fatalf("record %d key %q on partition %d, Kafka's partitioner picks %d", seq, key, r.Partition, want)
				}
			}
			if r.Offset != nextOffset[r.Partition] {
				t.Fatalf("partition %d: offset %d consumed, want %d (gap or reorder)", r.Partition, r.Offset, nextOffset[r.Partition])
			}
			nextOffset[r.Partition]++
			if last, ok := lastSeq[r.Partition]; ok && seq <= last {
				t.Fatalf("partition %d: record %d after record %d (produce order broken)", r.Partition, seq, last)
			}
			lastSeq[r.Partition] = seq
		})
	}
	if len(nextOffset) != int(partitions) {
		t.Errorf("records landed on %d partitions, want all %d", len(nextOffset), partitions)
	}

	// The stored batch keeps the producer's codec.
	id := topicID(t, cons, topic)
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MaxBytes = 1 << 20
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = ackPart[1], 0, 1<<20
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	fp := fetchPartition(t, cons, req)
	batches := parseBatches(t, fp.RecordBatches)
	if len(batches) == 0 {
		t.Fatalf("raw fetch of partition %d returned no batch", ackPart[1])
	}
	if got := batches[0].Attributes & 7; got != codecAttr {
		t.Errorf("stored batch codec = %d, want %d (producer's codec)", got, codecAttr)
	}
}

func headersEqual(a, b []kgo.RecordHeader) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Key != b[i].Key || !bytes.Equal(a[i].Value, b[i].Value) {
			return false
		}
	}
	return true
}
