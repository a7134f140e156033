// A v2 batch compresses its whole records section with one of four codecs,
// and the broker must open it twice: to validate a produced batch before it
// is written, and to read records for compaction and internal topics. Both
// paths face untrusted bytes, so decompression is bounded: a few kilobytes of
// gzip or zstd can claim gigabytes of output, and the limit is enforced while
// decoding rather than after. Decoders are pooled because zstd and lz4 state is
// expensive to build and a busy broker decompresses on every produce.
//
// Compress exists for batches the broker writes itself (internal topics) and
// for tests; it emits what Kafka's own clients read: gzip, raw snappy (which
// Java's snappy-java reads as well as its own xerial framing), lz4 frames and
// zstd frames.

package record

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressed bounds the decompressed size of one batch's records section
// for Decompress, Records and Validate. Set it once at startup, before any
// batch is processed; it is read without synchronisation.
var MaxDecompressed = 128 << 20

// ErrTooLarge marks a compressed payload that decompresses past the limit.
// Errors carrying it also wrap ErrCorrupt.
var ErrTooLarge = errors.New("record: decompressed size exceeds limit")

func tooLarge(limit int) error {
	return fmt.Errorf("%w: %w (%d bytes)", ErrCorrupt, ErrTooLarge, limit)
}

// CodecName is the Kafka name of a codec, for messages and metrics.
func CodecName(codec int) string {
	switch codec {
	case CodecNone:
		return "none"
	case CodecGzip:
		return "gzip"
	case CodecSnappy:
		return "snappy"
	case CodecLZ4:
		return "lz4"
	case CodecZstd:
		return "zstd"
	}
	return fmt.Sprintf("codec(%d)", codec)
}

// Decompress returns the decompressed form of src, a records section
// compressed with codec, in a new slice. Output past MaxDecompressed bytes is
// an error wrapping ErrTooLarge and ErrCorrupt; malformed input wraps
// ErrCorrupt; an unknown codec is ErrInvalidCodec.
func Decompress(codec int, src []byte) ([]byte, error) {
	return AppendDecompress(nil, codec, src, MaxDecompressed)
}

// AppendDecompress appends the decompressed form of src to dst, allowing at
// most limit decompressed bytes. It lets callers reuse an output buffer. On
// error the returned slice is dst truncated to its original length. A zstd
// frame that declares a window larger than max(limit, 8 MiB) is rejected as
// too large whatever it holds (see unzstd).
func AppendDecompress(dst []byte, codec int, src []byte, limit int) ([]byte, error) {
	start := len(dst)
	if codec == CodecNone {
		if len(src) > limit {
			return dst, tooLarge(limit)
		}
		return append(dst, src...), nil
	}
	if codec < CodecNone || codec > CodecZstd {
		return dst, fmt.Errorf("%w %d", ErrInvalidCodec, codec)
	}
	// Every codec's container has a header, so an empty payload is never a
	// valid compressed records section (zstd and lz4 would otherwise read it
	// as zero frames and succeed).
	if len(src) == 0 {
		return dst, corruptf("empty %s payload", CodecName(codec))
	}
	var out []byte
	var err error
	switch codec {
	case CodecGzip:
		out, err = gunzip(dst, src, limit)
	case CodecSnappy:
		out, err = unsnappy(dst, src, limit)
	case CodecLZ4:
		out, err = unlz4(dst, src, limit)
	case CodecZstd:
		out, err = unzstd(dst, src, limit)
	}
	if err == nil && len(out)-start > limit {
		err = tooLarge(limit)
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			err = corruptf("%s: %v", CodecName(codec), err)
		}
		return dst[:start], err
	}
	return out, nil
}

