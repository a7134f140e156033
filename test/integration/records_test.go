package integration

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestRecordEdgeCases: null and empty keys and values, headers with null
// values, and a ~900 KB record are stored and returned byte for byte
// (null stays null, empty stays empty).
func TestRecordEdgeCases(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchCompression(kgo.NoCompression()))

	large := bytes.Repeat([]byte("0123456789abcdef"), 900*1024/16)
	want := []*kgo.Record{
		{Key: nil, Value: nil},
		{Key: []byte{}, Value: []byte{}},
		{Key: []byte("k"), Value: nil, Headers: []kgo.RecordHeader{{Key: "null-value", Value: nil}, {Key: "", Value: []byte("empty key")}}},
		{Key: []byte("large"), Value: large},
	}
	for _, r := range want {
		produceSync(t, cl, r) // one batch each
	}

	id := topicID(t, cl, topic)
	p := fetchPartition(t, cl, fetchReq(topic, id, 0, 0, 4<<20, 4<<20, 0, 0))
	var got []kmsg.Record
	for _, b := range parseBatches(t, p.RecordBatches) {
		got = append(got, batchRecords(t, b)...)
	}
	if len(got) != len(want) {
		t.Fatalf("fetched %d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if !sameNullable(g.Key, w.Key) || !sameNullable(g.Value, w.Value) {
			t.Errorf("record %d: key %s value %s, want key %s value %s", i, describeBytes(g.Key), describeBytes(g.Value), describeBytes(w.Key), describeBytes(w.Value))
		}
		if len(g.Headers) != len(w.Headers) {
			t.Errorf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
			continue
		}
		for j, h := range w.Headers {
			if g.Headers[j].Key != h.Key || !sameNullable(g.Headers[j].Value, h.Value) {
				t.Errorf("record %d header %d: %q=%s, want %q=%s", i, j, g.Headers[j].Key, describeBytes(g.Headers[j].Value), h.Key, describeBytes(h.Value))
			}
		}
	}
}

// sameNullable compares bytes, telling null from empty.
func sameNullable(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

func describeBytes(b []byte) string {
	switch {
	case b == nil:
		return "null"
	case len(b) > 16:
		return string(b[:16]) + "...(" + strconv.Itoa(len(b)) + " bytes)"
	}
	return "\"" + string(b) + "\""
}
