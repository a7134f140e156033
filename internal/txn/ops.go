package txn

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// OffsetsTopic is the group coordinator's topic; its partitions join a
// transaction through AddOffsetsToTxn but get no markers from us.
const OffsetsTopic = controller.ConsumerOffsetsTopic

func (m *txnMeta) clone() *txnMeta {
	n := *m
	n.parts = maps.Clone(m.parts)
	n.offsets = maps.Clone(m.offsets)
	return &n
}

// fenced is PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH for request
// versions older than newFrom (clients that predate KIP-588, which added
// PRODUCER_FENCED with InitProducerId v4, AddPartitionsToTxn v2,
// AddOffsetsToTxn v2, EndTxn v2 and TxnOffsetCommit v3).
func fenced(version, newFrom int16) int16 {
	if version < newFrom {
		return kerr.InvalidProducerEpoch.Code
	}
	return kerr.ProducerFenced.Code
}

// InitResult is InitProducerId's answer.
type InitResult struct {
	Code       int16
	ProducerID int64
	Epoch      int16
}

// InitProducerID allocates a producer id (no transactional id) or
// (re)initializes a transactional id: a new epoch, aborting its open
// transaction, which fences every older instance.
func (c *Coordinator) InitProducerID(version int16, txnID *string, timeoutMs int32, reqPID int64, reqEpoch int16) InitResult {
	if txnID != nil && *txnID == "" {
		return InitResult{Code: kerr.InvalidRequest.Code, ProducerID: -1, Epoch: -1}
	}
	if txnID == nil {
		id, err := c.ids.Next()
		if err != nil {
			c.log.Error("allocate producer id", "err", err)
			return InitResult{Code: kerr.CoordinatorNotAvailable.Code, ProducerID: -1, Epoch: -1}
		}
		return InitResult{ProducerID: id, Epoch: 0}
	}
	if timeoutMs <= 0 || timeoutMs > c.cfg.MaxTimeoutMs {
		return InitResult{Code: kerr.InvalidTransactionTimeout.Code, ProducerID: -1, Epoch: -1}
	}
	s, code := c.shardFor(*txnID)
	if code != 0 {
		return InitResult{Code: code, ProducerID: -1, Epoch: -1}
	}
	defer s.mu.Unlock()
	return s.initProducer(version, *txnID, timeoutMs, reqPID, reqEpoch)
}

func (s *shard) initProducer(version int16, id string, timeoutMs int32, reqPID int64, reqEpoch int16) InitResult {
	fail := func(code int16) InitResult { return InitResult{Code: code, ProducerID: -1, Epoch: -1} }
	now := s.c.now().UnixMilli()
	old := s.txns[id]
	var m *txnMeta
	if old == nil {
		pid, err := s.c.ids.Next()
		if err != nil {
			return fail(kerr.CoordinatorNotAvailable.Code)
		}
		m = &txnMeta{id: id, pid: pid, epoch: 0, prevEpoch: -1, prevPID: -1, parts: map[tp]bool{}}
	} else {
		// KIP-360: a producer re-initializing must name its current id
		// and epoch (or the one before a coordinator bump).
		if reqPID >= 0 && (reqPID != old.pid || (reqEpoch != old.epoch && (old.prevEpoch < 0 || reqEpoch != old.prevEpoch))) {
			return fail(fenced(version, 4))
		}
		if old.state == kmsg.TransactionStatePrepareCommit || old.state == kmsg.TransactionStatePrepareAbort {
			if err := s.complete(old); err != nil {
				return fail(kerr.ConcurrentTransactions.Code)
			}
			old = s.txns[id]
		}
		retry := reqPID >= 0 && old.prevEpoch >= 0 && reqEpoch == old.prevEpoch
		if old.state == kmsg.TransactionStateOngoing {
			// Fence the running instance: its markers carry the new
			// epoch, so its later writes fail at every partition. The
			// new instance gets that epoch.
			f := old.clone()
			fence(f)
			if err := s.end(f, false); err != nil {
				return fail(kerr.ConcurrentTransactions.Code)
			}
			retry = true
		}
		m = s.txns[id].clone()
		if !retry || m.epoch >= math.MaxInt16-1 {
			// A retry after a coordinator bump (timeout abort) gets
			// the bumped epoch, which no instance has used yet.
			s.bump(m)
		}
	}
	m.prevEpoch = -1
	m.timeoutMs, m.state, m.lastUpdate, m.startMs = timeoutMs, kmsg.TransactionStateEmpty, now, -1
	m.parts, m.offsets = map[tp]bool{}, nil
	if code := s.persist(m); code != 0 {
		return fail(code)
	}
	s.txns[id] = m
	return InitResult{ProducerID: m.pid, Epoch: m.epoch}
}

