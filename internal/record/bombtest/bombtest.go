// Package bombtest builds decompression bombs for tests: compressed records
// sections, one or more per Kafka codec, that claim or really hold far more
// output than a limit. internal/record's unit and fuzz tests and the
// integration tests that send them to a broker share them from here. It
// does not import internal/record (whose own tests import it), so codecs
// are Kafka's attribute values: 1 gzip, 2 snappy, 3 lz4, 4 zstd.
package bombtest

import (
	"bytes"
	"encoding/binary"
	"io"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/snappy"
	"github.com/pierrec/lz4/v4"
)

// Kafka's codec numbers (the low three bits of a batch's attributes).
const (
	Gzip   = 1
	Snappy = 2
	LZ4    = 3
	Zstd   = 4
)

// Bomb is one compressed records section.
type Bomb struct {
	Name  string
	Codec int
	Data  []byte
	// Real is true when the payload truly decodes past the limit it was
	// built for, false when it only claims to (or breaks off once past its
	// claim).
	Real bool
}

// All returns bombs that must be refused under a limit of limit bytes: the
// real ones decode to 2*limit or a little more; the others claim more than
// their bytes hold, in each codec's own way.
func All(limit int) []Bomb {
	out := 2 * limit
	return []Bomb{
		{"gzip", Gzip, StreamZeros(Gzip, out), true},
		{"gzip_concatenated", Gzip, bytes.Repeat(StreamZeros(Gzip, out/4+1), 5), true},
		{"snappy_claim", Snappy, SnappyClaim(118 << 20), false},
		{"snappy_claim_at_limit", Snappy, SnappyClaim(limit), false},
		{"snappy", Snappy, snappy.Encode(nil, make([]byte, out)), true},
		{"snappy_xerial", Snappy, XerialFrame(make([]byte, out), 64<<10), true},
		{"snappy_xerial_claim", Snappy, XerialClaim(118 << 20), false},
		{"lz4", LZ4, StreamZeros(LZ4, out), true},
		{"lz4_legacy", LZ4, LZ4Legacy(), false},
		{"zstd_claim", Zstd, ZstdClaim(1 << 30), false},
		{"zstd_rle", Zstd, ZstdRLE(7, out), true},
		{"zstd_rle_8MiB_window", Zstd, ZstdRLE(13, out), true},
		{"zstd_rle_content_size_lie", Zstd, ZstdContentSizeLie(limit/2, out), false},
	}
}

// StreamZeros compresses n zero bytes with gzip or lz4 (4 MiB blocks)
// without holding them.
func StreamZeros(codec, n int) []byte {
	var buf bytes.Buffer
	var w io.WriteCloser
	switch codec {
	case Gzip:
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		if err != nil {
			panic(err)
		}
		w = zw
	case LZ4:
		zw := lz4.NewWriter(&buf)
		if err := zw.Apply(lz4.BlockSizeOption(lz4.Block4Mb)); err != nil {
			panic(err)
		}
		w = zw
	default:
		panic("bombtest: StreamZeros is for gzip and lz4")
	}
	if _, err := io.CopyN(w, zeros{}, int64(n)); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// SnappyClaim is the shape of the 175-byte batch that made brokers allocate
// 118 MiB: a raw snappy block whose header claims claim bytes while its
// elements (one literal, then 56 copies of 64 bytes) decode to 3585.
func SnappyClaim(claim int) []byte {
	b := binary.AppendUvarint(nil, uint64(claim))
	b = append(b, 0, 'x') // literal of one byte
	for range 56 {
		b = append(b, 63<<2|2, 1, 0) // copy 64 bytes from offset 1
	}
	return b
}

var xerialMagic = []byte{0x82, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

func xerialHeader() []byte {
	out := append([]byte{}, xerialMagic...)
	out = binary.BigEndian.AppendUint32(out, 1)  // version
	return binary.BigEndian.AppendUint32(out, 1) // compatible version
}

// XerialFrame frames src the way snappy-java's SnappyOutputStream does, in
// raw snappy blocks of blockSize bytes of input.
func XerialFrame(src []byte, blockSize int) []byte {
	out := xerialHeader()
	for len(src) > 0 {
		n := min(blockSize, len(src))
		blk := snappy.Encode(nil, src[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(blk)))
		out = append(out, blk...)
		src = src[n:]
	}
	return out
}

// XerialClaim frames one SnappyClaim block the way snappy-java does.
func XerialClaim(claim int) []byte {
	blk := SnappyClaim(claim)
	out := binary.BigEndian.AppendUint32(xerialHeader(), uint32(len(blk)))
	return append(out, blk...)
}

// LZ4Legacy is a legacy-format lz4 frame (magic 0x184C2102, 8 MiB blocks),
// which Kafka does not read and whose buffers cost a decoder 16 MiB.
func LZ4Legacy() []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x184C2102)
	b = binary.LittleEndian.AppendUint32(b, 2)
	return append(b, 0x10, 'x') // a block: one literal
}

const zstdMagic = 0xFD2FB528

// ZstdClaim is a single-segment zstd frame declaring a content size of
// claim bytes that holds one raw block of 4 bytes.
func ZstdClaim(claim uint64) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	b = append(b, 3<<6|0x20) // 8-byte content size, single segment
	b = binary.LittleEndian.AppendUint64(b, claim)
	b = appendZstdBlockHeader(b, true, 0, 4) // last, raw, 4 bytes
	return append(b, "bomb"...)
}

// ZstdRLE is a zstd frame without a content size, declaring a window of
// 2^(10+windowExp) bytes (windowExp >= 7: at least 128 KiB), holding RLE
// blocks of 128 KiB (4 bytes apiece) that decode to at least n zero bytes.
func ZstdRLE(windowExp byte, n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
	b = append(b, 0, windowExp<<3) // no content size; window descriptor
	return appendRLEBlocks(b, n)
}

// ZstdContentSizeLie is a single-segment zstd frame declaring fcs bytes
// whose RLE blocks go on to n.
func ZstdContentSizeLie(fcs, n int) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdMagic)
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

// appendZstdBlockHeader appends a block header: last flag, type (0 raw,
// 1 RLE, 2 compressed) and size, 3 bytes little endian.
func appendZstdBlockHeader(b []byte, last bool, typ, size int) []byte {
	h := uint32(size)<<3 | uint32(typ)<<1
	if last {
		h |= 1
	}
	return append(b, byte(h), byte(h>>8), byte(h>>16))
}
