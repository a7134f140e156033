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
// At the last epochs the Prepare record names the producer id the
// completion rotates to (TxnMetadataValue's NextProducerId), which is
// the answer.
func (s *shard) endTxnV2(id string, pid int64, epoch int16, commit bool, spare *spareID) outcome {
	m := s.txns[id]
	if m == nil {
		return outcome{code: kerr.InvalidProducerIDMapping.Code}
	}
	retry := (pid == m.pid && epoch == m.epoch-1) ||
		(m.prevPID >= 0 && pid == m.prevPID && m.epoch == 0 && epoch >= math.MaxInt16-2)
	if retry && !(m.state == kmsg.TransactionStateOngoing || m.state == kmsg.TransactionStateEmpty) {
		if m.prepared() {
			return outcome{code: kerr.ConcurrentTransactions.Code, wait: s.startJob(m, false)}
		}
		if (m.state == kmsg.TransactionStateCompleteCommit) == commit {
			return outcome{}
		}
		return outcome{code: kerr.InvalidTxnState.Code}
	}
	m, o := s.check(id, pid, epoch, 5, 2)
	if m == nil {
		return o
	}
	switch {
	case m.state == kmsg.TransactionStateOngoing,
		!commit && m.state != kmsg.TransactionStateDead:
		// An abort with nothing open still bumps the epoch (KIP-890):
		// the producer may have sent batches whose fate it does not
		// know, and the new epoch fences them.
	case commit && m.state == kmsg.TransactionStateCompleteCommit && m.tv < 2:
		return outcome{} // retry of a commit ended by EndTxn v4 (no bump)
	default:
		return outcome{code: kerr.InvalidTxnState.Code}
	}
	n := m.clone()
	n.tv = TransactionVersion
	fence(n)
	if n.epoch >= math.MaxInt16-1 {
		// The markers use the last epochs of this id: the next
		// transaction runs under a new producer id.
		if spare.pid < 0 {
			return outcome{needID: true}
		}
		n.nextPID = spare.take()
	}
	j, code := s.prepare(n, commit, true)
	if code != 0 {
		s.c.log.Warn("end transaction", "transactional_id", id, "err", kerr.ErrorForCode(code))
		return outcome{code: code}
	}
	return outcome{ended: j}
}

// AddImplicit is Produce v12+'s implicit AddPartitionsToTxn: the
// partition joins the producer's transaction, which starts if none is
// open. The partition leader asks the transaction's coordinator: itself,
// or another broker through AddPartitionsToTxn v5 (remote.go). The answer
// is in Produce's terms.
func (c *Coordinator) AddImplicit(id string, pid int64, epoch int16, topic string, partition int32) int16 {
	return c.retryConcurrent(func() int16 {
		if node := c.coordinatorOf(id); c.peers != nil && node >= 0 && node != c.cfg.NodeID {
			return c.remoteAdd(node, id, pid, epoch, topic, partition, false)
		}
		return c.do(id, func(s *shard, _ *spareID) outcome {
			if m := s.txns[id]; m != nil && m.pid == pid && m.epoch == epoch {
				if m.state == kmsg.TransactionStateOngoing && m.parts[tp{topic, partition}] {
					return outcome{} // already in: no write
				}
			}
			return s.addPartitions(id, pid, epoch, 5, []tp{{topic, partition}}, TransactionVersion)
		})
	})
}
