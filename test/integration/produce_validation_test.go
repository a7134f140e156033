package integration

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawProduce sends one batch with acks=all over rc (Produce v9) and
// returns the partition's error code and base offset.
func rawProduce(t *testing.T, rc *rawConn, corr int32, topic string, batch []byte) (int16, int64) {
	t.Helper()
	return rawProduceV(t, rc, corr, 9, topic, batch)
}

// produceRequest is an acks=all Produce of batch to partition 0 of topic.
func produceRequest(version int16, topic string, batch []byte, timeoutMs int32) *kmsg.ProduceRequest {
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks = -1
	req.TimeoutMillis = timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// rawProduceV is rawProduce at a given Produce version.
func rawProduceV(t *testing.T, rc *rawConn, corr int32, version int16, topic string, batch []byte) (int16, int64) {
	t.Helper()
	resp := rc.roundTrip(corr, produceRequest(version, topic, batch, 10000)).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// TestProduceValidation: batches with a bad CRC, inconsistent offset
// deltas or record counts, no records, control or sequence-less producer
// batches, more than one batch or an old magic, zstd before Produce v7, or
// over max.message.bytes are rejected with Kafka's error codes (Kafka's
// ProduceRequest.validateRecords and LogValidator), and nothing of them is
// written.
func TestProduceValidation(t *testing.T) {
	tb := startBroker(t, withProp("message.max.bytes", "4096"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	small := topicName(t, "small")
	createTopic(t, adm, topic, 1, nil)
	createTopic(t, adm, small, 1, map[string]*string{"max.message.bytes": kadm.StringPtr("1024")})
	cl := newClient(t, tb.Addr())
	rc := dialRaw(t, tb.Addr())
	now := time.Now().UnixMilli()
	corr := int32(0)
	next := func() int32 { corr++; return corr }

	good := buildBatch(now, []rawRecord{{offsetDelta: 0, value: []byte("a")}, {offsetDelta: 1, value: []byte("b")}})
	if code, base := rawProduce(t, rc, next(), topic, good); code != 0 || base != 0 {
		t.Fatalf("good batch: error %v, base offset %d", kerr.ErrorForCode(code), base)
	}
	end := func(topic string) int64 {
		off, _, code := listOffset(t, cl, topic, 0, tsLatest)
		if code != 0 {
			t.Fatalf("list offsets: %v", kerr.ErrorForCode(code))
		}
		return off
	}

	corrupt := bytes.Clone(good)
	corrupt[len(corrupt)-1] ^= 0xff // inside the last record's value: CRC no longer matches
	badCRC := bytes.Clone(good)
	badCRC[17] ^= 0x01 // the CRC field itself

	gaps := buildBatch(now, []rawRecord{
		{offsetDelta: 0, value: []byte("x")},
		{offsetDelta: 2, value: []byte("y")},
		{offsetDelta: 4, value: []byte("z")},
	})
	// NumRecords says 5, the batch holds 2 (CRC recomputed to match).
	miscount := buildBatch(now, []rawRecord{{offsetDelta: 0, value: []byte("p")}, {offsetDelta: 1, value: []byte("q")}})
	miscount[57+3] = 5 // NumRecords is the int32 at 57..61
	setBatchCRC(miscount)

	empty := buildBatch(now, nil) // NumRecords 0
	control := bytes.Clone(good)
	control[22] |= 0x30 // attributes: transactional + control
	setBatchCRC(control)
	noSeq := bytes.Clone(good)
	binary.BigEndian.PutUint64(noSeq[43:51], 5) // producer id 5, first sequence still -1
	setBatchCRC(noSeq)
	twoBatches := append(bytes.Clone(good), good...)
	magic1 := bytes.Clone(good)
	magic1[16] = 1

	cases := []struct {
		name  string
		batch []byte
		want  []int16
	}{
		{"record bytes damaged", corrupt, []int16{kerr.CorruptMessage.Code}},
		{"CRC field damaged", badCRC, []int16{kerr.CorruptMessage.Code}},
		{"offset deltas 0,2,4", gaps, []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
		{"record count 5 for 2 records", miscount, []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
		{"two batches in one partition's records", twoBatches, []int16{kerr.InvalidRecord.Code}},
		{"magic 1 batch in Produce v9", magic1, []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
		{"batch with no records", empty, []int16{kerr.InvalidRecord.Code}},
		{"control batch from a client", control, []int16{kerr.InvalidRecord.Code}},
		{"producer id without a base sequence", noSeq, []int16{kerr.InvalidRecord.Code}},
		{"truncated batch", good[:len(good)-4], []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
	}
	for _, c := range cases {
		before := end(topic)
		code, _ := rawProduce(t, rc, next(), topic, c.batch)
		if !codeIn(code, c.want) {
			t.Errorf("%s: error %v, want one of %v", c.name, kerr.ErrorForCode(code), c.want)
		}
		if e := end(topic); e != before {
			t.Errorf("%s: log end offset %d after the rejected batch, want %d (unchanged)", c.name, e, before)
		}
	}

	// ZStandard needs Produce v7+ (UNSUPPORTED_COMPRESSION_TYPE before).
	// The batch is a real zstd batch written by franz-go, fetched back.
	zstdTopic := topicName(t, "zstd")
	createTopic(t, adm, zstdTopic, 1, nil)
	zcl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(zstdTopic), kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	produceSync(t, zcl, kgo.StringRecord(strings.Repeat("zstd ", 100)))
	zb := fetchPartition(t, cl, fetchReq(zstdTopic, topicID(t, cl, zstdTopic), 0, 0, 1<<20, 1<<20, 0, 0)).RecordBatches
	if bs := parseBatches(t, zb); len(bs) != 1 || bs[0].Attributes&7 != 4 {
		t.Fatalf("zstd topic: want one zstd batch, got %d batches", len(bs))
	}
	before := end(topic)
	if code, _ := rawProduceV(t, rc, next(), 6, topic, zb); code != kerr.UnsupportedCompressionType.Code {
		t.Errorf("zstd batch in Produce v6: error %v, want UNSUPPORTED_COMPRESSION_TYPE", kerr.ErrorForCode(code))
	}
	if e := end(topic); e != before {
		t.Errorf("zstd batch in Produce v6: log end offset %d, want %d (unchanged)", e, before)
	}
	if code, base := rawProduceV(t, rc, next(), 7, topic, zb); code != 0 || base != before {
		t.Errorf("zstd batch in Produce v7: error %v, base offset %d; want none, %d", kerr.ErrorForCode(code), base, before)
	}

	// max.message.bytes: the topic override (1024) and the broker's
	// message.max.bytes (4096) for topics without one.
	big := func(n int) []byte { return buildBatch(now, []rawRecord{{value: bytes.Repeat([]byte("m"), n)}}) }
	if code, _ := rawProduce(t, rc, next(), small, big(2000)); code != kerr.MessageTooLarge.Code {
		t.Errorf("2000-byte batch, topic max.message.bytes=1024: error %v, want MESSAGE_TOO_LARGE", kerr.ErrorForCode(code))
	}
	if e := end(small); e != 0 {
		t.Errorf("log end offset %d after a too-large batch, want 0", e)
	}
	if code, _ := rawProduce(t, rc, next(), small, big(900)); code != 0 {
		t.Errorf("~970-byte batch, max.message.bytes=1024: error %v, want success", kerr.ErrorForCode(code))
	}
	before = end(topic)
	if code, _ := rawProduce(t, rc, next(), topic, big(5000)); code != kerr.MessageTooLarge.Code {
		t.Errorf("5000-byte batch, broker message.max.bytes=4096: error %v, want MESSAGE_TOO_LARGE", kerr.ErrorForCode(code))
	}
	if e := end(topic); e != before {
		t.Errorf("log end offset %d after a too-large batch, want %d", e, before)
	}
	if code, base := rawProduce(t, rc, next(), topic, big(3900)); code != 0 || base != before {
		t.Errorf("~3970-byte batch, message.max.bytes=4096: error %v, base offset %d; want none, %d", kerr.ErrorForCode(code), base, before)
	}

	// acks must be -1, 0 or 1.
	before = end(topic)
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = 2
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = good
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(next(), req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.InvalidRequiredAcks.Code {
		t.Errorf("acks=2: response %+v, want INVALID_REQUIRED_ACKS (21)", resp.Topics)
	}
	if e := end(topic); e != before {
		t.Errorf("log end offset %d after an acks=2 produce, want %d", e, before)
	}

	// Unknown topic and partition.
	if code, _ := rawProduce(t, rc, next(), topicName(t, "missing"), good); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to a missing topic: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}
	req.Acks = -1
	req.Topics[0].Partitions[0].Partition = 7
	resp = rc.roundTrip(next(), req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 || resp.Topics[0].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to partition 7 of a 1-partition topic: response %+v, want UNKNOWN_TOPIC_OR_PARTITION", resp.Topics)
	}

	// The connection survived every rejection; the oldest Produce version
	// that carries v2 batches (v3) works too.
	checkServing(t, tb.Addr())
	before = end(topic)
	if code, base := rawProduce(t, rc, next(), topic, good); code != 0 || base != before {
		t.Errorf("good batch after the rejections: error %v, base offset %d, want none, %d", kerr.ErrorForCode(code), base, before)
	}
	if code, base := rawProduceV(t, rc, next(), 3, topic, good); code != 0 || base != before+2 {
		t.Errorf("good batch in Produce v3: error %v, base offset %d, want none, %d", kerr.ErrorForCode(code), base, before+2)
	}
}

func codeIn(code int16, want []int16) bool {
	for _, w := range want {
		if code == w {
			return true
		}
	}
	return false
}
