package record

import (
	"bytes"
	"errors"
	"testing"
)

// XXH32 test vectors (seed 0) from the reference implementation's users.
func TestXXH32(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint32
	}{
		{"", 0x02cc5d05},
		{"a", 0x550d7456},
		{"abc", 0x32d153ff},
		{"Nobody inspects the spammish repetition", 0xe2293b2f},
	} {
		if got := xxh32([]byte(c.in)); got != c.want {
			t.Errorf("xxh32(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

// A v0 lz4 frame carries Kafka's pre-0.10 header checksum, which the
// decoder refuses until it is put right.
func TestLZ4V0HeaderChecksum(t *testing.T) {
	want := bytes.Repeat([]byte("lz4 v0 "), 100)
	frame, err := Compress(CodecLZ4, want)
	if err != nil {
		t.Fatal(err)
	}
	if got := fixLZ4HeaderChecksum(frame); !bytes.Equal(got, frame) {
		t.Fatalf("a standard frame's header checksum was changed")
	}
	old := bytes.Clone(frame)
	setLZ4V0HeaderChecksum(old)
	if bytes.Equal(old, frame) {
		t.Fatalf("the v0 header checksum equals the standard one")
	}
	if _, err := Decompress(CodecLZ4, old); err == nil {
		t.Fatalf("the decoder took the v0 header checksum")
	}
	got, err := Decompress(CodecLZ4, fixLZ4HeaderChecksum(old))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("fixed v0 frame: %v", err)
	}
}

// Down-converting and converting back keeps every record, for both old
// magics and every codec they have.
func TestLegacyRoundTrip(t *testing.T) {
	recs := []Record{
		{OffsetDelta: 0, TimestampDelta: 0, Key: []byte("k0"), Value: []byte("v0")},
		{OffsetDelta: 1, TimestampDelta: 7, Key: nil, Value: bytes.Repeat([]byte("x"), 300)},
		{OffsetDelta: 2, TimestampDelta: 3, Key: []byte{}, Value: nil},
	}
	for _, codec := range []int{CodecNone, CodecGzip, CodecSnappy, CodecLZ4} {
		for _, magic := range []int8{0, 1} {
			batch, err := Build(BatchSpec{BaseOffset: 40, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, Attributes: int16(codec), BaseTimestamp: 1000, Records: recs})
			if err != nil {
				t.Fatal(err)
			}
			set, err := DownConvert(batch, magic, 41)
			if err != nil {
				t.Fatalf("codec %d magic %d: down-convert: %v", codec, magic, err)
			}
			if !IsLegacy(set) || set[16] != byte(magic) {
				t.Fatalf("codec %d magic %d: down-converted set is not of magic %d", codec, magic, magic)
			}
			up, err := UpConvert(set, 1<<20)
			if err != nil {
				t.Fatalf("codec %d magic %d: up-convert: %v", codec, magic, err)
			}
			var got []Record
			if err := Records(up, func(r *Record) error { got = append(got, *r); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != 2 {
				t.Fatalf("codec %d magic %d: %d records, want the 2 from offset 41", codec, magic, len(got))
			}
			h, _ := ParseHeader(up)
			for i, r := range got {
				src := recs[i+1]
				ts := h.BaseTimestamp + r.TimestampDelta
				wantTS := 1000 + src.TimestampDelta
				if magic == 0 {
					wantTS = -1
				}
				if !bytes.Equal(r.Key, src.Key) || (r.Key == nil) != (src.Key == nil) || !bytes.Equal(r.Value, src.Value) || (r.Value == nil) != (src.Value == nil) || ts != wantTS {
					t.Errorf("codec %d magic %d record %d: key %q value %d bytes ts %d", codec, magic, i, r.Key, len(r.Value), ts)
				}
			}
		}
	}
	zstd, _ := Build(BatchSpec{ProducerID: -1, Attributes: CodecZstd, Records: recs})
	if _, err := DownConvert(zstd, 1, 0); !errors.Is(err, ErrDownConvertZstd) {
		t.Errorf("zstd batch: %v, want ErrDownConvertZstd", err)
	}
}

// A compressed wrapper is inflated no further than one v2 batch could be.
func TestUpConvertBomb(t *testing.T) {
	inner := appendLegacy(nil, &legacyMessage{magic: 1, value: make([]byte, 40<<20)})
	comp, err := Compress(CodecGzip, inner)
	if err != nil {
		t.Fatal(err)
	}
	set := appendLegacy(nil, &legacyMessage{magic: 1, attributes: CodecGzip, value: comp})
	if _, err := UpConvert(set, 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("40 MiB inflated from %d bytes: %v, want ErrTooLarge", len(set), err)
	}
}

// Whatever the bytes, UpConvert returns a batch that validates or an
// error, and never panics.
func FuzzUpConvert(f *testing.F) {
	f.Add(appendLegacy(nil, &legacyMessage{magic: 0, key: []byte("k"), value: []byte("v")}))
	f.Add(appendLegacy(nil, &legacyMessage{magic: 1, timestamp: 5, value: []byte("v")}))
	inner := appendLegacy(nil, &legacyMessage{magic: 1, value: []byte("x")})
	for _, codec := range []int{CodecGzip, CodecSnappy, CodecLZ4} {
		comp, _ := Compress(codec, inner)
		f.Add(appendLegacy(nil, &legacyMessage{magic: 1, attributes: int8(codec), value: comp}))
	}
	f.Fuzz(func(t *testing.T, set []byte) {
		batch, err := UpConvert(set, 1<<20)
		if err != nil {
			return
		}
		if _, err := Validate(batch, 1<<30); err != nil {
			t.Fatalf("converted batch does not validate: %v", err)
		}
	})
}