// fence moves m to the next epoch for the markers that abort its open
// transaction, keeping the producer id the data was written with (at the
// last epoch, it stays there: the next bump rotates the id).
func fence(m *txnMeta) {
	m.prevEpoch = m.epoch
	if m.epoch < math.MaxInt16 {
		m.epoch++
	}
}

// bump moves m to its next epoch, or to a new producer id when the epoch
// is exhausted.
func (s *shard) bump(m *txnMeta) {
	m.prevEpoch = m.epoch
	if m.epoch >= math.MaxInt16-1 {
		if pid, err := s.c.ids.Next(); err == nil {
			m.prevPID = m.pid
			m.pid, m.epoch, m.prevEpoch = pid, 0, -1
			return
		}
	}
	m.epoch++
}

// check validates a transactional request's producer id and epoch.
func (s *shard) check(id string, pid int64, epoch int16, version, fencedFrom int16) (*txnMeta, int16) {
	m := s.txns[id]
	if m == nil || m.pid != pid {
		return nil, kerr.InvalidProducerIDMapping.Code
	}
	if epoch != m.epoch {
		return nil, fenced(version, fencedFrom)
	}
	if m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort {
		if err := s.complete(m); err != nil {
			return nil, kerr.ConcurrentTransactions.Code
		}
		m = s.txns[id]
	}
	return m, 0
}

// addPartitions adds parts to the transaction, starting it if needed; tv
// is the client's transaction version, recorded when the transaction
// starts (2 when it starts implicitly, KIP-890 part 2).
func (s *shard) addPartitions(id string, pid int64, epoch int16, version int16, parts []tp, tv int16) int16 {
	m, code := s.check(id, pid, epoch, version, 2)
	if code != 0 {
		return code
	}
	if m.state == kmsg.TransactionStateDead {
		return kerr.InvalidTxnState.Code
	}
	n := m.clone()
	now := s.c.now().UnixMilli()
	if n.state != kmsg.TransactionStateOngoing {
		n.state, n.startMs, n.parts, n.offsets, n.tv = kmsg.TransactionStateOngoing, now, map[tp]bool{}, nil, tv
	}
	grew := m.state != kmsg.TransactionStateOngoing
	for _, p := range parts {
		if !n.parts[p] {
			n.parts[p], grew = true, true
		}
	}
	if !grew {
		return 0
	}
	n.lastUpdate = now
	if code := s.persist(n); code != 0 {
		return code
	}
	s.txns[id] = n
	return 0
}

// endTxn ends the open transaction (or answers a retried EndTxn).
func (s *shard) endTxn(id string, pid int64, epoch int16, version int16, commit bool) int16 {
	m, code := s.check(id, pid, epoch, version, 2)
	if code != 0 {
		return code
	}
	switch m.state {
	case kmsg.TransactionStateOngoing:
		if err := s.end(m.clone(), commit); err != nil {
			if s.txns[id].open() && s.txns[id].state != kmsg.TransactionStateOngoing {
				// Prepare is durable, so the outcome is decided (Kafka
				// answers here too); completion is retried by the
				// checker, or by the next request of this id.
				s.c.log.Warn("complete transaction", "transactional_id", id, "err", err)
				return 0
			}
			s.c.log.Warn("end transaction", "transactional_id", id, "err", err)
			return kerr.CoordinatorNotAvailable.Code
		}
		return 0
	case kmsg.TransactionStateCompleteCommit:
		if commit {
			return 0
		}
	case kmsg.TransactionStateCompleteAbort:
		if !commit {
			return 0
		}
	}
	return kerr.InvalidTxnState.Code
}

// end writes Prepare for m's outcome, then completes it. m is a copy the
// caller may not reuse.
func (s *shard) end(m *txnMeta, commit bool) error {
	m.state = kmsg.TransactionStatePrepareAbort
	if commit {
		m.state = kmsg.TransactionStatePrepareCommit
	}
	m.lastUpdate = s.c.now().UnixMilli()
	if code := s.persist(m); code != 0 {
		return errors.New("txn: write prepare")
	}
	s.txns[m.id] = m
	if h := TestHookAfterPrepare.Load(); h != nil {
		if err := (*h)(m.id); err != nil {
			return err
		}
	}
	return s.complete(m)
}

// TestHookAfterPrepare is a test hook: when set, it runs after a
// transaction's Prepare record is durable and before its markers; an error
// stops the completion there, as a crash would at that point.
var TestHookAfterPrepare atomic.Pointer[func(transactionalID string) error]

