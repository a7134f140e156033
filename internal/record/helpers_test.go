// Shared fixtures for the package's tests: a record set that exercises every
// encoding corner (null vs empty keys and values, null header values,
// negative and large timestamp deltas, multi-byte varints) and helpers to
// patch batches the way a corrupting network or a buggy client would.

package record

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

var allCodecs = []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4, CodecZstd}

func sampleRecords() []Record {
	big := bytes.Repeat([]byte("0123456789abcdef"), 1024) // 16 KiB, multi-byte lengths
	return []Record{
		{OffsetDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{OffsetDelta: 1, Key: nil, Value: []byte("null key")},
		{OffsetDelta: 2, Key: []byte{}, Value: nil, TimestampDelta: -5},
		{OffsetDelta: 3, Key: []byte("h"), Value: []byte("with headers"), TimestampDelta: 1 << 40,
			Headers: []RecordHeader{{Key: "a", Value: []byte("1")}, {Key: "", Value: nil}, {Key: "empty", Value: []byte{}}}},
		{OffsetDelta: 4, Attributes: 0, Key: big[:300], Value: big, TimestampDelta: 7},
	}
}

func mustBuild(t testing.TB, spec BatchSpec) []byte {
	t.Helper()
	b, err := Build(spec)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b
}

func sampleSpec(codec int) BatchSpec {
	return BatchSpec{
		BaseOffset:           1000,
		ProducerID:           42,
		ProducerEpoch:        3,
		BaseSequence:         17,
		Attributes:           int16(codec),
		BaseTimestamp:        1_700_000_000_000,
		PartitionLeaderEpoch: 9,
		Records:              sampleRecords(),
	}
}

// recrc refreshes the CRC after a test edits covered bytes, so the edit is
// seen by the checks after the CRC rather than by the CRC itself.
func recrc(b []byte) []byte {
	binary.BigEndian.PutUint32(b[17:], ComputeCRC(b))
	return b
}

// relength sets batchLength to match len(b) and refreshes the CRC.
func relength(b []byte) []byte {
	binary.BigEndian.PutUint32(b[8:], uint32(len(b)-LogOverhead))
	return recrc(b)
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// collect returns copies of every record of batch.
func collect(batch []byte) ([]Record, error) {
	var out []Record
	err := Records(batch, func(r *Record) error {
		out = append(out, *r)
		return nil
	})
	return out, err
}

// sameRecords compares record content, treating nil and empty as distinct
// (null vs empty is meaningful in Kafka).
func sameRecords(got, want []Record) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d records, want %d", len(got), len(want))
	}
	for i := range got {
		g, w := &got[i], &want[i]
		if g.Attributes != w.Attributes || g.TimestampDelta != w.TimestampDelta || g.OffsetDelta != w.OffsetDelta {
			return fmt.Errorf("record %d: got attrs/ts/off %d/%d/%d want %d/%d/%d", i,
				g.Attributes, g.TimestampDelta, g.OffsetDelta, w.Attributes, w.TimestampDelta, w.OffsetDelta)
		}
		if !sameBytes(g.Key, w.Key) || !sameBytes(g.Value, w.Value) {
			return fmt.Errorf("record %d: key/value differ", i)
		}
		if len(g.Headers) != len(w.Headers) {
			return fmt.Errorf("record %d: %d headers, want %d", i, len(g.Headers), len(w.Headers))
		}
		for j := range g.Headers {
			if g.Headers[j].Key != w.Headers[j].Key || !sameBytes(g.Headers[j].Value, w.Headers[j].Value) {
				return fmt.Errorf("record %d header %d differs", i, j)
			}
		}
	}
	return nil
}

func sameBytes(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// testMaxMessageBytes is the max.message.bytes tests validate against:
// Kafka's default message.max.bytes.
const testMaxMessageBytes = 1<<20 + 12
