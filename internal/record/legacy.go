// Message formats v0 and v1 ("magic" 0 and 1) are what Produce v0-2 may
// carry and what Fetch v0-3 must answer with. Sluice stores only v2
// batches, so, as Kafka 3.9 does once the message format is v2, it converts
// old message sets to one v2 batch on the produce path (UpConvert) and v2
// batches to old message sets for old fetchers (DownConvert).
//
// A message set is a concatenation of entries:
//
//	offset     int64
//	size       int32   bytes that follow
//	crc        uint32  CRC-32 (IEEE) of everything after it
//	magic      int8    0 or 1
//	attributes int8    bits 0-2 codec, bit 3 (v1) LogAppendTime
//	timestamp  int64   v1 only
//	key        int32 length (-1 null), bytes
//	value      int32 length (-1 null), bytes
//
// A compressed entry (a "wrapper") holds, as its value, a whole message set
// compressed with its codec. Inner offsets are absolute in v0 and relative
// (0..n-1, the wrapper's offset being the last inner one's) in v1.

package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
)

const (
	legacyEntryOverhead = 12 // offset + size
	legacyMinV0         = 14 // crc, magic, attributes, key and value lengths
	legacyMinV1         = legacyMinV0 + 8
)

// ErrMessageTooLarge marks an old-format entry larger than max.message.bytes
// (Kafka's RecordTooLargeException, MESSAGE_TOO_LARGE).
var ErrMessageTooLarge = errors.New("record: message larger than max.message.bytes")

// ErrDownConvertZstd marks a zstd batch asked for in an old message format,
// which has no zstd (UNSUPPORTED_COMPRESSION_TYPE, as Kafka answers fetches
// before v10 of zstd data).
var ErrDownConvertZstd = errors.New("record: zstd batches cannot be converted to message format v0 or v1")

// legacyMessage is one decoded old-format entry.
type legacyMessage struct {
	offset     int64
	magic      int8
	attributes int8
	timestamp  int64 // -1 for v0
	key, value []byte
}

func (m *legacyMessage) codec() int { return int(m.attributes & CodecMask) }

// parseLegacy decodes the first entry of b and returns the bytes after it.
// A truncated entry or a bad CRC is ErrShort or ErrCRC (CORRUPT_MESSAGE, as
// Kafka's CorruptRecordException); other malformed entries wrap ErrCorrupt.
func parseLegacy(b []byte) (m legacyMessage, rest []byte, err error) {
	if len(b) < legacyEntryOverhead {
		return m, nil, fmt.Errorf("%w: %d bytes left for a message entry", ErrShort, len(b))
	}
	m.offset = int64(binary.BigEndian.Uint64(b))
	size := int32(binary.BigEndian.Uint32(b[8:]))
	if size < legacyMinV0 {
		return m, nil, fmt.Errorf("%w: message size %d is below the minimum %d", ErrShort, size, legacyMinV0)
	}
	if int64(size) > int64(len(b)-legacyEntryOverhead) {
		return m, nil, fmt.Errorf("%w: message of %d bytes, %d left", ErrShort, size, len(b)-legacyEntryOverhead)
	}
	msg := b[legacyEntryOverhead : legacyEntryOverhead+int(size)]
	rest = b[legacyEntryOverhead+int(size):]
	m.magic, m.attributes = int8(msg[4]), int8(msg[5])
	if m.magic > 1 {
		return m, nil, fmt.Errorf("%w %d after older messages", ErrMagic, m.magic)
	}
	if crc := binary.BigEndian.Uint32(msg); crc != crc32.ChecksumIEEE(msg[4:]) {
		return m, nil, fmt.Errorf("%w: message at offset %d", ErrCRC, m.offset)
	}
	body := msg[6:]
	switch m.magic {
	case 0:
		m.timestamp = -1
	case 1:
		if size < legacyMinV1 {
			return m, nil, fmt.Errorf("%w: v1 message size %d is below the minimum %d", ErrShort, size, legacyMinV1)
		}
		m.timestamp = int64(binary.BigEndian.Uint64(body))
		body = body[8:]
	default:
		return m, nil, fmt.Errorf("%w %d", ErrMagic, m.magic)
	}
	if m.key, body, err = legacyBytes(body, "key"); err != nil {
		return m, nil, err
	}
	if m.value, body, err = legacyBytes(body, "value"); err != nil {
		return m, nil, err
	}
	if len(body) != 0 {
		return m, nil, corruptf("%d bytes after the value of the message at offset %d", len(body), m.offset)
	}
	return m, rest, nil
}

