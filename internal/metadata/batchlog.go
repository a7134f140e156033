package metadata

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// metaLog is the metadata log as the Store uses it: an append-only
// sequence of atomic batches of encoded records, each record one offset.
type metaLog interface {
	// Replay calls fn for every batch in order. It is called once, before
	// the first Append.
	Replay(fn func(baseOffset int64, recs [][]byte) error) error
	// Append writes recs as one batch at the next offset and makes it
	// durable (fsync) before returning its base offset.
	Append(recs [][]byte) (int64, error)
	Close() error
}

// batchLog hosts the metadata log in a partition log (internal/log), as
// KRaft does: each Append is one Kafka v2 record batch (uncompressed,
// producer id -1) whose records' values are encoded metadata records,
// one offset per metadata record. The partition log recovers it in strict
// mode: a torn tail is cut, damage before the end fails the open
// (log.CorruptError). Strict mode's test for a torn tail relies on what
// Append does: each batch is fsynced before the next is written.
type batchLog struct {
	l *log.Log
}

// replayChunk is how many bytes Replay reads at a time.
const replayChunk = 1 << 20

// logConfig is the metadata log's partition log config.
func logConfig() log.Config {
	cfg := log.DefaultConfig()
	cfg.RetentionMs, cfg.RetentionBytes = -1, -1 // metadata is never expired
	cfg.StrictRecovery = true
	return cfg
}

func openBatchLog(dir string, logger *slog.Logger) (*batchLog, error) {
	l, err := log.Open(dir, logConfig(), logger)
	if err != nil {
		return nil, err
	}
	return &batchLog{l: l}, nil
}

func (b *batchLog) Replay(fn func(int64, [][]byte) error) error {
	off, end := b.l.StartOffset(), b.l.EndOffset()
	var buf []byte
	for off < end {
		res, err := b.l.Read(off, replayChunk, end)
		if err != nil {
			return err
		}
		buf, err = res.ReadAll(buf[:0])
		res.Release()
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return fmt.Errorf("metadata log: empty read at offset %d of %d", off, end)
		}
		err = record.Split(buf, func(h record.Header, batch []byte) error {
			if err := record.CheckCRC(batch); err != nil {
				return fmt.Errorf("batch at offset %d: %w", h.BaseOffset, err)
			}
			recs := make([][]byte, 0, h.NumRecords)
			if err := record.Records(batch, func(r *record.Record) error {
				if int64(r.OffsetDelta) != int64(len(recs)) {
					return fmt.Errorf("batch at offset %d: record offset delta %d, want %d", h.BaseOffset, r.OffsetDelta, len(recs))
				}
				recs = append(recs, r.Value)
				return nil
			}); err != nil {
				return err
			}
			if h.BaseOffset < off {
				return nil // already replayed (the read started inside it)
			}
			if err := fn(h.BaseOffset, recs); err != nil {
				return err
			}
			off = h.LastOffset() + 1
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func (b *batchLog) Append(recs [][]byte) (int64, error) {
	rs := make([]record.Record, len(recs))
	for i, v := range recs {
		rs[i] = record.Record{OffsetDelta: int32(i), Value: v}
	}
	batch, err := record.Build(record.BatchSpec{
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli(), Records: rs,
	})
	if err != nil {
		return 0, err
	}
	info, err := b.l.Append(batch, 0)
	if err != nil {
		return 0, err
	}
	if err := b.l.Sync(info.LastOffset + 1); err != nil {
		return 0, err
	}
	return info.FirstOffset, nil
}

func (b *batchLog) Close() error { return b.l.Close() }
