// Codec tests: round trips, both snappy framings, decompression-bomb limits,
// garbage input, and interoperability with franz-go's client codecs, which
// is what real producers and consumers will send and expect.

package record

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/record/bombtest"
)

func payloads() map[string][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200<<10)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	return map[string][]byte{
		"one byte":     {'x'},
		"random 200k":  random,
		"repetitive":   bytes.Repeat([]byte("kafka record "), 100_000),
		"empty string": {},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	for _, codec := range allCodecs {
		for name, p := range payloads() {
			c, err := Compress(codec, p)
			if err != nil {
				t.Fatalf("%s/%s compress: %v", CodecName(codec), name, err)
			}
			d, err := Decompress(codec, c)
			if err != nil {
				t.Fatalf("%s/%s decompress: %v", CodecName(codec), name, err)
			}
			if !bytes.Equal(d, p) {
				t.Fatalf("%s/%s: round trip mismatch (%d vs %d bytes)", CodecName(codec), name, len(d), len(p))
			}
			// Appending keeps the prefix.
			d2, err := AppendDecompress([]byte("pre"), codec, c, len(p))
			if err != nil || string(d2[:3]) != "pre" || !bytes.Equal(d2[3:], p) {
				t.Fatalf("%s/%s: AppendDecompress: %v", CodecName(codec), name, err)
			}
		}
	}
}

func TestSnappyXerial(t *testing.T) {
	p := payloads()["repetitive"]
	x := bombtest.XerialFrame(p, 32<<10)
	d, err := Decompress(CodecSnappy, x)
	if err != nil || !bytes.Equal(d, p) {
		t.Fatalf("xerial: %v", err)
	}
	// Two concatenated streams read as one.
	xx := append(bombtest.XerialFrame(p[:1000], 300), bombtest.XerialFrame(p[1000:5000], 1024)...)
	if d, err := Decompress(CodecSnappy, xx); err != nil || !bytes.Equal(d, p[:5000]) {
		t.Fatalf("concatenated xerial: %v", err)
	}
	// Header only: an empty stream.
	if d, err := Decompress(CodecSnappy, x[:xerialHeaderLen]); err != nil || len(d) != 0 {
		t.Fatalf("header-only xerial: %d %v", len(d), err)
	}
	bad := map[string][]byte{
		"block length past end": x[:xerialHeaderLen+4+10],
		"partial length":        x[:xerialHeaderLen+2],
		"corrupt block":         append(clone(x[:xerialHeaderLen]), 0, 0, 0, 2, 0xff, 0xff),
	}
	for name, b := range bad {
		if _, err := Decompress(CodecSnappy, b); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: got %v", name, err)
		}
	}
}

func TestDecompressionBomb(t *testing.T) {
	zeros := make([]byte, 16<<20)
	bombs := map[string][]byte{"xerial": bombtest.XerialFrame(zeros, 1<<20)}
	for _, codec := range allCodecs[1:] {
		c, err := Compress(codec, zeros)
		if err != nil {
			t.Fatal(err)
		}
		bombs[CodecName(codec)] = c
	}
	for name, c := range bombs {
		codec := CodecSnappy
		for _, k := range allCodecs {
			if CodecName(k) == name {
				codec = k
			}
		}
		_, err := AppendDecompress(nil, codec, c, 1<<20)
		if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s (%d bytes): got %v, want ErrTooLarge", name, len(c), err)
		}
		// Exactly at the limit is fine.
		if d, err := AppendDecompress(nil, codec, c, len(zeros)); err != nil || len(d) != len(zeros) {
			t.Errorf("%s at limit: %d %v", name, len(d), err)
		}
		if _, err := AppendDecompress(nil, codec, c, len(zeros)-1); !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s one under: %v", name, err)
		}
	}
	// The package limit applies to Validate.
	old := MaxDecompressed
	MaxDecompressed = 1 << 10
	defer func() { MaxDecompressed = old }()
	b := mustBuild(t, BatchSpec{Attributes: CodecZstd, Records: NewRecords([2][]byte{nil, make([]byte, 4096)})})
	if _, err := Validate(b, testMaxMessageBytes); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Validate under MaxDecompressed: %v", err)
	}
}

