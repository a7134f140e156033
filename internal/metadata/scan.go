package metadata

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// LogBatch is one stretch of a metadata log segment as a scan found it:
// an intact batch, or (Damage != nil) bytes that are not one.
type LogBatch struct {
	Segment      string // file name of the segment (e.g. 00000000000000000000.log)
	Position     int64  // in the segment file
	Size         int64  // bytes
	BaseOffset   int64  // as written in the batch (intact batches)
	LastOffset   int64
	MaxTimestamp int64    // ms
	Records      []Record // the decoded records (intact batches that decode)

	// Damage says why the bytes [Position, Position+Size) are not a valid
	// batch. They run to the next valid batch, or to the end of the
	// segment: TornTail when that is the end of the last segment, which a
	// crash can leave and the broker truncates by itself.
	Damage   error
	TornTail bool
	// Misnumbered: an intact batch whose base offset (which its CRC does
	// not cover) is not the one expected. Repair keeps it; offsets are
	// reassigned anyway.
	Misnumbered bool
	// Skipped says why an intact batch is left out of the image: its
	// records do not decode, or do not apply (usually because what they
	// change was created in damaged bytes before them). Set by plan.
	Skipped error

	raw   []byte // the batch (intact batches)
	epoch int32
}

// scanLog reads every segment of the metadata log in dir, without
// changing anything, and returns its batches and damaged stretches in
// order. A damaged stretch ends where a valid batch starts again
// (log.FindBatch), so everything intact after damage is found.
func scanLog(dir string) ([]LogBatch, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []string
	for _, e := range entries {
		stem, ok := strings.CutSuffix(e.Name(), ".log")
		if _, err := strconv.ParseUint(stem, 10, 63); ok && err == nil && len(stem) == 20 && e.Type().IsRegular() {
			segs = append(segs, e.Name())
		}
	}
	slices.Sort(segs) // fixed-width names sort by base offset
	var out []LogBatch
	// expected is the offset the next batch should start at: recovery
	// checks it too (offsets are outside the CRC). After damage it is
	// unknown until the next intact batch (resync).
	expected, resync := int64(0), false
	if len(segs) > 0 {
		expected, _ = strconv.ParseInt(strings.TrimSuffix(segs[0], ".log"), 10, 64)
	}
	for i, name := range segs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for pos := int64(0); pos < int64(len(data)); {
			b := LogBatch{Segment: name, Position: pos}
			h, batch, why := checkBatch(data[pos:])
			if why != nil {
				next, found, err := log.FindBatch(bytes.NewReader(data), pos+1, int64(len(data)), 0)
				if err != nil {
					return nil, err
				}
				if !found {
					next = int64(len(data))
					b.TornTail = i == len(segs)-1
				}
				b.Size, b.Damage = next-pos, why
				out = append(out, b)
				pos, resync = next, true
				continue
			}
			b.Size, b.BaseOffset, b.LastOffset, b.MaxTimestamp = int64(len(batch)), h.BaseOffset, h.LastOffset(), h.MaxTimestamp
			b.raw, b.epoch = batch, h.PartitionLeaderEpoch
			if !resync && h.BaseOffset != expected {
				b.Misnumbered = true
				expected += int64(h.LastOffsetDelta) + 1
			} else {
				expected = h.LastOffset() + 1
			}
			resync = false
			b.Records, b.Skipped = decodeBatch(batch)
			out = append(out, b)
			pos += b.Size
		}
	}
	return out, nil
}

// checkBatch checks the batch at the front of b as recovery does (header,
// length inside the file, CRC) and its framing as the metadata log writes
// it (uncompressed records with offset deltas 0, 1, ...).
func checkBatch(b []byte) (record.Header, []byte, error) {
	h, err := record.ParseHeader(b)
	switch {
	case err != nil:
		return h, nil, err
	case h.Size() > len(b):
		return h, nil, fmt.Errorf("batch of %d bytes, %d left in the file", h.Size(), len(b))
	case h.LastOffsetDelta < 0:
		return h, nil, fmt.Errorf("lastOffsetDelta %d", h.LastOffsetDelta)
	}
	batch := b[:h.Size()]
	if err := record.CheckCRC(batch); err != nil {
		return h, nil, err
	}
	n := int32(0)
	err = record.Records(batch, func(r *record.Record) error {
		if r.OffsetDelta != n {
			return fmt.Errorf("record offset delta %d, want %d", r.OffsetDelta, n)
		}
		n++
		return nil
	})
	if err == nil && n != h.LastOffsetDelta+1 {
		err = fmt.Errorf("%d records for lastOffsetDelta %d", n, h.LastOffsetDelta)
	}
	return h, batch, err
}

// decodeBatch decodes the metadata records of an intact batch.
func decodeBatch(batch []byte) ([]Record, error) {
	var recs []Record
	err := record.Records(batch, func(r *record.Record) error {
		rec, err := Decode(r.Value)
		if err != nil {
			return fmt.Errorf("record %d: %w", len(recs), err)
		}
		recs = append(recs, rec)
		return nil
	})
	return recs, err
}
