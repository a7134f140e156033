package raft

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// wal is raft's durable entry log, hosted in a partition log (internal/log)
// as KRaft hosts its quorum log: entry index i is log offset i-1, one Kafka
// record per entry, and a run of entries of one term is one record batch
// whose partitionLeaderEpoch is that term. A record's value is one byte of
// entry type (raftpb.EntryType) followed by the entry's data.
//
// INVARIANT: the log's offsets are exactly the entry indexes minus one, so
// EndOffset() is the last persisted index and StartOffset() is the index
// of the last entry covered by a snapshot (the first entry kept is
// StartOffset()+1).
type wal struct {
	l *log.Log
}

// walChunk is how many bytes a replay reads at a time.
const walChunk = 1 << 20

func openWAL(dir string, logger *slog.Logger) (*wal, error) {
	cfg := log.DefaultConfig()
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1 // raft compacts it behind snapshots
	// Small segments: the WAL is truncated behind snapshots one whole
	// segment at a time, so this bounds what a snapshot leaves behind.
	cfg.SegmentBytes = 8 << 20
	// Damage before the end of the WAL is not a crash's torn tail: refuse to
	// start rather than forget committed entries (internal/log StrictRecovery).
	cfg.StrictRecovery = true
	l, err := log.Open(dir, cfg, logger)
	if err != nil {
		return nil, err
	}
	return &wal{l: l}, nil
}

// lastIndex is the index of the last persisted entry (0 when none).
func (w *wal) lastIndex() uint64 { return uint64(w.l.EndOffset()) }

// firstIndex is the index of the first entry the WAL holds, or
// lastIndex()+1 when it holds none.
func (w *wal) firstIndex() uint64 { return uint64(w.l.StartOffset()) + 1 }

// save appends ents, first cutting any persisted suffix at or after the
// first new index (raft overwrites a conflicting tail). It does not fsync.
func (w *wal) save(ents []*raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	first := ents[0].GetIndex()
	if first <= w.lastIndex() {
		if first <= uint64(w.l.StartOffset()) {
			return fmt.Errorf("raft wal: entry %d is below the log start %d", first, w.l.StartOffset()+1)
		}
		if err := w.l.TruncateTo(int64(first) - 1); err != nil {
			return fmt.Errorf("raft wal: truncate to %d: %w", first-1, err)
		}
	}
	if first != w.lastIndex()+1 {
		return fmt.Errorf("raft wal: entry %d does not follow %d", first, w.lastIndex())
	}
	for len(ents) > 0 {
		n := 1
		for n < len(ents) && ents[n].GetTerm() == ents[0].GetTerm() {
			n++
		}
		if err := w.appendRun(ents[:n]); err != nil {
			return err
		}
		ents = ents[n:]
	}
	return nil
}

// appendRun writes entries of one term as one batch.
func (w *wal) appendRun(ents []*raftpb.Entry) error {
	term := ents[0].GetTerm()
	if term > math.MaxInt32 {
		return fmt.Errorf("raft wal: term %d does not fit a batch leader epoch", term)
	}
	rs := make([]record.Record, len(ents))
	for i, e := range ents {
		v := make([]byte, 1+len(e.GetData()))
		v[0] = byte(e.GetType())
		copy(v[1:], e.GetData())
		rs[i] = record.Record{OffsetDelta: int32(i), Value: v}
	}
	batch, err := record.Build(record.BatchSpec{
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli(), Records: rs,
	})
	if err != nil {
		return err
	}
	info, err := w.l.Append(batch, int32(term))
	if err != nil {
		return fmt.Errorf("raft wal: append: %w", err)
	}
	if uint64(info.FirstOffset)+1 != ents[0].GetIndex() {
		return fmt.Errorf("raft wal: entry %d written at offset %d", ents[0].GetIndex(), info.FirstOffset)
	}
	return nil
}

// sync makes every saved entry durable.
func (w *wal) sync() error { return w.l.Sync(w.l.EndOffset()) }

// compact drops entries up to and including index (covered by a snapshot).
func (w *wal) compact(index uint64) error {
	if index > w.lastIndex() {
		return w.reset(index)
	}
	return w.l.DeleteRecordsBefore(int64(index))
}

// reset empties the WAL so that the next entry saved is index+1 (a
// snapshot installed from the leader at index).
func (w *wal) reset(index uint64) error { return w.l.ResetTo(int64(index)) }

// errCorrupt marks WAL content that cannot be raft's (CRC or framing).
var errCorrupt = errors.New("raft wal: corrupt")

// readFrom returns every entry with index >= from.
func (w *wal) readFrom(from uint64) ([]*raftpb.Entry, error) {
	if from < w.firstIndex() {
		from = w.firstIndex()
	}
	off, end := int64(from)-1, w.l.EndOffset()
	var out []*raftpb.Entry
	var buf []byte
	for off < end {
		res, err := w.l.Read(off, walChunk, end)
		if err != nil {
			return nil, err
		}
		buf, err = res.ReadAll(buf[:0])
		res.Release()
		if err != nil {
			return nil, err
		}
		if len(buf) == 0 {
			return nil, fmt.Errorf("%w: empty read at offset %d of %d", errCorrupt, off, end)
		}
		err = record.Split(buf, func(h record.Header, batch []byte) error {
			if err := record.CheckCRC(batch); err != nil {
				return fmt.Errorf("%w: batch at offset %d: %v", errCorrupt, h.BaseOffset, err)
			}
			i := int64(0)
			return record.Records(batch, func(r *record.Record) error {
				o := h.BaseOffset + i
				i++
				if int64(r.OffsetDelta) != i-1 {
					return fmt.Errorf("%w: batch at offset %d: record delta %d, want %d", errCorrupt, h.BaseOffset, r.OffsetDelta, i-1)
				}
				if o < off {
					return nil // before the read's start (a read starts inside a batch)
				}
				if o != off {
					return fmt.Errorf("%w: offset %d where %d was expected", errCorrupt, o, off)
				}
				if len(r.Value) < 1 {
					return fmt.Errorf("%w: empty entry at offset %d", errCorrupt, o)
				}
				out = append(out, &raftpb.Entry{
					Term:  new(uint64(h.PartitionLeaderEpoch)),
					Index: new(uint64(o) + 1),
					Type:  new(raftpb.EntryType(r.Value[0])),
					Data:  append([]byte(nil), r.Value[1:]...),
				})
				off++
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (w *wal) close() error { return w.l.Close() }
