package cluster

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestReadCommittedOnNewLeader: two transactions open on an RF 3
// partition (acks=all, min.insync.replicas 2) when its leader crashes.
// The new leader rebuilt the producers' state as a follower: its last
// stable offset stays at the first open transaction's first offset, and a
// read_committed fetch returns nothing past it, until that transaction is
// aborted (the LSO moves to the second one's first offset) and the second
// committed (LSO = HW). A read_committed consumer then sees the committed
// records exactly once and the aborted ones never.
func TestReadCommittedOnNewLeader(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "txn-lso"
	v, vid, topicID := createLedByVictim(t, c, topic, map[string]string{"min.insync.replicas": "2"})

	plain := producer(t, c)
	produceTo(t, plain, topic, 0, values("pre", 3)...) // offsets 0-2
	ids := txnIDsAwayFrom(t, c, vid, 2)
	txn := func(id string) *kgo.Client {
		p := producer(t, c, kgo.TransactionalID(id), kgo.TransactionTimeout(60*time.Second),
			kgo.RequestRetries(50), kgo.RetryTimeout(20*time.Second))
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	aborted, committed := txn(ids[0]), txn(ids[1])
	produceTo(t, aborted, topic, 0, values("aborted", 3)...)     // 3-5
	produceTo(t, committed, topic, 0, values("committed", 3)...) // 6-8
	produceTo(t, plain, topic, 0, values("post", 2)...)          // 9-10
	const firstAborted, firstCommitted, end = 3, 6, 11

	c.Crash(v)
	n := c.NodeByID(waitOtherLeader(c, v, vid, topic)).Index()
	var lso, hw int64
	c.WaitFor("the new leader to serve read_committed fetches", func() error {
		var err error
		lso, hw, err = readCommittedFetch(t, c, n, topic, topicID)
		if err == nil && hw != end {
			err = fmt.Errorf("high watermark %d, want %d", hw, end)
		}
		return err
	})
	if lso != firstAborted {
		t.Fatalf("last stable offset %d on the new leader with the transactions open, want %d", lso, firstAborted)
	}

	endTxn := func(p *kgo.Client, how kgo.TransactionEndTry) {
		t.Helper()
		c.WaitFor("the transaction to end", func() error {
			cctx, cancel := context.WithTimeout(ctx(t), 5*time.Second)
			defer cancel()
			return p.EndTransaction(cctx, how)
		})
	}
	endTxn(aborted, kgo.TryAbort)
	waitLSO(t, c, n, topic, topicID, firstCommitted)
	endTxn(committed, kgo.TryCommit)
	// The two markers follow the 11 records.
	waitLSO(t, c, n, topic, topicID, end+2)

	got := readCommittedUntil(t, c, topic, "post-1")
	want := append(append(values("pre", 3), values("committed", 3)...), values("post", 2)...)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("read_committed after the failover: %v, want %v", got, want)
	}
}

// readCommittedUntil reads topic-0 from its start as a read_committed
// consumer until it gets the value last (the partition's last record), and
// returns every value in offset order: an aborted or duplicated record
// would show before it.
func readCommittedUntil(t *testing.T, c *testcluster.Cluster, topic, last string) []string {
	t.Helper()
	cl := c.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.FetchMaxWait(100*time.Millisecond))
	var all []string
	cctx, cancel := context.WithTimeout(ctx(t), 20*time.Second)
	defer cancel()
	for !slices.Contains(all, last) {
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("read_committed consumer got %v, no %q", all, last)
		}
		fs.EachRecord(func(r *kgo.Record) { all = append(all, string(r.Value)) })
	}
	return all
}

// waitLSO waits until node i's read_committed fetch of topic-0 reports
// the last stable offset want (and never one beyond it).
func waitLSO(t *testing.T, c *testcluster.Cluster, i int, topic string, topicID [16]byte, want int64) {
	t.Helper()
	c.WaitFor("last stable offset "+strconv.FormatInt(want, 10), func() error {
		lso, _, err := readCommittedFetch(t, c, i, topic, topicID)
		if err != nil {
			return err
		}
		if lso > want {
			t.Fatalf("last stable offset %d, past %d", lso, want)
		}
		if lso != want {
			return fmt.Errorf("last stable offset %d", lso)
		}
		return nil
	})
}

// readCommittedFetch sends a read_committed consumer Fetch of topic-0
// from offset 0 to node i and returns the partition's LSO and HW; it
// fails the test when a returned batch reaches past the LSO.
func readCommittedFetch(t *testing.T, c *testcluster.Cluster, i int, topic string, topicID [16]byte) (lso, hw int64, err error) {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID = -1, -1
	req.IsolationLevel = 1
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 0, 0, 1<<20
	req.SessionEpoch = -1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch, rp.LastFetchedEpoch, rp.LogStartOffset = 0, 1<<20, -1, -1, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := c.Request(rctx, i, req)
	if err != nil {
		return 0, 0, err
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		return 0, 0, fmt.Errorf("fetch: %v %+v", kerr.ErrorForCode(fr.ErrorCode), fr.Topics)
	}
	p := fr.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return 0, 0, kerr.ErrorForCode(p.ErrorCode)
	}
	_ = record.Split(p.RecordBatches, func(h record.Header, _ []byte) error {
		if h.LastOffset() >= p.LastStableOffset {
			t.Fatalf("read_committed fetch returned a batch at %d-%d, LSO %d", h.BaseOffset, h.LastOffset(), p.LastStableOffset)
		}
		return nil
	})
	return p.LastStableOffset, p.HighWatermark, nil
}

// txnIDsAwayFrom returns n transactional ids whose coordinator is not
// broker avoid (so that crashing avoid tests the data leader's failover,
// not the coordinator's).
func txnIDsAwayFrom(t *testing.T, c *testcluster.Cluster, avoid int32, n int) []string {
	t.Helper()
	var ids []string
	for k := 0; len(ids) < n; k++ {
		id := "txn-lso-" + strconv.Itoa(k)
		var coord int32
		c.WaitFor("FindCoordinator for "+id, func() error {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType, req.CoordinatorKeys = 1, []string{id}
			resp, err := c.Request(ctx(t), 0, req)
			if err != nil {
				return err
			}
			r := resp.(*kmsg.FindCoordinatorResponse).Coordinators[0]
			if r.ErrorCode != 0 {
				return kerr.ErrorForCode(r.ErrorCode)
			}
			coord = r.NodeID
			return nil
		})
		if coord != avoid {
			ids = append(ids, id)
		}
	}
	return ids
}
