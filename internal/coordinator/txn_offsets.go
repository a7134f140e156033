package coordinator

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// Transactional offset commits (TxnOffsetCommit), Kafka's design: the
// group coordinator appends the offsets to the group's __consumer_offsets
// partition as a transactional batch of the producer, so the partition's
// producer state holds the transaction open (its LSO stops there), and
// keeps them as the producer's pending offsets (shard.txnOffsets). When
// the transaction's marker reaches the partition (the transaction
// coordinator writes one there: the partition is part of the
// transaction), CompleteTxn makes them the committed offsets (commit) or
// drops them (abort). The load does the same from the log
// (txn_replay.go).
//
// INVARIANT: a pending offset is in shard.txnOffsets from its append
// until the producer's first marker after it in the partition, or until
// its write failed; it is never visible to OffsetFetch, and a committed
// one replaces the group's offset only when its record is later in the
// log (offset.logOff).

// Transactions is the transaction coordinator as TxnOffsetCommit needs it
// (txn.Coordinator): KIP-890's check that the producer's transaction
// includes the group's offsets partition (v0-4, after AddOffsetsToTxn),
// or adding it (v5+, transaction version 2). Either asks the
// transaction's coordinator, local or on another broker.
type Transactions interface {
	Verify(id string, pid int64, epoch int16, topic string, partition int32) int16
	AddImplicit(id string, pid int64, epoch int16, topic string, partition int32) int16
}

// TxnLog is a Log that takes a coordinator's transactional batches
// (replica.InternalLog). A Log without it (unit tests) gets plain appends
// and no verification.
type TxnLog interface {
	// TxnStart reports whether a batch of the producer would open a
	// transaction in the partition, with the guard to append it under.
	TxnStart(pid int64, epoch int16) (bool, *replica.TxnGuard)
	// AppendTxn appends a transactional batch checked against guard
	// and the producer's epoch; it returns the offset after it.
	AppendTxn(batch []byte, records int64, guard *replica.TxnGuard) (next int64, err error)
}

// pendingTxn is one producer's pending offsets on a shard, by group.
type pendingTxn map[string]map[tp]offset

// TxnOffsetCommit handles TxnOffsetCommit v0-5 on the group's
// coordinator. It blocks until the answer is known: the offsets are
// durable and pending in the producer's transaction, or refused.
func (c *Coordinator) TxnOffsetCommit(r *kmsg.TxnOffsetCommitRequest, txns Transactions) *kmsg.TxnOffsetCommitResponse {
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	for _, rt := range r.Topics {
		t := kmsg.NewTxnOffsetCommitResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			p.Partition = rp.Partition
			if !c.be.PartitionExists(rt.Topic, rp.Partition) {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	fail := func(code int16) *kmsg.TxnOffsetCommitResponse {
		fillTxnCommit(resp, code)
		return resp
	}
	if r.Group == "" {
		return fail(kerr.InvalidGroupID.Code)
	}
	s, code := c.route(r.Group, true)
	if code != 0 {
		return fail(code)
	}
	guard, code := c.verifyTxnOffsets(s, r, txns)
	if code != 0 {
		return fail(code)
	}
	return <-call(s, fail, func(reply func(*kmsg.TxnOffsetCommitResponse)) {
		s.txnOffsetCommit(r, resp, guard, reply)
	})
}

// verifyTxnOffsets runs KIP-890's check when the producer's batch would
// open a transaction in the group's partition (a later TxnOffsetCommit of
// the same transaction joins it without asking). It runs off the shard
// loop: it may ask another broker. The guard makes the append fail if a
// marker of the producer lands between the check and the append.
func (c *Coordinator) verifyTxnOffsets(s *shard, r *kmsg.TxnOffsetCommitRequest, txns Transactions) (*replica.TxnGuard, int16) {
	tl, ok := c.be.OffsetsLog(s.index).(TxnLog)
	if !ok || txns == nil {
		return nil, 0
	}
	need, guard := tl.TxnStart(r.ProducerID, r.ProducerEpoch)
	if !need {
		return nil, 0
	}
	var code int16
	if r.Version >= 5 {
		// Transaction version 2: its end bumps the epoch (replica.TxnGuard).
		guard = guard.EpochBumps()
		code = txns.AddImplicit(r.TransactionalID, r.ProducerID, r.ProducerEpoch, OffsetsTopic, s.index)
	} else {
		code = txns.Verify(r.TransactionalID, r.ProducerID, r.ProducerEpoch, OffsetsTopic, s.index)
	}
	return guard, txnCode(r.Version, code)
}

// txnCode puts a transaction-side answer in TxnOffsetCommit's terms: the
// transaction coordinator's own NOT_COORDINATOR is not this group's
// (the client must not look the group up again for it), and a stale
// epoch is PRODUCER_FENCED from v3 (KIP-588).
func txnCode(version, code int16) int16 {
	switch code {
	case kerr.NotCoordinator.Code:
		return kerr.CoordinatorNotAvailable.Code
	case kerr.InvalidProducerEpoch.Code:
		if version >= 3 {
			return kerr.ProducerFenced.Code
		}
	}
	return code
}

func fillTxnCommit(resp *kmsg.TxnOffsetCommitResponse, code int16) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
}

// validateTxnCommit is Kafka's offset commit validation for a
// transactional commit: the member fields are checked only when given
// (v3+); a group that does not exist takes offsets from a producer
// outside any group (generation -1).
func (s *shard) validateTxnCommit(g *group, r *kmsg.TxnOffsetCommitRequest) int16 {
	if s.shares[r.Group] != nil {
		return kerr.GroupIDNotFound.Code // a share group has no committed offsets
	}
	if r.Version < 3 || (r.Generation < 0 && r.MemberID == "" && r.InstanceID == nil) {
		return 0
	}
	if g == nil {
		if r.Generation < 0 {
			return 0
		}
		return kerr.IllegalGeneration.Code
	}
	if g.cg != nil {
		return g.cg.validateCommit(r.MemberID, r.Generation, 9, true)
	}
	if r.Generation < 0 && g.state == stateEmpty {
		return 0
	}
	if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
		return code
	}
	if r.Generation != g.generation {
		return kerr.IllegalGeneration.Code
	}
	return 0 // unlike OffsetCommit, allowed while the group completes a rebalance
}

