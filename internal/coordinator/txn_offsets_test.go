package coordinator

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

func (h *harness) txnCommit(group string, pid int64, topic string, partition int32, offset int64) int16 {
	h.t.Helper()
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	r.TransactionalID, r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "tx", group, pid, 0, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch = partition, offset, -1
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return h.c.TxnOffsetCommit(r, nil).Topics[0].Partitions[0].ErrorCode
}

// stableFetch is OffsetFetch v9 of one partition with require_stable.
func (h *harness) stableFetch(group, topic string, partition int32) (int16, int64) {
	h.t.Helper()
	r := kmsg.NewPtrOffsetFetchRequest()
	r.Version, r.RequireStable = 9, true
	g := kmsg.NewOffsetFetchRequestGroup()
	g.Group = group
	gt := kmsg.NewOffsetFetchRequestGroupTopic()
	gt.Topic, gt.Partitions = topic, []int32{partition}
	g.Topics = append(g.Topics, gt)
	r.Groups = append(r.Groups, g)
	p := recv(h.t, h.c.OffsetFetch(r)).Groups[0].Topics[0].Partitions[0]
	return p.ErrorCode, p.Offset
}

// marker appends a transaction marker of pid to the group's partition
// and returns its offset.
func marker(t *testing.T, l *memLog, pid int64, commit bool) int64 {
	t.Helper()
	k := kmsg.NewControlRecordKey()
	if commit {
		k.Type = kmsg.ControlRecordKeyTypeCommit
	}
	v := kmsg.NewEndTxnMarker()
	b, err := record.Build(record.BatchSpec{ProducerID: pid, BaseSequence: -1, Attributes: record.TransactionalBit | record.ControlBit,
		BaseTimestamp: time.Now().UnixMilli(), Records: []record.Record{{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}}})
	if err != nil {
		t.Fatal(err)
	}
	next, _ := l.Append(b, 1)
	return next - 1
}

// TestTxnOffsetsPendingUntilMarker: TxnOffsetCommit offsets are written as
// the producer's transactional batch and stay pending (no offset for
// OffsetFetch, UNSTABLE_OFFSET_COMMIT with require_stable) until the
// producer's marker: commit makes them committed unless a later plain
// commit of the partition exists, abort drops them. The load rebuilds the
// same from the log, markers included, and keeps a transaction without a
// marker pending.
func TestTxnOffsetsPendingUntilMarker(t *testing.T) {
	h := newHarness(t)
	const g = "g"
	for _, c := range []struct {
		pid    int64
		part   int32
		offset int64
	}{{7, 0, 5}, {8, 1, 6}, {9, 2, 11}, {10, 3, 12}} {
		if code := h.txnCommit(g, c.pid, "t", c.part, c.offset); code != 0 {
			t.Fatalf("TxnOffsetCommit of producer %d: %v", c.pid, kerr.ErrorForCode(code))
		}
	}
	if got := commitCodes(h.commit(g, "", -1, commitPart{"t", 1, 9, ""})); got[0] != 0 {
		t.Fatalf("plain commit: %v", got)
	}
	l := h.be.logOf(g)
	keys, _ := l.records(t)
	if len(keys) != 5 {
		t.Fatalf("%d records in the offsets partition, want 5", len(keys))
	}
	l.mu.Lock()
	hd, _ := record.ParseHeader(l.batches[0])
	l.mu.Unlock()
	if !hd.IsTransactional() || hd.ProducerID != 7 {
		t.Fatalf("first batch: transactional %v producer %d", hd.IsTransactional(), hd.ProducerID)
	}
	check := func(when string, want map[int32]int64, unstable map[int32]bool) {
		t.Helper()
		all := h.fetchAll(g)
		for p := int32(0); p < 4; p++ {
			w, ok := want[p]
			if got, present := all[tp{"t", p}]; present != ok || (ok && got.Offset != w) {
				t.Fatalf("%s: partition %d: %+v (present %v), want %d (present %v)", when, p, got, present, w, ok)
			}
			code, _ := h.stableFetch(g, "t", p)
			if (code == kerr.UnstableOffsetCommit.Code) != unstable[p] || (code != 0 && code != kerr.UnstableOffsetCommit.Code) {
				t.Fatalf("%s: require_stable partition %d: %v, want unstable %v", when, p, kerr.ErrorForCode(code), unstable[p])
			}
		}
	}
	pending := map[int32]bool{0: true, 1: true, 2: true, 3: true}
	check("pending", map[int32]int64{1: 9}, pending)
	h.restart()
	check("pending after a load", map[int32]int64{1: 9}, pending)

	// Live: producer 7 commits, 9 aborts.
	h.c.CompleteTxn(PartitionFor(g, 3), 7, true, marker(t, l, 7, true))
	h.c.CompleteTxn(PartitionFor(g, 3), 9, false, marker(t, l, 9, false))
	check("after commit and abort", map[int32]int64{0: 5, 1: 9}, map[int32]bool{1: true, 3: true})
	// Replayed: producer 8 commits (its offset is older than the plain
	// commit's, which stays); 10 stays open.
	marker(t, l, 8, true)
	h.restart()
	check("after a load with markers", map[int32]int64{0: 5, 1: 9}, map[int32]bool{3: true})
}
