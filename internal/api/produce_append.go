package api

import (
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// appendRecords validates one partition's record set as Kafka's
// ProduceRequest.validateRecords and LogValidator do, applies the topic's
// compression.type and message.timestamp.type, and appends it. Nothing is
// written unless the batch is valid. It returns the offset after the batch.
// verify (nil: none) confirms a transactional batch that would open a
// transaction in p with the transaction coordinator.
func appendRecords(p *replica.Partition, version int16, records []byte, pr *kmsg.ProduceResponseTopicPartition,
	verify func(p *replica.Partition, h *record.Header) (*replica.TxnGuard, int16)) (int64, int16, string) {
	cfg := p.Config()
	h, batch, code, msg := validateProduce(version, cfg.MaxMessageBytes, records)
	if code != 0 {
		return 0, code, msg
	}
	if code, msg := checkCompactedKeys(cfg.CleanupPolicy, batch); code != 0 {
		return 0, code, msg
	}
	var guard *replica.TxnGuard
	if verify != nil && h.IsTransactional() && h.ProducerID >= 0 {
		if guard, code = verify(p, &h); code != 0 {
			return 0, code, "the transaction coordinator does not know this partition in an ongoing transaction of this producer"
		}
	}
	if codec, ok := record.CodecForName(cfg.CompressionType); ok && codec != h.Codec() {
		out, err := record.Recompress(batch, codec)
		if err != nil {
			return 0, kerr.CorruptMessage.Code, err.Error()
		}
		batch = out
	}
	logAppend := cfg.TimestampType == "LogAppendTime"
	var now int64
	if logAppend {
		now = time.Now().UnixMilli()
		record.SetLogAppendTime(batch, now)
	}
	info, dup, err := p.Produce(batch, h, guard)
	var perr *replica.ProduceError
	switch {
	case errors.As(err, &perr):
		return 0, perr.Err.Code, perr.Msg
	case err != nil:
		return 0, kerr.KafkaStorageError.Code, err.Error()
	case dup:
		// A retry of a batch already appended: the original offsets,
		// and the reply still waits until they are durable.
		logAppend = false
	}
	pr.BaseOffset = info.FirstOffset
	pr.LogStartOffset = p.LogStartOffset()
	pr.LogAppendTime = -1
	if logAppend {
		pr.LogAppendTime = now
	}
	return info.LastOffset + 1, 0, ""
}

// validateProduce checks the record set of one partition: exactly one v2
// batch (Produce v3+ rule), within max.message.bytes, CRC and structure
// valid, at least one record, no control batch from a client, a sequence
// for idempotent batches, and zstd only from Produce v7.
func validateProduce(version int16, maxBytes int64, records []byte) (record.Header, []byte, int16, string) {
	var h record.Header
	if len(records) < record.HeaderSize {
		return h, nil, kerr.CorruptMessage.Code, "record set shorter than a batch header"
	}
	h, err := record.ParseHeader(records)
	if errors.Is(err, record.ErrMagic) {
		return h, nil, kerr.InvalidRecord.Code, "produce requests must use message format v2"
	}
	if err != nil {
		return h, nil, kerr.CorruptMessage.Code, err.Error()
	}
	if h.Size() > len(records) {
		return h, nil, kerr.CorruptMessage.Code, "batch length overruns the record set"
	}
	if h.Size() != len(records) {
		return h, nil, kerr.InvalidRecord.Code, "produce requests must contain exactly one record batch per partition"
	}
	if int64(len(records)) > maxBytes {
		return h, nil, kerr.MessageTooLarge.Code, fmt.Sprintf("batch of %d bytes exceeds max.message.bytes %d", len(records), maxBytes)
	}
	if _, err := record.Validate(records, maxBytes); err != nil {
		return h, nil, validateErrorCode(err), err.Error()
	}
	switch {
	case h.NumRecords <= 0:
		return h, nil, kerr.InvalidRecord.Code, "invalid reported record count"
	case h.IsControl():
		return h, nil, kerr.InvalidRecord.Code, "clients are not allowed to write control records"
	case h.ProducerID >= 0 && h.BaseSequence < 0:
		return h, nil, kerr.InvalidRecord.Code, "invalid sequence number for an idempotent batch"
	case h.Codec() == record.CodecZstd && version < 7:
		return h, nil, kerr.UnsupportedCompressionType.Code, "zstd needs Produce v7 or later"
	}
	return h, records, 0, ""
}

// validateErrorCode maps a Validate error to Kafka's code. Records that do
// not match their header, compressed data that does not decode, and records
// that inflate past what the batch can hold (record.ErrTooLarge, a
// decompression bomb) are INVALID_RECORD, as Kafka's InvalidRecordException:
// not retriable, where clients resend a CORRUPT_MESSAGE batch until their
// delivery timeout.
func validateErrorCode(err error) int16 {
	switch {
	case errors.Is(err, record.ErrCRC), errors.Is(err, record.ErrShort):
		return kerr.CorruptMessage.Code
	default:
		return kerr.InvalidRecord.Code
	}
}
