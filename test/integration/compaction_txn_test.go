package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestCompactionTransactionState: __transaction_state is compacted like any
// compacted topic, and what survives still rebuilds every transactional
// id's state after a restart (epoch, outcome, retry detection).
func TestCompactionTransactionState(t *testing.T) {
	tb := startBroker(t, withProp("transaction.state.log.num.partitions", "1"), withProp("log.cleaner.backoff.ms", "50"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	x := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "compacted-txn"}
	if code := x.init(60000); code != 0 { // creates __transaction_state
		t.Fatal(kerr.ErrorForCode(code))
	}
	other := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "idle-txn"}
	if code := other.init(60000); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	ctx := testCtx(t, 60*time.Second)
	res, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{
		{Name: "segment.bytes", Value: kadm.StringPtr("1024")},
		{Name: "segment.ms", Value: kadm.StringPtr("100")},
		{Name: "min.cleanable.dirty.ratio", Value: kadm.StringPtr("0.01")},
	}, "__transaction_state")
	if err == nil && len(res) > 0 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("alter __transaction_state configs: %v", err)
	}
	for i := 0; i < 60; i++ {
		if code := x.produceV12(topic, 0, fmt.Sprint(i)); code != 0 {
			t.Fatalf("produce %d: %v", i, kerr.ErrorForCode(code))
		}
		code, _, epoch := x.endV5(true, x.epoch)
		if code != 0 {
			t.Fatalf("commit %d: %v", i, kerr.ErrorForCode(code))
		}
		x.epoch, x.seq = epoch, map[int32]int32{}
	}
	dir := filepath.Join(tb.props["log.dirs"], "__transaction_state-0")
	full := logFileBytes(t, dir)
	waitFor(t, 30*time.Second, "__transaction_state to be compacted", func() error {
		if n := logFileBytes(t, dir); n > full/4 {
			return fmt.Errorf("log files %d bytes (%d before)", n, full)
		}
		return nil
	})

	tb.Restart()
	adm = newAdmin(t, tb.Addr())
	waitFor(t, 30*time.Second, "transaction states after restart", func() error {
		d, err := adm.DescribeTransactions(ctx, x.id, other.id)
		if err != nil {
			return err
		}
		if got := d[x.id]; got.ProducerEpoch != x.epoch || got.State != "CompleteCommit" || got.ProducerID != x.pid {
			return fmt.Errorf("%s: %+v, want pid %d epoch %d CompleteCommit", x.id, got, x.pid, x.epoch)
		}
		if got := d[other.id]; got.ProducerEpoch != other.epoch || got.State != "Empty" || got.ProducerID != other.pid {
			return fmt.Errorf("%s: %+v, want pid %d epoch %d Empty", other.id, got, other.pid, other.epoch)
		}
		return nil
	})
	// The last EndTxn's retry is still recognised from the compacted log.
	x.rc = dialRaw(t, tb.Addr())
	if code, _, e := x.endV5(true, x.epoch-1); code != 0 || e != x.epoch {
		t.Fatalf("retried commit after restart: %v epoch %d, want %d", kerr.ErrorForCode(code), e, x.epoch)
	}
	if got := eosConsumeAll(t, tb.Addr(), topic); got != 60 {
		t.Fatalf("read_committed sees %d records, want 60", got)
	}
}
