package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/record"
)

// fetchMagic is the message format a Fetch version can read, as Kafka
// down-converts: v0 for Fetch v0-1, v1 for v2-3, v2 (stored batches,
// no conversion) from v4.
func fetchMagic(version int16) int8 {
	switch {
	case version <= 1:
		return 0
	case version <= 3:
		return 1
	}
	return 2
}

// downConvertBudget bounds the record bytes one Fetch v0-3 reads. Those
// are read into memory and converted there (Kafka converts lazily while it
// sends), and Fetch v0-2 have no response limit of their own; a consumer
// whose answer was cut short fetches again from where it ends.
const downConvertBudget = 32 << 20

// downConvertRecords reads rr (which it releases) and makes its batches
// fp's records in the old message format Fetch v0-3 read; the zero-copy
// path cannot be used for them. It returns the converted size. zstd data
// has no old format: the partition answers UNSUPPORTED_COMPRESSION_TYPE,
// as Kafka answers fetches before v10 of a zstd topic.
func downConvertRecords(fp *kmsg.FetchResponseTopicPartition, rr *log.ReadResult, version int16, fetchOffset int64) (int, int16) {
	raw, err := rr.ReadAll(nil)
	rr.Release()
	if err != nil {
		return 0, kerr.KafkaStorageError.Code
	}
	out, err := record.DownConvert(raw, fetchMagic(version), fetchOffset)
	switch {
	case errors.Is(err, record.ErrDownConvertZstd):
		unsupportedCompression(fp)
		return 0, kerr.UnsupportedCompressionType.Code
	case err != nil:
		return 0, kerr.CorruptMessage.Code
	}
	fp.RecordBatches = out
	return len(out), 0
}

// downConversionDisabled reports whether topic's
// message.downconversion.enable is false: Kafka then answers fetches that
// need down-conversion (v0-3) UNSUPPORTED_VERSION for its partitions.
func downConversionDisabled(e *Env, img *metadata.Image, topic string) bool {
	var overrides map[string]string
	if ti, ok := img.Topic(topic); ok {
		overrides = ti.Configs
	}
	v, _ := config.TopicValue(e.Cfg, overrides, "message.downconversion.enable")
	return v == "false"
}

// unreadable is Kafka's answer for a partition whose records a fetch
// version cannot read (FetchResponse.partitionResponse): code, no records,
// no offsets.
func unreadable(fp *kmsg.FetchResponseTopicPartition, code int16) {
	fp.ErrorCode = code
	fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = -1, -1, -1
	fp.RecordBatches = []byte{}
}

// unsupportedCompression is Kafka's answer for a partition whose records a
// fetch version cannot read: no records, no offsets.
func unsupportedCompression(fp *kmsg.FetchResponseTopicPartition) {
	unreadable(fp, kerr.UnsupportedCompressionType.Code)
}
