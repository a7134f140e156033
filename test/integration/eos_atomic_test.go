package integration

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/txn"
)

// rawTxn drives one transactional id with raw requests.
type rawTxn struct {
	t     *testing.T
	rc    *rawConn
	corr  int32
	id    string
	pid   int64
	epoch int16
	seq   map[int32]int32
}

func (x *rawTxn) call(req kmsg.Request) kmsg.Response {
	x.t.Helper()
	x.corr++
	return x.rc.roundTrip(x.corr, req)
}

func (x *rawTxn) init(timeoutMs int32) int16 {
	x.t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionalID, req.TransactionTimeoutMillis = &x.id, timeoutMs
	resp := x.call(req).(*kmsg.InitProducerIDResponse)
	x.pid, x.epoch, x.seq = resp.ProducerID, resp.ProducerEpoch, map[int32]int32{}
	return resp.ErrorCode
}

func (x *rawTxn) addPartitions(topic string, parts ...int32) {
	x.t.Helper()
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch = x.id, x.pid, x.epoch
	rt := kmsg.NewAddPartitionsToTxnRequestTopic()
	rt.Topic, rt.Partitions = topic, parts
	req.Topics = append(req.Topics, rt)
	for _, t := range x.call(req).(*kmsg.AddPartitionsToTxnResponse).Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				x.t.Fatalf("AddPartitionsToTxn %s-%d: %v", t.Topic, p.Partition, err)
			}
		}
	}
}

// startTxnTopic starts a broker, creates a topic of parts partitions and
// dials a raw transactional producer with id (not yet initialised); it
// returns the broker, an admin client, the topic and the producer.
func startTxnTopic(t *testing.T, parts int32, id string) (*testBroker, *kadm.Client, string, *rawTxn) {
	t.Helper()
	tb := startBroker(t)
	topic := topicName(t, "")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, topic, parts, nil)
	return tb, adm, topic, &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: id}
}

func (x *rawTxn) produce(topic string, part int32, value string) {
	x.t.Helper()
	if err := kerr.ErrorForCode(x.produceCode(topic, part, value, false)); err != nil {
		x.t.Fatalf("produce %s to %s-%d: %v", value, topic, part, err)
	}
}

// produceCode produces one transactional record (naming the
// transactional id in the request when withID, which asks for KIP-890
// verification) and returns the partition's error code.
func (x *rawTxn) produceCode(topic string, part int32, value string, withID bool) int16 {
	x.t.Helper()
	var id *string
	if withID {
		id = &x.id
	}
	return x.produceWith(9, id, topic, part, value)
}

