package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCodecsAcrossBrokers: for every codec Kafka has (none, gzip, snappy,
// lz4, zstd), a client seeded with one broker produces keyed records
// (default partitioner) to a topic with one partition led by each of the
// three brokers, and a client seeded with the same single broker reads
// every record exactly once, in offset order per partition, with the
// batches still in the codec they were produced with (compression.type
// producer).
func TestCodecsAcrossBrokers(t *testing.T) {
	t.Parallel()
	c := startCluster(t, 3)
	seed := c.nodes[1]
	codecs := []struct {
		name  string
		codec kgo.CompressionCodec
		attr  uint8 // the batch attributes' compression bits
	}{
		{"none", kgo.NoCompression(), 0},
		{"gzip", kgo.GzipCompression(), 1},
		{"snappy", kgo.SnappyCompression(), 2},
		{"lz4", kgo.Lz4Compression(), 3},
		{"zstd", kgo.ZstdCompression(), 4},
	}
	for _, cd := range codecs {
		t.Run(cd.name, func(t *testing.T) {
			t.Parallel()
			topic := "codec-" + cd.name
			createOnePerBroker(t, c, topic) // asserts partition p leads on node p+1

			prod, err := kgo.NewClient(kgo.SeedBrokers(seed.addr()), kgo.ProducerBatchCompression(cd.codec),
				kgo.ProducerLinger(5*time.Millisecond))
			if err != nil {
				t.Fatal(err)
			}
			defer prod.Close()
			const n = 300
			var recs []*kgo.Record
			for i := range n {
				recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("key-%d", i)),
					Value: []byte(fmt.Sprintf("%s-%d-%s", cd.name, i, "some compressible padding padding padding"))})
			}
			if err := prod.ProduceSync(ctx(t), recs...).FirstErr(); err != nil {
				t.Fatalf("produce: %v", err)
			}
			// What each partition must hold, in offset order.
			want := map[int32][]string{}
			for _, r := range recs {
				want[r.Partition] = append(want[r.Partition], string(r.Value))
				if int64(len(want[r.Partition])-1) != r.Offset {
					t.Fatalf("partition %d: record %q at offset %d", r.Partition, r.Value, r.Offset)
				}
			}
			if len(want) != len(c.nodes) {
				t.Fatalf("keys landed on %d of %d partitions", len(want), len(c.nodes))
			}

			cons, err := kgo.NewClient(kgo.SeedBrokers(seed.addr()), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
				topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
			if err != nil {
				t.Fatal(err)
			}
			defer cons.Close()
			got := map[int32][]string{}
			total := 0
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for total < n {
				fs := cons.PollFetches(cctx)
				if cctx.Err() != nil {
					t.Fatalf("consumed %d of %d records", total, n)
				}
				fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch partition %d: %v", p, err) })
				fs.EachRecord(func(r *kgo.Record) {
					if ct := r.Attrs.CompressionType(); ct != cd.attr {
						t.Fatalf("partition %d offset %d: batch compression %d, want %d", r.Partition, r.Offset, ct, cd.attr)
					}
					if int64(len(got[r.Partition])) != r.Offset {
						t.Fatalf("partition %d: offset %d after %d records (out of order or twice)", r.Partition, r.Offset, len(got[r.Partition]))
					}
					got[r.Partition] = append(got[r.Partition], string(r.Value))
					total++
				})
			}
			for p, vs := range want {
				if fmt.Sprint(got[p]) != fmt.Sprint(vs) {
					t.Fatalf("partition %d: consumed %d records, want %d in produce order", p, len(got[p]), len(vs))
				}
			}
		})
	}
}
