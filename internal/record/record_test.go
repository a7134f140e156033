// End-to-end tests of Build, Validate and Records together, plus the
// corruption cases the produce path must reject with the right error class.

package record

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestRoundTripAllCodecs(t *testing.T) {
	for _, codec := range allCodecs {
		t.Run(CodecName(codec), func(t *testing.T) {
			spec := sampleSpec(codec)
			b := mustBuild(t, spec)
			h, err := Validate(b, testMaxMessageBytes)
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			n := int32(len(spec.Records))
			if h.NumRecords != n || h.LastOffsetDelta != n-1 || h.Codec() != codec {
				t.Fatalf("header counts: %+v", h)
			}
			if h.BaseOffset != 1000 || h.ProducerID != 42 || h.ProducerEpoch != 3 ||
				h.BaseSequence != 17 || h.PartitionLeaderEpoch != 9 || h.Size() != len(b) {
				t.Fatalf("header fields: %+v", h)
			}
			if want := spec.BaseTimestamp + 1<<40; h.MaxTimestamp != want {
				t.Fatalf("maxTimestamp %d, want %d", h.MaxTimestamp, want)
			}
			got, err := collect(b)
			if err != nil {
				t.Fatalf("Records: %v", err)
			}
			if err := sameRecords(got, spec.Records); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestEmptyAndControlBatches(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustBuild(t, BatchSpec{ProducerID: -1, Attributes: int16(codec), BaseTimestamp: 5})
		h, err := Validate(b, testMaxMessageBytes)
		if err != nil {
			t.Fatalf("%s empty: %v", CodecName(codec), err)
		}
		if h.NumRecords != 0 || h.LastOffsetDelta != -1 || h.MaxTimestamp != 5 {
			t.Fatalf("%s empty header: %+v", CodecName(codec), h)
		}
		if got, err := collect(b); err != nil || len(got) != 0 {
			t.Fatalf("%s empty Records: %v %v", CodecName(codec), got, err)
		}
	}
	// A commit marker: control + transactional, key {version 0, type 1}.
	marker := mustBuild(t, BatchSpec{
		ProducerID: 7, Attributes: ControlBit | TransactionalBit,
		Records: NewRecords([2][]byte{{0, 0, 0, 1}, {0, 0, 0, 0, 0, 0}}),
	})
	h, err := Validate(marker, testMaxMessageBytes)
	if err != nil || !h.IsControl() || !h.IsTransactional() {
		t.Fatalf("control batch: %+v %v", h, err)
	}
}

func TestCRCMismatch(t *testing.T) {
	for _, codec := range allCodecs {
		b := mustBuild(t, sampleSpec(codec))
		b[len(b)-1] ^= 0x40
		if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, ErrCRC) {
			t.Fatalf("%s: got %v, want ErrCRC", CodecName(codec), err)
		}
	}
	// Base offset and leader epoch are outside the CRC on purpose.
	b := mustBuild(t, sampleSpec(CodecNone))
	SetBaseOffset(b, 1<<40)
	SetPartitionLeaderEpoch(b, 99)
	if _, err := Validate(b, testMaxMessageBytes); err != nil {
		t.Fatalf("rewriting uncovered fields broke the batch: %v", err)
	}
}

func TestBadOffsetDeltas(t *testing.T) {
	cases := map[string][]int32{
		"starts at 1":   {1, 0, 2},
		"repeat":        {0, 0, 2},
		"gap":           {0, 2, 2},
		"negative":      {-1, 1, 2},
		"out of order":  {0, 2, 1, 3},
		"last too high": {0, 1, 3},
	}
	for name, deltas := range cases {
		for _, codec := range []int{CodecNone, CodecZstd} {
			recs := make([]Record, len(deltas))
			for i, d := range deltas {
				recs[i] = Record{OffsetDelta: d, Value: []byte("x")}
			}
			b := mustBuild(t, BatchSpec{Attributes: int16(codec), Records: recs})
			// Force lastOffsetDelta consistent so the per-record walk is
			// what has to catch it.
			binary.BigEndian.PutUint32(b[23:], uint32(len(deltas)-1))
			recrc(b)
			if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s/%s: got %v, want ErrCorrupt", name, CodecName(codec), err)
			}
		}
	}
}

func TestHeaderInconsistencies(t *testing.T) {
	base := mustBuild(t, sampleSpec(CodecNone))
	n := len(sampleRecords())
	put32 := func(off int, v int32) []byte {
		b := clone(base)
		binary.BigEndian.PutUint32(b[off:], uint32(v))
		return recrc(b)
	}
	withCount := func(count int32) []byte {
		b := put32(57, count)
		binary.BigEndian.PutUint32(b[23:], uint32(count-1))
		return recrc(b)
	}
	cases := map[string]struct {
		b    []byte
		want error
	}{
		"lastOffsetDelta":  {put32(23, int32(n)), ErrCorrupt},
		"count too high":   {withCount(int32(n + 1)), ErrCorrupt},
		"count too low":    {withCount(int32(n - 1)), ErrCorrupt},
		"count negative":   {put32(57, -1), ErrCorrupt},
		"codec 5":          {recrc(func() []byte { b := clone(base); b[22] |= 5; return b }()), ErrInvalidCodec},
		"magic 1":          {recrc(func() []byte { b := clone(base); b[16] = 1; return b }()), ErrMagic},
		"truncated":        {base[:len(base)-1], ErrShort},
		"header only":      {base[:HeaderSize], ErrShort},
		"partial header":   {base[:HeaderSize-1], ErrShort},
		"trailing byte":    {append(clone(base), 0), ErrCorrupt},
		"length below hdr": {put32(8, HeaderSize-LogOverhead-1), ErrCorrupt},
	}
	for name, c := range cases {
		if _, err := Validate(c.b, testMaxMessageBytes); !errors.Is(err, c.want) {
			t.Errorf("%s: Validate got %v, want %v", name, err, c.want)
		}
	}
	// Records shares the framing and count rules (not the offset rules).
	for _, name := range []string{"count too high", "count too low", "truncated", "trailing byte"} {
		if _, err := collect(cases[name].b); !errors.Is(err, cases[name].want) {
			t.Errorf("%s: Records got %v, want %v", name, err, cases[name].want)
		}
	}
}

// TestRecordStructure corrupts the first record's fields in place; every
// variant must be ErrCorrupt from both Validate and Records.
func TestRecordStructure(t *testing.T) {
	build := func(r Record) []byte {
		return mustBuild(t, BatchSpec{Records: []Record{r}})
	}
	plain := build(Record{Key: []byte("k"), Value: []byte("v")})
	// Layout of plain's record: len attrs ts off keylen 'k' vallen 'v' hdrs.
	rec := HeaderSize
	edits := map[string]func(b []byte) []byte{
		"length +1": func(b []byte) []byte { b[rec] += 2; return b },
		"length -1": func(b []byte) []byte { b[rec] -= 2; return b },
		"length negative": func(b []byte) []byte {
			b[rec] = 1
			return b
		},
		"key length past end": func(b []byte) []byte { b[rec+4] = 40; return b },
		"key length -2":       func(b []byte) []byte { b[rec+4] = 3; return b },
		"header count -1":     func(b []byte) []byte { b[len(b)-1] = 1; return b },
		"header count 1":      func(b []byte) []byte { b[len(b)-1] = 2; return b },
		"overlong varint": func(b []byte) []byte {
			b = append(b[:rec+3:rec+3], 0xff, 0xff, 0xff, 0xff, 0x7f, 2, 'k', 2, 'v', 0)
			b[rec] = 2 * 12 // body: attrs ts off(5) keylen k vallen v hdrs
			return relength(b)
		},
		"chopped record": func(b []byte) []byte { return relength(b[:len(b)-1]) },
		"extra byte in batch": func(b []byte) []byte {
			return relength(append(b, 0))
		},
	}
	for name, edit := range edits {
		b := recrc(edit(clone(plain)))
		if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Validate got %v", name, err)
		}
		if _, err := collect(b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Records got %v", name, err)
		}
	}
	// Header keys may not be null: patch a header key length to -1.
	withHdr := build(Record{Value: []byte("v"), Headers: []RecordHeader{{Key: "a", Value: []byte("b")}}})
	// ... hdrcount=1 keylen=1 'a' vallen=1 'b' at the end.
	withHdr[len(withHdr)-4] = 1
	recrc(withHdr)
	if _, err := Validate(withHdr, testMaxMessageBytes); !errors.Is(err, ErrCorrupt) {
		t.Errorf("null header key: Validate got %v", err)
	}
}

