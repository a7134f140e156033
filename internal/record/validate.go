// Validate is the gate on the produce path: a batch that passes is appended
// to the log verbatim and later served to every consumer, so anything a
// client could trip over must be caught here, once, by the broker. It mirrors
// the checks Kafka's LogValidator makes on a v2 batch (CRC, codec, count and
// offset-delta consistency, the record structure) while avoiding the work
// Kafka does to rebuild batches: nothing is rewritten, and for uncompressed
// batches nothing is allocated, since produce throughput is bounded by how
// cheaply each batch can be checked. Compressed batches are inflated into a
// pooled buffer that never outlives the call, bounded by what the batch can
// legitimately hold (InflateLimit, limit.go) and holding one of a few
// inflation slots, so bombs from many connections cannot add up.

package record

import (
	"fmt"
	"sync"
)

// Validate fully checks one produced batch (len(batch) must be exactly the
// batch's Size) for a topic whose effective max.message.bytes is
// maxMessageBytes, and returns its header. Errors: ErrShort for a truncated
// batch, ErrMagic, ErrCRC, ErrInvalidCodec, ErrTooLarge (also ErrCorrupt)
// for records that inflate past InflateLimit, and otherwise errors wrapping
// ErrCorrupt. Control batches are accepted; deciding whether a client may
// send one is the caller's business, as is rejecting empty batches (which
// Kafka refuses on produce but which compaction leaves in logs) and batches
// whose compressed size exceeds max.message.bytes.
func Validate(batch []byte, maxMessageBytes int64) (Header, error) {
	h, _, err := ValidateTimes(batch, maxMessageBytes)
	return h, err
}

// Times is the range of the record timestamps of a batch as its records
// have them (a client's header may claim another MaxTimestamp).
type Times struct{ Min, Max int64 }

// ValidateTimes is Validate that also returns the range of the record
// timestamps it walked (zero for a batch without records), for the
// per-record timestamp checks of the produce path.
func ValidateTimes(batch []byte, maxMessageBytes int64) (Header, Times, error) {
	var ts Times
	h, err := ParseHeader(batch)
	if err != nil {
		return h, ts, err
	}
	if err := checkFraming(&h, batch); err != nil {
		return h, ts, err
	}
	if err := CheckCRC(batch); err != nil {
		return h, ts, err
	}
	codec := h.Codec()
	if codec > CodecZstd {
		return h, ts, fmt.Errorf("%w %d", ErrInvalidCodec, codec)
	}
	if h.NumRecords > 0 && h.LastOffsetDelta != h.NumRecords-1 {
		return h, ts, corruptf("lastOffsetDelta %d with %d records", h.LastOffsetDelta, h.NumRecords)
	}

	data := batch[HeaderSize:]
	if codec == CodecNone {
		err = walkRecords(data, h.NumRecords, h.BaseTimestamp, &ts)
		return h, ts, err
	}
	// The slot is held until the walk is done, as the inflated records
	// live that long; nothing called under it takes another slot.
	inflateSlots <- struct{}{}
	bufp := inflateBufs.Get().(*[]byte)
	defer func() {
		// Keep only ordinary-sized buffers so one huge batch does not pin
		// its memory in the pool for the life of the process (and a pooled
		// buffer is dropped by the GC within two cycles of disuse anyway).
		if cap(*bufp) <= maxPooledInflate {
			inflateBufs.Put(bufp)
		}
		<-inflateSlots
	}()
	out, err := AppendDecompress((*bufp)[:0], codec, data, InflateLimit(maxMessageBytes, h.NumRecords))
	*bufp = out
	if err != nil {
		return h, ts, err
	}
	err = walkRecords(out, h.NumRecords, h.BaseTimestamp, &ts)
	return h, ts, err
}

const maxPooledInflate = 4 << 20

var inflateBufs = sync.Pool{New: func() any { return new([]byte) }}

// walkRecords checks that data holds exactly count well-formed records whose
// offset deltas run 0, 1, 2, ... (Kafka's "bad offsets delta" rule for
// produced batches), and sets ts to the range of their timestamps (base +
// each delta). Headers are checked but not built, so it allocates nothing
// on success.
func walkRecords(data []byte, count int32, base int64, ts *Times) error {
	var r Record
	var err error
	for i := range count {
		if data, err = parseRecord(data, &r, false); err != nil {
			return fmt.Errorf("record %d of %d: %w", i, count, err)
		}
		if r.OffsetDelta != i {
			return corruptf("record %d has offset delta %d (bad offsets delta)", i, r.OffsetDelta)
		}
		t := base + r.TimestampDelta
		if i == 0 || t < ts.Min {
			ts.Min = t
		}
		if i == 0 || t > ts.Max {
			ts.Max = t
		}
	}
	if len(data) != 0 {
		return corruptf("%d bytes after the last of %d records", len(data), count)
	}
	return nil
}

// ValidateAll validates a concatenation of batches, as a Produce request's
// record set may hold several, each as Validate does for maxMessageBytes,
// and returns how many it validated. On error n
// is the number of batches that passed before the failing one; a trailing
// partial batch is ErrShort. An empty b is zero batches and no error.
func ValidateAll(b []byte, maxMessageBytes int64) (n int, err error) {
	err = Split(b, func(_ Header, batch []byte) error {
		if _, err := Validate(batch, maxMessageBytes); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}
