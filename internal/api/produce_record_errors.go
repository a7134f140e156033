package api

import (
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/record"
)

// maxShownRecordErrors bounds how many record errors the partition's
// ErrorMessage repeats (RecordErrors carries them all), as Kafka does.
const maxShownRecordErrors = 3

// checkRecords runs Kafka's per-record checks (LogValidator's
// validateRecord) over a valid batch: on a topic whose cleanup.policy
// includes compact a record needs a key (the cleaner could only drop it),
// and with message.timestamp.type=CreateTime a record's timestamp must lie
// within message.timestamp.before.max.ms behind and
// message.timestamp.after.max.ms ahead of the broker's clock. A record gets at most
// one error, its key's before its timestamp's. Every failing record is
// listed in pr.RecordErrors (KIP-467: its index in the batch and why), so
// a client can tell which ones failed; the batch is then refused whole,
// INVALID_TIMESTAMP when any timestamp failed, else INVALID_RECORD.
// Only topics with one of the checks to make pay for the record walk (and
// the decompression).
// noTimestamp is a record without a timestamp (message format v0, or -1
// in a batch): Kafka's validator does not range-check it.
const noTimestamp = -1

func checkRecords(cfg *config.Topic, topic string, partition int32, h *record.Header, times record.Times, batch []byte,
	pr *kmsg.ProduceResponseTopicPartition) (int16, string) {
	compacted := strings.Contains(cfg.CleanupPolicy, "compact")
	now := time.Now().UnixMilli()
	lo, hi := satSub(now, cfg.TimestampBeforeMaxMs), satAdd(now, cfg.TimestampAfterMaxMs)
	// times (from validation's walk) bounds every record's timestamp, so
	// a batch whose records are all in range skips the second walk.
	checkTimes := cfg.TimestampType != "LogAppendTime" && (times.Min < lo || times.Max > hi)
	if !compacted && !checkTimes {
		return 0, ""
	}
	var errs []kmsg.ProduceResponseTopicPartitionErrorRecord
	badTime := false
	i := int32(-1)
	err := record.Records(batch, func(r *record.Record) error {
		i++
		var msg string
		switch ts := h.BaseTimestamp + r.TimestampDelta; {
		case compacted && r.Key == nil:
			msg = fmt.Sprintf("Compacted topic cannot accept message without key in topic partition %s-%d.", topic, partition)
		case checkTimes && ts != noTimestamp && (ts < lo || ts > hi):
			badTime = true
			msg = fmt.Sprintf("Timestamp %d of the record at offset delta %d is out of range: "+
				"message.timestamp.type is CreateTime and the timestamp must be within [%d, %d]", ts, r.OffsetDelta, lo, hi)
		default:
			return nil
		}
		e := kmsg.NewProduceResponseTopicPartitionErrorRecord()
		e.RelativeOffset, e.ErrorMessage = i, &msg
		errs = append(errs, e)
		return nil
	})
	if err != nil {
		return kerr.CorruptMessage.Code, err.Error()
	}
	if len(errs) == 0 {
		return 0, ""
	}
	pr.ErrorRecords = errs
	code := kerr.InvalidRecord.Code
	if badTime {
		code = kerr.InvalidTimestamp.Code
	}
	return code, recordErrorsMessage(errs)
}

// recordErrorsMessage is the partition's ErrorMessage for record errors:
// how many records failed and the first few, for clients that show only
// the message.
func recordErrorsMessage(errs []kmsg.ProduceResponseTopicPartitionErrorRecord) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d record(s) of the batch rejected", len(errs))
	if len(errs) > maxShownRecordErrors {
		fmt.Fprintf(&b, ", the first %d", maxShownRecordErrors)
	}
	b.WriteString(":")
	for i, e := range errs[:min(len(errs), maxShownRecordErrors)] {
		if i > 0 {
			b.WriteString(";")
		}
		fmt.Fprintf(&b, " record %d: %s", e.RelativeOffset, *e.ErrorMessage)
	}
	return b.String()
}

func satSub(a, b int64) int64 {
	if b > 0 && a < minInt64+b {
		return minInt64
	}
	return a - b
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > maxInt64-b {
		return maxInt64
	}
	return a + b
}

const (
	maxInt64 = 1<<63 - 1
	minInt64 = -1 << 63
)
