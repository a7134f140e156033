package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/record"
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
