// Decompression bombs, one or more per codec: small payloads that claim, or
// really hold, far more output than any limit. The tests check each is
// refused quickly and without allocating more than the limit allows,
// whatever it claims; the corpus generator puts them in the fuzz seeds.

package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

type bomb struct {
	name  string
	codec int
	data  []byte
	// real is true when the payload truly decodes past the limit (so the
	// error must be ErrTooLarge), false when it only claims to.
	real bool
}

// bombs returns payloads that must be refused under a limit of limit bytes
// (the real ones decode to 2*limit or a little more, the others only claim
// to, or break off once past their claim).
func bombs(t testing.TB, limit int) []bomb {
	out := 2 * limit
	return []bomb{
		{"gzip", CodecGzip, streamZeros(t, CodecGzip, out), true},
		{"gzip_concatenated", CodecGzip, bytes.Repeat(streamZeros(t, CodecGzip, out/4+1), 5), true},
		{"snappy_claim", CodecSnappy, snappyClaimBomb(118 << 20), false},
		{"snappy_claim_at_limit", CodecSnappy, snappyClaimBomb(limit), false},
		{"snappy", CodecSnappy, snappy.Encode(nil, make([]byte, out)), true},
		{"snappy_xerial", CodecSnappy, xerialFrame(make([]byte, out), 64<<10), true},
		{"snappy_xerial_claim", CodecSnappy, xerialClaimBomb(118 << 20), false},
		{"lz4", CodecLZ4, streamZeros(t, CodecLZ4, out), true},
		{"lz4_legacy", CodecLZ4, lz4LegacyFrame(), false},
		{"zstd_claim", CodecZstd, zstdClaimBomb(1 << 30), false},
		{"zstd_rle", CodecZstd, zstdRLEBomb(7, out), true},
		{"zstd_rle_8MiB_window", CodecZstd, zstdRLEBomb(13, out), true},
		{"zstd_rle_content_size_lie", CodecZstd, zstdFCSLie(limit/2, out), false},
	}
}

// streamZeros compresses n zero bytes with gzip or lz4 without holding them.
func streamZeros(t testing.TB, codec, n int) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch codec {
	case CodecGzip:
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			t.Fatal(err)
		}
		w = zw
	case CodecLZ4:
		zw := lz4.NewWriter(&buf)
		if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
			t.Fatal(err)
		}
		w = zw
	}
	if _, err := io.CopyN(w, zeroReader{}, int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// snappyClaimBomb is the shape of the 175-byte batch from the issue: a raw
// snappy block whose header claims claim bytes while its elements (one
// literal, then 56 copies of 64 bytes) decode to 3585.
func snappyClaimBomb(claim int) []byte {
	b := binary.AppendUvarint(nil, uint64(claim))
	b = append(b, 0, 'x') // literal of one byte
	for range 56 {
		b = append(b, 63<<2|2, 1, 0) // copy 64 bytes from offset 1
	}
	return b
}

// xerialClaimBomb frames one claim bomb the way snappy-java does.
func xerialClaimBomb(claim int) []byte {
	blk := snappyClaimBomb(claim)
	out := append([]byte{}, xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, 1)
	out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
	return append(out, blk...)
}

// lz4LegacyFrame is a legacy-format lz4 frame (magic 0x184C2102, 8 MiB
// blocks), which Kafka does not read and whose buffers cost 16 MiB.
func lz4LegacyFrame() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x184C2102)
	b = binary.LittleEndian.AppendUint32(b, 2)
	return append(b, 0x10, 'x') // a block: one literal
}

// zstdClaimBomb is a single-segment zstd frame declaring a content size of
// claim bytes that holds one raw block of 4 bytes.
func zstdClaimBomb(claim uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 3<<6|0x20) // 8-byte content size, single segment
	b = binary.LittleEndian.AppendUint64(b, claim)
	b = appendZstdBlockHeader(b, true, 0, 4) // last, raw, 4 bytes
	return append(b, "bomb"...)
}

// zstdRLEBomb is a zstd frame without a content size, declaring a window
// of 2^(10+windowExp) bytes (at least 128 KiB), holding RLE blocks of 128
// KiB each (4 bytes apiece) that decode to at least n zero bytes.
func zstdRLEBomb(windowExp byte, n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 0, windowExp<<3) // no content size, window descriptor
	return appendRLEBlocks(b, n)
}

