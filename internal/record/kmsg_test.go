// Cross-checks against franz-go's kmsg wire structs, encoding batches the
// way the franz-go producer does (records appended with their varint
// lengths, the records section compressed by the client's own compressor,
// then the CRC computed over the appended batch). Validate must accept them,
// Records must return the same content, and Build must emit the identical
// bytes for the same content.

package record

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func toKmsg(recs []Record) []kmsg.Record {
	out := make([]kmsg.Record, len(recs))
	for i, r := range recs {
		k := kmsg.Record{
			Attributes:       r.Attributes,
			TimestampDelta64: r.TimestampDelta,
			OffsetDelta:      r.OffsetDelta,
			Key:              r.Key,
			Value:            r.Value,
		}
		for _, h := range r.Headers {
			k.Headers = append(k.Headers, kmsg.Header{Key: h.Key, Value: h.Value})
		}
		// Length excludes its own varint; encode once to measure.
		k.Length = int32(len(k.AppendTo(nil)) - 1)
		out[i] = k
	}
	return out
}

func fromKmsg(recs []kmsg.Record) []Record {
	out := make([]Record, len(recs))
	for i, k := range recs {
		r := Record{Attributes: k.Attributes, TimestampDelta: k.TimestampDelta64, OffsetDelta: k.OffsetDelta, Key: k.Key, Value: k.Value}
		for _, h := range k.Headers {
			r.Headers = append(r.Headers, RecordHeader{Key: h.Key, Value: h.Value})
		}
		out[i] = r
	}
	return out
}

// kmsgBatch encodes a batch like a client: compress is the records-section
// compressor (nil for none).
func kmsgBatch(t *testing.T, spec BatchSpec, recs []kmsg.Record, compress func([]byte) []byte) []byte {
	t.Helper()
	var raw []byte
	maxTS := spec.BaseTimestamp
	for i := range recs {
		raw = recs[i].AppendTo(raw)
		maxTS = max(maxTS, spec.BaseTimestamp+recs[i].TimestampDelta64)
	}
	if compress != nil {
		raw = compress(raw)
	}
	kb := kmsg.RecordBatch{
		FirstOffset:          spec.BaseOffset,
		Length:               int32(HeaderSize - LogOverhead + len(raw)),
		PartitionLeaderEpoch: spec.PartitionLeaderEpoch,
		Magic:                2,
		Attributes:           spec.Attributes,
		LastOffsetDelta:      int32(len(recs) - 1),
		FirstTimestamp:       spec.BaseTimestamp,
		MaxTimestamp:         maxTS,
		ProducerID:           spec.ProducerID,
		ProducerEpoch:        spec.ProducerEpoch,
		FirstSequence:        spec.BaseSequence,
		NumRecords:           int32(len(recs)),
		Records:              raw,
	}
	out := kb.AppendTo(nil)
	binary.BigEndian.PutUint32(out[17:], ComputeCRC(out))
	// Sanity: kmsg reads back what it wrote.
	var back kmsg.RecordBatch
	if err := back.ReadFrom(out); err != nil || back.NumRecords != kb.NumRecords {
		t.Fatalf("kmsg round trip: %v", err)
	}
	return out
}

func TestKmsgCrossCheck(t *testing.T) {
	clientCodecs := map[int]kgo.CompressionCodec{
		CodecGzip:   kgo.GzipCompression(),
		CodecSnappy: kgo.SnappyCompression(),
		CodecLZ4:    kgo.Lz4Compression(),
		CodecZstd:   kgo.ZstdCompression(),
	}
	for _, codec := range allCodecs {
		t.Run(CodecName(codec), func(t *testing.T) {
			spec := sampleSpec(codec)
			krecs := toKmsg(spec.Records)
			want := fromKmsg(krecs)

			// Encoded by the client's compressor.
			var clientCompress func([]byte) []byte
			if codec != CodecNone {
				comp, err := kgo.DefaultCompressor(clientCodecs[codec])
				if err != nil {
					t.Fatal(err)
				}
				clientCompress = func(b []byte) []byte {
					c, _ := comp.Compress(new(bytes.Buffer), b)
					return append([]byte(nil), c...)
				}
			}
			client := kmsgBatch(t, spec, krecs, clientCompress)
			checkBatch(t, client, want)

			// Encoded with our Compress: byte-identical to Build.
			var ours func([]byte) []byte
			if codec != CodecNone {
				ours = func(b []byte) []byte {
					c, err := Compress(codec, b)
					if err != nil {
						t.Fatal(err)
					}
					return c
				}
			}
			viaKmsg := kmsgBatch(t, spec, krecs, ours)
			checkBatch(t, viaKmsg, want)
			if built := mustBuild(t, spec); !bytes.Equal(built, viaKmsg) {
				t.Fatalf("Build differs from kmsg encoding (%d vs %d bytes)", len(built), len(viaKmsg))
			}
		})
	}
}

func checkBatch(t *testing.T, b []byte, want []Record) {
	t.Helper()
	h, err := Validate(b, testMaxMessageBytes)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if int(h.NumRecords) != len(want) {
		t.Fatalf("NumRecords %d, want %d", h.NumRecords, len(want))
	}
	got, err := collect(b)
	if err != nil {
		t.Fatalf("Records: %v", err)
	}
	if err := sameRecords(got, want); err != nil {
		t.Fatal(err)
	}
}

// TestKmsgReadsBuild checks the other direction: kmsg parses Build's header
// and each record Build wrote.
func TestKmsgReadsBuild(t *testing.T) {
	spec := sampleSpec(CodecNone)
	b := mustBuild(t, spec)
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if kb.NumRecords != int32(len(spec.Records)) || kb.LastOffsetDelta != kb.NumRecords-1 ||
		uint32(kb.CRC) != ComputeCRC(b) || kb.FirstSequence != spec.BaseSequence {
		t.Fatalf("kmsg header: %+v", kb)
	}
	rest := kb.Records
	var got []kmsg.Record
	for len(rest) > 0 {
		l, n := ReadVarint(rest)
		var kr kmsg.Record
		if err := kr.ReadFrom(rest[:n+int(l)]); err != nil {
			t.Fatalf("kmsg record %d: %v", len(got), err)
		}
		got = append(got, kr)
		rest = rest[n+int(l):]
	}
	if err := sameRecords(fromKmsg(got), spec.Records); err != nil {
		t.Fatal(err)
	}
}
