package integration

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTxnBrokerAPIs covers the broker-to-broker forms: AddPartitionsToTxn
// v4 with several transactions and verify-only entries (KIP-890), and
// WriteTxnMarkers, whose abort marker ends a producer's transaction in the
// partition (its records then listed as aborted and the LSO released).
func TestTxnBrokerAPIs(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	rc := dialRaw(t, tb.Addr())
	a := &rawTxn{t: t, rc: rc, id: "batched-a", corr: 100}
	b := &rawTxn{t: t, rc: rc, id: "batched-b", corr: 200}
	for _, x := range []*rawTxn{a, b} {
		if code := x.init(60000); code != 0 {
			t.Fatal(kerr.ErrorForCode(code))
		}
	}
	a.addPartitions(topic, 0)

	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(4)
	for _, e := range []struct {
		x      *rawTxn
		verify bool
		part   int32
	}{{a, true, 0}, {a, true, 1}, {b, false, 1}} {
		tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
		tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = e.x.id, e.x.pid, e.x.epoch, e.verify
		tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
		tt.Topic, tt.Partitions = topic, []int32{e.part}
		tx.Topics = append(tx.Topics, tt)
		req.Transactions = append(req.Transactions, tx)
	}
	a.corr++
	resp := rc.roundTrip(a.corr, req).(*kmsg.AddPartitionsToTxnResponse)
	want := []int16{0, kerr.InvalidTxnState.Code, 0}
	if len(resp.Transactions) != 3 {
		t.Fatalf("transactions: %+v", resp.Transactions)
	}
	for i, tx := range resp.Transactions {
		if got := tx.Topics[0].Partitions[0].ErrorCode; got != want[i] {
			t.Fatalf("entry %d (%s): %v, want %v", i, tx.TransactionalID, kerr.ErrorForCode(got), kerr.ErrorForCode(want[i]))
		}
	}

	b.produce(topic, 1, "b-1")
	wm := kmsg.NewPtrWriteTxnMarkersRequest()
	wm.SetVersion(1)
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed = b.pid, b.epoch, false
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{1}
	m.Topics = append(m.Topics, mt)
	wm.Markers = append(wm.Markers, m)
	old := kmsg.NewWriteTxnMarkersRequestMarker()
	old.ProducerID, old.ProducerEpoch, old.Committed = b.pid, b.epoch-1, true
	old.Topics = m.Topics
	wm.Markers = append(wm.Markers, old)
	b.corr++
	wresp := rc.roundTrip(b.corr, wm).(*kmsg.WriteTxnMarkersResponse)
	if got := wresp.Markers[0].Topics[0].Partitions[0].ErrorCode; got != 0 {
		t.Fatalf("marker: %v", kerr.ErrorForCode(got))
	}
	if got := wresp.Markers[1].Topics[0].Partitions[0].ErrorCode; got != kerr.InvalidProducerEpoch.Code {
		t.Fatalf("marker with an old epoch: %v", kerr.ErrorForCode(got))
	}
	fr := kmsg.NewPtrFetchRequest()
	fr.SetVersion(11)
	fr.IsolationLevel, fr.MaxBytes, fr.MaxWaitMillis = 1, 1<<20, 0
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic = topic
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.Partition, fp.PartitionMaxBytes, fp.FetchOffset = 1, 1<<20, 0
	ft.Partitions = append(ft.Partitions, fp)
	fr.Topics = append(fr.Topics, ft)
	b.corr++
	fresp := rc.roundTrip(b.corr, fr).(*kmsg.FetchResponse)
	p := fresp.Topics[0].Partitions[0]
	if p.LastStableOffset != 2 || p.HighWatermark != 2 || len(p.AbortedTransactions) != 1 ||
		p.AbortedTransactions[0].ProducerID != b.pid || p.AbortedTransactions[0].FirstOffset != 0 {
		t.Fatalf("read_committed fetch: LSO %d HW %d aborted %+v", p.LastStableOffset, p.HighWatermark, p.AbortedTransactions)
	}
}

// TestTxnFencedCodesByVersion: a fenced producer (its transactional id was
// re-initialized) gets PRODUCER_FENCED from the versions that know it
// (KIP-588) and INVALID_PRODUCER_EPOCH from older ones.
func TestTxnFencedCodesByVersion(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	rc := dialRaw(t, tb.Addr())
	old := &rawTxn{t: t, rc: rc, id: "fenced-codes", corr: 100}
	if code := old.init(60000); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	cur := &rawTxn{t: t, rc: rc, id: "fenced-codes", corr: 200}
	if code := cur.init(60000); code != 0 || cur.epoch != old.epoch+1 || cur.pid != old.pid {
		t.Fatalf("re-init: %v pid %d epoch %d (was %d/%d)", kerr.ErrorForCode(code), cur.pid, cur.epoch, old.pid, old.epoch)
	}
	for _, c := range []struct {
		v    int16
		want *kerr.Error
	}{{1, kerr.InvalidProducerEpoch}, {3, kerr.ProducerFenced}} {
		ap := kmsg.NewPtrAddPartitionsToTxnRequest()
		ap.SetVersion(c.v)
		ap.TransactionalID, ap.ProducerID, ap.ProducerEpoch = old.id, old.pid, old.epoch
		at := kmsg.NewAddPartitionsToTxnRequestTopic()
		at.Topic, at.Partitions = topic, []int32{0}
		ap.Topics = append(ap.Topics, at)
		if got := old.call(ap).(*kmsg.AddPartitionsToTxnResponse).Topics[0].Partitions[0].ErrorCode; got != c.want.Code {
			t.Errorf("AddPartitionsToTxn v%d: %v, want %v", c.v, kerr.ErrorForCode(got), c.want)
		}
		et := kmsg.NewPtrEndTxnRequest()
		et.SetVersion(c.v)
		et.TransactionalID, et.ProducerID, et.ProducerEpoch, et.Commit = old.id, old.pid, old.epoch, true
		if got := old.call(et).(*kmsg.EndTxnResponse).ErrorCode; got != c.want.Code {
			t.Errorf("EndTxn v%d: %v, want %v", c.v, kerr.ErrorForCode(got), c.want)
		}
	}
	// KIP-360: re-initializing with a stale id/epoch pair is fenced too.
	ip := kmsg.NewPtrInitProducerIDRequest()
	ip.SetVersion(4)
	ip.TransactionalID, ip.TransactionTimeoutMillis = &old.id, 60000
	ip.ProducerID, ip.ProducerEpoch = old.pid, old.epoch
	if got := old.call(ip).(*kmsg.InitProducerIDResponse).ErrorCode; got != kerr.ProducerFenced.Code {
		t.Errorf("InitProducerId with a stale epoch: %v", kerr.ErrorForCode(got))
	}
}
