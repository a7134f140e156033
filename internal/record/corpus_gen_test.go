// The checked-in fuzz seeds under testdata/fuzz are generated, not
// hand-written, so they stay valid batches when the builder changes, and the
// bombs stay what bombs_test.go builds. This
// test rewrites them only when asked:
//
//	SLUICE_WRITE_FUZZ_CORPUS=1 go test -run TestWriteFuzzCorpus ./internal/record/
//
// Crashers the fuzzer finds are added next to these seeds by `go test -fuzz`
// and are never touched here.

package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-io/sluice/internal/record/bombtest"
)

func seedBatches(t *testing.T) map[string][]byte {
	small := []Record{
		{OffsetDelta: 0, Key: []byte("k"), Value: []byte("value")},
		{OffsetDelta: 1, Key: nil, Value: []byte{}, TimestampDelta: 3,
			Headers: []RecordHeader{{Key: "h", Value: []byte("v")}, {Key: "n", Value: nil}}},
		{OffsetDelta: 2, Key: []byte{}, Value: nil, TimestampDelta: -1},
	}
	spec := func(codec int) BatchSpec {
		return BatchSpec{BaseOffset: 5, ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
			Attributes: int16(codec), BaseTimestamp: 1_700_000_000_000, Records: small}
	}
	seeds := map[string][]byte{}
	for _, codec := range allCodecs {
		seeds["valid_"+CodecName(codec)] = mustBuild(t, spec(codec))
	}
	none := seeds["valid_none"]
	seeds["truncated"] = none[:len(none)-5]
	seeds["truncated_header"] = none[:HeaderSize-10]
	seeds["empty_batch"] = mustBuild(t, BatchSpec{ProducerID: -1})
	seeds["two_batches"] = append(clone(none), seeds["valid_zstd"]...)
	seeds["control_marker"] = mustBuild(t, BatchSpec{ProducerID: 9, Attributes: ControlBit | TransactionalBit,
		Records: NewRecords([2][]byte{{0, 0, 0, 1}, {0, 0, 0, 0, 0, 0}})})

	// Java-style xerial snappy framing around the same records.
	raw := clone(none[HeaderSize:])
	x := append(clone(none[:HeaderSize]), bombtest.XerialFrame(raw, 16)...)
	binary.BigEndian.PutUint16(x[21:], CodecSnappy)
	seeds["valid_snappy_xerial"] = relength(x)

	bad := clone(none)
	bad[HeaderSize+3] = 2 // first record's offset delta 0 -> 1
	seeds["bad_offset_delta"] = recrc(bad)

	// A bomb per codec in a one-record batch.
	for _, b := range seedBombs() {
		seeds["bomb_"+b.Name] = bombBatch(b.Codec, 1, b.Data)
	}
	return seeds
}

// seedBombs are the bombs small enough to check in (the real snappy ones
// need ~100 KiB; snappy's claimed sizes are what its bombs exploit).
func seedBombs() []bomb {
	var out []bomb
	for _, b := range bombs(fuzzLimit) {
		if len(b.Data) <= 16<<10 {
			out = append(out, b)
		}
	}
	return out
}

// decompressSeeds are the seeds of FuzzDecompress<Codec>: a valid payload
// and that codec's bombs.
func decompressSeeds(t testing.TB, codec int) map[string][]byte {
	valid, err := Compress(codec, bytes.Repeat([]byte("sluice "), 100))
	if err != nil {
		t.Fatal(err)
	}
	seeds := map[string][]byte{"valid": valid}
	if codec == CodecSnappy {
		seeds["valid_xerial"] = bombtest.XerialFrame(bytes.Repeat([]byte("sluice "), 100), 256)
	}
	for _, b := range seedBombs() {
		if b.Codec == codec {
			seeds["bomb_"+b.Name] = b.Data
		}
	}
	return seeds
}

func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("SLUICE_WRITE_FUZZ_CORPUS") == "" {
		t.Skip("set SLUICE_WRITE_FUZZ_CORPUS=1 to regenerate testdata/fuzz seeds")
	}
	targets := map[string]map[string][]byte{
		"FuzzValidate": seedBatches(t),
		"FuzzRecords":  seedBatches(t),
	}
	for _, codec := range allCodecs[1:] {
		targets["FuzzDecompress"+fuzzCodecName(codec)] = decompressSeeds(t, codec)
	}
	for target, seeds := range targets {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range seeds {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, "seed_"+name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// fuzzCodecName is the codec's part of its fuzz target's name.
func fuzzCodecName(codec int) string {
	return map[int]string{CodecGzip: "Gzip", CodecSnappy: "Snappy", CodecLZ4: "LZ4", CodecZstd: "Zstd"}[codec]
}

// TestSeedBatches pins what each seed is meant to exercise.
func TestSeedBatches(t *testing.T) {
	for name, b := range seedBatches(t) {
		_, err := ValidateAll(b, testMaxMessageBytes)
		switch name {
		case "truncated", "truncated_header":
			if err != ErrShort {
				t.Errorf("%s: %v", name, err)
			}
		case "bad_offset_delta":
			if err == nil {
				t.Errorf("%s accepted", name)
			}
		case "bomb_" + name[min(len(name), 5):]:
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s: %v, want ErrCorrupt", name, err)
			}
		default:
			if err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}
