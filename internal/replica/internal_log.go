package replica

import (
	"errors"
	"fmt"

	"github.com/sluice-io/sluice/internal/record"
)

// InternalLog is a partition of an internal topic (__consumer_offsets,
// __share_group_state, __transaction_state) as a coordinator uses it:
// append one batch, wait until it is durable, replay everything at load.
type InternalLog struct{ P *Partition }

// Append writes one record batch and returns the offset after it.
func (l InternalLog) Append(batch []byte, records int64) (next int64, err error) {
	info, err := l.P.Append(batch, records)
	if err != nil {
		return 0, err
	}
	return info.LastOffset + 1, nil
}

// Commit waits until every offset below upTo is durable.
func (l InternalLog) Commit(upTo int64) error { return l.P.Commit(upTo) }

// replayChunk bounds one read while replaying (a larger batch is still
// returned whole).
const replayChunk = 1 << 20

// Replay calls fn with each batch from the log start to the high
// watermark, in offset order. Only durable (HW) batches are replayed, so
// a coordinator never rebuilds state from records a crash could lose.
func (l InternalLog) Replay(fn func(batch []byte) error) error {
	p := l.P
	off := p.LogStartOffset()
	var buf []byte
	for off < p.HighWatermark() {
		rr, err := p.Read(off, replayChunk)
		if errors.Is(err, ErrCorrupt) {
			// Coordinators skip unreadable batches; this damage the
			// scrubber already found.
			if next, ok := p.corruptEnd(off); ok {
				p.logger().Error("replay skips records the scrubber found damaged", "from", off, "to", next)
				off = next
				continue
			}
		}
		if err != nil {
			return err
		}
		buf, err = rr.ReadAll(buf[:0])
		rr.Release()
		if err != nil {
			return err
		}
		if len(buf) == 0 {
			return nil
		}
		next := off
		if err := record.Split(buf, func(h record.Header, batch []byte) error {
			next = h.LastOffset() + 1
			return fn(batch)
		}); err != nil {
			return err
		}
		if next <= off {
			return fmt.Errorf("replay of %s-%d made no progress at offset %d", p.Topic, p.Index, off)
		}
		off = next
	}
	return nil
}
