package integration

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestProduceToInternalTopicRefused: only the coordinators write
// __consumer_offsets; a client's produce gets INVALID_TOPIC_EXCEPTION and
// nothing is appended.
func TestProduceToInternalTopicRefused(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.addr, kgo.ConsumerGroup("g-internal"), kgo.ConsumeTopics("t-internal"))
	adm := newAdmin(t, tb.addr)
	createTopic(t, adm, "t-internal", 1, nil)
	// Joining a group makes the coordinator create __consumer_offsets.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		td, err := adm.ListTopics(ctx, "__consumer_offsets")
		if err == nil && len(td["__consumer_offsets"].Partitions) > 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("__consumer_offsets never created")
		}
		cl.PollFetches(ctxWithTimeout(t, 200*time.Millisecond))
	}
	before, err := adm.ListEndOffsets(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	resp := produceRawRecords(t, cl, "__consumer_offsets", 0, "not-an-offset-record")
	if resp.ErrorCode != kerr.InvalidTopicException.Code {
		t.Fatalf("produce to __consumer_offsets: error %d, want INVALID_TOPIC_EXCEPTION", resp.ErrorCode)
	}
	after, err := adm.ListEndOffsets(ctx, "__consumer_offsets")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := before.Lookup("__consumer_offsets", 0)
	a, _ := after.Lookup("__consumer_offsets", 0)
	if a.Offset != b.Offset {
		t.Fatalf("end offset moved from %d to %d", b.Offset, a.Offset)
	}
}

func ctxWithTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
