// Fuzz targets for the two entry points that see untrusted bytes. Beyond
// "never panic", each checks the properties the broker relies on: a batch
// Validate accepts is one Records can read in full, and its content survives
// a rebuild. Random mutations almost never keep a valid CRC, which would
// stop every input at the CRC check, so each target also runs on a copy with
// the length and CRC patched to match, letting the fuzzer reach the record
// parser. Each input runs under a guard (fuzz_guard_test.go): a time limit,
// and a budget for what it may allocate, with MaxDecompressed at fuzzLimit.
// Seeds live in testdata/fuzz/<FuzzName>/ (see corpus_gen_test.go), a bomb
// per codec among them.

package record

import (
	"errors"
	"testing"
)

// fuzzSeeds adds a small batch per codec. Small matters: the fuzzer
// minimizes each input that finds new coverage byte by byte, and on the
// 17 KiB sampleSpec batches that took its whole minimization budget (a
// minute) per input, with nothing fuzzed meanwhile.
func fuzzSeeds(f *testing.F) {
	for _, codec := range allCodecs {
		spec := sampleSpec(codec)
		spec.Records = spec.Records[:4] // without the 16 KiB record
		f.Add(mustBuild(f, spec))
	}
}

// patched returns data with batchLength and CRC made consistent, or nil if
// data is too short to have a header.
func patched(data []byte) []byte {
	if len(data) < HeaderSize {
		return nil
	}
	return relength(clone(data))
}

func FuzzValidate(f *testing.F) {
	fuzzSeeds(f)
	withFuzzLimit(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// Four decodes per copy, and one per batch in ValidateAll.
		guard(t, fuzzBudget(8+len(data)/HeaderSize, len(data)), func() {
			_, _ = ValidateAll(data, testMaxMessageBytes)
			checkValidate(t, data)
			if p := patched(data); p != nil {
				checkValidate(t, p)
			}
		})
	})
}

func checkValidate(t *testing.T, data []byte) {
	h, err := Validate(data, testMaxMessageBytes)
	if err != nil {
		if !knownError(err) {
			t.Fatalf("Validate returned an unclassified error: %v", err)
		}
		return
	}
	var recs []Record
	err = Records(data, func(r *Record) error {
		if r.OffsetDelta != int32(len(recs)) {
			t.Fatalf("Validate accepted offset delta %d at %d", r.OffsetDelta, len(recs))
		}
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		t.Fatalf("Validate accepted a batch Records rejects: %v", err)
	}
	if len(recs) != int(h.NumRecords) {
		t.Fatalf("Records returned %d of %d records", len(recs), h.NumRecords)
	}
	// Rebuilding the same content must validate and read back identically.
	again, err := Build(BatchSpec{
		BaseOffset: h.BaseOffset, ProducerID: h.ProducerID, ProducerEpoch: h.ProducerEpoch,
		BaseSequence: h.BaseSequence, Attributes: h.Attributes, BaseTimestamp: h.BaseTimestamp,
		PartitionLeaderEpoch: h.PartitionLeaderEpoch, Records: recs,
	})
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	if _, err := Validate(again, testMaxMessageBytes); err != nil {
		t.Fatalf("rebuilt batch fails Validate: %v", err)
	}
	back, err := collect(again)
	if err != nil {
		t.Fatalf("rebuilt batch fails Records: %v", err)
	}
	if err := sameRecords(back, recs); err != nil {
		t.Fatalf("rebuild changed content: %v", err)
	}
}

func knownError(err error) bool {
	for _, e := range []error{ErrShort, ErrMagic, ErrCRC, ErrCorrupt, ErrInvalidCodec} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

func FuzzRecords(f *testing.F) {
	fuzzSeeds(f)
	withFuzzLimit(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		guard(t, fuzzBudget(4, len(data)), func() {
			checkRecords(t, data)
			if p := patched(data); p != nil {
				checkRecords(t, p)
			}
		})
	})
}

func checkRecords(t *testing.T, data []byte) {
	var recs []Record
	err := Records(data, func(r *Record) error {
		recs = append(recs, *r)
		return nil
	})
	if err != nil {
		if !knownError(err) {
			t.Fatalf("Records returned an unclassified error: %v", err)
		}
		return
	}
	h, _ := ParseHeader(data)
	if len(recs) != int(h.NumRecords) {
		t.Fatalf("Records returned %d of %d records", len(recs), h.NumRecords)
	}
	// Re-encoding what was read must parse to the same records (offset
	// deltas included, which Records does not constrain).
	again, err := Build(BatchSpec{Records: recs})
	if err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	back, err := collect(again)
	if err != nil {
		t.Fatalf("rebuilt batch fails Records: %v", err)
	}
	if err := sameRecords(back, recs); err != nil {
		t.Fatalf("rebuild changed content: %v", err)
	}
}
