// Package record is a zero-copy view over Kafka RecordBatch v2 bytes.
//
// A batch is kept in the exact bytes the producer sent; the broker only ever
// rewrites the base offset (bytes 0..7) and, for the log's own use, the
// partition leader epoch (bytes 12..15). Neither is covered by the CRC, which
// spans the attributes field to the end of the batch, so rewriting them never
// invalidates a batch.
//
// A compressed records section is untrusted until inflated, and inflating it
// is bounded: by InflateLimit (what the batch can legitimately hold, from
// max.message.bytes and its record count) and by a few inflation slots on
// the produce path (limit.go); codec.go and snappy.go keep every decoder's
// output growing with what it decodes, never with what the input claims.
//
// Batch header layout (big endian), 61 bytes:
//
//	off  size  field
//	  0     8  baseOffset
//	  8     4  batchLength (bytes after this field)
//	 12     4  partitionLeaderEpoch
//	 16     1  magic (must be 2)
//	 17     4  crc (CRC-32C of bytes 21..end)
//	 21     2  attributes (bits 0-2 codec, 3 timestamp type, 4 transactional, 5 control)
//	 23     4  lastOffsetDelta
//	 27     8  baseTimestamp
//	 35     8  maxTimestamp
//	 43     8  producerId
//	 51     2  producerEpoch
//	 53     4  baseSequence
//	 57     4  recordCount
//	 61     -  records (possibly compressed)
package record
