package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestReplicaFetchParksUntilProduce: a replica fetch at the leader's log
// end with MaxWaitMillis 5000 and MinBytes 1 waits in the leader (Kafka's
// fetch purgatory) and a produce wakes it: it answers with the new record,
// not empty at MaxWait.
//
// The real follower is cut from its leader and leaves the ISR; the test
// then fetches in its name. That its caught-up fetch was read by the
// leader shows as the follower's return to the ISR, so the produce is
// known to come after the fetch parked (no sleeps to order them).
func TestReplicaFetchParksUntilProduce(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "park"
	_, li, fi, topicID := followerCutOut(t, c, topic, "before", 2)
	lid, fid := c.Node(li).ID(), c.Node(fi).ID()
	both := []int32{lid, fid}
	end := leaderEnd(t, c, li, topic)

	type answer struct {
		p   kmsg.FetchResponseTopicPartition
		err error
	}
	// Its own client: the fixture's Request shares one connection per
	// node, whose later requests would queue behind the parked fetch.
	fetcher := c.Client(t)
	done := make(chan answer, 1)
	go func() {
		req := replicaFetchAt(fid, -1, topicID, end, 5000, 1)
		rctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		resp, err := fetcher.Broker(int(lid)).Request(rctx, req)
		if err != nil {
			done <- answer{err: err}
			return
		}
		fr := resp.(*kmsg.FetchResponse)
		if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			done <- answer{err: fmt.Errorf("fetch: %v %+v", kerr.ErrorForCode(fr.ErrorCode), fr.Topics)}
			return
		}
		done <- answer{p: fr.Topics[0].Partitions[0]}
	}()

	// A fetch at the log end is caught up: the leader adds the follower
	// back when it reads it, then parks it (nothing to return).
	waitState(c, -1, topic, func(_ int32, isr []int32) error {
		select {
		case a := <-done:
			t.Fatalf("the fetch at the log end answered before any produce: %+v %v", a.p, a.err)
		default:
		}
		if !sameSet(isr, both) {
			return fmt.Errorf("isr %v, want the follower back after its fetch at the log end", isr)
		}
		return nil
	})
	if code := produceOnce(t, c, li, topic, 1, 5*time.Second); code != 0 {
		t.Fatalf("acks=1: %v", kerr.ErrorForCode(code))
	}
	a := <-done
	if a.err != nil {
		t.Fatal(a.err)
	}
	if a.p.ErrorCode != 0 {
		t.Fatalf("parked fetch: %v", kerr.ErrorForCode(a.p.ErrorCode))
	}
	var first int64 = -1
	n := 0
	_ = record.Split(a.p.RecordBatches, func(h record.Header, _ []byte) error {
		if first < 0 {
			first = h.BaseOffset
		}
		n += int(h.NumRecords)
		return nil
	})
	if n != 1 || first != end {
		t.Fatalf("parked fetch answered with %d records from offset %d, want the produced record at %d", n, first, end)
	}
}