// produceWith sends one transactional record with Produce at version,
// naming txnID in the request when it is not nil, and returns the
// partition's error code; the sequence advances only when it succeeds.
func (x *rawTxn) produceWith(version int16, txnID *string, topic string, part int32, value string) int16 {
	x.t.Helper()
	b, err := record.Build(record.BatchSpec{
		ProducerID: x.pid, ProducerEpoch: x.epoch, BaseSequence: x.seq[part],
		Attributes: record.TransactionalBit, BaseTimestamp: time.Now().UnixMilli(),
		Records: []record.Record{{Value: []byte(value)}},
	})
	if err != nil {
		x.t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.SetVersion(version)
	req.Acks, req.TimeoutMillis, req.TransactionID = -1, 10000, txnID
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Partition, rp.Records = part, b
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	code := x.call(req).(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	if code == 0 {
		x.seq[part]++
	}
	return code
}

func (x *rawTxn) commitOffset(group, topic string, part int32, offset int64) {
	x.t.Helper()
	ao := kmsg.NewPtrAddOffsetsToTxnRequest()
	ao.SetVersion(3)
	ao.TransactionalID, ao.ProducerID, ao.ProducerEpoch, ao.Group = x.id, x.pid, x.epoch, group
	if err := kerr.ErrorForCode(x.call(ao).(*kmsg.AddOffsetsToTxnResponse).ErrorCode); err != nil {
		x.t.Fatalf("AddOffsetsToTxn: %v", err)
	}
	oc := kmsg.NewPtrTxnOffsetCommitRequest()
	oc.SetVersion(3)
	oc.TransactionalID, oc.Group, oc.ProducerID, oc.ProducerEpoch = x.id, group, x.pid, x.epoch
	oc.Generation, oc.MemberID = -1, ""
	ot := kmsg.NewTxnOffsetCommitRequestTopic()
	ot.Topic = topic
	op := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	op.Partition, op.Offset = part, offset
	ot.Partitions = append(ot.Partitions, op)
	oc.Topics = append(oc.Topics, ot)
	resp := x.call(oc).(*kmsg.TxnOffsetCommitResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode); err != nil {
		x.t.Fatalf("TxnOffsetCommit: %v", err)
	}
}

// fetchOffset is OffsetFetch of one partition at version v.
func (x *rawTxn) fetchOffset(v int16, group, topic string, part int32, stable bool) (int16, int64) {
	x.t.Helper()
	req := kmsg.NewPtrOffsetFetchRequest()
	req.SetVersion(v)
	req.RequireStable = stable
	if v < 8 {
		req.Group = group
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{part}
		req.Topics = append(req.Topics, rt)
		resp := x.call(req).(*kmsg.OffsetFetchResponse)
		p := resp.Topics[0].Partitions[0]
		return p.ErrorCode, p.Offset
	}
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, []int32{part}
	g.Topics = append(g.Topics, gt)
	req.Groups = append(req.Groups, g)
	resp := x.call(req).(*kmsg.OffsetFetchResponse)
	p := resp.Groups[0].Topics[0].Partitions[0]
	return p.ErrorCode, p.Offset
}

func (x *rawTxn) end(commit bool) int16 {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.SetVersion(3)
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.pid, x.epoch, commit
	return x.call(req).(*kmsg.EndTxnResponse).ErrorCode
}

// groupOffset is the group's committed offset of topic-part (-1: none).
func groupOffset(t *testing.T, adm *kadm.Client, group, topic string, part int32) int64 {
	t.Helper()
	offs, err := adm.FetchOffsets(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	if o, ok := offs.Lookup(topic, part); ok && o.Err == nil {
		return o.At
	}
	return -1
}

// TestTxnAtomicAcrossRestart: a transaction spanning two partitions and a
// group offset commit is decided (PrepareCommit durable) but the broker
// stops before any marker is written. Until then nothing of it is visible;
// after the restart the coordinator completes it: both partitions' records
// and the offset become visible together. A later aborted transaction
// leaves neither records nor offset behind.
func TestTxnAtomicAcrossRestart(t *testing.T) {
	tb := startBroker(t, withProp("offsets.topic.num.partitions", "3"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	const group = "atomic-group"
	x := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "atomic-txn"}
	if code := x.init(60000); code != 0 {
		t.Fatalf("init: %v", kerr.ErrorForCode(code))
	}
	x.addPartitions(topic, 0, 1)
	x.produce(topic, 0, "c-0")
	x.produce(topic, 1, "c-1")
	x.commitOffset(group, topic, 0, 42)

	stop := func(string) error { return errors.New("stopped after prepare") }
	txn.TestHookAfterPrepare.Store(&stop)
	t.Cleanup(func() { txn.TestHookAfterPrepare.Store(nil) })
	if code := x.end(true); code != 0 {
		t.Fatalf("EndTxn after a durable PrepareCommit: %v", kerr.ErrorForCode(code))
	}
	adm := newAdmin(t, tb.Addr())
	lso, err := adm.ListCommittedOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < 2; p++ {
		if o, _ := lso.Lookup(topic, p); o.Offset != 0 {
			t.Fatalf("partition %d: LSO %d before the markers, want 0", p, o.Offset)
		}
	}
	if o := groupOffset(t, adm, group, topic, 0); o != -1 {
		t.Fatalf("group offset %d visible before the commit completed", o)
	}

	x.rc.c.Close()
	txn.TestHookAfterPrepare.Store(nil)
	tb.Restart()
	adm = newAdmin(t, tb.Addr())
	waitFor(t, 20*time.Second, "transaction completed after restart", func() error {
		if o := groupOffset(t, adm, group, topic, 0); o != 42 {
			return fmt.Errorf("group offset %d", o)
		}
		return nil
	})
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 2, true)); !sameStrings(got, []string{"c-0", "c-1"}) {
		t.Fatalf("read_committed: %v", got)
	}

	// Abort: nothing of it remains visible, the offset stays.
	x.rc = dialRaw(t, tb.Addr())
	x.addPartitions(topic, 0, 1)
	x.produce(topic, 0, "a-0")
	x.produce(topic, 1, "a-1")
	x.commitOffset(group, topic, 0, 99)
	// KIP-447: while the transaction is open, a require_stable fetch of
	// the offset waits (UNSTABLE_OFFSET_COMMIT); a plain one sees 42.
	for _, v := range []int16{7, 9} {
		if code, off := x.fetchOffset(v, group, topic, 0, true); code != kerr.UnstableOffsetCommit.Code {
			t.Fatalf("v%d require_stable during the transaction: %v offset %d", v, kerr.ErrorForCode(code), off)
		}
	}
	if code, off := x.fetchOffset(8, group, topic, 0, false); code != 0 || off != 42 {
		t.Fatalf("plain offset fetch during the transaction: %v offset %d", kerr.ErrorForCode(code), off)
	}
	if code := x.end(false); code != 0 {
		t.Fatalf("abort: %v", kerr.ErrorForCode(code))
	}
	x.addPartitions(topic, 0)
	x.produce(topic, 0, "c-2")
	if code := x.end(true); code != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(code))
	}
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 3, true)); !sameStrings(got, []string{"c-0", "c-1", "c-2"}) {
		t.Fatalf("read_committed after abort: %v", got)
	}
	if o := groupOffset(t, adm, group, topic, 0); o != 42 {
		t.Fatalf("aborted offset commit is visible: %d", o)
	}
	if code, off := x.fetchOffset(9, group, topic, 0, true); code != 0 || off != 42 {
		t.Fatalf("require_stable after the abort: %v offset %d", kerr.ErrorForCode(code), off)
	}
	if got := len(eosConsume(t, tb.Addr(), topic, 5, false)); got != 5 {
		t.Fatalf("read_uncommitted: %d records", got)
	}
}

