package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
	"github.com/sluice-io/sluice/internal/txn"
)

// TestTxnV2DuplicateMarkerDuringVerification: a transaction coordinator
// whose WriteTxnMarkers timed out while the request still waited at the
// partition leader sends the marker again, and the copy lands after the
// original (one connection, answered in order). Seen under load in
// franz-go's TestTxnEtl on three nodes: the copy landed while the
// producer's next transaction (transaction version 2: Produce v12, which
// adds the partition at the coordinator) was being verified, and the
// batch was refused with INVALID_TXN_STATE, a fatal error for the
// producer, although its transaction was fine.
//
// Here, on a partition led by node A of a transaction coordinated by node
// B: transaction 1 writes a batch and commits (EndTxn v5, the epoch
// bumps), its markers held back (txn.TestHookAfterPrepare). The next
// batch (the new epoch) reaches A, which finds transaction 1 still open
// in the partition and asks B; B starts the held completion and answers
// CONCURRENT_TRANSACTIONS until Complete is written, which waits for the
// paused third node (a follower of B's __transaction_state partition)
// while A keeps asking. Meanwhile the marker lands, then its copy (sent
// here as the coordinator's retry would be); once the third node resumes
// the batch must be appended, and the transaction commit.
func TestTxnV2DuplicateMarkerDuringVerification(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3,
		// Only the verification below restarts the held completion.
		testcluster.WithProp("transaction.abort.timed.out.transaction.cleanup.interval.ms", "600000"))
	ctl := c.WaitLeader().Index()
	a, b, follower := ctl, (ctl+1)%3, (ctl+2)%3 // the paused node is not the controller
	aID, bID := c.Node(a).ID(), c.Node(b).ID()

	// A transactional id coordinated by B.
	id := ""
	for i := 0; id == ""; i++ {
		cand := "dupmark-" + strconv.Itoa(i)
		var coord int32
		c.WaitFor("FindCoordinator for "+cand, func() error {
			req := kmsg.NewPtrFindCoordinatorRequest()
			req.CoordinatorType, req.CoordinatorKeys = 1, []string{cand}
			resp, err := c.Request(ctx(t), a, req)
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
		if coord == bID {
			id = cand
		}
	}
	const topic = "dupmark"
	tcCreateAssigned(t, c, topic, []int32{aID}, nil)
	c.WaitFor("A to lead "+topic, func() error {
		if l, err := c.PartitionLeader(a, topic, 0); err != nil || l != aID {
			return fmt.Errorf("leader %d: %v", l, err)
		}
		return nil
	})

	var pid int64
	var epoch int16
	c.WaitFor("InitProducerId", func() error {
		req := kmsg.NewPtrInitProducerIDRequest()
		req.TransactionalID, req.TransactionTimeoutMillis = &id, 60000
		req.ProducerID, req.ProducerEpoch = -1, -1
		resp, err := c.Request(ctx(t), b, req)
		if err != nil {
			return err
		}
		r := resp.(*kmsg.InitProducerIDResponse)
		pid, epoch = r.ProducerID, r.ProducerEpoch
		return kerr.ErrorForCode(r.ErrorCode)
	})

	// Produce v12 goes on a client of its own: its handler holds its
	// connection while it verifies, and the probe (c.Request) must
	// still reach A meanwhile.
	prod := c.Client(t)
	produce := func(epoch int16, value string) int16 {
		batch, err := record.Build(record.BatchSpec{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: 0,
			Attributes: record.TransactionalBit, BaseTimestamp: time.Now().UnixMilli(),
			Records: []record.Record{{Value: []byte(value)}}})
		if err != nil {
			t.Error(err)
			return -1
		}
		req := kmsg.NewPtrProduceRequest()
		req.TransactionID, req.Acks, req.TimeoutMillis = &id, -1, 10000
		rt := kmsg.NewProduceRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Records = batch
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		rctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		resp, err := prod.Broker(int(aID)).Request(rctx, req)
		if err != nil {
			t.Errorf("produce: %v", err)
			return -1
		}
		if resp.GetVersion() < 12 {
			t.Errorf("Produce v%d: the test needs v12 (transaction version 2)", resp.GetVersion())
		}
		return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
	}
	endTxn := func(epoch int16) *kmsg.EndTxnResponse {
		req := kmsg.NewPtrEndTxnRequest()
		req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = id, pid, epoch, true
		resp, err := c.Request(ctx(t), b, req)
		if err != nil {
			t.Fatalf("EndTxn: %v", err)
		}
		r := resp.(*kmsg.EndTxnResponse)
		if r.GetVersion() < 5 || r.ErrorCode != 0 {
			t.Fatalf("EndTxn v%d: %v", r.GetVersion(), kerr.ErrorForCode(r.ErrorCode))
		}
		return r
	}
	// openTxn is the producer's open transaction in the partition at A
	// (-1: none).
	openTxn := func() (int64, error) {
		req := kmsg.NewPtrDescribeProducersRequest()
		rt := kmsg.NewDescribeProducersRequestTopic()
		rt.Topic, rt.Partitions = topic, []int32{0}
		req.Topics = append(req.Topics, rt)
		resp, err := c.Request(ctx(t), a, req)
		if err != nil {
			return 0, err
		}
		p := resp.(*kmsg.DescribeProducersResponse).Topics[0].Partitions[0]
		if p.ErrorCode != 0 {
			return 0, kerr.ErrorForCode(p.ErrorCode)
		}
		for _, ap := range p.ActiveProducers {
			if ap.ProducerID == pid {
				return ap.CurrentTxnStartOffset, nil
			}
		}
		return -1, nil
	}

	c.WaitFor("transaction 1's batch", func() error { return kerr.ErrorForCode(produce(epoch, "one")) })

	var holds atomic.Int32
	hook := func(tid string) error {
		if tid == id && holds.Add(1) == 1 {
			return errors.New("held back by the test")
		}
		return nil // transaction 2, and other tests' transactions (same process)
	}
	txn.TestHookAfterPrepare.Store(&hook)
	t.Cleanup(func() { txn.TestHookAfterPrepare.CompareAndSwap(&hook, nil) })
	next := endTxn(epoch).ProducerEpoch
	if next != epoch+1 {
		t.Fatalf("EndTxn v5 answered epoch %d, want %d", next, epoch+1)
	}
	if off, err := openTxn(); err != nil || off < 0 {
		t.Fatalf("transaction 1 should still be open in the partition (markers held): %d %v", off, err)
	}

	c.Pause(follower)
	t.Cleanup(func() {
		if c.Paused(follower) {
			c.Resume(follower)
		}
	})
	result := make(chan int16, 1)
	go func() { result <- produce(next, "two") }()

	c.WaitFor("transaction 1's marker in the partition", func() error {
		off, err := openTxn()
		if err == nil && off >= 0 {
			err = fmt.Errorf("still open at %d", off)
		}
		return err
	})
	md, err := c.Metadata(a, "__transaction_state")
	if err != nil {
		t.Fatal(err)
	}
	coordEpoch := int32(-1)
	for _, p := range md.Topics[0].Partitions {
		if p.Partition == txnPartition(id) { // testcluster runs txnStatePartitions too
			coordEpoch = p.LeaderEpoch
		}
	}
	dup := kmsg.NewPtrWriteTxnMarkersRequest()
	m := kmsg.NewWriteTxnMarkersRequestMarker()
	m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch = pid, next, true, coordEpoch
	mt := kmsg.NewWriteTxnMarkersRequestMarkerTopic()
	mt.Topic, mt.Partitions = topic, []int32{0}
	m.Topics = append(m.Topics, mt)
	dup.Markers = append(dup.Markers, m)
	resp, err := c.Request(ctx(t), a, dup)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.(*kmsg.WriteTxnMarkersResponse).Markers[0].Topics[0].Partitions[0].ErrorCode; code != 0 {
		t.Fatalf("the marker's copy: %v", kerr.ErrorForCode(code))
	}
	c.Resume(follower)

	select {
	case code := <-result:
		if code != 0 {
			t.Fatalf("transaction 2's batch after the marker's copy: %v, want success", kerr.ErrorForCode(code))
		}
	case <-time.After(25 * time.Second):
		t.Fatal("transaction 2's Produce never answered")
	}
	if off, err := openTxn(); err != nil || off < 0 {
		t.Fatalf("transaction 2 should be open in the partition: %d %v", off, err)
	}
	endTxn(next)
	c.WaitFor("transaction 2's marker", func() error {
		off, err := openTxn()
		if err == nil && off >= 0 {
			err = fmt.Errorf("still open at %d", off)
		}
		return err
	})
}
