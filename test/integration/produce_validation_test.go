package integration

import (
	"bytes"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rawProduce sends one batch with acks=all over rc (Produce v9) and
// returns the partition's error code and base offset.
func rawProduce(t *testing.T, rc *rawConn, corr int32, topic string, batch []byte) (int16, int64) {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(9)
	req.Acks = -1
	req.TimeoutMillis = 10000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := rc.roundTrip(corr, req).(*kmsg.ProduceResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("produce response: want 1 topic with 1 partition, got %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	return p.ErrorCode, p.BaseOffset
}

// TestProduceValidation: batches with a bad CRC, inconsistent offset
// deltas or record counts, or over max.message.bytes are rejected with
// Kafka's error codes, and nothing of them is written.
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

	cases := []struct {
		name  string
		batch []byte
		want  []int16
	}{
		{"record bytes damaged", corrupt, []int16{kerr.CorruptMessage.Code}},
		{"CRC field damaged", badCRC, []int16{kerr.CorruptMessage.Code}},
		{"offset deltas 0,2,4", gaps, []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
		{"record count 5 for 2 records", miscount, []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
		{"truncated batch", good[:len(good)-4], []int16{kerr.InvalidRecord.Code, kerr.CorruptMessage.Code}},
	}
	for _, c := range cases {
		code, _ := rawProduce(t, rc, next(), topic, c.batch)
		if !codeIn(code, c.want) {
			t.Errorf("%s: error %v, want one of %v", c.name, kerr.ErrorForCode(code), c.want)
		}
		if e := end(topic); e != 2 {
			t.Errorf("%s: log end offset %d after the rejected batch, want 2 (unchanged)", c.name, e)
		}
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
	if code, _ := rawProduce(t, rc, next(), topic, big(5000)); code != kerr.MessageTooLarge.Code {
		t.Errorf("5000-byte batch, broker message.max.bytes=4096: error %v, want MESSAGE_TOO_LARGE", kerr.ErrorForCode(code))
	}
	if code, _ := rawProduce(t, rc, next(), topic, big(3900)); code != 0 {
		t.Errorf("~3970-byte batch, message.max.bytes=4096: error %v, want success", kerr.ErrorForCode(code))
	}
	if e := end(topic); e != 3 {
		t.Errorf("log end offset %d, want 3 (2 good records and the 3900-byte one)", e)
	}

	// Unknown topic and partition.
	if code, _ := rawProduce(t, rc, next(), topicName(t, "missing"), good); code != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("produce to a missing topic: error %v, want UNKNOWN_TOPIC_OR_PARTITION", kerr.ErrorForCode(code))
	}

	// The connection survived every rejection.
	checkServing(t, tb.Addr())
	if code, base := rawProduce(t, rc, next(), topic, good); code != 0 || base != 3 {
		t.Errorf("good batch after the rejections: error %v, base offset %d, want none, 3", kerr.ErrorForCode(code), base)
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