// complete writes the markers of a prepared transaction, commits its
// group offsets (commit only) and writes Complete.
func (s *shard) complete(m *txnMeta) error {
	commit := m.state == kmsg.TransactionStatePrepareCommit
	for p := range m.parts {
		if p.topic == OffsetsTopic {
			continue
		}
		part := s.c.parts.Get(p.topic, p.partition)
		if part == nil {
			continue // deleted meanwhile: nothing to mark
		}
		upTo, err := part.AppendMarker(m.pid, m.epoch, commit, 0)
		if err == nil {
			err = part.Commit(upTo)
		}
		var perr *replica.ProduceError
		if errors.As(err, &perr) {
			// A newer epoch already wrote there: that producer's
			// transactions are decided past this one.
			s.c.log.Warn("marker refused", "topic", p.topic, "partition", p.partition, "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("marker for %s-%d: %w", p.topic, p.partition, err)
		}
	}
	var extra []record.Record
	for group, topics := range m.offsets {
		if commit && s.c.groups != nil {
			if err := s.c.groups.CommitTxnOffsets(group, topics); err != nil {
				return fmt.Errorf("commit offsets of group %s: %w", group, err)
			}
		}
		extra = append(extra, offsetsRecord(m, group, nil, true))
	}
	n := m.clone()
	n.state = kmsg.TransactionStateCompleteAbort
	if commit {
		n.state = kmsg.TransactionStateCompleteCommit
	}
	n.parts, n.offsets, n.lastUpdate = map[tp]bool{}, nil, s.c.now().UnixMilli()
	if code := s.persist(n, extra...); code != 0 {
		return errors.New("txn: write complete")
	}
	s.txns[m.id] = n
	return nil
}

// expire aborts transactions open longer than their timeout, bumping the
// epoch so the producer is fenced, and completes prepared ones.
func (s *shard) expire() {
	now := s.c.now().UnixMilli()
	for _, m := range s.txns {
		switch {
		case m.state == kmsg.TransactionStateOngoing && now-m.startMs > int64(m.timeoutMs):
			n := m.clone()
			fence(n)
			s.c.log.Info("aborting timed-out transaction", "transactional_id", m.id, "producer_id", m.pid, "epoch", n.epoch)
			if err := s.end(n, false); err != nil {
				s.c.log.Warn("abort timed-out transaction", "transactional_id", m.id, "err", err)
			}
		case m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort:
			if err := s.complete(m); err != nil {
				s.c.log.Warn("complete prepared transaction", "transactional_id", m.id, "err", err)
			}
		}
	}
}

// txnOffsetCommit stores the offsets of r as pending in the transaction.
// v5+ (KIP-890 part 2) first adds the group's offsets partition, starting
// the transaction if needed, as AddOffsetsToTxn would.
func (s *shard) txnOffsetCommit(r *kmsg.TxnOffsetCommitRequest, offsetsPartition int32) int16 {
	m, code := s.check(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, 3)
	if code != 0 {
		return code
	}
	if otp := (tp{OffsetsTopic, offsetsPartition}); r.Version >= 5 && (m.state != kmsg.TransactionStateOngoing || !m.parts[otp]) {
		if code := s.addPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, []tp{otp}, TransactionVersion); code != 0 {
			return code
		}
		m = s.txns[r.TransactionalID]
	}
	if m.state != kmsg.TransactionStateOngoing {
		return kerr.InvalidTxnState.Code
	}
	if r.Version >= 3 && s.c.groups != nil {
		if code := s.c.groups.ValidateTxnMember(r.Group, r.MemberID, r.InstanceID, r.Generation); code != 0 {
			return code
		}
	}
	n := m.clone()
	merged := mergeOffsets(n.offsets[r.Group], r.Topics)
	if n.offsets == nil {
		n.offsets = map[string][]kmsg.TxnOffsetCommitRequestTopic{}
	}
	n.offsets[r.Group] = merged
	n.lastUpdate = s.c.now().UnixMilli()
	if code := s.persist(n, offsetsRecord(n, r.Group, merged, false)); code != 0 {
		return code
	}
	s.txns[n.id] = n
	return 0
}

// mergeOffsets overlays add on base (later commits of a partition win).
func mergeOffsets(base, add []kmsg.TxnOffsetCommitRequestTopic) []kmsg.TxnOffsetCommitRequestTopic {
	type key = tp
	idx := map[key]kmsg.TxnOffsetCommitRequestTopicPartition{}
	var order []key
	for _, ts := range [][]kmsg.TxnOffsetCommitRequestTopic{base, add} {
		for _, t := range ts {
			for _, p := range t.Partitions {
				k := key{t.Topic, p.Partition}
				if _, ok := idx[k]; !ok {
					order = append(order, k)
				}
				idx[k] = p
			}
		}
	}
	var out []kmsg.TxnOffsetCommitRequestTopic
	pos := map[string]int{}
	for _, k := range order {
		i, ok := pos[k.topic]
		if !ok {
			i = len(out)
			pos[k.topic] = i
			t := kmsg.NewTxnOffsetCommitRequestTopic()
			t.Topic = k.topic
			out = append(out, t)
		}
		out[i].Partitions = append(out[i].Partitions, idx[k])
	}
	return out
}
