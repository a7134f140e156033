package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestCoordinatorsSurviveSIGKILL is TestCoordinatorsSurviveLeaderCrash
// with real processes and SIGKILL, the internal topics at RF 3
// (transaction.state.log.min.isr 2).
//
// Groups: a consumer group consumes and commits; the broker leading its
// __consumer_offsets partition (its coordinator) is SIGKILLed. Another
// broker becomes the coordinator with the committed offsets: the surviving
// member and a new one rebalance there, and between them read exactly the
// records produced after the commit, none before it.
//
// Transactions: a transactional producer writes to three partitions led
// by three brokers; EndTxn(commit) is sent while the broker leading its
// __transaction_state partition is SIGKILLed. The transaction ends
// committed or aborted, never half visible: a read_committed consumer sees
// all of its records or none, and the partitions' last stable offsets
// reach their high watermarks (no transaction left hanging).
func TestCoordinatorsSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	c := startFailoverCluster(t)
	const topic, group, txnID = "coord-sigkill", "coord-sigkill-group", "coord-sigkill-txn"
	n1, n2, n3 := c.nodes[0].id, c.nodes[1].id, c.nodes[2].id
	createReplicated(t, c.nodes[0], topic, [][]int32{{n1, n2, n3}, {n2, n3, n1}, {n3, n1, n2}}, nil)
	waitReplicated(t, c, topic, nil)
	addrs := addrsOf(c.nodes)
	prod := newClient(t, addrs, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordDeliveryTimeout(20*time.Second))
	produce := func(prefix string, n int) []string {
		t.Helper()
		var vs []string
		for i := range n {
			v := fmt.Sprintf("%s-%03d", prefix, i)
			if err := prod.ProduceSync(ctx(t), &kgo.Record{Partition: int32(i % 3), Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
			vs = append(vs, v)
		}
		return vs
	}

	// --- the group coordinator ---
	before := produce("before", 30)
	member := func() *kgo.Client {
		return newClient(t, addrs, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
			kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
	}
	first := member()
	got := map[string]int{}
	for len(got) < len(before) {
		fs := first.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("poll: %v", err)
		}
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Value)]++ })
	}
	if err := first.CommitUncommittedOffsets(ctx(t)); err != nil {
		t.Fatalf("commit: %v", err)
	}
	adm := kadm.NewClient(newClient(t, addrs))
	committed, err := adm.FetchOffsets(ctx(t), group)
	if err != nil || committed.Error() != nil {
		t.Fatalf("fetch offsets: %v %v", err, committed.Error())
	}
	coordID := findCoordinators(t, c.nodes[0], []string{group})[group].NodeID
	coord := nodeByID(c, coordID)
	coord.kill()
	t.Logf("SIGKILLed broker %d, the group's coordinator", coordID)
	live := others(c, coord)
	waitFor(t, 20*time.Second, "another broker to coordinate the group", func() error {
		for _, nd := range live {
			fc := findCoordinators(t, nd, []string{group})[group]
			if fc.ErrorCode != 0 || fc.NodeID == coordID {
				return fmt.Errorf("node %d names %d (code %d)", nd.id, fc.NodeID, fc.ErrorCode)
			}
		}
		return nil
	})
	// A client that knew only the dead broker's address would wait for
	// it: the new members and admin are seeded with the live ones.
	adm2 := kadm.NewClient(newClient(t, addrsOf(live)))
	waitFor(t, 20*time.Second, "the new coordinator to answer with the committed offsets", func() error {
		cctx, cancel := context.WithTimeout(ctx(t), time.Second)
		defer cancel()
		r, err := adm2.FetchOffsets(cctx, group)
		if err != nil {
			return err
		}
		for p := range int32(3) {
			want, _ := committed.Lookup(topic, p)
			if o, ok := r.Lookup(topic, p); !ok || o.Err != nil || o.At != want.At || want.At != 10 {
				return fmt.Errorf("partition %d: %+v (found %v), committed %d", p, o, ok, want.At)
			}
		}
		return nil
	})
	after := produce("after", 30)
	second := newClient(t, addrsOf(live), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond))
	var mu sync.Mutex
	read := map[string]int{}
	gctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, m := range []*kgo.Client{first, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for gctx.Err() == nil {
				fs := m.PollFetches(gctx)
				fs.EachRecord(func(r *kgo.Record) {
					mu.Lock()
					read[string(r.Value)]++
					mu.Unlock()
				})
				_ = m.CommitUncommittedOffsets(gctx)
			}
		}()
	}
	waitFor(t, 20*time.Second, "the rebalanced group to read every new record", func() error {
		mu.Lock()
		defer mu.Unlock()
		for _, v := range after {
			if read[v] == 0 {
				return fmt.Errorf("%s not read yet (%d records read)", v, len(read))
			}
		}
		return nil
	})
	waitFor(t, 20*time.Second, "both members in the group on the new coordinator", func() error {
		dg, err := adm2.DescribeGroups(ctx(t), group)
		if err != nil {
			return err
		}
		g := dg[group]
		if g.Err != nil || g.State != "Stable" || len(g.Members) != 2 {
			return fmt.Errorf("group %s: state %s, %d members, err %v", group, g.State, len(g.Members), g.Err)
		}
		return nil
	})
	stop()
	wg.Wait()
	mu.Lock()
	for _, v := range before {
		if read[v] > 0 {
			t.Errorf("%s, committed before the kill, was read again after it", v)
		}
	}
	mu.Unlock()
	first.Close()
	second.Close()

	// --- the transaction coordinator ---
	coord.restart()
	waitAllListed(t, c)
	waitReplicated(t, c, topic, nil)
	p := newClient(t, addrs, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.TransactionTimeout(5*time.Second),
		kgo.RequestRetries(100), kgo.RetryTimeout(20*time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	var txn []string
	for i := range 9 {
		v := fmt.Sprintf("txn-%d", i)
		if err := p.ProduceSync(ctx(t), &kgo.Record{Partition: int32(i % 3), Value: []byte(v)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		txn = append(txn, v)
	}
	var tcID int32 = -1
	waitFor(t, 10*time.Second, "the transaction's coordinator", func() error {
		fc := findTxnCoordinator(t, c.nodes[0], txnID)
		if fc.ErrorCode != 0 {
			return fmt.Errorf("code %d", fc.ErrorCode)
		}
		tcID = fc.NodeID
		return nil
	})
	tc := nodeByID(c, tcID)
	ended := make(chan error, 1)
	go func() {
		ectx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
		defer cancel()
		ended <- p.EndTransaction(ectx, kgo.TryCommit)
	}()
	tc.kill()
	t.Logf("SIGKILLed broker %d, the transaction's coordinator, as EndTxn(commit) went out", tcID)
	endErr := <-ended
	t.Logf("EndTransaction: %v", endErr)
	live = others(c, tc)
	// Whatever the client heard, the transaction ends: no partition's
	// LSO stays below its HW.
	adm3 := kadm.NewClient(newClient(t, addrsOf(live)))
	waitFor(t, 30*time.Second, "every partition's LSO at its HW", func() error {
		hw, err := adm3.ListEndOffsets(ctx(t), topic)
		if err != nil {
			return err
		}
		lso, err := adm3.ListCommittedOffsets(ctx(t), topic)
		if err != nil {
			return err
		}
		for p := range int32(3) {
			h, _ := hw.Lookup(topic, p)
			l, _ := lso.Lookup(topic, p)
			if h.Err != nil || l.Err != nil || l.Offset != h.Offset {
				return fmt.Errorf("partition %d: LSO %d HW %d (%v %v)", p, l.Offset, h.Offset, h.Err, l.Err)
			}
		}
		return nil
	})
	// One more record per partition after the transaction's: read_committed
	// has delivered everything before it once it delivers that.
	prod2 := newClient(t, addrsOf(live), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		if err := prod2.ProduceSync(ctx(t), &kgo.Record{Partition: p, Value: fmt.Appendf(nil, "end-%d", p)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cons := newClient(t, addrsOf(live), kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]int{}
	waitFor(t, 20*time.Second, "every partition read to its last record", func() error {
		fctx, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
		defer cancel()
		cons.PollFetches(fctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
		for p := range 3 {
			if seen[fmt.Sprintf("end-%d", p)] == 0 {
				return fmt.Errorf("partition %d not read to its end (%d records read)", p, len(seen))
			}
		}
		return nil
	})
	for _, v := range append(before, after...) {
		if seen[v] != 1 {
			t.Errorf("%s read %d times by read_committed", v, seen[v])
		}
	}
	visible := 0
	for _, v := range txn {
		visible += min(seen[v], 1)
	}
	for v, k := range seen {
		if k != 1 {
			t.Errorf("%s read %d times", v, k)
		}
	}
	switch {
	case visible == len(txn):
		t.Logf("the transaction committed")
	case visible == 0:
		t.Logf("the transaction aborted")
		if endErr == nil {
			t.Errorf("EndTransaction(commit) succeeded but the transaction's records are not visible")
		}
	default:
		t.Errorf("half a transaction visible: %d of %d records", visible, len(txn))
	}
}