// readLimited appends everything r yields to dst, failing once more than
// limit bytes have been produced. Each read is sized so the decoder never
// produces more than limit+1 bytes in total, however the buffer grew.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		room := min(cap(dst)-len(dst), limit-(len(dst)-start)+1)
		n, err := r.Read(dst[len(dst) : len(dst)+room])
		dst = dst[:len(dst)+n]
		if len(dst)-start > limit {
			return dst, tooLarge(limit)
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// sizeHint grows dst for an expected output of about want bytes, never more
// than the limit allows, so the first Read calls do not start tiny.
func sizeHint(dst []byte, want, limit int) []byte {
	want = min(want, limit+1)
	if cap(dst)-len(dst) < want {
		grown := make([]byte, len(dst), len(dst)+want)
		copy(grown, dst)
		dst = grown
	}
	return dst
}

type gzipDecoder struct {
	src bytes.Reader
	zr  gzip.Reader
}

var gzipDecoders = sync.Pool{New: func() any { return new(gzipDecoder) }}

func gunzip(dst, src []byte, limit int) ([]byte, error) {
	d := gzipDecoders.Get().(*gzipDecoder)
	defer func() {
		d.src.Reset(nil) // do not pin the batch while pooled
		gzipDecoders.Put(d)
	}()
	d.src.Reset(src)
	if err := d.zr.Reset(&d.src); err != nil {
		return dst, err
	}
	// Deflate expands by at most ~1032x; guess a modest 4x.
	return readLimited(sizeHint(dst, 4*len(src), limit), &d.zr, limit)
}

type lz4Decoder struct {
	src bytes.Reader
	zr  *lz4.Reader
}

var lz4Decoders = sync.Pool{New: func() any { return &lz4Decoder{zr: lz4.NewReader(nil)} }}

func unlz4(dst, src []byte, limit int) ([]byte, error) {
	d := lz4Decoders.Get().(*lz4Decoder)
	defer func() {
		d.src.Reset(nil)
		d.zr.Reset(nil)
		lz4Decoders.Put(d)
	}()
	d.src.Reset(src)
	d.zr.Reset(&d.src)
	return readLimited(sizeHint(dst, 4*len(src), limit), d.zr, limit)
}

// zstd decoders run single-threaded (one per pooled object, no goroutines)
// and are only used through DecodeAll.
var zstdDecoders = sync.Pool{New: func() any {
	d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(err) // only fails on invalid options
	}
	return d
}}

const zstdMinCap = 8 << 20

func unzstd(dst, src []byte, limit int) ([]byte, error) {
	d := zstdDecoders.Get().(*zstd.Decoder)
	defer zstdDecoders.Put(d)
	// The decoder enforces the cap per block while decoding, which is what
	// stops a bomb early; it is set per call because limit varies, and the
	// pooled decoder is exclusively ours until Put. The library also rejects
	// any frame whose declared window exceeds the cap, however little it
	// holds, so the cap never goes below zstdMinCap, the largest window
	// ordinary (non --ultra) zstd levels and Go encoders declare; with a
	// smaller limit the exact bound is enforced by AppendDecompress after
	// decoding, so at most zstdMinCap bytes are ever produced.
	if err := d.ResetWithOptions(nil, zstd.WithDecoderMaxMemory(uint64(max(limit, zstdMinCap)))); err != nil {
		return dst, err
	}
	out, err := d.DecodeAll(src, dst)
	if errors.Is(err, zstd.ErrDecoderSizeExceeded) || errors.Is(err, zstd.ErrWindowSizeExceeded) {
		return dst, tooLarge(limit)
	}
	return out, err
}

// Compress returns src compressed with codec in a new slice. CodecNone
// returns a copy.
func Compress(codec int, src []byte) ([]byte, error) {
	switch codec {
	case CodecNone:
		return append([]byte(nil), src...), nil
	case CodecGzip:
		return gzipCompress(src)
	case CodecSnappy:
		return snappyCompress(src), nil
	case CodecLZ4:
		return lz4Compress(src)
	case CodecZstd:
		return zstdCompress(src), nil
	}
	return nil, fmt.Errorf("%w %d", ErrInvalidCodec, codec)
}

var gzipEncoders = sync.Pool{New: func() any { return gzip.NewWriter(nil) }}

func gzipCompress(src []byte) ([]byte, error) { return streamCompress(&gzipEncoders, src) }

// streamWriter is what the pooled gzip and lz4 writers have in common.
type streamWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// streamCompress compresses src with a writer from pool (gzip or lz4),
// which is reset to nil before it goes back so that it does not pin the
// output while pooled.
func streamCompress(pool *sync.Pool, src []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(src)/2 + 64)
	zw := pool.Get().(streamWriter)
	defer pool.Put(zw)
	zw.Reset(&buf)
	if _, err := zw.Write(src); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	zw.Reset(nil)
	return buf.Bytes(), nil
}

// lz4 writers use 64 KiB blocks, as the Java producer does, rather than the
// library's 4 MiB default, which would make every reader allocate 4 MiB.
var lz4Encoders = sync.Pool{New: func() any {
	zw := lz4.NewWriter(nil)
	if err := zw.Apply(lz4.BlockSizeOption(lz4.Block64Kb)); err != nil {
		panic(err) // only fails on invalid options
	}
	return zw
}}

func lz4Compress(src []byte) ([]byte, error) { return streamCompress(&lz4Encoders, src) }

// zstd encoders are single-threaded and used through EncodeAll only.
// WithZeroFrames keeps an empty input a real frame, which decoders (and our
// own empty-payload check) require.
var zstdEncoders = sync.Pool{New: func() any {
	e, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true))
	if err != nil {
		panic(err) // only fails on invalid options
	}
	return e
}}

func zstdCompress(src []byte) []byte {
	e := zstdEncoders.Get().(*zstd.Encoder)
	defer zstdEncoders.Put(e)
	return e.EncodeAll(src, make([]byte, 0, len(src)/2+64))
}
