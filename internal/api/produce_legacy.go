package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// upConvertLegacy turns the message set of magic 0/1 messages that a
// Produce v0-2 request may carry into one v2 batch, which then takes the
// same path as any produced batch (validation, compression.type,
// message.timestamp.type, append), as Kafka 3.9 converts old message sets
// on append; anything else is returned as it is. Produce v3+ must carry
// v2 batches (Kafka's ProduceRequest.validateRecords), so old magics there
// are refused by validateProduce.
func upConvertLegacy(version int16, maxMessageBytes int64, records []byte) (batch []byte, code int16, msg string) {
	if version >= 3 || !record.IsLegacy(records) {
		return records, 0, ""
	}
	batch, err := record.UpConvert(records, maxMessageBytes)
	switch {
	case errors.Is(err, record.ErrMessageTooLarge):
		return nil, kerr.MessageTooLarge.Code, err.Error()
	case err != nil:
		return nil, validateErrorCode(err), err.Error()
	}
	return batch, 0, ""
}

// appendAnyFormat is appendRecords for a record set of any message format
// a Produce version may carry: an old message set is converted first.
func appendAnyFormat(p *replica.Partition, version int16, records []byte, pr *kmsg.ProduceResponseTopicPartition,
	verify func(p *replica.Partition, h *record.Header) (*replica.TxnGuard, int16)) (int64, int16, string) {
	records, code, msg := upConvertLegacy(version, p.Config().MaxMessageBytes, records)
	if code != 0 {
		return 0, code, msg
	}
	return appendRecords(p, version, records, pr, verify)
}
