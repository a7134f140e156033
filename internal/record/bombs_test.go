// Decompression bombs (built by internal/record/bombtest), one or more per
// codec: small payloads that claim, or really hold, far more output than
// any limit. The tests check each is refused quickly and without allocating
// more than the limit allows, whatever it claims; the corpus generator puts
// them in the fuzz seeds.

package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"

	"github.com/sluice-io/sluice/internal/record/bombtest"
)

// bomb is a bombtest.Bomb; bombs are bombtest.All's.
type bomb = bombtest.Bomb

func bombs(limit int) []bomb { return bombtest.All(limit) }

// measured runs fn and returns the bytes it allocated (process-wide, so
// run it with nothing else going on) and how long it took.
func measured(fn func()) (uint64, time.Duration) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc, took
}

// allocBound is the most decoding under limit may allocate: the output grows
// by doubling to at most limit+1, twice that in all, plus decoder state:
// lz4's two block buffers of up to 4 MiB (when its pool is cold), or zstd's
// window of history when it streams, up to zstdMinCap and two blocks; and
// some slack.
func allocBound(limit int) uint64 {
	return uint64(2*limit) + zstdMinCap + 8<<20
}

// TestBombsRefusedBounded: every codec's bomb is refused under a 1 MiB
// limit, well within a second, allocating no more than allocBound; the
// 175-byte snappy claim of 118 MiB used to allocate all of it.
func TestBombsRefusedBounded(t *testing.T) {
	const limit = 1 << 20
	for _, b := range bombs(limit) {
		var err error
		alloc, took := measured(func() { _, err = AppendDecompress(nil, b.Codec, b.Data, limit) })
		switch {
		case b.Real && !errors.Is(err, ErrTooLarge):
			t.Errorf("%s (%d bytes): got %v, want ErrTooLarge", b.Name, len(b.Data), err)
		case !errors.Is(err, ErrCorrupt):
			t.Errorf("%s (%d bytes): got %v, want ErrCorrupt", b.Name, len(b.Data), err)
		}
		if bound := allocBound(limit); alloc > bound {
			t.Errorf("%s: allocated %d bytes refusing it, bound %d", b.Name, alloc, bound)
		}
		if took > 2*time.Second {
			t.Errorf("%s: took %v to refuse", b.Name, took)
		}
		t.Logf("%s: %d bytes, refused in %v after allocating %d KiB: %v", b.Name, len(b.Data), took, alloc>>10, err)
	}
}

// TestValidateBombs: through Validate, the limit comes from the record count
// and max.message.bytes; a batch of one record gets one record's allowance,
// a batch claiming a billion records MaxExpansion of them, and both refuse
// every bomb within the matching bound.
func TestValidateBombs(t *testing.T) {
	for _, n := range []int32{1, 1 << 30} {
		limit := InflateLimit(testMaxMessageBytes, n)
		for _, b := range bombs(limit) {
			batch := bombBatch(b.Codec, n, b.Data)
			var err error
			alloc, took := measured(func() { _, err = Validate(batch, testMaxMessageBytes) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%d records, %s: got %v, want ErrCorrupt", n, b.Name, err)
			}
			if bound := allocBound(limit); alloc > bound {
				t.Errorf("%d records, %s: allocated %d bytes, bound %d", n, b.Name, alloc, bound)
			}
			if took > 2*time.Second {
				t.Errorf("%d records, %s: took %v", n, b.Name, took)
			}
		}
	}
}

// bombBatch wraps a compressed payload in a batch header claiming n records.
func bombBatch(codec int, n int32, payload []byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(payload))
	binary.BigEndian.PutUint32(b[12:], 0xffffffff) // leader epoch -1
	b[16] = 2
	binary.BigEndian.PutUint16(b[21:], uint16(codec))
	binary.BigEndian.PutUint32(b[23:], uint32(n-1))
	binary.BigEndian.PutUint64(b[43:], 0xffffffffffffffff) // producer id -1
	binary.BigEndian.PutUint16(b[51:], 0xffff)
	binary.BigEndian.PutUint32(b[53:], 0xffffffff)
	binary.BigEndian.PutUint32(b[57:], uint32(n))
	return relength(append(b, payload...))
}

