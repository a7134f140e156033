// A v2 batch compresses its whole records section with one of four codecs,
// and the broker must open it twice: to validate a produced batch before it
// is written, and to read records for compaction and internal topics. Both
// paths face untrusted bytes, so decompression is bounded: a few hundred
// bytes can claim, and a megabyte of zstd can really hold, gigabytes of
// output. Two rules keep memory in hand whatever the input says:
//
//   - the caller's limit is enforced while decoding, never only after: no
//     decoder is asked for more than limit+1 bytes (zstd: see unzstd);
//   - output buffers grow with what has been decoded, never with what the
//     stream claims: gzip's ISIZE and lz4's content size are not read,
//     snappy's length header is used only once the stream has been checked
//     to decode to exactly that many bytes (snappy.go), and a zstd frame
//     content size above the limit is refused before decoding.
//
// Decoders are pooled because zstd and lz4 state is expensive to build and a
// busy broker decompresses on every produce; pooled state never keeps an
// output buffer.
//
// Compress exists for batches the broker writes itself (internal topics) and
// for tests; it emits what Kafka's own clients read: gzip, raw snappy (which
// Java's snappy-java reads as well as its own xerial framing), lz4 frames and
// zstd frames.

package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
)

// MaxDecompressed is the ceiling on the decompressed size of one batch's
// records section: Decompress and Records (batches already in a log) use
// it as their limit, and InflateLimit never exceeds it. Set it once at
// startup, before any batch is processed; it is read without
// synchronisation.
var MaxDecompressed = 128 << 20

// ErrTooLarge marks a compressed payload that decompresses (or declares that
// it decompresses) past the limit. Errors carrying it also wrap ErrCorrupt.
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

// minGrow is the smallest step by which readLimited grows its buffer.
const minGrow = 64 << 10

// readLimited appends everything r yields to dst, failing once more than
// limit bytes have been produced. The buffer doubles as output arrives
// (starting from whatever room dst has), so its size follows what was
// decoded; each read asks for no more than limit+1 bytes in total, so the
// decoder never produces more than that.
func readLimited(dst []byte, r io.Reader, limit int) ([]byte, error) {
	start := len(dst)
	for {
		produced := len(dst) - start
		if produced > limit {
			return dst, tooLarge(limit)
		}
		left := limit + 1 - produced // >= 1
		if len(dst) == cap(dst) {
			dst = grow(dst, growStep(produced, 1, left))
		}
		n, err := r.Read(dst[len(dst) : len(dst)+min(cap(dst)-len(dst), left)])
		dst = dst[:len(dst)+n]
		if err == io.EOF {
			if len(dst)-start > limit {
				return dst, tooLarge(limit)
			}
			return dst, nil
		}
		if err != nil {
			return dst, err
		}
	}
}

// growStep is how much room to add to an output buffer holding produced
// bytes that needs need more, with at most left still allowed: doubling,
// but taking all of left at once when doubling would leave only a short
// tail, which would cost another full copy for a few bytes.
func growStep(produced, need, left int) int {
	step := min(max(need, produced, minGrow), left)
	if left-step < step/2 {
		step = left
	}
	return step
}

// grow returns dst with room for at least n more bytes.
func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	grown := make([]byte, len(dst), len(dst)+n)
	copy(grown, dst)
	return grown
}

