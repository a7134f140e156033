package integration

import (
	"testing"
)

// TestFlushMessagesTradesDurability: a topic with flush.messages above 1
// acknowledges after the page-cache write (the HW follows the log end at
// once, fsync happens every N messages and every flush.ms), and its records
// are readable and survive a clean restart like any other.
func TestFlushMessagesTradesDurability(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	n, ms := "100000", "60000"
	createTopic(t, adm, topic, 1, map[string]*string{"flush.messages": &n, "flush.ms": &ms})
	values := seqValues("lazy", 50)
	produceValues(t, newClient(t, tb.Addr()), topic, values, nil)
	if got := consumeAll(t, tb.Addr(), topic)[0]; len(got) != len(values) {
		t.Fatalf("consumed %d records, want %d", len(got), len(values))
	}
	tb.Restart()
	got := consumeAll(t, tb.Addr(), topic)[0]
	if len(got) != len(values) {
		t.Fatalf("after a clean restart: %d records, want %d", len(got), len(values))
	}
	for i, r := range got {
		if string(r.Value) != values[i] {
			t.Fatalf("record %d = %q, want %q", i, r.Value, values[i])
		}
	}
}
