// One fuzz target per decompressor, each under the guard of
// fuzz_guard_test.go. Beyond "never panic", each checks what the broker
// relies on from AppendDecompress: errors are classified and leave dst as it
// was; output never exceeds the limit, and the limit is exact (the same
// input under a limit one byte smaller than its output is ErrTooLarge);
// what decodes re-encodes to the same bytes. Snappy is also checked against
// the reference decoder, since its claimed length is now checked by our own
// walk before the reference decoder runs. Seeds, valid payloads and bombs,
// are in testdata/fuzz/FuzzDecompress<Codec>/ (corpus_gen_test.go).

package record

import (
	"bytes"
	"errors"
	"testing"

	"github.com/klauspost/compress/snappy"
)

func FuzzDecompressGzip(f *testing.F)   { fuzzDecompress(f, CodecGzip) }
func FuzzDecompressSnappy(f *testing.F) { fuzzDecompress(f, CodecSnappy) }
func FuzzDecompressLZ4(f *testing.F)    { fuzzDecompress(f, CodecLZ4) }
func FuzzDecompressZstd(f *testing.F)   { fuzzDecompress(f, CodecZstd) }

func fuzzDecompress(f *testing.F, codec int) {
	for _, p := range [][]byte{[]byte("x"), bytes.Repeat([]byte("kafka "), 1000)} {
		c, err := Compress(codec, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		// The full decode, the one under a limit a byte short, and the
		// round trip's.
		guard(t, fuzzBudget(3, len(data)), func() { checkDecompress(t, codec, data) })
	})
}

func checkDecompress(t *testing.T, codec int, data []byte) {
	prefix := []byte("prefix")
	out, err := AppendDecompress(prefix, codec, data, fuzzLimit)
	if codec == CodecSnappy && !isXerial(data) {
		checkSnappyReference(t, data, out, err)
	}
	if err != nil {
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("unclassified error: %v", err)
		}
		if !bytes.Equal(out, prefix) {
			t.Fatalf("failed decode left %d bytes in dst, want the %d-byte prefix", len(out), len(prefix))
		}
		return
	}
	if !bytes.HasPrefix(out, prefix) {
		t.Fatalf("decode lost the prefix of dst")
	}
	got := out[len(prefix):]
	if len(got) > fuzzLimit {
		t.Fatalf("decoded %d bytes under a limit of %d", len(got), fuzzLimit)
	}
	if len(got) > 0 {
		if _, err := AppendDecompress(nil, codec, data, len(got)-1); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d bytes decoded under a limit of %d: %v, want ErrTooLarge", len(got), len(got)-1, err)
		}
	}
	c, err := Compress(codec, got)
	if err != nil {
		t.Fatalf("compress what decoded: %v", err)
	}
	back, err := AppendDecompress(nil, codec, c, len(got))
	if err != nil || !bytes.Equal(back, got) {
		t.Fatalf("round trip of %d decoded bytes: %d bytes back, %v", len(got), len(back), err)
	}
}

// checkSnappyReference compares a raw snappy decode with the reference
// decoder, which is only run on blocks claiming no more than fuzzLimit, as
// it allocates whatever they claim.
func checkSnappyReference(t *testing.T, data, out []byte, err error) {
	n, lerr := snappy.DecodedLen(data)
	if lerr != nil || n > fuzzLimit {
		if err == nil {
			t.Fatalf("accepted a block the reference refuses to size (%d, %v)", n, lerr)
		}
		return
	}
	want, rerr := snappy.DecodeStrict(nil, data)
	switch {
	case rerr == nil && err != nil:
		t.Fatalf("refused a block the reference decodes to %d bytes: %v", len(want), err)
	case rerr != nil && err == nil:
		t.Fatalf("accepted a block the reference refuses: %v", rerr)
	case rerr == nil && !bytes.Equal(out[len(out)-len(want):], want):
		t.Fatalf("decoded differently from the reference")
	}
}
