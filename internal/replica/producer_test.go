package replica

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

func hdr(pid int64, epoch int16, seq, n int32, txn bool) *record.Header {
	h := &record.Header{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: n - 1, NumRecords: n}
	if txn {
		h.Attributes |= record.TransactionalBit
	}
	return h
}

func codeOf(err error) *kerr.Error {
	var pe *ProduceError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return nil
}

// TestProducerStateSequences walks one producer through Kafka's sequence
// rules, applying each accepted batch at the next offsets.
func TestProducerStateSequences(t *testing.T) {
	s := newProducerState()
	next := int64(0)
	steps := []struct {
		name    string
		h       *record.Header
		want    *kerr.Error
		dupBase int64 // >= 0: expect a duplicate of the batch at this offset
	}{
		{"unknown producer, seq 3", hdr(7, 0, 3, 1, false), kerr.UnknownProducerID, -1},
		{"first batch", hdr(7, 0, 0, 2, false), nil, -1},
		{"next batch", hdr(7, 0, 2, 1, false), nil, -1},
		{"retry of first", hdr(7, 0, 0, 2, false), nil, 0},
		{"retry with other range", hdr(7, 0, 0, 1, false), kerr.OutOfOrderSequenceNumber, -1},
		{"gap", hdr(7, 0, 4, 1, false), kerr.OutOfOrderSequenceNumber, -1},
		{"old epoch", hdr(7, -1, 3, 1, false), kerr.InvalidProducerEpoch, -1},
		{"new epoch not at 0", hdr(7, 1, 3, 1, false), kerr.OutOfOrderSequenceNumber, -1},
		{"new epoch at 0", hdr(7, 1, 0, 1, false), nil, -1},
		{"retry of previous epoch", hdr(7, 0, 2, 1, false), kerr.InvalidProducerEpoch, -1},
		{"b2", hdr(7, 1, 1, 1, false), nil, -1},
		{"b3", hdr(7, 1, 2, 1, false), nil, -1},
		{"b4", hdr(7, 1, 3, 1, false), nil, -1},
		{"b5", hdr(7, 1, 4, 1, false), nil, -1},
		{"b6", hdr(7, 1, 5, 1, false), nil, -1},
		{"retry of the 5th newest", hdr(7, 1, 1, 1, false), nil, 4},
		{"retry older than the last five", hdr(7, 1, 0, 1, false), kerr.OutOfOrderSequenceNumber, -1},
		{"transactional batch", hdr(7, 1, 6, 1, true), nil, -1},
		{"plain batch inside the transaction", hdr(7, 1, 7, 1, false), kerr.InvalidTxnState, -1},
	}
	for _, st := range steps {
		dup, err := s.check(st.h, nil)
		if got := codeOf(err); got != st.want {
			t.Fatalf("%s: error %v, want %v", st.name, got, st.want)
		}
		if (dup != nil) != (st.dupBase >= 0) || (dup != nil && dup.firstOff != st.dupBase) {
			t.Fatalf("%s: duplicate %+v, want base %d", st.name, dup, st.dupBase)
		}
		if err == nil && dup == nil {
			n := int64(st.h.LastOffsetDelta) + 1
			s.apply(st.h, next, next+n-1, controlInfo{})
			next += n
		}
	}
	if f, ok := s.firstUnstable(next); !ok || f != next-1 {
		t.Fatalf("first unstable %d %v, want %d", f, ok, next-1)
	}
	// Abort marker: the transaction ends, is listed as aborted, and the
	// LSO waits until the HW passes the marker.
	marker := hdr(7, 1, -1, 1, true)
	marker.Attributes |= record.ControlBit
	s.apply(marker, next, next, controlInfo{valid: true})
	if f, ok := s.firstUnstable(next); !ok || f != next-1 {
		t.Fatalf("LSO moved before the marker was below the HW: %d %v", f, ok)
	}
	if _, ok := s.firstUnstable(next + 1); ok {
		t.Fatalf("transaction still unstable after its marker")
	}
	if got := s.abortedIn(0, next+1); len(got) != 1 || got[0] != (AbortedTxn{7, next - 1, next}) {
		t.Fatalf("aborted: %+v", got)
	}
	if got := s.abortedIn(next+1, next+5); len(got) != 0 {
		t.Fatalf("aborted after the marker: %+v", got)
	}
}

