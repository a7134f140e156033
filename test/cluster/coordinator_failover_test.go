package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Coordinators across a crash of their internal partition's leader, with
// the internal topics at Kafka's defaults for three brokers (replication
// factor 3, transaction.state.log.min.isr 2): the group coordinator's
// committed offsets and a transaction in flight survive on the new leader,
// which replays its partition to the log end.
func TestCoordinatorsSurviveLeaderCrash(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic, group, txnID = "failover", "failover-group", "failover-txn"
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 1, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	c.WaitPartitionLeader(topic, 0)

	// Offsets committed, then the group's coordinator crashes.
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 42, LeaderEpoch: -1})
	c.WaitFor("an offset commit", func() error {
		r, err := adm.CommitOffsets(ctx(t), group, offs)
		if err != nil {
			return err
		}
		return r.Error()
	})
	coord := func(find func(context.Context, ...string) kadm.FindCoordinatorResponses, key string) int32 {
		var id int32
		c.WaitFor("the coordinator of "+key, func() error {
			r := find(ctx(t), key)[key]
			if r.Err != nil {
				return r.Err
			}
			id = r.NodeID
			return nil
		})
		return id
	}
	old := coord(adm.FindGroupCoordinators, group)
	oldIdx := c.NodeByID(old).Index()
	c.Crash(oldIdx)
	// A client that cached the crashed coordinator keeps dialing it for a
	// while: ask a live node, then use a fresh client.
	via := (oldIdx + 1) % c.N()
	c.WaitFor("another node to coordinate the group", func() error {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKeys = []string{group}
		resp, err := c.Request(ctx(t), via, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		if len(r.Coordinators) != 1 {
			return fmt.Errorf("answer %+v", r)
		}
		if co := r.Coordinators[0]; co.ErrorCode != 0 || co.NodeID == old {
			return fmt.Errorf("node %d named (code %d)", co.NodeID, co.ErrorCode)
		}
		return nil
	})
	adm2 := c.Admin(t, kgo.SeedBrokers(c.Node(via).Addr()))
	c.WaitFor("the new coordinator to answer with the committed offset", func() error {
		cctx, cancel := context.WithTimeout(ctx(t), time.Second)
		defer cancel()
		r, err := adm2.FetchOffsets(cctx, group)
		if err != nil {
			return err
		}
		if o, ok := r.Lookup(topic, 0); !ok || o.Err != nil || o.At != 42 {
			return fmt.Errorf("offset %+v (found %v)", o, ok)
		}
		return nil
	})
	c.Restart(oldIdx)
	c.WaitUnfenced(oldIdx)

	// A transaction whose coordinator crashes before EndTxn commits once.
	p := c.Client(t, kgo.TransactionalID(txnID), kgo.DefaultProduceTopic(topic),
		kgo.RequestRetries(50), kgo.RetryTimeout(20*time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for i := range n {
		if err := p.ProduceSync(ctx(t), kgo.StringRecord(fmt.Sprintf("txn-%d", i))).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	tc := coord(adm.FindTxnCoordinators, txnID)
	tcIdx := c.NodeByID(tc).Index()
	c.Crash(tcIdx)
	// EndTxn goes once a live broker names the new coordinator: a commit
	// sent to the dead one fails to dial, and franz-go will not retry a
	// commit whose outcome it cannot know (it aborts), which would test
	// the client, not the coordinator's failover.
	live := (tcIdx + 1) % c.N()
	c.WaitFor("a live broker to name the new transaction coordinator", func() error {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorType, req.CoordinatorKeys = 1, []string{txnID}
		resp, err := c.Request(ctx(t), live, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.FindCoordinatorResponse)
		if len(r.Coordinators) != 1 || r.Coordinators[0].ErrorCode != 0 || r.Coordinators[0].NodeID == tc {
			return fmt.Errorf("answer %+v", r.Coordinators)
		}
		return nil
	})
	c.WaitFor("the transaction to commit on the new coordinator", func() error {
		cctx, cancel := context.WithTimeout(ctx(t), 3*time.Second)
		defer cancel()
		return p.EndTransaction(cctx, kgo.TryCommit)
	})
	cons := c.Client(t, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := map[string]int{}
	c.WaitFor("every transactional record once", func() error {
		fctx, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
		defer cancel()
		cons.PollFetches(fctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
		if len(seen) < n {
			return fmt.Errorf("%d of %d records", len(seen), n)
		}
		return nil
	})
	for v, k := range seen {
		if k != 1 {
			t.Fatalf("record %s seen %d times", v, k)
		}
	}
}
