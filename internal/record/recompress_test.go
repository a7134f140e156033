package record

import (
	"bytes"
	"testing"
)

func TestRecompressKeepsRecords(t *testing.T) {
	recs := NewRecords([2][]byte{[]byte("k1"), []byte("v1")}, [2][]byte{nil, []byte("v2")})
	for from := CodecNone; from <= CodecZstd; from++ {
		src, err := Build(BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Attributes: int16(from), BaseTimestamp: 1000, Records: recs})
		if err != nil {
			t.Fatal(err)
		}
		for to := CodecNone; to <= CodecZstd; to++ {
			out, err := Recompress(src, to)
			if err != nil {
				t.Fatalf("%d->%d: %v", from, to, err)
			}
			h, err := Validate(out, testMaxMessageBytes)
			if err != nil {
				t.Fatalf("%d->%d: recompressed batch invalid: %v", from, to, err)
			}
			if h.Codec() != to || h.NumRecords != 2 || h.BaseTimestamp != 1000 {
				t.Fatalf("%d->%d: header %+v", from, to, h)
			}
			var vals [][]byte
			if err := Records(out, func(r *Record) error { vals = append(vals, r.Value); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(vals) != 2 || !bytes.Equal(vals[0], []byte("v1")) || !bytes.Equal(vals[1], []byte("v2")) {
				t.Fatalf("%d->%d: values %q", from, to, vals)
			}
		}
	}
}