func TestInflateLimit(t *testing.T) {
	const mib = 1 << 20
	cases := []struct {
		maxBytes int64
		n        int32
		want     int
	}{
		{testMaxMessageBytes, 1, MinRecordAllowance + RecordSlack},
		{testMaxMessageBytes, 0, MinRecordAllowance + RecordSlack},
		{testMaxMessageBytes, -5, MinRecordAllowance + RecordSlack},
		{testMaxMessageBytes, 3, 3 * (MinRecordAllowance + RecordSlack)},
		{testMaxMessageBytes, 1 << 30, MaxExpansion * (MinRecordAllowance + RecordSlack)},
		{1024, 2, 2 * (MinRecordAllowance + RecordSlack)}, // never below Kafka's default per record
		{10 * mib, 2, 2 * (10*mib + RecordSlack)},
		{10 * mib, 100, MaxDecompressed},
		{1 << 40, 1, MaxDecompressed},
	}
	for _, c := range cases {
		if got := InflateLimit(c.maxBytes, c.n); got != c.want {
			t.Errorf("InflateLimit(%d, %d) = %d, want %d", c.maxBytes, c.n, got, c.want)
		}
	}
}

// TestValidateAtLimit: a legitimate one-record batch as large as its
// allowance passes, one byte more does not; a record of a 1 MiB value (the
// Java producer's default max.request.size, framing just past Kafka's
// default message.max.bytes) passes.
func TestValidateAtLimit(t *testing.T) {
	// The largest value whose record encodes within the allowance (varint
	// widths change with the length, hence the search downward).
	allowance := MinRecordAllowance + RecordSlack
	v := allowance
	for encodedRecordSize(v) > allowance {
		v--
	}
	for _, codec := range allCodecs[1:] {
		for _, c := range []struct {
			v    int
			want error
		}{{v, nil}, {v + 1, ErrTooLarge}, {1 << 20, nil}} {
			b := mustBuild(t, BatchSpec{ProducerID: -1, Attributes: int16(codec), Records: []Record{{Value: make([]byte, c.v)}}})
			if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, c.want) {
				t.Errorf("%s: record of %d bytes (allowance %d): %v, want %v", CodecName(codec), encodedRecordSize(c.v), allowance, err, c.want)
			}
		}
	}
}

// encodedRecordSize is the encoded size of a keyless record with a value of v bytes.
func encodedRecordSize(v int) int {
	b, err := Build(BatchSpec{ProducerID: -1, Records: []Record{{Value: make([]byte, v)}}})
	if err != nil {
		panic(err)
	}
	return len(b) - HeaderSize
}

// TestSnappyClaimChecked: a raw snappy block whose header disagrees with its
// elements is refused before its claimed size is allocated, and a block
// whose copies reach before the start is corrupt.
func TestSnappyClaimChecked(t *testing.T) {
	good := snappy.Encode(nil, bytes.Repeat([]byte("snappy "), 1000))
	n, _ := snappy.DecodedLen(good)
	_, hdr := binary.Uvarint(good)
	for name, b := range map[string][]byte{
		"claims one more":   append(binary.AppendUvarint(nil, uint64(n+1)), good[hdr:]...),
		"claims one less":   append(binary.AppendUvarint(nil, uint64(n-1)), good[hdr:]...),
		"copy before start": {5, 1<<2 | 1, 1},
		"offset zero":       {5, 0, 'a', 0<<2 | 1, 0},
		"literal past end":  {5, 4 << 2, 'a'},
		"long literal cut":  {5, 61 << 2, 1},
	} {
		claim, err := snappy.DecodedLen(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := snappyCheck(b, claim); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: snappyCheck: %v", name, err)
		}
		if _, err := Decompress(CodecSnappy, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decompress: %v", name, err)
		}
	}
	if err := snappyCheck(good, n); err != nil {
		t.Errorf("valid block: %v", err)
	}
}