func TestDecompressGarbage(t *testing.T) {
	junk := []byte("this is not compressed data at all, not even close")
	for _, codec := range allCodecs[1:] {
		if _, err := Decompress(codec, junk); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s junk: %v", CodecName(codec), err)
		}
		if _, err := Decompress(codec, nil); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s empty: %v", CodecName(codec), err)
		}
		good, _ := Compress(codec, payloads()["repetitive"])
		if _, err := Decompress(codec, good[:len(good)/2]); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s truncated: %v", CodecName(codec), err)
		}
		if _, err := Decompress(codec, append(clone(good), 1, 2, 3)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s trailing junk: %v", CodecName(codec), err)
		}
		// A pooled decoder that just failed must still work.
		if d, err := Decompress(codec, good); err != nil || len(d) == 0 {
			t.Errorf("%s after failure: %v", CodecName(codec), err)
		}
	}
	for _, codec := range []int{5, 6, 7, -1} {
		if _, err := Decompress(codec, junk); !errors.Is(err, ErrInvalidCodec) {
			t.Errorf("codec %d: %v", codec, err)
		}
		if _, err := Compress(codec, junk); !errors.Is(err, ErrInvalidCodec) {
			t.Errorf("compress codec %d: %v", codec, err)
		}
	}
}

func TestCodecConcurrent(t *testing.T) {
	p := payloads()["repetitive"][:300<<10]
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codec := allCodecs[1+g%4]
			for range 20 {
				c, err := Compress(codec, p)
				if err != nil {
					t.Error(err)
					return
				}
				d, err := Decompress(codec, c)
				if err != nil || !bytes.Equal(d, p) {
					t.Errorf("%s: %v", CodecName(codec), err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestFranzGoCodecs checks both directions against the franz-go client: we
// read what it compresses and it reads what we compress.
func TestFranzGoCodecs(t *testing.T) {
	kgoCodecs := map[int]kgo.CompressionCodec{
		CodecGzip:   kgo.GzipCompression(),
		CodecSnappy: kgo.SnappyCompression(),
		CodecLZ4:    kgo.Lz4Compression(),
		CodecZstd:   kgo.ZstdCompression(),
	}
	dec := kgo.DefaultDecompressor()
	for codec, kc := range kgoCodecs {
		comp, err := kgo.DefaultCompressor(kc)
		if err != nil {
			t.Fatal(err)
		}
		for name, p := range payloads() {
			if len(p) == 0 {
				continue // franz-go never compresses an empty record set
			}
			c, typ := comp.Compress(new(bytes.Buffer), p)
			if int(typ) != codec {
				t.Fatalf("%s: franz-go used codec %d", CodecName(codec), typ)
			}
			d, err := Decompress(codec, c)
			if err != nil || !bytes.Equal(d, p) {
				t.Fatalf("%s/%s: reading franz-go output: %v", CodecName(codec), name, err)
			}
			ours, err := Compress(codec, p)
			if err != nil {
				t.Fatal(err)
			}
			d, err = dec.Decompress(ours, kgo.CompressionCodecType(codec))
			if err != nil || !bytes.Equal(d, p) {
				t.Fatalf("%s/%s: franz-go reading ours: %v", CodecName(codec), name, err)
			}
		}
	}
}

// TestZstdWithoutContentSize: Java's zstd frames come from a streaming
// encoder and carry no content size, with a window of their own; they are
// read as a stream, up to exactly the limit.
func TestZstdWithoutContentSize(t *testing.T) {
	p := payloads()["repetitive"] // 1.3 MB
	for _, window := range []int{1 << 20, 8 << 20} {
		var buf bytes.Buffer
		w, err := zstd.NewWriter(&buf, zstd.WithWindowSize(window), zstd.WithEncoderConcurrency(1))
		if err != nil {
			t.Fatal(err)
		}
		for rest := p; len(rest) > 0; rest = rest[min(len(rest), 100<<10):] {
			if _, err := w.Write(rest[:min(len(rest), 100<<10)]); err != nil {
				t.Fatal(err)
			}
			if err := w.Flush(); err != nil { // as a stream: no size known up front
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		c := buf.Bytes()
		if _, ok := zstdContentSize(c); ok {
			t.Fatalf("window %d: the streaming encoder wrote a content size", window)
		}
		if d, err := AppendDecompress(nil, CodecZstd, c, len(p)); err != nil || !bytes.Equal(d, p) {
			t.Fatalf("window %d: %d bytes, %v", window, len(d), err)
		}
		if _, err := AppendDecompress(nil, CodecZstd, c, len(p)-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("window %d, one byte under: %v", window, err)
		}
	}
}
