// The broker stores batches as the producer sent them, but it still has to
// look inside them: compaction keys, transaction markers, internal topics
// (offsets, transaction state) and tests all need the individual records. This
// file holds the single record parser both Records and Validate use, so the
// acceptance rules on the produce path and the reading rules elsewhere cannot
// drift apart. Every length is checked against the bytes actually left before
// it is used, so arbitrary input yields an error, never a panic or an
// allocation sized by an attacker-controlled count.
//
// Record layout (inside the possibly compressed records section):
//
//	length          varint  bytes that follow, up to the end of the headers
//	attributes      int8    unused by Kafka so far
//	timestampDelta  varlong from the batch baseTimestamp
//	offsetDelta     varint  from the batch baseOffset
//	keyLength       varint  -1 for a null key
//	key             bytes
//	valueLength     varint  -1 for a null value
//	value           bytes
//	headerCount     varint
//	headers         headerKeyLength varint (>= 0), key, headerValueLength
//	                varint (-1 null), value

package record

import (
	"fmt"
)

// RecordHeader is one user header of a record. Header keys cannot be null in
// Kafka; values can (nil Value).
type RecordHeader struct {
	Key   string
	Value []byte
}

// Record is one decoded record. Key and Value are nil when their length is -1
// (null) and non-nil but empty when it is 0.
type Record struct {
	Attributes     int8
	TimestampDelta int64
	OffsetDelta    int32
	Key, Value     []byte
	Headers        []RecordHeader
}

// minHeaderBytes is the smallest encoding of one record header: a zero key
// length and a null (-1) value length, one varint byte each.
const minHeaderBytes = 2

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}

func varintProblem(n int) string {
	if n == 0 {
		return "truncated"
	}
	return "overlong"
}

// readNullable reads a varint length and that many bytes; -1 is null.
// The returned slice has its capacity clipped to its length so a caller that
// appends to a Key or Value can never overwrite the next field in the batch.
func readNullable(b []byte, what string) (v, rest []byte, err error) {
	l, n := ReadVarint(b)
	if n <= 0 {
		return nil, nil, corruptf("%s length varint %s", what, varintProblem(n))
	}
	b = b[n:]
	switch {
	case l == -1:
		return nil, b, nil
	case l < -1:
		return nil, nil, corruptf("%s length %d", what, l)
	case int(l) > len(b):
		return nil, nil, corruptf("%s length %d exceeds %d remaining bytes", what, l, len(b))
	}
	return b[:l:l], b[l:], nil
}

// parseRecord decodes the record at the front of b into r and returns the
// bytes after it. With withHeaders false the headers are checked for
// structure but not materialised, which keeps validation allocation free;
// r.Headers is then left nil.
func parseRecord(b []byte, r *Record, withHeaders bool) (rest []byte, err error) {
	length, n := ReadVarint(b)
	if n <= 0 {
		return nil, corruptf("record length varint %s", varintProblem(n))
	}
	b = b[n:]
	if length < 0 || int(length) > len(b) {
		return nil, corruptf("record length %d with %d bytes remaining", length, len(b))
	}
	// Invariant: everything below reads only from body, so a record can
	// never consume bytes past its declared length.
	body, rest := b[:length], b[length:]

	if len(body) == 0 {
		return nil, corruptf("record of length 0")
	}
	r.Attributes = int8(body[0])
	body = body[1:]

	if r.TimestampDelta, n = ReadVarlong(body); n <= 0 {
		return nil, corruptf("timestamp delta varlong %s", varintProblem(n))
	}
	body = body[n:]
	if r.OffsetDelta, n = ReadVarint(body); n <= 0 {
		return nil, corruptf("offset delta varint %s", varintProblem(n))
	}
	body = body[n:]

	if r.Key, body, err = readNullable(body, "key"); err != nil {
		return nil, err
	}
	if r.Value, body, err = readNullable(body, "value"); err != nil {
		return nil, err
	}

	count, n := ReadVarint(body)
	if n <= 0 {
		return nil, corruptf("header count varint %s", varintProblem(n))
	}
	body = body[n:]
	// Bounding the count by the bytes left caps the Headers allocation at
	// the size of the input, whatever the count field claims.
	if count < 0 || int(count) > len(body)/minHeaderBytes {
		return nil, corruptf("header count %d with %d bytes remaining", count, len(body))
	}
	r.Headers = nil
	if withHeaders && count > 0 {
		r.Headers = make([]RecordHeader, count)
	}
	for i := range int(count) {
		kl, n := ReadVarint(body)
		if n <= 0 {
			return nil, corruptf("header key length varint %s", varintProblem(n))
		}
		body = body[n:]
		if kl < 0 || int(kl) > len(body) {
			return nil, corruptf("header key length %d with %d bytes remaining", kl, len(body))
		}
		key := body[:kl]
		body = body[kl:]
		var val []byte
		if val, body, err = readNullable(body, "header value"); err != nil {
			return nil, err
		}
		if withHeaders {
			r.Headers[i] = RecordHeader{Key: string(key), Value: val}
		}
	}
	if len(body) != 0 {
		return nil, corruptf("record length %d leaves %d unparsed bytes", length, len(body))
	}
	return rest, nil
}

// checkFraming checks what Records and Validate share before touching the
// records: the batch is exactly h.Size() bytes and the count is not negative.
func checkFraming(h *Header, batch []byte) error {
	switch size := h.Size(); {
	case len(batch) < size:
		return ErrShort
	case len(batch) > size:
		return corruptf("%d bytes past the batch length %d", len(batch)-size, size)
	}
	if h.NumRecords < 0 {
		return corruptf("record count %d", h.NumRecords)
	}
	return nil
}

// Records calls fn for each record of one full batch (len(batch) must equal
// the batch's Size), decompressing the records section first when the batch
// is compressed (bounded by MaxDecompressed). It stops at and returns the
// first error from fn. It does not verify the CRC; run Validate on untrusted
// input first.
//
// fn receives a *Record reused between calls: copy the struct to keep it. The
// slices it holds are never reused, so a copy stays valid; for an uncompressed
// batch Key, Value and header values alias batch.
func Records(batch []byte, fn func(r *Record) error) error {
	h, err := ParseHeader(batch)
	if err != nil {
		return err
	}
	if err := checkFraming(&h, batch); err != nil {
		return err
	}
	data := batch[HeaderSize:]
	if h.Codec() != CodecNone {
		if data, err = Decompress(h.Codec(), data); err != nil {
			return err
		}
	}
	var r Record
	for i := range int(h.NumRecords) {
		r = Record{}
		if data, err = parseRecord(data, &r, true); err != nil {
			return fmt.Errorf("record %d of %d: %w", i, h.NumRecords, err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	if len(data) != 0 {
		return corruptf("%d bytes after the last of %d records", len(data), h.NumRecords)
	}
	return nil
}
