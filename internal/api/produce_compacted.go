package api

import (
	"errors"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/record"
)

var errNoKey = errors.New("Compacted topic cannot accept message without key")

// checkCompactedKeys rejects a batch with a keyless record for a topic
// whose cleanup.policy includes compact, as Kafka's LogValidator does: the
// cleaner could only drop such a record. Only compacted topics pay for the
// record walk (and decompression).
func checkCompactedKeys(cleanupPolicy string, batch []byte) (int16, string) {
	if !strings.Contains(cleanupPolicy, "compact") {
		return 0, ""
	}
	err := record.Records(batch, func(r *record.Record) error {
		if r.Key == nil {
			return errNoKey
		}
		return nil
	})
	switch {
	case errors.Is(err, errNoKey):
		return kerr.InvalidRecord.Code, errNoKey.Error()
	case err != nil:
		return kerr.CorruptMessage.Code, err.Error()
	}
	return 0, ""
}