// TestTxnTimeoutAborts: a transaction left open past transaction.timeout.ms
// is aborted by the coordinator (the LSO moves past it, its records stay
// invisible to read_committed) and its producer is fenced; a timeout over
// transaction.max.timeout.ms is INVALID_TRANSACTION_TIMEOUT.
func TestTxnTimeoutAborts(t *testing.T) {
	tb, adm, topic, x := startTxnTopic(t, 1, "timeout-too-long")
	if code := x.init(900001); code != kerr.InvalidTransactionTimeout.Code {
		t.Fatalf("timeout over the max: %v", kerr.ErrorForCode(code))
	}

	cl := newEOSClient(t, tb.Addr(), kgo.TransactionalID("timeout-txn"), kgo.TransactionTimeout(1500*time.Millisecond),
		kgo.DefaultProduceTopic(topic))
	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Value: []byte("hung")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the hung transaction to be aborted", func() error {
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			return err
		}
		end, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return err
		}
		l, _ := lso.Lookup(topic, 0)
		e, _ := end.Lookup(topic, 0)
		if l.Offset != e.Offset || e.Offset < 2 {
			return fmt.Errorf("LSO %d, end %d", l.Offset, e.Offset)
		}
		return nil
	})
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatalf("commit of a timed-out transaction succeeded")
	}
	plain := newEOSClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, plain, &kgo.Record{Value: []byte("after")})
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 1, true)); !sameStrings(got, []string{"after"}) {
		t.Fatalf("read_committed: %v", got)
	}
}

// TestTxnProduceVerified: a transactional batch naming its transactional
// id is checked with the coordinator before it opens a transaction in a
// partition (KIP-890): a partition never added, or a late batch after the
// transaction ended, gets INVALID_TXN_STATE and writes nothing, so no
// hanging transaction holds the LSO back.
func TestTxnProduceVerified(t *testing.T) {
	_, adm, topic, x := startTxnTopic(t, 2, "verified-txn")
	if code := x.init(60000); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	x.addPartitions(topic, 0)
	if code := x.produceCode(topic, 0, "in", true); code != 0 {
		t.Fatalf("added partition: %v", kerr.ErrorForCode(code))
	}
	if code := x.produceCode(topic, 1, "not-added", true); code != kerr.InvalidTxnState.Code {
		t.Fatalf("partition not in the transaction: %v", kerr.ErrorForCode(code))
	}
	if code := x.end(true); code != 0 {
		t.Fatal(kerr.ErrorForCode(code))
	}
	if code := x.produceCode(topic, 0, "late", true); code != kerr.InvalidTxnState.Code {
		t.Fatalf("batch after the transaction ended: %v", kerr.ErrorForCode(code))
	}
	end := requireNoOpenTxn(t, adm, topic, 2)
	if e, _ := end.Lookup(topic, 1); e.Offset != 0 {
		t.Fatalf("partition 1 holds %d offsets", e.Offset)
	}
}

// requireNoOpenTxn fails the test unless every partition's last stable
// offset equals its end offset (no transaction left open), and returns
// the end offsets.
func requireNoOpenTxn(t *testing.T, adm *kadm.Client, topic string, partitions int32) kadm.ListedOffsets {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	for p := range partitions {
		l, _ := lso.Lookup(topic, p)
		e, _ := end.Lookup(topic, p)
		if l.Offset != e.Offset {
			t.Fatalf("partition %d: LSO %d behind end %d: a transaction is left open", p, l.Offset, e.Offset)
		}
	}
	return end
}
