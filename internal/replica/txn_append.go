package replica

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// AppendTxn appends a transactional batch the broker writes itself on a
// producer's behalf (the group coordinator's transactional offset
// commits, which carry the producer's id and epoch but no sequence):
// the producer state records it like a client batch, so the partition's
// LSO stops at the open transaction until its marker. There is no
// sequence check; the epoch must not be older than the producer's, and
// guard (from TxnStart, confirmed with the transaction coordinator) must
// still hold when the batch opens a transaction.
func (p *Partition) AppendTxn(batch []byte, records int64, guard *TxnGuard) (log.AppendInfo, error) {
	h, err := record.ParseHeader(batch)
	if err != nil {
		return log.AppendInfo{}, err
	}
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.psMu.Lock()
	e := p.ps.producers[h.ProducerID]
	switch {
	case e != nil && h.ProducerEpoch < e.epoch:
		err = &ProduceError{kerr.InvalidProducerEpoch, "producer epoch is older than the partition's"}
	case guard != nil && (e == nil || e.txnFirst < 0) && guard.ended(e):
		err = &ProduceError{kerr.InvalidTxnState, "the transaction ended while this batch was verified"}
	case e != nil && e.txnFirst >= 0 && e.epoch < h.ProducerEpoch:
		err = &ProduceError{kerr.ConcurrentTransactions, "the previous transaction's marker has not arrived yet"}
	}
	p.psMu.Unlock()
	if err != nil {
		return log.AppendInfo{}, err
	}
	return p.appendLocked(batch, records)
}

// TxnStart is Partition.TxnStart for a coordinator's transactional write.
func (l InternalLog) TxnStart(producerID int64, epoch int16) (bool, *TxnGuard) {
	return l.P.TxnStart(producerID, epoch)
}

// AppendTxn appends a coordinator's transactional batch
// (Partition.AppendTxn) and returns the offset after it.
func (l InternalLog) AppendTxn(batch []byte, records int64, guard *TxnGuard) (next int64, err error) {
	info, err := l.P.AppendTxn(batch, records, guard)
	if err != nil {
		return 0, err
	}
	return info.LastOffset + 1, nil
}
