package metadata

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/raft"
	"github.com/sluice-io/sluice/internal/record"
)

// LogBatch is one stretch of a metadata log segment as a scan found it:
// an intact batch, or (Damage != nil) bytes that are not one.
type LogBatch struct {
	Segment      string // file name of the segment (e.g. 00000000000000000001.log)
	Position     int64  // in the segment file
	Size         int64  // bytes
	BaseOffset   int64  // as written in the batch (intact batches)
	LastOffset   int64
	MaxTimestamp int64 // ms
	Epoch        int32 // partitionLeaderEpoch: the entries' raft term (FormatRaft)

	// Entries are a raft WAL batch's entries (FormatRaft), one per offset,
	// entry index = offset + 1.
	Entries []LogEntry
	// Records are a single-node log batch's records (FormatLegacy): one
	// change, one offset per record.
	Records []Record

	// Damage says why the bytes [Position, Position+Size) are not a valid
	// batch. They run to the next valid batch, or to the end of the
	// segment: TornTail when that is the end of the last segment, which a
	// crash can leave and the broker truncates by itself.
	Damage   error
	TornTail bool
	// FirstLost and LastLost are the entry indexes a damaged stretch of a
	// raft WAL held, from the intact entries around it (0: unknown, as
	// for a torn tail). Set by the plan.
	FirstLost, LastLost uint64
	// Misnumbered: an intact batch whose base offset (which its CRC does
	// not cover) is not the one expected. Its entries are numbered from
	// the expected offset; repair rewrites the log anyway.
	Misnumbered bool
	// Skipped says why an intact batch is left out of the image
	// (FormatLegacy: its records do not decode or do not apply, usually
	// because what they change was created in damaged bytes before them;
	// FormatRaft: its entries do not decode). Set by the scan or the plan.
	Skipped error
}

// LogEntry is one raft entry of the WAL (FormatRaft).
type LogEntry struct {
	Index, Term uint64
	Kind        raft.EntryKind
	ConfChange  string   // Kind == raft.EntryConfChange: what it changes
	Records     []Record // Kind == raft.EntryProposal: the change (decoded)
	// Covered: at or before the checkpoint the image starts from, which
	// already holds it.
	Covered bool
	// Skipped says why the entry is left out of the image: its records do
	// not decode, or do not apply to the image built so far (usually
	// because what they change was in damaged bytes before them).
	Skipped error
}

// scanLog reads every segment of the log in dir, without changing
// anything, and returns its batches and damaged stretches in order. A
// damaged stretch ends where a valid batch starts again (log.FindBatch),
// so everything intact after damage is found. Intact batches are decoded
// as format's.
func scanLog(dir string, format Format) ([]LogBatch, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []string
	for _, e := range entries {
		if isSegmentName(e.Name()) && e.Type().IsRegular() {
			segs = append(segs, e.Name())
		}
	}
	slices.Sort(segs) // fixed-width names sort by base offset
	var out []LogBatch
	// expected is the offset the next batch should start at: recovery
	// checks it too (offsets are outside the CRC). After damage it is
	// unknown until the next intact batch (resync).
	expected, resync := int64(0), false
	for i, name := range segs {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) && len(out) == 0 {
			continue // deleted behind a snapshot by a running broker since the listing
		}
		if err != nil {
			return nil, err
		}
		if len(out) == 0 {
			expected, _ = strconv.ParseInt(strings.TrimSuffix(name, ".log"), 10, 64)
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
			b.Epoch = h.PartitionLeaderEpoch
			first := h.BaseOffset
			if !resync && h.BaseOffset != expected {
				b.Misnumbered, first = true, expected
			}
			expected, resync = first+int64(h.LastOffsetDelta)+1, false
			switch format {
			case FormatRaft:
				b.Entries, b.Skipped = decodeWALBatch(batch, uint64(first)+1)
			default:
				b.Records, b.Skipped = decodeBatch(batch)
			}
			out = append(out, b)
			pos += b.Size
		}
	}
	return out, nil
}

func isSegmentName(name string) bool {
	stem, ok := strings.CutSuffix(name, ".log")
	_, err := strconv.ParseUint(stem, 10, 63)
	return ok && err == nil && len(stem) == 20
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

// decodeBatch decodes the metadata records of an intact batch of the
// single-node format.
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

// decodeWALBatch decodes the entries of an intact raft WAL batch, and the
// records of each proposal (an entry whose records do not decode is
// marked Skipped).
func decodeWALBatch(batch []byte, firstIndex uint64) ([]LogEntry, error) {
	ents, err := raft.DecodeWALBatch(batch, firstIndex)
	if err != nil {
		return nil, err
	}
	out := make([]LogEntry, len(ents))
	for i, e := range ents {
		out[i] = LogEntry{Index: e.Index, Term: e.Term, Kind: e.Kind, ConfChange: e.ConfChange}
		if e.Kind == raft.EntryProposal {
			out[i].Records, out[i].Skipped = DecodeRecords(e.Payload)
		}
	}
	return out, nil
}
