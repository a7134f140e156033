package txn

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// Key versions in __transaction_state: Kafka's TxnMetadataKey is 0; 100 is
// the pending transactional offsets an older Sluice kept here, read only
// (legacy.go).
const (
	keyTxnMetadata    = 0
	keyPendingOffsets = 100
)

// shard is one __transaction_state partition's transactions. mu is held
// by a whole request (see the package doc) but never across a network
// call or a wait for another broker.
type shard struct {
	c     *Coordinator
	index int32

	mu     sync.Mutex
	status shardStatus
	// epoch is the coordinator epoch: the partition's leader epoch when
	// this broker began loading it. Markers carry it.
	epoch int32
	// gen counts loads and unloads; a load or marker job of an older
	// generation changes nothing.
	gen    uint64
	ctx    context.Context // of the current load, cancelled when it unloads
	cancel context.CancelFunc
	ready  chan struct{} // closed when the current load ends
	txns   map[string]*txnMeta
	jobs   map[string]*markerJob // transactions being completed, by id
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// txnMeta is one transactional id's state.
type txnMeta struct {
	id         string
	pid        int64
	epoch      int16
	prevEpoch  int16 // epoch before a coordinator bump (timeout abort) or a KIP-360 re-init, -1 none
	prevPID    int64 // producer id before the last rotation at epoch exhaustion, -1 none
	nextPID    int64 // producer id the completion rotates to (EndTxn v5 at the last epochs), -1 none
	tv         int16 // client transaction version (2: KIP-890 part 2, the epoch bumps at every end)
	timeoutMs  int32
	state      kmsg.TransactionState
	parts      map[tp]bool
	offsets    map[string][]kmsg.TxnOffsetCommitRequestTopic // legacy pending offsets, by group (legacy.go)
	startMs    int64
	lastUpdate int64
}

// replayLog replays the partition into a new map. A batch whose records
// cannot be read is skipped, as the coordinators do.
func (s *shard) replayLog(p *replica.Partition) (map[string]*txnMeta, error) {
	txns := map[string]*txnMeta{}
	err := replica.InternalLog{P: p}.Replay(func(b []byte) error {
		h, err := record.ParseHeader(b)
		if err != nil || h.IsControl() {
			return nil
		}
		_ = record.Records(b, func(r *record.Record) error {
			s.replay(txns, r.Key, r.Value)
			return nil
		})
		return nil
	})
	return txns, err
}

func (s *shard) replay(txns map[string]*txnMeta, key, value []byte) {
	var k kmsg.TxnMetadataKey
	if k.ReadFrom(key) != nil {
		return
	}
	switch k.Version {
	case keyTxnMetadata:
		if value == nil {
			delete(txns, k.TransactionalID)
			return
		}
		var v kmsg.TxnMetadataValue
		if v.ReadFrom(value) != nil {
			s.c.log.Warn("skipping bad transaction metadata", "transactional_id", k.TransactionalID)
			return
		}
		m := txns[k.TransactionalID]
		if m == nil {
			m = &txnMeta{id: k.TransactionalID, prevEpoch: -1, prevPID: -1, nextPID: -1}
			txns[m.id] = m
		}
		m.prevPID, m.nextPID, m.tv = -1, -1, 0
		if v.Version >= 1 {
			m.prevPID, m.tv = v.PreviousProducerID, v.ClientTransactionVersion
			if v.State == kmsg.TransactionStatePrepareCommit || v.State == kmsg.TransactionStatePrepareAbort {
				m.nextPID = v.NextProducerID
			}
		}
		m.pid, m.epoch, m.timeoutMs, m.state = v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State
		m.startMs, m.lastUpdate = v.StartTimestamp, v.LastUpdateTimestamp
		m.parts = map[tp]bool{}
		for _, t := range v.Topics {
			for _, p := range t.Partitions {
				m.parts[tp{t.Topic, p}] = true
			}
		}
		if !m.open() {
			m.offsets = nil
		}
	case keyPendingOffsets:
		replayLegacyOffsets(txns, k.TransactionalID, value)
	}
}

// open reports a transaction that has started and not completed.
func (m *txnMeta) open() bool {
	switch m.state {
	case kmsg.TransactionStateOngoing, kmsg.TransactionStatePrepareCommit, kmsg.TransactionStatePrepareAbort:
		return true
	}
	return false
}

// prepared reports a transaction whose outcome is decided and whose
// markers are being written.
func (m *txnMeta) prepared() bool {
	return m.state == kmsg.TransactionStatePrepareCommit || m.state == kmsg.TransactionStatePrepareAbort
}

// metaRecord encodes m as its TxnMetadata key and value.
func metaRecord(m *txnMeta) record.Record {
	k := kmsg.NewTxnMetadataKey()
	k.TransactionalID = m.id
	v := kmsg.NewTxnMetadataValue()
	v.ProducerID, v.ProducerEpoch, v.TimeoutMillis, v.State = m.pid, m.epoch, m.timeoutMs, m.state
	v.LastUpdateTimestamp, v.StartTimestamp = m.lastUpdate, m.startMs
	if m.tv >= 2 || m.prevPID >= 0 || m.nextPID >= 0 {
		// v1 (Kafka 4.0) carries the KIP-890 part 2 fields as tags.
		v.Version = 1
		v.PreviousProducerID, v.NextProducerID, v.ClientTransactionVersion = m.prevPID, m.nextPID, m.tv
		if m.nextPID >= 0 {
			v.NextProducerEpoch = 0
		}
	}
	byTopic := map[string][]int32{}
	for p := range m.parts {
		byTopic[p.topic] = append(byTopic[p.topic], p.partition)
	}
	names := make([]string, 0, len(byTopic))
	for t := range byTopic {
		names = append(names, t)
	}
	sort.Strings(names)
	for _, t := range names {
		ps := byTopic[t]
		sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = t, ps
		v.Topics = append(v.Topics, vt)
	}
	return record.Record{Key: k.AppendTo(nil), Value: v.AppendTo(nil)}
}

// write appends recs as one batch to the shard's partition and waits until
// it is durable. Caller holds mu.
func (s *shard) write(recs ...record.Record) error {
	p := s.c.parts.Get(StateTopic, s.index)
	if p == nil {
		return errors.New("txn: state partition not hosted")
	}
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
	}
	batch, err := record.Build(record.BatchSpec{
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: s.c.now().UnixMilli(), Records: recs,
	})
	if err != nil {
		return err
	}
	info, err := p.Append(batch, int64(len(recs)))
	if err != nil {
		return err
	}
	// Answered once the ISR holds it (replica.InternalLog): a new leader
	// of the partition replays it.
	return replica.CommitReplicated(p, info.LastOffset+1, s.c.cfg.RequestTimeout)
}

// persist writes m (plus extra records) and returns a Kafka code for the
// client on failure.
func (s *shard) persist(m *txnMeta, extra ...record.Record) int16 {
	if err := s.write(append([]record.Record{metaRecord(m)}, extra...)...); err != nil {
		s.c.log.Warn("write transaction state", "transactional_id", m.id, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}
