package replica

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// Produce appends one validated client batch with header h. For an
// idempotent batch (producer id >= 0) it first checks the producer state:
// a retry of one of the producer's last five batches is not written again
// and is answered with the original offsets (dup is true); a gap, an old
// epoch or an unknown producer fails with a *ProduceError. guard (from
// TxnStart, then confirmed by the coordinator) is checked for a batch that
// opens a transaction; nil skips that check.
func (p *Partition) Produce(batch []byte, h record.Header, guard *TxnGuard) (info log.AppendInfo, dup bool, err error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.psMu.Lock()
	orig, err := p.ps.check(&h, guard)
	p.psMu.Unlock()
	if err != nil {
		return info, false, err
	}
	if orig != nil {
		return log.AppendInfo{FirstOffset: orig.firstOff, LastOffset: orig.lastOff, MaxTimestamp: -1, OffsetOfMaxTimestamp: -1}, true, nil
	}
	info, err = p.appendLocked(batch, int64(h.NumRecords))
	return info, false, err
}

// TxnStart reports whether a transactional batch of the producer at
// epoch would open a transaction here (so it must be verified with the
// transaction coordinator first), with the guard to pass to Produce. A
// transaction open at an older epoch is the previous one (KIP-890 part 2
// bumps the epoch at every end) whose marker has not arrived yet: the
// batch is verified too, which succeeds only once the coordinator has
// written every marker of that transaction, and the guard expects that
// one marker.
func (p *Partition) TxnStart(producerID int64, epoch int16) (bool, *TxnGuard) {
	p.psMu.Lock()
	defer p.psMu.Unlock()
	e := p.ps.producers[producerID]
	if e != nil && e.txnFirst >= 0 {
		if e.epoch >= epoch {
			return false, nil
		}
		return true, &TxnGuard{markers: e.markers + 1}
	}
	return true, &TxnGuard{markers: e.markerCount()}
}

