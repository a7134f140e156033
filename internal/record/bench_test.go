// Validate runs on every produced batch, so its cost per byte bounds produce
// throughput; these benchmarks track it for a few large and many small
// records, and for compressed batches where inflating dominates.

package record

import (
	"bytes"
	"testing"
)

func benchBatch(b *testing.B, n, size, codec int) []byte {
	val := bytes.Repeat([]byte("sluice! "), size/8+1)[:size]
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = Record{OffsetDelta: int32(i), TimestampDelta: int64(i), Key: []byte("key-0001"), Value: val}
	}
	return mustBuild(b, BatchSpec{ProducerID: -1, Attributes: int16(codec), Records: recs})
}

func BenchmarkValidate(b *testing.B) {
	for _, c := range []struct {
		name    string
		n, size int
		codec   int
	}{
		{name: "100x1KiB", n: 100, size: 1024},
		{name: "1000x100B", n: 1000, size: 100},
		{name: "1000x100B/zstd", n: 1000, size: 100, codec: CodecZstd},
		{name: "1000x100B/lz4", n: 1000, size: 100, codec: CodecLZ4},
	} {
		batch := benchBatch(b, c.n, c.size, c.codec)
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(batch)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Validate(batch, testMaxMessageBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkRecords(b *testing.B) {
	batch := benchBatch(b, 1000, 100, CodecNone)
	b.SetBytes(int64(len(batch)))
	b.ReportAllocs()
	for b.Loop() {
		if err := Records(batch, func(*Record) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