// TestProducerStateSequenceWrap: sequences wrap from MaxInt32 to 0.
func TestProducerStateSequenceWrap(t *testing.T) {
	s := newProducerState()
	s.producers[1] = &producerEntry{epoch: 0, txnFirst: -1, batches: []batchMeta{{math.MaxInt32 - 1, math.MaxInt32 - 1, 0, 0}}}
	h := hdr(1, 0, math.MaxInt32, 3, false) // MaxInt32, 0, 1
	if _, err := s.check(h, nil); err != nil {
		t.Fatal(err)
	}
	s.apply(h, 1, 3, controlInfo{})
	if got := s.producers[1].lastSeq(); got != 1 {
		t.Fatalf("last sequence %d after wrapping, want 1", got)
	}
	if _, err := s.check(hdr(1, 0, 2, 1, false), nil); err != nil {
		t.Fatal(err)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := newProducerState()
	s.producers[3] = &producerEntry{epoch: 2, coordEpoch: 5, lastTs: 99, txnFirst: 10,
		batches: []batchMeta{{0, 4, 5, 9}, {5, 5, 10, 10}}}
	s.producers[9] = &producerEntry{epoch: 0, coordEpoch: -1, txnFirst: -1}
	s.aborted = []AbortedTxn{{3, 1, 4}}
	b := encodeSnapshot(s, 11)
	got, off, err := decodeSnapshot(b)
	if err != nil || off != 11 {
		t.Fatalf("decode: %v offset %d", err, off)
	}
	if !reflect.DeepEqual(got.producers[3], s.producers[3]) || got.producers[9].txnFirst != -1 ||
		!reflect.DeepEqual(got.aborted, s.aborted) {
		t.Fatalf("round trip: %+v %+v", got.producers, got.aborted)
	}
	b[len(b)-1] ^= 1
	if _, _, err := decodeSnapshot(b); err == nil {
		t.Fatalf("corrupt snapshot decoded")
	}
}

// openTestPartition opens a partition on dir with tiny segments.
func openTestPartition(t *testing.T, dir string) *Partition {
	t.Helper()
	cfg := config.Topic{SegmentBytes: 300, FlushMessages: 1, CleanupPolicy: "delete", RetentionMs: -1, RetentionBytes: -1}
	l, err := log.Open(dir, logConfig(cfg), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &Partition{Dir: dir, log: l}
	p.cfg.Store(&cfg)
	if err := p.loadProducerState(); err != nil {
		t.Fatal(err)
	}
	if err := p.openEpochs(); err != nil {
		t.Fatal(err)
	}
	p.hw = l.EndOffset()
	return p
}

func testBatch(t *testing.T, pid int64, epoch int16, seq int32, txn bool) ([]byte, record.Header) {
	t.Helper()
	attrs := int16(0)
	if txn {
		attrs = record.TransactionalBit
	}
	b, err := record.Build(record.BatchSpec{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, Attributes: attrs,
		BaseTimestamp: 1000, Records: []record.Record{{Value: make([]byte, 60)}}})
	if err != nil {
		t.Fatal(err)
	}
	h, _ := record.ParseHeader(b)
	return b, h
}

func stateOf(p *Partition) (map[int64]producerEntry, []AbortedTxn) {
	out := map[int64]producerEntry{}
	for id, e := range p.ps.producers {
		c := *e
		c.markers, c.touchedMs = 0, 0
		if len(c.batches) == 0 {
			c.batches = nil
		}
		out[id] = c
	}
	return out, append([]AbortedTxn(nil), p.ps.aborted...)
}

// TestProducerStateSurvivesRestart: the state after reopening equals the
// live state, whether it comes from the close snapshot, from an older
// (roll) snapshot plus a scan, or from a full scan.
func TestProducerStateSurvivesRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	p := openTestPartition(t, dir)
	seq := map[int64]int32{}
	produce := func(pid int64, txn bool) {
		b, h := testBatch(t, pid, 0, seq[pid], txn)
		if _, _, err := p.Produce(b, h, nil); err != nil {
			t.Fatal(err)
		}
		seq[pid]++
	}
	for i := range 12 {
		produce(1, false)
		produce(2, true)
		if i%3 == 2 {
			if _, err := p.AppendMarker(2, 0, i%2 == 0, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(2, true) // left open
	wantP, wantA := stateOf(p)
	if len(wantA) == 0 || p.log.NumSegments() < 3 {
		t.Fatalf("setup: %d aborted, %d segments", len(wantA), p.log.NumSegments())
	}
	if err := p.close(); err != nil {
		t.Fatal(err)
	}
	check := func(stage string) {
		t.Helper()
		p = openTestPartition(t, dir)
		gotP, gotA := stateOf(p)
		if !reflect.DeepEqual(gotP, wantP) || !reflect.DeepEqual(gotA, wantA) {
			t.Fatalf("%s: state\n%+v %+v\nwant\n%+v %+v", stage, gotP, gotA, wantP, wantA)
		}
		if err := p.log.Close(); err != nil {
			t.Fatal(err)
		}
	}
	check("close snapshot")
	offs, _ := listSnapshots(dir)
	if len(offs) < 2 {
		t.Fatalf("snapshots: %v", offs)
	}
	newest := filepath.Join(dir, snapshotName(offs[len(offs)-1]))
	if err := os.WriteFile(newest, []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	check("older snapshot and scan")
	for _, o := range offs {
		_ = os.Remove(filepath.Join(dir, snapshotName(o)))
	}
	check("full scan")
}

// TestProducerStateExpiry: idle producers are forgotten after
// producer.id.expiration.ms of broker time, unless a transaction is open.
func TestProducerStateExpiry(t *testing.T) {
	s := newProducerState()
	s.nowMs = 1000
	s.apply(hdr(1, 0, 0, 1, false), 0, 0, controlInfo{})
	s.apply(hdr(2, 0, 0, 1, true), 1, 1, controlInfo{})
	s.expire(1000 + producerExpirationMs)
	if len(s.producers) != 2 {
		t.Fatalf("expired too early: %d", len(s.producers))
	}
	s.expire(1001 + producerExpirationMs)
	if s.producers[1] != nil || s.producers[2] == nil {
		t.Fatalf("after expiry: %+v", s.producers)
	}
}