// sizeHint gives dst room for an expected output of about want bytes (a
// guess from the input's real size, never a claimed one), within the limit,
// so the first Read calls do not start tiny.
func sizeHint(dst []byte, want, limit int) []byte {
	return grow(dst, min(want, limit+1))
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

// lz4FrameMagic starts an LZ4 frame, the only lz4 container Kafka reads
// (KafkaLZ4BlockInputStream). The reader would also take legacy frames,
// whose 8 MiB blocks cost 16 MiB of buffers per decoder, so those are
// refused up front. The standard frame's block buffers are at most 4 MiB
// and come from the library's pools.
const lz4FrameMagic = 0x184D2204

func unlz4(dst, src []byte, limit int) ([]byte, error) {
	if len(src) < 4 || binary.LittleEndian.Uint32(src) != lz4FrameMagic {
		return dst, corruptf("lz4: not an LZ4 frame")
	}
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

// zstd decoders run single-threaded (one per pooled object, no goroutines).
type zstdDecoder struct {
	src bytes.Reader
	zr  *zstd.Decoder
}

var zstdDecoders = sync.Pool{New: func() any {
	zr, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		panic(err) // only fails on invalid options
	}
	return &zstdDecoder{zr: zr}
}}

const (
	// zstdMinCap is the least maximum window the decoder accepts: the
	// largest window ordinary (non --ultra) zstd levels and Go encoders
	// declare (Java's level 3 declares 2 MiB). A window only says how far
	// back matches reach, so one larger than the limit is no reason to
	// refuse a small frame.
	zstdMinCap = 8 << 20
	// zstdMaxRatio is the most one input byte can decode to: a 4-byte RLE
	// block (3 bytes of header, 1 of content) yields at most 128 KiB.
	zstdMaxRatio = 128 << 10 / 4
)

// unzstd decodes a zstd payload. A frame that declares its content size
// (franz-go's, librdkafka's) must decode to exactly that, so the size is
// checked against the limit and against what the input could encode, then
// DecodeAll writes into a buffer of that size, capped at its capacity
// (WithDecodeAllCapLimit). A frame without one (Java's streaming frames) is
// read as a stream into a buffer that grows with the output (readLimited);
// the stream decoder keeps a window of history, at most max(limit,
// zstdMinCap), in the pooled decoder.
func unzstd(dst, src []byte, limit int) ([]byte, error) {
	start := len(dst)
	fcs, hasFCS := zstdContentSize(src)
	switch {
	case hasFCS && fcs > uint64(limit):
		return dst, tooLarge(limit)
	case hasFCS && fcs > uint64(len(src))*zstdMaxRatio:
		return dst, corruptf("zstd: frame declares %d bytes, more than %d input bytes can hold", fcs, len(src))
	}
	d := zstdDecoders.Get().(*zstdDecoder)
	defer func() {
		_ = d.zr.Reset(nil) // do not pin the batch while pooled
		d.src.Reset(nil)
		zstdDecoders.Put(d)
	}()
	// The pooled decoder is exclusively ours until Put, so its options
	// are set per call.
	maxMem := zstd.WithDecoderMaxMemory(uint64(max(limit+1, zstdMinCap)))
	var out []byte
	var err error
	if hasFCS {
		if err = d.zr.ResetWithOptions(nil, maxMem, zstd.WithDecodeAllCapLimit(true)); err != nil {
			return dst, err
		}
		// One more byte than the frame needs, so that further frames
		// after it that would exceed the limit are caught; room for them
		// is made below.
		room := int(fcs) + 1
		for {
			dst = grow(dst[:start], room)
			out, err = d.zr.DecodeAll(src, dst[:start])
			have := cap(dst) - start
			if !errors.Is(err, zstd.ErrDecoderSizeExceeded) || have > limit {
				break
			}
			room = min(2*have, limit+1)
		}
	} else {
		d.src.Reset(src)
		if err = d.zr.ResetWithOptions(&d.src, maxMem, zstd.WithDecodeAllCapLimit(false)); err != nil {
			return dst, err
		}
		out, err = readLimited(sizeHint(dst, 4*len(src), limit), d.zr, limit)
	}
	switch {
	case err == nil:
		return out, nil
	case errors.Is(err, zstd.ErrDecoderSizeExceeded), errors.Is(err, zstd.ErrWindowSizeExceeded):
		err = tooLarge(limit)
	}
	return dst[:start], err
}

// zstdContentSize reads the Frame_Content_Size of the zstd frame at the start
// of src (RFC 8878 3.1.1.1), if it has one.
func zstdContentSize(src []byte) (uint64, bool) {
	const magic = 0xFD2FB528
	if len(src) < 5 || binary.LittleEndian.Uint32(src) != magic {
		return 0, false
	}
	fhd := src[4]
	single := fhd&0x20 != 0
	pos := 5
	if !single {
		pos++ // Window_Descriptor
	}
	pos += [4]int{0, 1, 2, 4}[fhd&3] // Dictionary_ID
	size := [4]int{0, 2, 4, 8}[fhd>>6]
	if size == 0 && single {
		size = 1
	}
	if size == 0 || len(src) < pos+size {
		return 0, false
	}
	b := src[pos : pos+size]
	switch size {
	case 1:
		return uint64(b[0]), true
	case 2:
		return uint64(binary.LittleEndian.Uint16(b)) + 256, true
	case 4:
		return uint64(binary.LittleEndian.Uint32(b)), true
	}
	return binary.LittleEndian.Uint64(b), true
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
