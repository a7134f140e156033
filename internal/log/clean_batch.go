package log

import (
	"encoding/binary"

	"github.com/sluice-io/sluice/internal/record"
)

// DeleteHorizonBit is the batch attribute bit (KIP-534) saying that the
// batch's baseTimestamp holds its delete horizon: the time after which the
// cleaner may drop its tombstones. Record timestamp deltas are relative to
// that base, so record timestamps read the same as before.
const DeleteHorizonBit = 0x40

// batchFilter decides, batch by batch, what a cleaning pass keeps.
type batchFilter struct {
	m         *offsetMap
	mapEnd    int64 // batches at or above are kept as they are
	nowMs     int64
	horizonMs int64 // delete horizon given to tombstones cleaned for the first time
	aborted   abortedIndex
	lastOfPid map[int64]int64 // last offset of each producer's last batch in the cleaned range

	nextHorizon    int64 // earliest horizon of a kept tombstone, -1 when none
	recordsRemoved int64
	recs           []record.Record
}

func (f *batchFilter) noteHorizon(ms int64) {
	if f.nextHorizon < 0 || ms < f.nextHorizon {
		f.nextHorizon = ms
	}
}

// filter returns the bytes to write for batch b (b itself when unchanged,
// nil when the batch goes). It never changes an offset: a kept batch keeps
// its base offset, its records their offset deltas and the batch its
// lastOffsetDelta, so offsets stay strictly monotonic in the new segment.
func (f *batchFilter) filter(h record.Header, b []byte) ([]byte, error) {
	// Control batches (transaction markers) are always kept: read_committed
	// consumers and producer-state replay need them, and dropping them
	// safely needs the whole transaction gone first.
	if h.BaseOffset >= f.mapEnd || h.IsControl() {
		return b, nil
	}
	keepEmpty := h.ProducerID >= 0 && f.lastOfPid[h.ProducerID] == h.LastOffset()
	if f.aborted.aborted(&h) {
		f.recordsRemoved += int64(h.NumRecords)
		return f.empty(h, keepEmpty), nil
	}
	horizonSet := h.Attributes&DeleteHorizonBit != 0
	expired := horizonSet && f.nowMs >= h.BaseTimestamp
	f.recs = f.recs[:0]
	tombstones := false
	err := record.Records(b, func(r *record.Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if r.Key == nil {
			return nil // Kafka drops keyless records from compacted logs
		}
		// INVARIANT: the latest record of a key is never removed, except a
		// tombstone past its delete horizon.
		if latest, ok := f.m.latest(r.Key); ok && off < latest {
			return nil
		}
		if r.Value == nil {
			if expired {
				return nil
			}
			tombstones = true
		}
		f.recs = append(f.recs, *r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.recordsRemoved += int64(h.NumRecords) - int64(len(f.recs))
	if len(f.recs) == 0 {
		return f.empty(h, keepEmpty), nil
	}
	if tombstones && horizonSet {
		f.noteHorizon(h.BaseTimestamp)
	}
	if len(f.recs) == int(h.NumRecords) && (!tombstones || horizonSet) {
		return b, nil
	}
	return f.rebuild(h, tombstones)
}

// empty is what is left of a batch that lost every record: nothing, or,
// for the last batch of a producer, the header alone with the original
// offsets, sequence and timestamps, so the producer's state (last sequence
// and epoch) survives in the log as Kafka keeps it.
func (f *batchFilter) empty(h record.Header, keep bool) []byte {
	if !keep {
		return nil
	}
	out, err := record.Build(record.BatchSpec{
		BaseOffset: h.BaseOffset, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
		BaseSequence: h.BaseSequence, Attributes: h.Attributes &^ (record.CodecMask | DeleteHorizonBit),
		BaseTimestamp: h.BaseTimestamp, PartitionLeaderEpoch: h.PartitionLeaderEpoch,
	})
	if err != nil {
		return nil
	}
	finishBatch(out, h)
	return out
}

// rebuild encodes the kept records (f.recs) with the batch's codec. A
// batch still holding tombstones carries a delete horizon: the one it had,
// or now + delete.retention.ms the first time it is cleaned.
func (f *batchFilter) rebuild(h record.Header, tombstones bool) ([]byte, error) {
	attrs := h.Attributes &^ DeleteHorizonBit
	base := h.BaseTimestamp
	switch {
	case tombstones && h.Attributes&DeleteHorizonBit != 0:
		attrs |= DeleteHorizonBit
	case tombstones:
		attrs |= DeleteHorizonBit
		base = f.horizonMs
		f.noteHorizon(base)
	case h.Attributes&DeleteHorizonBit != 0:
		// No tombstone left: back to a plain base timestamp.
		base = h.BaseTimestamp + f.recs[0].TimestampDelta
	}
	for i := range f.recs {
		f.recs[i].TimestampDelta += h.BaseTimestamp - base
	}
	out, err := record.Build(record.BatchSpec{
		BaseOffset: h.BaseOffset, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
		BaseSequence: h.BaseSequence, Attributes: attrs, BaseTimestamp: base,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch, Records: f.recs,
	})
	if err != nil {
		return nil, err
	}
	if h.Attributes&record.TimestampLogAppend != 0 {
		binary.BigEndian.PutUint64(out[35:], uint64(h.MaxTimestamp))
	}
	finishBatch(out, h)
	return out, nil
}

// finishBatch restores the original lastOffsetDelta (so the batch still
// ends where it did: consumers and producer sequences rely on it) and
// refreshes the CRC, which covers it.
func finishBatch(out []byte, h record.Header) {
	binary.BigEndian.PutUint32(out[23:], uint32(h.LastOffsetDelta))
	if len(out) == record.HeaderSize {
		binary.BigEndian.PutUint64(out[35:], uint64(h.MaxTimestamp))
	}
	binary.BigEndian.PutUint32(out[17:], record.ComputeCRC(out))
}
