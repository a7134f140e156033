package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

// TestKill9ProducerState: the sluice binary is SIGKILLed (no shutdown
// snapshot) after an idempotent producer wrote across several segment
// rolls and a transaction was left open; after the restart the producer
// state comes from the last roll snapshot plus a scan of the log: retries
// of the last batches are still recognised with their offsets, the next
// sequence continues, a gap is refused, the open transaction still holds
// the LSO, and the coordinator can still commit it.
func TestKill9ProducerState(t *testing.T) {
	dir := t.TempDir()
	const segBytes = "log.segment.bytes=2048"
	p := startProc(t, dir, segBytes)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, p.addr), topic, 1, nil)
	txTopic := topicName(t, "txn")
	createTopic(t, newAdmin(t, p.addr), txTopic, 1, nil)

	rc := dialRaw(t, p.addr)
	pid, _ := initProducerID(t, rc, 1)
	corr := int32(10)
	produce := func(seq int32, wantCode int16, wantOffset int64) {
		t.Helper()
		corr++
		code, off := rawProduce(t, rc, corr, topic, idemBatch(t, pid, 0, seq, fmt.Sprintf("value-%03d-%s", seq, "padding-padding-padding")))
		if code != wantCode || (code == 0 && off != wantOffset) {
			t.Fatalf("seq %d: %v offset %d, want %v offset %d", seq, kerr.ErrorForCode(code), off, kerr.ErrorForCode(wantCode), wantOffset)
		}
	}
	for seq := int32(0); seq < 60; seq++ {
		produce(seq, 0, int64(seq))
	}
	x := &rawTxn{t: t, rc: rc, id: "kill9-txn", corr: 1000}
	if code := x.init(600000); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	x.addPartitions(txTopic, 0)
	x.produce(txTopic, 0, "open-1")
	x.produce(txTopic, 0, "open-2")

	p.kill()
	p = startProc(t, dir, segBytes)
	rc = dialRaw(t, p.addr)
	corr = 100
	produce(59, 0, 59) // retry of the last batch
	produce(56, 0, 56) // and of the fourth newest
	produce(61, kerr.OutOfOrderSequenceNumber.Code, 0)
	produce(60, 0, 60)

	adm := newAdmin(t, p.addr)
	ctx := testCtx(t, 10*time.Second)
	lso, err := adm.ListCommittedOffsets(ctx, txTopic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := lso.Lookup(txTopic, 0); o.Offset != 0 {
		t.Fatalf("LSO %d after the restart, want 0 (transaction open)", o.Offset)
	}
	x.rc = rc
	x.seq[0] = 2
	x.produce(txTopic, 0, "open-3")
	if code := x.end(true); code != 0 {
		t.Fatalf("commit after the restart: %v", kerr.ErrorForCode(code))
	}
	got := sortedValues(eosConsume(t, p.addr, txTopic, 3, true))
	if !sameStrings(got, []string{"open-1", "open-2", "open-3"}) {
		t.Fatalf("read_committed: %v", got)
	}
}
