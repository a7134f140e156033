package integration

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTopicCompressionType: a topic's compression.type other than
// "producer" makes the broker store batches with that codec whatever the
// producer used (Kafka recompresses); the records read back unchanged.
func TestTopicCompressionType(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	cases := []struct {
		topicCodec string
		producer   kgo.CompressionCodec
		prodName   string
		wantAttr   int16
	}{
		{"gzip", kgo.NoCompression(), "none", 1},
		{"uncompressed", kgo.Lz4Compression(), "lz4", 0},
		{"zstd", kgo.SnappyCompression(), "snappy", 4},
		{"producer", kgo.Lz4Compression(), "lz4", 3},
	}
	for _, c := range cases {
		topic := topicName(t, c.topicCodec)
		createTopic(t, adm, topic, 1, map[string]*string{"compression.type": kadm.StringPtr(c.topicCodec)})
		cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(c.producer))
		var rs []*kgo.Record
		for i := 0; i < 50; i++ {
			rs = append(rs, kgo.StringRecord(fmt.Sprintf("record %d of a compressible batch", i)))
		}
		produceSync(t, cl, rs...)

		bs := parseBatches(t, fetchPartition(t, cl, fetchReq(topic, topicID(t, cl, topic), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches)
		if len(bs) == 0 {
			t.Fatalf("compression.type=%s: nothing fetched", c.topicCodec)
		}
		if got := bs[0].Attributes & 7; got != c.wantAttr {
			t.Errorf("compression.type=%s, producer codec %s: stored batch codec %d, want %d", c.topicCodec, c.prodName, got, c.wantAttr)
		}
		got := consumeAll(t, tb.Addr(), topic)[0]
		if len(got) != 50 {
			t.Fatalf("compression.type=%s: consumed %d records, want 50", c.topicCodec, len(got))
		}
		for i, r := range got {
			if want := fmt.Sprintf("record %d of a compressible batch", i); string(r.Value) != want {
				t.Errorf("compression.type=%s: record %d = %q, want %q", c.topicCodec, i, r.Value, want)
				break
			}
		}
	}
}
