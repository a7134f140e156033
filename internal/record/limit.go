// How much a produced batch may inflate to, and how many may inflate at once.
//
// Kafka bounds a batch by max.message.bytes only as it travels, after
// compression, so a batch of a few hundred bytes can claim, and a batch of
// max.message.bytes can really hold, gigabytes once inflated. A broker must
// inflate a batch to validate it, so without a bound on the output a handful
// of connections can take all of its memory (a decompression bomb). The
// bound is what the batch can legitimately hold:
//
//   - one record is at most max.message.bytes (plus RecordSlack for its
//     framing and headers) when inflated, as producers check each
//     serialised record, uncompressed, against max.request.size, whose
//     default matches the broker's; the allowance is never below
//     Kafka's default message.max.bytes (MinRecordAllowance) so that topics
//     with a small max.message.bytes still take the ordinary compressed
//     records they took before;
//   - a batch holds its record count of records, but however many it claims
//     it is allowed at most MaxExpansion records' worth, which covers the
//     batches real producers build (franz-go and librdkafka bound a batch by
//     its uncompressed size, the Java producer by its estimated compressed
//     size, so its batches inflate by their compression ratio);
//   - and never more than MaxDecompressed.
//
// The limit alone bounds one batch; inflateSlots bounds how many batches are
// inflated on the produce path at the same time, so that many connections
// sending bombs together hold at most inflateSlots limits, not one each.

package record

import "runtime"

const (
	// MinRecordAllowance is the least inflated size allowed per record,
	// Kafka's default message.max.bytes (1 MiB + 12 bytes of log overhead).
	MinRecordAllowance = 1<<20 + 12
	// MaxExpansion caps how many records' allowance one batch gets,
	// whatever its record count says.
	MaxExpansion = 32
	// RecordSlack is added to each record's allowance for what a record
	// carries besides its value: the record framing (a 1 MiB value encodes
	// to 1 MiB + 13 bytes, just past Kafka's default message.max.bytes)
	// and headers. Producers check max.request.size against the value and
	// key mostly; Kafka itself never refuses a batch for inflating.
	RecordSlack = 64 << 10
)

// InflateLimit is the most the records section of a compressed batch with
// numRecords records may inflate to, for a topic whose effective
// max.message.bytes is maxMessageBytes:
// min(max(numRecords, 1), MaxExpansion) × (max(maxMessageBytes,
// MinRecordAllowance) + RecordSlack), never more than MaxDecompressed.
func InflateLimit(maxMessageBytes int64, numRecords int32) int {
	ceiling := int64(MaxDecompressed)
	per := min(max(maxMessageBytes, MinRecordAllowance)+RecordSlack, ceiling)
	n := int64(min(max(numRecords, 1), MaxExpansion))
	return int(min(per*n, ceiling))
}

// inflateSlots is a semaphore held while Validate inflates and walks one
// batch. Inflating is CPU-bound, so allowing about one per core costs no
// throughput, and it turns the memory that concurrent bombs can hold from
// one limit per connection into one limit per slot.
var inflateSlots = make(chan struct{}, max(4, runtime.GOMAXPROCS(0)))

// InflateSlots is how many batches Validate inflates at once at most; the
// rest wait their turn.
func InflateSlots() int { return cap(inflateSlots) }
