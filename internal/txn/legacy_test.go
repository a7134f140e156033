package txn

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// legacyGroups records what the transaction coordinator hands the group
// coordinator.
type legacyGroups struct {
	mu      sync.Mutex
	commits []string // group/topic/partition/offset
}

func (g *legacyGroups) CompleteTxn(int32, int64, bool, int64) {}

func (g *legacyGroups) CommitLegacyTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range topics {
		for _, p := range t.Partitions {
			g.commits = append(g.commits, fmt.Sprintf("%s/%s/%d/%d", group, t.Topic, p.Partition, p.Offset))
		}
	}
	return nil
}

func (g *legacyGroups) seen() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.commits...)
}

// TestLegacyOffsetsCommitOnce: an older Sluice kept a transaction's
// TxnOffsetCommit offsets in __transaction_state (key version 100). A
// transaction left in PrepareCommit with such a record by the old
// version commits its offsets once after the upgrade: the next load's
// marker job hands them to the group coordinator before Complete, which
// tombstones the record, so a later load hands nothing again.
func TestLegacyOffsetsCommitOnce(t *testing.T) {
	g := &legacyGroups{}
	e := newEnvWith(t, t.TempDir(), g)
	id := "legacy"
	res := e.c.InitProducerID(4, &id, 60000, -1, -1)
	if res.Code != 0 {
		t.Fatalf("init: %+v", res)
	}
	if code := e.add(id, res.ProducerID, res.Epoch, 0); code != 0 {
		t.Fatalf("add: %d", code)
	}
	// The record the old TxnOffsetCommit wrote.
	body := kmsg.NewPtrTxnOffsetCommitRequest()
	body.Version = 3
	body.TransactionalID, body.Group, body.ProducerID, body.ProducerEpoch, body.Generation = id, "grp", res.ProducerID, res.Epoch, -1
	bt := kmsg.NewTxnOffsetCommitRequestTopic()
	bt.Topic = "data"
	bp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	bp.Partition, bp.Offset = 1, 7
	bt.Partitions = append(bt.Partitions, bp)
	body.Topics = append(body.Topics, bt)
	s, code := e.c.shardFor(id)
	if code != 0 {
		t.Fatalf("shard: %d", code)
	}
	err := s.write(record.Record{Key: legacyOffsetsKey(id, "grp"), Value: body.AppendTo(nil)})
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	stop := func(string) error { return errors.New("stopped after prepare") }
	TestHookAfterPrepare.Store(&stop)
	t.Cleanup(func() { TestHookAfterPrepare.Store(nil) })
	if code := e.end(id, res.ProducerID, res.Epoch, true); code != 0 {
		t.Fatalf("end: %d", code)
	}
	TestHookAfterPrepare.Store(nil)
	if st, _, _ := e.state(id); st != kmsg.TransactionStatePrepareCommit || len(g.seen()) != 0 {
		t.Fatalf("before the restart: state %v, commits %v", st, g.seen())
	}

	e = e.restart()
	e.settle()
	if st, _, _ := e.state(id); st != kmsg.TransactionStateCompleteCommit {
		t.Fatalf("after the restart: state %v", st)
	}
	if got := g.seen(); len(got) != 1 || got[0] != "grp/data/1/7" {
		t.Fatalf("legacy offsets handed over: %v", got)
	}
	e = e.restart()
	e.settle()
	if got := g.seen(); len(got) != 1 {
		t.Fatalf("legacy offsets handed over again after a second load: %v", got)
	}
}
