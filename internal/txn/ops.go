package txn

import (
	"maps"
	"math"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
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

// outcome is what an operation on a locked shard tells its caller (do).
type outcome struct {
	code int16
	// wait: the transaction is completing (Prepare written, markers
	// being sent); the operation runs again once it completes, or the
	// answer is CONCURRENT_TRANSACTIONS.
	wait *markerJob
	// ended: this operation wrote Prepare; it is answered now (the
	// outcome is decided), after waiting for local markers.
	ended *markerJob
	// needID: the operation needs a fresh producer id, which is taken
	// outside the lock (it may ask the controller); it then runs again.
	needID bool
}

// spareID is a producer id taken outside the shard lock for an operation
// that needs one (-1: none yet). An id taken and not used is skipped.
type spareID struct{ pid int64 }

func (sp *spareID) take() int64 {
	id := sp.pid
	sp.pid = -1
	return id
}

// maxAttempts bounds how often one request runs its operation again
// (after waiting for a completion or taking a producer id).
const maxAttempts = 8

// do runs op on the locked shard of id, releasing the lock between
// attempts: never is a shard locked while a producer id block is
// requested or a transaction's markers are awaited.
func (c *Coordinator) do(id string, op func(s *shard, spare *spareID) outcome) int16 {
	spare := spareID{pid: -1}
	for range maxAttempts {
		s, code := c.shardFor(id)
		if code != 0 {
			return code
		}
		o := op(s, &spare)
		s.mu.Unlock()
		switch {
		case o.needID:
			pid, err := c.ids.Next()
			if err != nil {
				c.log.Error("allocate producer id", "err", err)
				return kerr.CoordinatorNotAvailable.Code
			}
			spare.pid = pid
		case o.ended != nil:
			c.awaitLocal(o.ended)
			return o.code
		case o.wait != nil:
			if !c.awaitLocal(o.wait) {
				return kerr.ConcurrentTransactions.Code
			}
		default:
			return o.code
		}
	}
	return kerr.ConcurrentTransactions.Code
}

// awaitLocal waits (up to LocalWait) for a completion whose markers all
// go to this broker, and reports whether it finished. A completion that
// sends markers to other brokers is not awaited: the request is answered
// as Kafka does (CONCURRENT_TRANSACTIONS until Complete is written).
func (c *Coordinator) awaitLocal(j *markerJob) bool {
	if !j.local {
		return false
	}
	t := time.NewTimer(c.cfg.LocalWait)
	defer t.Stop()
	select {
	case <-j.done:
		return true
	case <-t.C:
		return false
	}
}

// InitProducerID allocates a producer id (no transactional id) or
// (re)initializes a transactional id: a new epoch, aborting its open
// transaction, which fences every older instance.
func (c *Coordinator) InitProducerID(version int16, txnID *string, timeoutMs int32, reqPID int64, reqEpoch int16) InitResult {
	fail := func(code int16) InitResult { return InitResult{Code: code, ProducerID: -1, Epoch: -1} }
	if txnID != nil && *txnID == "" {
		return fail(kerr.InvalidRequest.Code)
	}
	if txnID == nil {
		id, err := c.ids.Next()
		if err != nil {
			c.log.Error("allocate producer id", "err", err)
			return fail(kerr.CoordinatorNotAvailable.Code)
		}
		return InitResult{ProducerID: id, Epoch: 0}
	}
	if timeoutMs <= 0 || timeoutMs > c.cfg.MaxTimeoutMs {
		return fail(kerr.InvalidTransactionTimeout.Code)
	}
	var res InitResult
	ours := fencing{pid: -1}
	code := c.do(*txnID, func(s *shard, spare *spareID) outcome {
		var o outcome
		res, o = s.initProducer(version, *txnID, timeoutMs, reqPID, reqEpoch, spare, &ours)
		return o
	})
	if code != 0 {
		return fail(code)
	}
	return res
}

// fencing remembers the abort an InitProducerId started for the open
// transaction it found: once that abort completes, the new instance gets
// the epoch its markers carried (no instance used it).
type fencing struct {
	pid   int64
	epoch int16
}

func (s *shard) initProducer(version int16, id string, timeoutMs int32, reqPID int64, reqEpoch int16, spare *spareID, ours *fencing) (InitResult, outcome) {
	fail := func(code int16) (InitResult, outcome) {
		return InitResult{Code: code, ProducerID: -1, Epoch: -1}, outcome{code: code}
	}
	now := s.c.now().UnixMilli()
	old := s.txns[id]
	var m *txnMeta
	if old == nil {
		if spare.pid < 0 {
			return InitResult{}, outcome{needID: true}
		}
		m = &txnMeta{id: id, pid: spare.take(), epoch: 0, prevEpoch: -1, prevPID: -1, nextPID: -1, parts: map[tp]bool{}}
	} else {
		// KIP-360: a producer re-initializing must name its current id
		// and epoch (or the one before a coordinator bump).
		if reqPID >= 0 && (reqPID != old.pid || (reqEpoch != old.epoch && (old.prevEpoch < 0 || reqEpoch != old.prevEpoch))) {
			return fail(fenced(version, 4))
		}
		if old.prepared() {
			return InitResult{}, outcome{code: kerr.ConcurrentTransactions.Code, wait: s.startJob(old, false)}
		}
		if old.state == kmsg.TransactionStateOngoing {
			// Fence the running instance: the abort's markers carry
			// the new epoch, so its later writes fail at every
			// partition. The new instance gets that epoch once the
			// abort completes (Kafka answers CONCURRENT_TRANSACTIONS
			// meanwhile).
			f := old.clone()
			fence(f)
			j, code := s.prepare(f, false, false)
			if code != 0 {
				return fail(kerr.ConcurrentTransactions.Code)
			}
			*ours = fencing{pid: f.pid, epoch: f.epoch}
			return InitResult{}, outcome{code: kerr.ConcurrentTransactions.Code, wait: j}
		}
		retry := reqPID >= 0 && old.prevEpoch >= 0 && reqEpoch == old.prevEpoch
		if ours.pid == old.pid && ours.epoch == old.epoch && old.state == kmsg.TransactionStateCompleteAbort {
			retry = true
		}
		m = old.clone()
		if !retry || m.epoch >= math.MaxInt16-1 {
			// A retry after a coordinator bump (timeout abort) gets
			// the bumped epoch, which no instance has used yet.
			if m.epoch >= math.MaxInt16-1 && spare.pid < 0 {
				return InitResult{}, outcome{needID: true}
			}
			bump(m, spare)
		}
	}
	if reqPID < 0 {
		// A new instance: no earlier epoch may come back as a retry.
		m.prevEpoch = -1
	}
	// Otherwise (KIP-360) prevEpoch stays the epoch the producer named:
	// its retry of this request, whose answer it may have lost, gets the
	// same epoch rather than PRODUCER_FENCED (Kafka's lastProducerEpoch,
	// kept in memory only, as Kafka does).
	m.timeoutMs, m.state, m.lastUpdate, m.startMs = timeoutMs, kmsg.TransactionStateEmpty, now, -1
	m.parts, m.offsets = map[tp]bool{}, nil
	if code := s.persist(m); code != 0 {
		return fail(code)
	}
	s.txns[id] = m
	return InitResult{ProducerID: m.pid, Epoch: m.epoch}, outcome{}
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

// bump moves m to its next epoch, or, when the epoch is exhausted, to the
// spare producer id (the caller took one).
func bump(m *txnMeta, spare *spareID) {
	m.prevEpoch = m.epoch
	if m.epoch >= math.MaxInt16-1 && spare.pid >= 0 {
		m.prevPID = m.pid
		m.pid, m.epoch, m.prevEpoch = spare.take(), 0, -1
		return
	}
	m.epoch++
}

// check validates a transactional request's producer id and epoch. A
// transaction being completed gets CONCURRENT_TRANSACTIONS and its
// marker job to wait for.
func (s *shard) check(id string, pid int64, epoch int16, version, fencedFrom int16) (*txnMeta, outcome) {
	m := s.txns[id]
	if m == nil || m.pid != pid {
		return nil, outcome{code: kerr.InvalidProducerIDMapping.Code}
	}
	if epoch != m.epoch {
		return nil, outcome{code: fenced(version, fencedFrom)}
	}
	if m.prepared() {
		return nil, outcome{code: kerr.ConcurrentTransactions.Code, wait: s.startJob(m, false)}
	}
	return m, outcome{}
}

// addPartitions adds parts to the transaction, starting it if needed; tv
// is the client's transaction version, recorded when the transaction
// starts (2 when it starts implicitly, KIP-890 part 2).
func (s *shard) addPartitions(id string, pid int64, epoch int16, version int16, parts []tp, tv int16) outcome {
	m, o := s.check(id, pid, epoch, version, 2)
	if m == nil {
		return o
	}
	if m.state == kmsg.TransactionStateDead {
		return outcome{code: kerr.InvalidTxnState.Code}
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
		return outcome{}
	}
	n.lastUpdate = now
	if code := s.persist(n); code != 0 {
		return outcome{code: code}
	}
	s.txns[id] = n
	return outcome{}
}

// endTxn ends the open transaction (or answers a retried EndTxn).
func (s *shard) endTxn(id string, pid int64, epoch int16, version int16, commit bool) outcome {
	m, o := s.check(id, pid, epoch, version, 2)
	if m == nil {
		return o
	}
	switch m.state {
	case kmsg.TransactionStateOngoing:
		j, code := s.prepare(m.clone(), commit, true)
		if code != 0 {
			s.c.log.Warn("end transaction", "transactional_id", id, "err", kerr.ErrorForCode(code))
			return outcome{code: code}
		}
		return outcome{ended: j}
	case kmsg.TransactionStateCompleteCommit:
		if commit {
			return outcome{}
		}
	case kmsg.TransactionStateCompleteAbort:
		if !commit {
			return outcome{}
		}
	}
	return outcome{code: kerr.InvalidTxnState.Code}
}

// prepare writes Prepare for m's outcome and starts its completion. From
// the moment the record is durable the outcome is decided: the marker job
// (or, after a restart or a leader change, the next leader's) completes
// it. m is a copy the caller may not reuse. hook runs
// TestHookAfterPrepare in the job.
func (s *shard) prepare(m *txnMeta, commit, hook bool) (*markerJob, int16) {
	m.state = kmsg.TransactionStatePrepareAbort
	if commit {
		m.state = kmsg.TransactionStatePrepareCommit
	}
	m.lastUpdate = s.c.now().UnixMilli()
	if code := s.persist(m); code != 0 {
		return nil, code
	}
	s.txns[m.id] = m
	return s.startJob(m, hook), 0
}

// TestHookAfterPrepare is a test hook: when set, it runs after a
// transaction's Prepare record written by EndTxn is durable and before
// its markers; an error stops the completion there, as a crash would at
// that point (the timeout checker or the next leader completes it).
var TestHookAfterPrepare atomic.Pointer[func(transactionalID string) error]

// completed is m after its markers: Complete, nothing pending, and the
// producer id rotated when the Prepare named the next one.
func (s *shard) completed(m *txnMeta) *txnMeta {
	n := m.clone()
	n.state = kmsg.TransactionStateCompleteAbort
	if m.state == kmsg.TransactionStatePrepareCommit {
		n.state = kmsg.TransactionStateCompleteCommit
	}
	n.parts, n.offsets, n.lastUpdate = map[tp]bool{}, nil, s.c.now().UnixMilli()
	if n.nextPID >= 0 {
		// The markers used the last epochs of this id: the next
		// transaction runs under the producer id EndTxn v5 handed out.
		n.prevPID, n.pid, n.epoch, n.prevEpoch, n.nextPID = n.pid, n.nextPID, 0, -1, -1
	}
	return n
}

// expire aborts transactions open longer than their timeout, bumping the
// epoch so the producer is fenced, and restarts the completion of
// prepared ones whose job stopped.
func (s *shard) expire() {
	now := s.c.now().UnixMilli()
	for _, m := range s.txns {
		switch {
		case m.state == kmsg.TransactionStateOngoing && now-m.startMs > int64(m.timeoutMs):
			n := m.clone()
			fence(n)
			s.c.log.Info("aborting timed-out transaction", "transactional_id", m.id, "producer_id", m.pid, "epoch", n.epoch)
			if _, code := s.prepare(n, false, false); code != 0 {
				s.c.log.Warn("abort timed-out transaction", "transactional_id", m.id, "err", kerr.ErrorForCode(code))
			}
		case m.prepared():
			s.startJob(m, false)
		}
	}
}