func legacyBytes(b []byte, what string) (v, rest []byte, err error) {
	if len(b) < 4 {
		return nil, nil, corruptf("message %s length truncated", what)
	}
	n := int32(binary.BigEndian.Uint32(b))
	b = b[4:]
	switch {
	case n == -1:
		return nil, b, nil
	case n < -1 || int64(n) > int64(len(b)):
		return nil, nil, corruptf("message %s length %d with %d bytes left", what, n, len(b))
	}
	return b[:n:n], b[n:], nil
}

// IsLegacy reports whether records starts with an entry of message format
// v0 or v1 (the magic byte sits at the same position, 16, in every format).
func IsLegacy(records []byte) bool { return len(records) > 16 && records[16] < 2 }

// UpConvert turns a message set of v0/v1 messages, as Produce v0-2 carry it,
// into one v2 batch holding every message in order, with the checks Kafka's
// LogValidator makes before it converts: each entry's CRC, each entry
// (compressed wrappers included) within maxMessageBytes, inner messages of
// the wrapper's magic and uncompressed, a wrapper's value not null. The
// batch's offset deltas run 0..n-1 (the log assigns the offsets), its codec
// is the wrappers' (none if no entry is compressed), its timestamps the
// messages' (-1, "no timestamp", for v0; a v1 wrapper marked LogAppendTime
// gives its own timestamp to its inner messages) with timestamp type
// CreateTime, and it has no producer id. The caller applies the topic's
// compression.type and message.timestamp.type to the result as to any batch.
func UpConvert(set []byte, maxMessageBytes int64) ([]byte, error) {
	// Inflating is bounded as for one v2 batch (limit.go): all wrappers
	// together by what a full batch may inflate to, under an inflation
	// slot.
	inflateSlots <- struct{}{}
	defer func() { <-inflateSlots }()
	left := InflateLimit(maxMessageBytes, MaxExpansion)
	var out upBatch
	codec := CodecNone
	for b := set; len(b) > 0; {
		start := b
		m, rest, err := parseLegacy(b)
		if err != nil {
			return nil, err
		}
		b = rest
		if entry := len(start) - len(rest); int64(entry) > maxMessageBytes {
			return nil, fmt.Errorf("%w: message of %d bytes, max.message.bytes %d", ErrMessageTooLarge, entry, maxMessageBytes)
		}
		if m.codec() == CodecNone {
			if err := out.add(&m, m.timestamp); err != nil {
				return nil, err
			}
			continue
		}
		if m.value == nil {
			return nil, corruptf("compressed message at offset %d has a null value", m.offset)
		}
		if codec == CodecNone {
			codec = m.codec()
		}
		src := m.value
		if m.magic == 0 && m.codec() == CodecLZ4 {
			src = fixLZ4HeaderChecksum(src)
		}
		inner, err := AppendDecompress(nil, m.codec(), src, left)
		if err != nil {
			return nil, err
		}
		left -= len(inner)
		if len(inner) == 0 {
			return nil, corruptf("compressed message at offset %d holds no messages", m.offset)
		}
		for len(inner) > 0 {
			im, rest, err := parseLegacy(inner)
			if err != nil {
				return nil, err
			}
			inner = rest
			switch {
			case im.magic != m.magic:
				return nil, corruptf("compressed message magic %d does not match wrapper magic %d", im.magic, m.magic)
			case im.codec() != CodecNone:
				return nil, corruptf("compressed outer message has an inner message with a compression attribute set")
			}
			ts := im.timestamp
			if m.magic == 1 && m.attributes&TimestampLogAppend != 0 {
				ts = m.timestamp
			}
			if err := out.add(&im, ts); err != nil {
				return nil, err
			}
		}
	}
	return out.finish(codec)
}

// upBatch encodes records as UpConvert finds them, so a set of many small
// messages costs its encoded size, not a Record per message.
type upBatch struct {
	raw           []byte
	n             int32
	baseTS, maxTS int64
}

func (u *upBatch) add(m *legacyMessage, ts int64) error {
	if u.n == math.MaxInt32 {
		return corruptf("too many messages")
	}
	if u.n == 0 {
		u.baseTS, u.maxTS = ts, ts
	}
	r := Record{OffsetDelta: u.n, TimestampDelta: ts - u.baseTS, Key: m.key, Value: m.value}
	if _, err := recordSize(&r); err != nil {
		return err
	}
	u.raw = appendRecord(u.raw, &r)
	u.maxTS = max(u.maxTS, ts)
	u.n++
	return nil
}