// txnOffsetCommit appends the offsets as the producer's transactional
// batch and answers once it is durable. They are pending from the append
// on (require_stable sees them at once, as Kafka's prepareTxnOffsetCommit).
func (s *shard) txnOffsetCommit(r *kmsg.TxnOffsetCommitRequest, resp *kmsg.TxnOffsetCommitResponse, guard *replica.TxnGuard, reply func(*kmsg.TxnOffsetCommitResponse)) {
	if code := s.validateTxnCommit(s.groups[r.Group], r); code != 0 {
		fillTxnCommit(resp, code)
		reply(resp)
		return
	}
	now := s.c.clock.Now().UnixMilli()
	var (
		recs    []record.Record
		tps     []tp
		vals    []offset
		answers []*kmsg.TxnOffsetCommitResponseTopicPartition
	)
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			if out.ErrorCode != 0 {
				continue
			}
			meta := ""
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			if javaLen(meta) > s.c.cfg.MetadataMaxBytes {
				out.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: rp.Offset, leaderEpoch: -1, metadata: meta, commitMs: now, expireMs: -1}
			if r.Version >= 2 {
				o.leaderEpoch = rp.LeaderEpoch
			}
			t := tp{rt.Topic, rp.Partition}
			recs = append(recs, record.Record{Key: offsetKey(r.Group, t), Value: offsetValue(o)})
			tps, vals, answers = append(tps, t), append(vals, o), append(answers, out)
		}
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	base := int64(-1) // still -1 if the append fails and done runs at once
	base = s.appendRecords(recs, &txnWrite{pid: r.ProducerID, epoch: r.ProducerEpoch, guard: guard}, func(err error) {
		if err != nil {
			code := txnWriteCode(r.Version, err)
			for i, a := range answers {
				a.ErrorCode = code
				if base >= 0 {
					s.dropPending(r.ProducerID, r.Group, tps[i], base+int64(i))
				}
			}
		}
		reply(resp)
	})
	if base < 0 {
		return // failed: already answered
	}
	for i := range tps {
		vals[i].logOff = base + int64(i)
		s.addPending(r.ProducerID, r.Group, tps[i], vals[i])
	}
}

// txnWriteCode is the client's code for a failed transactional append:
// the partition's producer-state refusals keep their code.
func txnWriteCode(version int16, err error) int16 {
	var perr *replica.ProduceError
	if errors.As(err, &perr) {
		return txnCode(version, perr.Err.Code)
	}
	return writeErrorCode(err)
}

func (s *shard) addPending(pid int64, group string, t tp, o offset) {
	if s.txnOffsets == nil {
		s.txnOffsets = map[int64]pendingTxn{}
	}
	p := s.txnOffsets[pid]
	if p == nil {
		p = pendingTxn{}
		s.txnOffsets[pid] = p
	}
	if p[group] == nil {
		p[group] = map[tp]offset{}
	}
	p[group][t] = o
}

