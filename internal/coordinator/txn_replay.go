package coordinator

import (
	"encoding/binary"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// Loading transactional offset commits, as Kafka's loader does: the
// records of a producer's transactional batch are held as its pending
// offsets (a tombstone in one removes a pending offset) until the
// producer's next marker in the partition: commit makes them committed
// offsets (unless a later record of the partition is committed), abort
// drops them. Those with no marker yet stay pending: their transaction
// is still open, and its marker will come through CompleteTxn. The log
// cleaner never removes what this needs: it cleans below the partition's
// LSO only (an open transaction's records stay), drops aborted
// transactions' records and keeps every marker.

// parseOffsetRecord decodes an offset commit record (key version 0 or 1)
// at log offset off; ok is false for one that cannot be read (logged).
// A nil value (a tombstone) gives a zero offset.
func (s *shard) parseOffsetRecord(key, value []byte, off int64) (group string, t tp, o offset, ok bool) {
	var k kmsg.OffsetCommitKey
	if err := k.ReadFrom(key); err != nil {
		s.log.Warn("skipping bad offset commit key", "err", err)
		return "", tp{}, o, false
	}
	t = tp{k.Topic, k.Partition}
	if value == nil {
		return k.Group, t, o, true
	}
	var v kmsg.OffsetCommitValue
	if err := v.ReadFrom(value); err != nil {
		s.log.Warn("skipping bad offset commit value", "group", k.Group, "err", err)
		return "", tp{}, o, false
	}
	o = offset{offset: v.Offset, leaderEpoch: -1, metadata: v.Metadata, commitMs: v.CommitTimestamp, expireMs: -1, logOff: off}
	if v.Version >= 3 {
		o.leaderEpoch = v.LeaderEpoch
	}
	if v.Version == 1 {
		o.expireMs = v.ExpireTimestamp
	}
	return k.Group, t, o, true
}

// replayTxn applies one record of producer pid's transactional batch.
func (s *shard) replayTxn(pid int64, off int64, key, value []byte) {
	if len(key) < 2 {
		return
	}
	if v := binary.BigEndian.Uint16(key); v > 1 {
		s.replayAt(key, value, off) // not an offset commit: Kafka writes none transactionally
		return
	}
	group, t, o, ok := s.parseOffsetRecord(key, value, off)
	if !ok {
		return
	}
	if value == nil {
		if p := s.txnOffsets[pid]; p[group] != nil {
			delete(p[group], t)
		}
		return
	}
	s.addPending(pid, group, t, o)
}

// replayMarker applies a control batch: a transaction marker completes
// its producer's pending offsets.
func (s *shard) replayMarker(h *record.Header, batch []byte) {
	if h.ProducerID < 0 || s.txnOffsets[h.ProducerID] == nil {
		return
	}
	valid, commit := false, false
	_ = record.Records(batch, func(r *record.Record) error {
		var k kmsg.ControlRecordKey
		if !valid && k.ReadFrom(r.Key) == nil && k.Type <= kmsg.ControlRecordKeyTypeCommit {
			valid, commit = true, k.Type == kmsg.ControlRecordKeyTypeCommit
		}
		return nil
	})
	if !valid {
		s.log.Warn("skipping unreadable transaction marker", "offset", h.BaseOffset, "producer_id", h.ProducerID)
		return
	}
	s.completeTxn(h.ProducerID, commit, h.BaseOffset, time.Time{})
}