func (u *upBatch) finish(codec int) ([]byte, error) {
	if u.n == 0 {
		return nil, corruptf("message set holds no messages")
	}
	body := u.raw
	if codec != CodecNone {
		var err error
		if body, err = Compress(codec, u.raw); err != nil {
			return nil, err
		}
	}
	if HeaderSize-LogOverhead+len(body) > math.MaxInt32 {
		return nil, fmt.Errorf("record: batch of %d bytes is too large", HeaderSize+len(body))
	}
	out := make([]byte, HeaderSize, HeaderSize+len(body))
	out = append(out, body...)
	spec := BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Attributes: int16(codec), BaseTimestamp: u.baseTS}
	putHeader(out, &spec, u.n-1, u.maxTS, u.n)
	return out, nil
}

// DownConvert turns v2 batches, as a fetch read them from the log, into a
// message set of magic toMagic (0 for Fetch v0-1, 1 for Fetch v2-3), as
// Kafka's down-conversion does: control batches are left out, as are records
// before fetchOffset inside the first batch; headers are dropped (the old
// formats have none); each compressed batch becomes one wrapper of its
// codec; v1 messages keep their timestamps and a LogAppendTime batch's
// timestamp type. A trailing partial batch is left out. zstd batches are
// ErrDownConvertZstd.
func DownConvert(batches []byte, toMagic int8, fetchOffset int64) ([]byte, error) {
	var out []byte
	for len(batches) >= HeaderSize {
		h, err := ParseHeader(batches)
		if err != nil {
			return nil, err
		}
		if h.Size() > len(batches) {
			break
		}
		batch := batches[:h.Size()]
		batches = batches[h.Size():]
		if h.IsControl() || h.LastOffset() < fetchOffset {
			continue
		}
		if h.Codec() == CodecZstd {
			return nil, ErrDownConvertZstd
		}
		if out, err = downConvertBatch(out, &h, batch, toMagic, fetchOffset); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []byte{}
	}
	return out, nil
}

func downConvertBatch(dst []byte, h *Header, batch []byte, toMagic int8, fetchOffset int64) ([]byte, error) {
	logAppend := h.Attributes&TimestampLogAppend != 0
	var attrs int8
	if toMagic == 1 && logAppend {
		attrs = TimestampLogAppend
	}
	var recs []legacyMessage
	err := Records(batch, func(r *Record) error {
		off := h.BaseOffset + int64(r.OffsetDelta)
		if off < fetchOffset {
			return nil
		}
		ts := h.BaseTimestamp + r.TimestampDelta
		if logAppend {
			ts = h.MaxTimestamp
		}
		recs = append(recs, legacyMessage{offset: off, magic: toMagic, attributes: attrs, timestamp: ts, key: r.Key, value: r.Value})
		return nil
	})
	if err != nil || len(recs) == 0 {
		return dst, err
	}
	if h.Codec() == CodecNone {
		for i := range recs {
			dst = appendLegacy(dst, &recs[i])
		}
		return dst, nil
	}
	first, last := recs[0].offset, recs[len(recs)-1].offset
	maxTS := int64(-1)
	var inner []byte
	for i := range recs {
		m := recs[i]
		if toMagic == 1 {
			m.offset -= first
		}
		maxTS = max(maxTS, m.timestamp)
		inner = appendLegacy(inner, &m)
	}
	comp, err := Compress(h.Codec(), inner)
	if err != nil {
		return dst, err
	}
	if toMagic == 0 && h.Codec() == CodecLZ4 {
		setLZ4V0HeaderChecksum(comp)
	}
	wrapper := legacyMessage{offset: last, magic: toMagic, attributes: attrs | int8(h.Codec()), timestamp: maxTS, value: comp}
	if logAppend {
		wrapper.timestamp = h.MaxTimestamp
	}
	return appendLegacy(dst, &wrapper), nil
}

// appendLegacy appends m as one message-set entry of m.magic.
func appendLegacy(dst []byte, m *legacyMessage) []byte {
	be := binary.BigEndian
	dst = be.AppendUint64(dst, uint64(m.offset))
	sizeAt := len(dst)
	dst = append(dst, 0, 0, 0, 0, 0, 0, 0, 0) // size, crc
	dst = append(dst, byte(m.magic), byte(m.attributes))
	if m.magic == 1 {
		dst = be.AppendUint64(dst, uint64(m.timestamp))
	}
	for _, b := range [][]byte{m.key, m.value} {
		if b == nil {
			dst = be.AppendUint32(dst, math.MaxUint32) // -1: null
			continue
		}
		dst = be.AppendUint32(dst, uint32(len(b)))
		dst = append(dst, b...)
	}
	be.PutUint32(dst[sizeAt:], uint32(len(dst)-sizeAt-4))
	be.PutUint32(dst[sizeAt+4:], crc32.ChecksumIEEE(dst[sizeAt+8:]))
	return dst
}
