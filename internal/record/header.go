package record

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// HeaderSize is the fixed size of a v2 batch header; LogOverhead is the part
// (baseOffset + batchLength) not counted in batchLength.
const (
	HeaderSize  = 61
	LogOverhead = 12
)

// Attribute bits.
const (
	CodecMask          = 0x07
	TimestampLogAppend = 0x08
	TransactionalBit   = 0x10
	ControlBit         = 0x20
)

// Codec values stored in attributes bits 0-2.
const (
	CodecNone   = 0
	CodecGzip   = 1
	CodecSnappy = 2
	CodecLZ4    = 3
	CodecZstd   = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors map onto Kafka error codes in the api layer.
var (
	ErrShort        = errors.New("record: batch truncated")
	ErrMagic        = errors.New("record: unsupported magic")
	ErrCRC          = errors.New("record: crc mismatch")
	ErrCorrupt      = errors.New("record: corrupt batch")
	ErrInvalidCodec = errors.New("record: unknown compression codec")
)

// Header is the decoded fixed header of one batch.
type Header struct {
	BaseOffset           int64
	Length               int32 // batchLength field: bytes after offset 12
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// Size is the full on-wire size of the batch.
func (h *Header) Size() int { return int(h.Length) + LogOverhead }

// LastOffset is the offset of the last record in the batch.
func (h *Header) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Codec returns the compression codec.
func (h *Header) Codec() int { return int(h.Attributes & CodecMask) }

// IsControl reports a transaction marker batch.
func (h *Header) IsControl() bool { return h.Attributes&ControlBit != 0 }

// IsTransactional reports a batch written inside a transaction.
func (h *Header) IsTransactional() bool { return h.Attributes&TransactionalBit != 0 }

// ParseHeader decodes the header at the front of b. It checks only that the
// header is present and the magic is 2; it does not check the CRC.
func ParseHeader(b []byte) (Header, error) {
	var h Header
	if len(b) < HeaderSize {
		return h, ErrShort
	}
	h.BaseOffset = int64(binary.BigEndian.Uint64(b[0:]))
	h.Length = int32(binary.BigEndian.Uint32(b[8:]))
	h.PartitionLeaderEpoch = int32(binary.BigEndian.Uint32(b[12:]))
	h.Magic = int8(b[16])
	h.CRC = binary.BigEndian.Uint32(b[17:])
	h.Attributes = int16(binary.BigEndian.Uint16(b[21:]))
	h.LastOffsetDelta = int32(binary.BigEndian.Uint32(b[23:]))
	h.BaseTimestamp = int64(binary.BigEndian.Uint64(b[27:]))
	h.MaxTimestamp = int64(binary.BigEndian.Uint64(b[35:]))
	h.ProducerID = int64(binary.BigEndian.Uint64(b[43:]))
	h.ProducerEpoch = int16(binary.BigEndian.Uint16(b[51:]))
	h.BaseSequence = int32(binary.BigEndian.Uint32(b[53:]))
	h.NumRecords = int32(binary.BigEndian.Uint32(b[57:]))
	if h.Magic != 2 {
		return h, fmt.Errorf("%w %d", ErrMagic, h.Magic)
	}
	if h.Length < HeaderSize-LogOverhead {
		return h, fmt.Errorf("%w: batchLength %d below header size", ErrCorrupt, h.Length)
	}
	return h, nil
}

// ComputeCRC returns the CRC-32C over the CRC-covered part of a full batch.
func ComputeCRC(batch []byte) uint32 { return crc32.Checksum(batch[21:], castagnoli) }

// CheckCRC verifies the CRC of a full batch (len(batch) == Size()).
func CheckCRC(batch []byte) error {
	if len(batch) < HeaderSize {
		return ErrShort
	}
	if ComputeCRC(batch) != binary.BigEndian.Uint32(batch[17:]) {
		return ErrCRC
	}
	return nil
}

// SetBaseOffset rewrites the base offset in place (not covered by the CRC).
func SetBaseOffset(batch []byte, off int64) { binary.BigEndian.PutUint64(batch[0:], uint64(off)) }

// SetPartitionLeaderEpoch rewrites the leader epoch in place (not covered by the CRC).
func SetPartitionLeaderEpoch(batch []byte, epoch int32) {
	binary.BigEndian.PutUint32(batch[12:], uint32(epoch))
}

// SetLogAppendTime marks the batch as LogAppendTime and stamps ts as its
// max timestamp, refreshing the CRC. Kafka does this for topics with
// message.timestamp.type=LogAppendTime; readers then take every record's
// timestamp from maxTimestamp.
func SetLogAppendTime(batch []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(batch[21:]) | TimestampLogAppend
	binary.BigEndian.PutUint16(batch[21:], attrs)
	binary.BigEndian.PutUint64(batch[35:], uint64(ts))
	binary.BigEndian.PutUint32(batch[17:], ComputeCRC(batch))
}

// Split walks a concatenation of batches, calling fn with each full batch.
// It stops at the first error; a trailing partial batch yields ErrShort.
func Split(b []byte, fn func(h Header, batch []byte) error) error {
	for len(b) > 0 {
		h, err := ParseHeader(b)
		if err != nil {
			return err
		}
		n := h.Size()
		if n > len(b) {
			return ErrShort
		}
		if err := fn(h, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
