package txn

import (
	"math"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Transaction version 2 (KIP-890 part 2). ApiVersions finalizes the
// feature transaction.version=2; a client that opts in
//   - skips AddPartitionsToTxn: Produce v12+ adds its partition to the
//     transaction (AddImplicit),
//   - skips AddOffsetsToTxn: TxnOffsetCommit v5+ adds the group's offsets
//     partition,
//   - ends with EndTxn v5+, which bumps the epoch every time: the markers
//     carry the new epoch, so a late batch of the ended transaction is
//     fenced at every partition instead of opening a transaction nobody
//     ends, and the answer hands the new epoch (or, at exhaustion, a new
//     producer id) to the producer.

// TransactionVersion is the transaction.version feature level Sluice
// finalizes in ApiVersions.
const TransactionVersion = 2

// endTxnV2 is EndTxn v5+. A request one epoch behind (or naming the
// producer id rotated away at exhaustion) is the retry of an EndTxn that
// already bumped: same outcome succeeds, the other is INVALID_TXN_STATE.
func (s *shard) endTxnV2(id string, pid int64, epoch int16, commit bool) int16 {
	m := s.txns[id]
	if m == nil {
		return kerr.InvalidProducerIDMapping.Code
	}
	retry := (pid == m.pid && epoch == m.epoch-1) ||
		(m.prevPID >= 0 && pid == m.prevPID && m.epoch == 0 && epoch >= math.MaxInt16-1)
	if retry && !(m.state == kmsg.TransactionStateOngoing || m.state == kmsg.TransactionStateEmpty) {
		if m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort {
			if err := s.complete(m); err != nil {
				return kerr.ConcurrentTransactions.Code
			}
			m = s.txns[id]
		}
		if (m.state == kmsg.TransactionStateCompleteCommit) == commit {
			return 0
		}
		return kerr.InvalidTxnState.Code
	}
	m, code := s.check(id, pid, epoch, 5, 2)
	if code != 0 {
		return code
	}
	switch {
	case m.state == kmsg.TransactionStateOngoing,
		!commit && m.state != kmsg.TransactionStateDead:
		// An abort with nothing open still bumps the epoch (KIP-890):
		// the producer may have sent batches whose fate it does not
		// know, and the new epoch fences them.
	case commit && m.state == kmsg.TransactionStateCompleteCommit && m.tv < 2:
		return 0 // retry of a commit ended by EndTxn v4 (no bump)
	default:
		return kerr.InvalidTxnState.Code
	}
	n := m.clone()
	n.tv = TransactionVersion
	fence(n)
	if err := s.end(n, commit); err != nil {
		if s.txns[id].open() && s.txns[id].state != kmsg.TransactionStateOngoing {
			s.c.log.Warn("complete transaction", "transactional_id", id, "err", err)
			return 0 // Prepare is durable: the outcome is decided
		}
		s.c.log.Warn("end transaction", "transactional_id", id, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	if done := s.txns[id]; done.epoch >= math.MaxInt16-1 {
		// The markers used the last epochs of this id: the next
		// transaction runs under a new producer id.
		r := done.clone()
		s.bump(r)
		if code := s.persist(r); code != 0 {
			return code
		}
		s.txns[id] = r
	}
	return 0
}

// AddImplicit is Produce v12+'s implicit AddPartitionsToTxn: the
// partition joins the producer's transaction, which starts if none is
// open. The answer is in Produce's terms.
func (c *Coordinator) AddImplicit(id string, pid int64, epoch int16, topic string, partition int32) int16 {
	s, code := c.shardFor(id)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	if m := s.txns[id]; m != nil && m.pid == pid && m.epoch == epoch {
		if m.state == kmsg.TransactionStateOngoing && m.parts[tp{topic, partition}] {
			return 0 // already in: no write
		}
	}
	return s.addPartitions(id, pid, epoch, 5, []tp{{topic, partition}}, TransactionVersion)
}