// zstdFCSLie is a single-segment zstd frame declaring fcs bytes whose RLE
// blocks go on to n.
func zstdFCSLie(fcs, n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0xFD2FB528)
	b = append(b, 2<<6|0x20) // 4-byte content size, single segment
	b = binary.LittleEndian.AppendUint32(b, uint32(fcs))
	return appendRLEBlocks(b, n)
}

func appendRLEBlocks(b []byte, n int) []byte {
	const blockSize = 128 << 10
	blocks := (n + blockSize - 1) / blockSize
	for i := range blocks {
		b = appendZstdBlockHeader(b, i == blocks-1, 1, blockSize)
		b = append(b, 0)
	}
	return b
}

func appendZstdBlockHeader(b []byte, last bool, typ, size int) []byte {
	h := uint32(size)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	return append(b, byte(h), byte(h>>8), byte(h>>16))
}

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
	for _, b := range bombs(t, limit) {
		var err error
		alloc, took := measured(func() { _, err = AppendDecompress(nil, b.codec, b.data, limit) })
		switch {
		case b.real && !errors.Is(err, ErrTooLarge):
			t.Errorf("%s (%d bytes): got %v, want ErrTooLarge", b.name, len(b.data), err)
		case !errors.Is(err, ErrCorrupt):
			t.Errorf("%s (%d bytes): got %v, want ErrCorrupt", b.name, len(b.data), err)
		}
		if bound := allocBound(limit); alloc > bound {
			t.Errorf("%s: allocated %d bytes refusing it, bound %d", b.name, alloc, bound)
		}
		if took > 2*time.Second {
			t.Errorf("%s: took %v to refuse", b.name, took)
		}
		t.Logf("%s: %d bytes, refused in %v after allocating %d KiB: %v", b.name, len(b.data), took, alloc>>10, err)
	}
}

// TestValidateBombs: through Validate, the limit comes from the record count
// and max.message.bytes; a batch of one record gets one record's allowance,
// a batch claiming a billion records MaxExpansion of them, and both refuse
// every bomb within the matching bound.
func TestValidateBombs(t *testing.T) {
	for _, n := range []int32{1, 1 << 30} {
		limit := InflateLimit(testMaxMessageBytes, n)
		for _, b := range bombs(t, limit) {
			batch := bombBatch(b.codec, n, b.data)
			var err error
			alloc, took := measured(func() { _, err = Validate(batch, testMaxMessageBytes) })
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%d records, %s: got %v, want ErrCorrupt", n, b.name, err)
			}
			if bound := allocBound(limit); alloc > bound {
				t.Errorf("%d records, %s: allocated %d bytes, bound %d", n, b.name, alloc, bound)
			}
			if took > 2*time.Second {
				t.Errorf("%d records, %s: took %v", n, b.name, took)
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
		{testMaxMessageBytes, 1, MinRecordAllowance},
		{testMaxMessageBytes, 0, MinRecordAllowance},
		{testMaxMessageBytes, -5, MinRecordAllowance},
		{testMaxMessageBytes, 3, 3 * MinRecordAllowance},
		{testMaxMessageBytes, 1 << 30, MaxExpansion * MinRecordAllowance},
		{1024, 2, 2 * MinRecordAllowance}, // never below Kafka's default per record
		{10 * mib, 2, 20 * mib},
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
// allowance passes, one byte more does not.
func TestValidateAtLimit(t *testing.T) {
	// The largest value whose record encodes within the allowance (varint
	// widths change with the length, hence the search downward).
	v := MinRecordAllowance
	for encodedRecordSize(v) > MinRecordAllowance {
		v--
	}
	for _, codec := range allCodecs[1:] {
		for _, c := range []struct {
			v    int
			want error
		}{{v, nil}, {v + 1, ErrTooLarge}} {
			b := mustBuild(t, BatchSpec{ProducerID: -1, Attributes: int16(codec), Records: []Record{{Value: make([]byte, c.v)}}})
			if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, c.want) {
				t.Errorf("%s: record of %d bytes (allowance %d): %v, want %v", CodecName(codec), encodedRecordSize(c.v), MinRecordAllowance, err, c.want)
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
