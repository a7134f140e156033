package integration

import (
	"encoding/binary"
	"hash/crc32"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Helpers for issuing raw kmsg requests through a kgo client and for
// building and reading record batches by hand.

// brokerNodeID is node.id of every test broker (Kafka's default 1).
const brokerNodeID = 1

// topicID returns the topic ID the broker reports for topic in Metadata.
func topicID(t *testing.T, cl *kgo.Client, topic string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("metadata %q: %v", topic, err)
	}
	for _, mt := range resp.Topics {
		if mt.Topic != nil && *mt.Topic == topic {
			if err := kerr.ErrorForCode(mt.ErrorCode); err != nil {
				t.Fatalf("metadata %q: %v", topic, err)
			}
			if mt.TopicID == ([16]byte{}) {
				t.Fatalf("metadata %q: zero topic ID", topic)
			}
			return mt.TopicID
		}
	}
	t.Fatalf("metadata response has no topic %q", topic)
	return [16]byte{}
}

// fetchPartition sends req to the broker and returns the one partition
// of the response, failing on transport errors or a top-level error.
func fetchPartition(t *testing.T, cl *kgo.Client, req *kmsg.FetchRequest) kmsg.FetchResponseTopicPartition {
	t.Helper()
	resp := fetch(t, cl, req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// fetch sends req to the broker, failing on transport or top-level errors.
func fetch(t *testing.T, cl *kgo.Client, req *kmsg.FetchRequest) *kmsg.FetchResponse {
	t.Helper()
	kresp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 30*time.Second), req)
	if err != nil {
		t.Fatalf("fetch: %v", err)
	}
	resp := kresp.(*kmsg.FetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("fetch: top-level error %v", err)
	}
	return resp
}

// fetchReq builds a Fetch request for one partition of topic (by name and
// ID; the version the client picks decides which is sent).
func fetchReq(topic string, id [16]byte, partition int32, offset int64, partMax, respMax, minBytes, maxWaitMs int32) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = maxWaitMs
	req.MinBytes = minBytes
	req.MaxBytes = respMax
	req.SessionEpoch = -1 // no fetch session
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = partition, offset, partMax
	rp.CurrentLeaderEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// parseBatches splits a fetch response's record bytes into batches. A
// trailing partial batch (allowed by the protocol) is ignored.
func parseBatches(t *testing.T, b []byte) []kmsg.RecordBatch {
	t.Helper()
	var out []kmsg.RecordBatch
	for len(b) >= 12 {
		size := 12 + int(int32(binary.BigEndian.Uint32(b[8:12])))
		if size > len(b) {
			break
		}
		var rb kmsg.RecordBatch
		if err := rb.ReadFrom(b[:size]); err != nil {
			t.Fatalf("parse record batch: %v", err)
		}
		if rb.Magic != 2 {
			t.Fatalf("record batch magic %d, want 2", rb.Magic)
		}
		out = append(out, rb)
		b = b[size:]
	}
	return out
}

// batchRecords decodes the records of an uncompressed batch.
func batchRecords(t *testing.T, rb kmsg.RecordBatch) []kmsg.Record {
	t.Helper()
	if rb.Attributes&7 != 0 {
		t.Fatalf("batchRecords: batch is compressed (attributes %#x)", rb.Attributes)
	}
	b := rb.Records
	var out []kmsg.Record
	for len(b) > 0 {
		l, n := binary.Varint(b)
		if n <= 0 || int(l) < 0 || n+int(l) > len(b) {
			t.Fatalf("batchRecords: bad record length prefix")
		}
		var r kmsg.Record
		if err := r.ReadFrom(b[:n+int(l)]); err != nil {
			t.Fatalf("batchRecords: %v", err)
		}
		out = append(out, r)
		b = b[n+int(l):]
	}
	if len(out) != int(rb.NumRecords) {
		t.Fatalf("batch says %d records, holds %d", rb.NumRecords, len(out))
	}
	return out
}

// rawRecord is one record for buildBatch.
type rawRecord struct {
	offsetDelta int32
	tsDelta     int64
	key, value  []byte
}

// buildBatch encodes an uncompressed magic-2 batch by hand with a correct
// CRC-32C (over attributes..end) unless the caller damages it afterwards.
func buildBatch(firstTimestamp int64, recs []rawRecord) []byte {
	var records []byte
	var maxDelta int32
	var maxTs int64
	for _, rr := range recs {
		r := kmsg.Record{TimestampDelta64: rr.tsDelta, OffsetDelta: rr.offsetDelta, Key: rr.key, Value: rr.value}
		body := r.AppendTo(nil) // Length 0 encodes as one byte
		r.Length = int32(len(body) - 1)
		records = r.AppendTo(records)
		if rr.offsetDelta > maxDelta {
			maxDelta = rr.offsetDelta
		}
		if rr.tsDelta > maxTs {
			maxTs = rr.tsDelta
		}
	}
	rb := kmsg.RecordBatch{
		FirstOffset:          0,
		Length:               int32(49 + len(records)),
		PartitionLeaderEpoch: -1,
		Magic:                2,
		LastOffsetDelta:      maxDelta,
		FirstTimestamp:       firstTimestamp,
		MaxTimestamp:         firstTimestamp + maxTs,
		ProducerID:           -1,
		ProducerEpoch:        -1,
		FirstSequence:        -1,
		NumRecords:           int32(len(recs)),
		Records:              records,
	}
	b := rb.AppendTo(nil)
	setBatchCRC(b)
	return b
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// setBatchCRC (re)computes the CRC-32C of an encoded batch in place.
func setBatchCRC(b []byte) {
	binary.BigEndian.PutUint32(b[17:21], crc32.Checksum(b[21:], castagnoli))
}

// produceRaw sends one batch to topic/partition with the given acks and
// returns the partition's response.
func produceRaw(t *testing.T, cl *kgo.Client, topic string, partition int32, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = partition, batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	kresp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 30*time.Second), req)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	resp := kresp.(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0]
}

// produceRawRecords writes values as one hand-built batch to
// topic/partition (no client-side partitioning or metadata involved).
func produceRawRecords(t *testing.T, cl *kgo.Client, topic string, partition int32, values ...string) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	recs := make([]rawRecord, len(values))
	for i, v := range values {
		recs[i] = rawRecord{offsetDelta: int32(i), value: []byte(v)}
	}
	return produceRaw(t, cl, topic, partition, buildBatch(time.Now().UnixMilli(), recs))
}
