// The broker writes some batches itself (consumer offsets, transaction
// state, transaction markers) and tests need batches that look like a
// client's. Build produces them in exactly the wire form clients use, with
// every derived header field (length, counts, last offset delta, max
// timestamp, CRC) computed here so callers cannot get them inconsistent; a
// built batch always passes Validate when its records' offset deltas are
// 0..n-1.

package record

import (
	"encoding/binary"
	"fmt"
	"math"
)

// BatchSpec describes a batch for Build. Attributes carries the codec (bits
// 0-2) and the timestamp-type, transactional and control bits. ProducerID is
// written as given: pass -1 for a non-idempotent batch.
type BatchSpec struct {
	BaseOffset           int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	Attributes           int16
	BaseTimestamp        int64
	PartitionLeaderEpoch int32
	Records              []Record
}

// Build encodes spec as a v2 batch, compressing the records with the codec in
// spec.Attributes. Record offset deltas are written as given (callers use
// 0..n-1). lastOffsetDelta is the last record's offset delta, or -1 for an
// empty batch so that LastOffset()+1 is still the next offset; maxTimestamp
// is BaseTimestamp plus the largest timestamp delta (BaseTimestamp when
// empty).
func Build(spec BatchSpec) ([]byte, error) {
	codec := int(spec.Attributes & CodecMask)
	if codec > CodecZstd {
		return nil, fmt.Errorf("%w %d", ErrInvalidCodec, codec)
	}
	if len(spec.Records) > math.MaxInt32 {
		return nil, fmt.Errorf("record: %d records do not fit a batch", len(spec.Records))
	}
	size := 0
	for i := range spec.Records {
		n, err := recordSize(&spec.Records[i])
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		size += n
	}

	var out []byte
	if codec == CodecNone {
		out = make([]byte, HeaderSize, HeaderSize+size)
		for i := range spec.Records {
			out = appendRecord(out, &spec.Records[i])
		}
	} else {
		raw := make([]byte, 0, size)
		for i := range spec.Records {
			raw = appendRecord(raw, &spec.Records[i])
		}
		comp, err := Compress(codec, raw)
		if err != nil {
			return nil, err
		}
		out = make([]byte, HeaderSize, HeaderSize+len(comp))
		out = append(out, comp...)
	}
	if len(out)-LogOverhead > math.MaxInt32 {
		return nil, fmt.Errorf("record: batch of %d bytes is too large", len(out))
	}

	lastDelta := int32(-1)
	maxTS := spec.BaseTimestamp
	if n := len(spec.Records); n > 0 {
		lastDelta = spec.Records[n-1].OffsetDelta
		maxDelta := spec.Records[0].TimestampDelta
		for i := range spec.Records {
			maxDelta = max(maxDelta, spec.Records[i].TimestampDelta)
		}
		maxTS = spec.BaseTimestamp + maxDelta
	}
	putHeader(out, &spec, lastDelta, maxTS, int32(len(spec.Records)))
	return out, nil
}

// putHeader fills the header of out, a batch whose records section
// (already in place) holds count records, from spec and the derived
// fields.
func putHeader(out []byte, spec *BatchSpec, lastDelta int32, maxTS int64, count int32) {
	be := binary.BigEndian
	be.PutUint64(out[0:], uint64(spec.BaseOffset))
	be.PutUint32(out[8:], uint32(len(out)-LogOverhead))
	be.PutUint32(out[12:], uint32(spec.PartitionLeaderEpoch))
	out[16] = 2
	be.PutUint16(out[21:], uint16(spec.Attributes))
	be.PutUint32(out[23:], uint32(lastDelta))
	be.PutUint64(out[27:], uint64(spec.BaseTimestamp))
	be.PutUint64(out[35:], uint64(maxTS))
	be.PutUint64(out[43:], uint64(spec.ProducerID))
	be.PutUint16(out[51:], uint16(spec.ProducerEpoch))
	be.PutUint32(out[53:], uint32(spec.BaseSequence))
	be.PutUint32(out[57:], uint32(count))
	// The CRC covers bytes 21..end, so it is computed last, after every
	// covered field is final.
	be.PutUint32(out[17:], ComputeCRC(out))
}

// NewRecords makes records from key/value pairs with offset deltas 0..n-1
// and zero timestamp deltas, ready for BatchSpec.Records. A nil key or value
// is encoded as null.
func NewRecords(kvs ...[2][]byte) []Record {
	rs := make([]Record, len(kvs))
	for i, kv := range kvs {
		rs[i] = Record{OffsetDelta: int32(i), Key: kv[0], Value: kv[1]}
	}
	return rs
}

func nullableSize(b []byte) int {
	if b == nil {
		return VarintLen(-1)
	}
	return VarintLen(int32(len(b))) + len(b)
}

// recordSize is the encoded size of r including its length prefix.
func recordSize(r *Record) (int, error) {
	body, err := recordBodySize(r)
	return VarintLen(int32(body)) + body, err
}

// recordBodySize is the size of r after its length prefix, which is the value
// the prefix holds; it rejects lengths that do not fit Kafka's int32 varints.
func recordBodySize(r *Record) (int, error) {
	const maxField = math.MaxInt32
	if len(r.Key) > maxField || len(r.Value) > maxField || len(r.Headers) > maxField {
		return 0, fmt.Errorf("record: field too large")
	}
	body := 1 + VarlongLen(r.TimestampDelta) + VarintLen(r.OffsetDelta) +
		nullableSize(r.Key) + nullableSize(r.Value) + VarintLen(int32(len(r.Headers)))
	for _, h := range r.Headers {
		if len(h.Key) > maxField || len(h.Value) > maxField {
			return 0, fmt.Errorf("record: header too large")
		}
		body += VarintLen(int32(len(h.Key))) + len(h.Key) + nullableSize(h.Value)
	}
	if body > maxField {
		return 0, fmt.Errorf("record: record of %d bytes is too large", body)
	}
	return body, nil
}

func appendNullable(dst, b []byte) []byte {
	if b == nil {
		return AppendVarint(dst, -1)
	}
	dst = AppendVarint(dst, int32(len(b)))
	return append(dst, b...)
}

// appendRecord appends r in wire form; recordSize must have accepted r.
func appendRecord(dst []byte, r *Record) []byte {
	body, _ := recordBodySize(r)
	dst = AppendVarint(dst, int32(body))
	dst = append(dst, byte(r.Attributes))
	dst = AppendVarlong(dst, r.TimestampDelta)
	dst = AppendVarint(dst, r.OffsetDelta)
	dst = appendNullable(dst, r.Key)
	dst = appendNullable(dst, r.Value)
	dst = AppendVarint(dst, int32(len(r.Headers)))
	for _, h := range r.Headers {
		dst = AppendVarint(dst, int32(len(h.Key)))
		dst = append(dst, h.Key...)
		dst = appendNullable(dst, h.Value)
	}
	return dst
}
