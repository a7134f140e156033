package integration

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// produceV12 produces one transactional record with Produce v12, which
// adds the partition to the transaction (KIP-890 part 2).
func (x *rawTxn) produceV12(topic string, part int32, value string) int16 {
	x.t.Helper()
	return x.produceWith(12, &x.id, topic, part, value)
}

// endV5 is EndTxn v5 with the given epoch; it returns the code and the
// producer id and epoch the coordinator hands back.
func (x *rawTxn) endV5(commit bool, epoch int16) (int16, int64, int16) {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.SetVersion(5)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.pid, epoch, commit
	resp := x.call(req).(*kmsg.EndTxnResponse)
	return resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch
}

// TestTxnV2EpochBumpFencesLateBatches drives KIP-890 part 2 with raw
// requests: Produce v12 opens the transaction without AddPartitionsToTxn,
// EndTxn v5 bumps the epoch and returns it, a late batch of the ended
// transaction is fenced, retried EndTxns are answered from state, an empty
// abort bumps too, and state survives a restart.
func TestTxnV2EpochBumpFencesLateBatches(t *testing.T) {
	tb, adm, topic, x := startTxnTopic(t, 2, "tv2-raw")
	if code := x.init(60000); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	e0 := x.epoch

	if code := x.produceV12(topic, 0, "committed"); code != 0 {
		t.Fatalf("produce v12 without AddPartitionsToTxn: %v", kerr.ErrorForCode(code))
	}
	code, pid, e1 := x.endV5(true, e0)
	if code != 0 || pid != x.pid || e1 != e0+1 {
		t.Fatalf("EndTxn v5 commit: %v pid %d epoch %d, want pid %d epoch %d", kerr.ErrorForCode(code), pid, e1, x.pid, e0+1)
	}
	// The retry of the same EndTxn (lost response) succeeds with the
	// same answer; the opposite outcome is refused.
	if code, _, e := x.endV5(true, e0); code != 0 || e != e1 {
		t.Fatalf("retried commit: %v epoch %d", kerr.ErrorForCode(code), e)
	}
	if code, _, _ := x.endV5(false, e0); code != kerr.InvalidTxnState.Code {
		t.Fatalf("abort retrying a commit: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	// A late batch of the committed transaction (old epoch) is fenced:
	// it must not open a transaction that nobody would end.
	if code := x.produceV12(topic, 0, "late"); code != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("late batch with the old epoch: %v, want INVALID_PRODUCER_EPOCH", kerr.ErrorForCode(code))
	}

	// The next transaction runs at the new epoch from sequence 0.
	x.epoch, x.seq = e1, map[int32]int32{}
	for _, p := range []int32{0, 1} {
		if code := x.produceV12(topic, p, "aborted"); code != 0 {
			t.Fatalf("produce at the new epoch to %d: %v", p, kerr.ErrorForCode(code))
		}
	}
	code, _, e2 := x.endV5(false, e1)
	if code != 0 || e2 != e1+1 {
		t.Fatalf("EndTxn v5 abort: %v epoch %d", kerr.ErrorForCode(code), e2)
	}
	// Nothing is open: a commit is refused, an empty abort bumps.
	if code, _, _ := x.endV5(true, e2); code != kerr.InvalidTxnState.Code {
		t.Fatalf("commit with nothing open: %v, want INVALID_TXN_STATE", kerr.ErrorForCode(code))
	}
	code, _, e3 := x.endV5(false, e2)
	if code != 0 || e3 != e2+1 {
		t.Fatalf("empty abort: %v epoch %d, want %d", kerr.ErrorForCode(code), e3, e2+1)
	}

	values := func() []string {
		var out []string
		for _, r := range eosConsume(t, tb.Addr(), topic, 1, true) {
			out = append(out, string(r.Value))
		}
		return out
	}
	if got := values(); len(got) != 1 || got[0] != "committed" {
		t.Fatalf("read_committed sees %v, want [committed]", got)
	}
	requireNoOpenTxn(t, adm, topic, 2)

	// After a restart the coordinator still knows the bumped epoch and
	// the retry of the last EndTxn.
	tb.Restart()
	x.rc = dialRaw(t, tb.Addr())
	waitFor(t, 10*time.Second, "the retried abort after restart", func() error {
		code, _, e := x.endV5(false, e2)
		if code != 0 || e != e3 {
			return kerr.ErrorForCode(code)
		}
		return nil
	})
	x.epoch, x.seq = e3, map[int32]int32{}
	if code := x.produceV12(topic, 1, "after-restart"); code != 0 {
		t.Fatalf("produce after restart: %v", kerr.ErrorForCode(code))
	}
	if code, _, e := x.endV5(true, e3); code != 0 || e != e3+1 {
		t.Fatalf("commit after restart: %v epoch %d", kerr.ErrorForCode(code), e)
	}
}

// TestTxnV2ClientSkipsAddRequests checks that franz-go sees
// transaction.version=2 and runs transactions the KIP-890 part 2 way (no
// AddPartitionsToTxn or AddOffsetsToTxn, EndTxn v5), with the epoch
// bumped at each end, while a client capped at Kafka 3.9's versions keeps
// the explicit-add flow against the same broker.
func TestTxnV2ClientSkipsAddRequests(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 3, nil)

	var adds, ends atomic.Int32
	hook := requestHook(func(key int16) {
		switch kmsg.Key(key) {
		case kmsg.AddPartitionsToTxn, kmsg.AddOffsetsToTxn:
			adds.Add(1)
		case kmsg.EndTxn:
			ends.Add(1)
		}
	})
	cl := newClient(t, tb.Addr(), kgo.TransactionalID("tv2-kgo"), kgo.WithHooks(hook))
	ctx := testCtx(t, 30*time.Second)
	adm := newAdmin(t, tb.Addr())
	epoch := func() int16 {
		t.Helper()
		txns, err := adm.DescribeTransactions(ctx, "tv2-kgo")
		if err != nil {
			t.Fatal(err)
		}
		d, ok := txns["tv2-kgo"]
		if !ok {
			t.Fatalf("no description of tv2-kgo: %+v", txns)
		}
		return d.ProducerEpoch
	}
	var e1 int16
	for i, commit := range []bool{true, true, false, true} {
		if i == 2 {
			// franz-go learns the cluster's features from its first
			// responses: it may run its first transaction the old way
			// and re-initialize its producer id in the second.
			adds.Store(0)
			ends.Store(0)
			e1 = epoch()
		}
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < 3; p++ {
			r := &kgo.Record{Topic: topic, Partition: p, Value: []byte{byte('a' + i)}}
			if i < 2 {
				r.Value = []byte("w")
			}
			if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end transaction %d: %v", i, err)
		}
	}
	if adds.Load() != 0 || ends.Load() != 2 {
		t.Errorf("client sent %d add requests and %d EndTxn, want 0 and 2", adds.Load(), ends.Load())
	}
	if e := epoch(); e != e1+2 {
		t.Errorf("epoch %d after two more transactions, want %d (one bump per EndTxn v5)", e, e1+2)
	}
	got := sortedValues(eosConsume(t, tb.Addr(), topic, 9, true))
	if !sameStrings(got, []string{"d", "d", "d", "w", "w", "w", "w", "w", "w"}) {
		t.Errorf("read_committed got %v", got)
	}

	// A client pinned to Kafka 3.9's versions cannot use Produce v12 or
	// EndTxn v5, so it adds partitions explicitly; both work.
	adds.Store(0)
	old := newClient(t, tb.Addr(), kgo.TransactionalID("tv1-kgo"), kgo.MaxVersions(kversion.V3_9_0()), kgo.WithHooks(hook))
	if err := old.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := old.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("old")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := old.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if adds.Load() == 0 {
		t.Errorf("the capped client sent no AddPartitionsToTxn")
	}
	if got := eosConsume(t, tb.Addr(), topic, 10, true); len(got) != 10 {
		t.Errorf("read_committed got %d records, want 10", len(got))
	}
}

// requestHook calls fn with the key of every request written.
type requestHook func(key int16)

func (h requestHook) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, err error) {
	if err == nil {
		h(key)
	}
}
