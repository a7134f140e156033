package txn

import (
	"strings"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// An older Sluice kept a transaction's TxnOffsetCommit offsets here, in
// __transaction_state, as records of its own: key TxnMetadataKey version
// 100 (transactional id, NUL, group), value a TxnOffsetCommitRequest v3
// body, tombstoned at Complete. Offsets now live with the group
// coordinator (coordinator/txn_offsets.go) and no such record is
// written. They are still read at load, so a transaction left open or
// prepared by an upgrade commits them once: its marker job hands them to
// Groups.CommitLegacyTxnOffsets before Complete, which tombstones them.

// replayLegacyOffsets applies one version-100 record to txns.
func replayLegacyOffsets(txns map[string]*txnMeta, key string, value []byte) {
	id, group, ok := strings.Cut(key, "\x00")
	m := txns[id]
	if !ok || m == nil {
		return
	}
	if value == nil {
		delete(m.offsets, group)
		return
	}
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Version = 3
	if r.ReadFrom(value) != nil {
		return
	}
	if m.offsets == nil {
		m.offsets = map[string][]kmsg.TxnOffsetCommitRequestTopic{}
	}
	m.offsets[group] = r.Topics
}

// legacyOffsetsKey is the key of m's version-100 record for group.
func legacyOffsetsKey(id, group string) []byte {
	k := kmsg.NewTxnMetadataKey()
	k.Version = keyPendingOffsets
	k.TransactionalID = id + "\x00" + group
	return k.AppendTo(nil)
}

// legacyTombstones are the tombstones of m's legacy offsets records,
// written with its Complete.
func legacyTombstones(m *txnMeta) []record.Record {
	var out []record.Record
	for group := range m.offsets {
		out = append(out, record.Record{Key: legacyOffsetsKey(m.id, group)})
	}
	return out
}