func TestValidateAll(t *testing.T) {
	a := mustBuild(t, sampleSpec(CodecNone))
	z := mustBuild(t, sampleSpec(CodecZstd))
	set := append(append(append([]byte{}, a...), z...), a...)
	if n, err := ValidateAll(set, testMaxMessageBytes); n != 3 || err != nil {
		t.Fatalf("3 batches: %d %v", n, err)
	}
	if n, err := ValidateAll(set[:len(set)-3], testMaxMessageBytes); n != 2 || !errors.Is(err, ErrShort) {
		t.Fatalf("truncated tail: %d %v", n, err)
	}
	bad := clone(set)
	bad[len(a)+HeaderSize] ^= 1
	if n, err := ValidateAll(bad, testMaxMessageBytes); n != 1 || !errors.Is(err, ErrCRC) {
		t.Fatalf("bad middle: %d %v", n, err)
	}
	if n, err := ValidateAll(nil, testMaxMessageBytes); n != 0 || err != nil {
		t.Fatalf("empty: %d %v", n, err)
	}
}

func TestValidateUncompressedDoesNotAllocate(t *testing.T) {
	b := mustBuild(t, sampleSpec(CodecNone))
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := Validate(b, testMaxMessageBytes); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("Validate allocated %v times per call", allocs)
	}
}

func TestRecordsRetainAndCallbackError(t *testing.T) {
	b := mustBuild(t, sampleSpec(CodecLZ4))
	got, err := collect(b)
	if err != nil {
		t.Fatal(err)
	}
	// Copies made inside the callback must stay intact afterwards.
	if err := sameRecords(got, sampleRecords()); err != nil {
		t.Fatal(err)
	}
	// Keys are capacity-clipped: appending must not clobber the value.
	u := mustBuild(t, sampleSpec(CodecNone))
	_ = Records(u, func(r *Record) error {
		if r.Key != nil && cap(r.Key) != len(r.Key) {
			t.Fatalf("key cap %d > len %d", cap(r.Key), len(r.Key))
		}
		return nil
	})
	stop := errors.New("stop")
	calls := 0
	err = Records(u, func(*Record) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("callback error: %v after %d calls", err, calls)
	}
}

func TestBuildRejectsBadCodec(t *testing.T) {
	if _, err := Build(BatchSpec{Attributes: 6}); !errors.Is(err, ErrInvalidCodec) {
		t.Fatalf("got %v", err)
	}
}