// dropPending forgets a pending offset whose write failed (unless a later
// commit of the transaction replaced it).
func (s *shard) dropPending(pid int64, group string, t tp, logOff int64) {
	p := s.txnOffsets[pid]
	if o, ok := p[group][t]; ok && o.logOff == logOff {
		delete(p[group], t)
		if len(p[group]) == 0 {
			delete(p, group)
		}
		if len(p) == 0 {
			delete(s.txnOffsets, pid)
		}
	}
}

// CompleteTxn is told that the marker of producer pid (commit or abort)
// is durable at markerOff in the __consumer_offsets partition: the
// producer's pending offsets there, written before the marker, become the
// committed offsets or are dropped. It returns once the shard has applied
// them, or at once when this broker does not serve the partition (the
// next load replays the marker). Callers hold no lock.
func (c *Coordinator) CompleteTxn(partition int32, pid int64, commit bool, markerOff int64) {
	ss := c.allShards()
	if partition < 0 || int(partition) >= len(ss) {
		return
	}
	s := ss[partition]
	<-call(s, func(int16) struct{} { return struct{}{} }, func(reply func(struct{})) {
		s.completeTxn(pid, commit, markerOff, s.c.clock.Now())
		reply(struct{}{})
	})
}

// completeTxn applies a marker of pid at markerOff to its pending
// offsets. now stamps groups it creates (zero on replay).
func (s *shard) completeTxn(pid int64, commit bool, markerOff int64, now time.Time) {
	p := s.txnOffsets[pid]
	for id, offs := range p {
		var g *group
		if commit && s.shares[id] == nil {
			if g = s.groups[id]; g == nil {
				g = newGroup(id, now)
				s.groups[id] = g
			}
		}
		for t, o := range offs {
			if o.logOff > markerOff {
				continue // the producer's next transaction
			}
			delete(offs, t)
			if g == nil {
				continue
			}
			// Kafka keeps the later record of a partition: a plain
			// commit written after these offsets stays.
			if cur, ok := g.offsets[t]; !ok || cur.logOff < o.logOff {
				g.offsets[t] = o
			}
		}
		if len(offs) == 0 {
			delete(p, id)
		}
		if g != nil {
			s.dropIfShell(g)
		}
	}
	if len(p) == 0 {
		delete(s.txnOffsets, pid)
	}
}

// unstable applies KIP-447 to one group's OffsetFetch answer: with
// require_stable, a partition with offsets pending in an open transaction
// gets UNSTABLE_OFFSET_COMMIT and no offset, so a consumer taking it over
// waits for that transaction instead of starting before it.
func (s *shard) unstable(requireStable bool, out kmsg.OffsetFetchResponseGroup) kmsg.OffsetFetchResponseGroup {
	if !requireStable || len(s.txnOffsets) == 0 {
		return out
	}
	for i := range out.Topics {
		t := &out.Topics[i]
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if p.ErrorCode == 0 && s.hasPending(out.Group, tp{t.Topic, p.Partition}) {
				p.ErrorCode, p.Offset, p.LeaderEpoch, p.Metadata = kerr.UnstableOffsetCommit.Code, -1, -1, kmsg.StringPtr("")
			}
		}
	}
	return out
}

func (s *shard) hasPending(group string, t tp) bool {
	for _, p := range s.txnOffsets {
		if _, ok := p[group][t]; ok {
			return true
		}
	}
	return false
}

// CommitLegacyTxnOffsets stores offsets an older Sluice kept in
// __transaction_state (TxnMetadataKey version 100) for a transaction that
// commits after the upgrade: a one-time path of the transaction
// coordinator's load, with no member checks (they were made at
// TxnOffsetCommit). It returns once they are durable and visible.
func (c *Coordinator) CommitLegacyTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic) error {
	s, code := c.route(group, true)
	if code != 0 {
		return kerr.ErrorForCode(code)
	}
	fail := func(code int16) error { return kerr.ErrorForCode(code) }
	return <-call(s, fail, func(reply func(error)) {
		if s.shares[group] != nil {
			reply(nil) // a share group has no offsets to take: drop them
			return
		}
		g := s.groups[group]
		if g == nil {
			g = newGroup(group, s.c.clock.Now())
			s.groups[group] = g
		}
		now := s.c.clock.Now().UnixMilli()
		var (
			tps  []tp
			vals []offset
		)
		for _, rt := range topics {
			for _, rp := range rt.Partitions {
				meta := ""
				if rp.Metadata != nil {
					meta = *rp.Metadata
				}
				o := offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: meta, commitMs: now, expireMs: -1}
				tps, vals = append(tps, tp{rt.Topic, rp.Partition}), append(vals, o)
			}
		}
		s.storeOffsets(g, tps, vals, reply)
	})
}