// AppendMarker writes a transaction marker (a control batch ending the
// producer's open transaction in this partition, commit or abort) through
// the same path as data, and returns the offset after it. A marker older
// than the producer's epoch is INVALID_PRODUCER_EPOCH; one whose
// coordinator epoch is older than the producer's last marker's is
// TRANSACTION_COORDINATOR_FENCED.
func (p *Partition) AppendMarker(producerID int64, epoch int16, commit bool, coordEpoch int32) (int64, error) {
	key := kmsg.NewControlRecordKey()
	key.Type = kmsg.ControlRecordKeyTypeAbort
	if commit {
		key.Type = kmsg.ControlRecordKeyTypeCommit
	}
	val := kmsg.NewEndTxnMarker()
	val.CoordinatorEpoch = coordEpoch
	now := time.Now().UnixMilli()
	batch, err := record.Build(record.BatchSpec{
		ProducerID:    producerID,
		ProducerEpoch: epoch,
		BaseSequence:  -1,
		Attributes:    record.TransactionalBit | record.ControlBit,
		BaseTimestamp: now,
		Records:       []record.Record{{Key: key.AppendTo(nil), Value: val.AppendTo(nil)}},
	})
	if err != nil {
		return 0, err
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.psMu.Lock()
	e := p.ps.producers[producerID]
	stale := e != nil && epoch < e.epoch
	coordStale := e != nil && coordEpoch < e.coordEpoch
	p.psMu.Unlock()
	if stale {
		// INVARIANT: a producer's epoch never goes back in a partition.
		return 0, &ProduceError{kerr.InvalidProducerEpoch, "marker epoch is older than the producer's"}
	}
	if coordStale {
		// A newer transaction coordinator (its __transaction_state
		// partition's leader epoch) already wrote a marker here: the
		// older one lost the transaction (Kafka's coordinator epoch
		// fencing).
		return 0, &ProduceError{kerr.TransactionCoordinatorFenced, "marker coordinator epoch is older than the last marker's"}
	}
	info, err := p.appendLocked(batch, 1)
	if err != nil {
		return 0, err
	}
	return info.LastOffset + 1, nil
}

// appendLocked appends and then records every batch in the producer
// state. Caller holds appendMu. When the log rolled for this append, the
// state before it is exactly the state at the new segment's base offset,
// which is snapshotted then.
func (p *Partition) appendLocked(batches []byte, records int64) (log.AppendInfo, error) {
	if err := p.offlineErr(); err != nil {
		return log.AppendInfo{}, err
	}
	// INVARIANT: a batch is stamped with the epoch of a term this broker
	// leads. Handlers check leadership in the metadata image, which is
	// published before followImage gives the partition its new role and
	// epoch: checked here under appendMu (followImage changes both under
	// it), a broker taking the lead cannot stamp a batch with the epoch it
	// followed (its epoch cache would start the new epoch after that
	// batch, and a follower holding another batch at that offset and epoch
	// would keep it), and one losing the lead stops appending at once
	// (Kafka checks leaderLogIfLocal under leaderIsrUpdateLock).
	epoch, leads := p.leaderTerm()
	if !leads {
		return log.AppendInfo{}, errNotLeaderAppend
	}
	base := p.log.ActiveBase()
	info, err := p.log.Append(batches, epoch)
	if err != nil {
		return info, p.noteStorage(err)
	}
	// The first batch of a new leader epoch starts it in the cache (a
	// no-op for every later batch of the epoch).
	if err := p.epochs.Assign(epoch, info.FirstOffset); err != nil {
		p.logger().Error("write leader-epoch-checkpoint", "err", err)
	}
	if nb := p.log.ActiveBase(); nb != base && nb == info.FirstOffset {
		p.writeSnapshot(nb)
	}
	p.psMu.Lock()
	p.ps.nowMs = time.Now().UnixMilli()
	_ = record.Split(batches, func(h record.Header, b []byte) error {
		p.ps.apply(&h, h.BaseOffset, h.LastOffset(), controlOf(&h, b))
		return nil
	})
	p.psMu.Unlock()
	p.signalLEO()
	if !p.Durable() {
		p.mu.Lock()
		p.unflushed += records
		flush := p.unflushed >= p.cfg.Load().FlushMessages
		if flush {
			p.unflushed = 0
		}
		p.mu.Unlock()
		p.advance(info.LastOffset + 1)
		if flush {
			go p.log.Sync(info.LastOffset + 1)
		}
	}
	return info, nil
}

// controlOf decodes the marker of a control batch (its first record's key
// and value). Non-control batches and unreadable markers give !valid.
func controlOf(h *record.Header, batch []byte) controlInfo {
	var ci controlInfo
	if !h.IsControl() || h.Codec() != record.CodecNone {
		return ci
	}
	_ = record.Records(batch, func(r *record.Record) error {
		if ci.valid {
			return nil
		}
		var k kmsg.ControlRecordKey
		if k.ReadFrom(r.Key) != nil || k.Type > kmsg.ControlRecordKeyTypeCommit {
			return nil
		}
		var v kmsg.EndTxnMarker
		if v.ReadFrom(r.Value) != nil {
			return nil
		}
		ci = controlInfo{valid: true, commit: k.Type == kmsg.ControlRecordKeyTypeCommit, coordEpoch: v.CoordinatorEpoch}
		return nil
	})
	return ci
}

// LastStableOffset is the offset below which every transaction is decided
// and its marker durable: the first offset of the oldest undecided
// transaction, or the HW when there is none.
//
// INVARIANT: LSO <= HW (it is min(HW, first unstable offset)).
func (p *Partition) LastStableOffset() int64 {
	hw := p.HighWatermark()
	p.psMu.Lock()
	defer p.psMu.Unlock()
	if f, ok := p.ps.firstUnstable(hw); ok && f < hw {
		return f
	}
	return hw
}

// AbortedTxns lists the aborted transactions with records in [from, to).
func (p *Partition) AbortedTxns(from, to int64) []AbortedTxn {
	p.psMu.Lock()
	defer p.psMu.Unlock()
	return p.ps.abortedIn(from, to)
}

// ReadUpTo returns whole batches from offset, bounded by maxOffset (the
// LSO for read_committed) rather than the HW.
func (p *Partition) ReadUpTo(offset int64, maxBytes int, maxOffset int64) (*log.ReadResult, error) {
	limit, err := p.readLimit(offset, min(maxOffset, p.HighWatermark()))
	if err != nil {
		return nil, err
	}
	return p.log.Read(offset, maxBytes, limit)
}

// ProducerInfo describes one producer of this partition (DescribeProducers).
type ProducerInfo struct {
	ProducerID       int64
	Epoch            int16
	LastSequence     int32
	LastTimestamp    int64
	CoordinatorEpoch int32
	TxnStartOffset   int64
}

// Producers lists the producers the partition remembers.
func (p *Partition) Producers() []ProducerInfo {
	p.psMu.Lock()
	defer p.psMu.Unlock()
	out := make([]ProducerInfo, 0, len(p.ps.producers))
	for id, e := range p.ps.producers {
		out = append(out, ProducerInfo{id, e.epoch, e.lastSeq(), e.lastTs, e.coordEpoch, e.txnFirst})
	}
	return out
}

// expireProducers forgets producers idle for producer.id.expiration.ms.
func (p *Partition) expireProducers(now time.Time) {
	p.psMu.Lock()
	p.ps.expire(now.UnixMilli())
	p.psMu.Unlock()
}

// maybeRoll rolls the active segment by time and snapshots the producer
// state at the new base.
func (p *Partition) maybeRoll(now time.Time) error {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.offlineErr() != nil {
		return nil // the directory's probe brings it back (logdir.go)
	}
	base := p.log.ActiveBase()
	if err := p.log.MaybeRoll(now); err != nil {
		return err
	}
	if nb := p.log.ActiveBase(); nb != base {
		p.writeSnapshot(nb)
	}
	return nil
}

func (p *Partition) logger() *slog.Logger {
	if p.lg == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.lg
}

// close snapshots the producer state at the LEO (so the next open scans
// nothing) and closes the log.
func (p *Partition) close() error {
	p.appendMu.Lock()
	p.writeSnapshot(p.log.EndOffset())
	p.appendMu.Unlock()
	return p.log.Close()
}
