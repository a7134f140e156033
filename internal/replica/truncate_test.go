package replica

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/sluice-io/sluice/internal/record"
)

// replayAll rebuilds the producer state from every batch of p's log, with
// no snapshot: the truth truncation must reproduce.
func replayAll(t testing.TB, p *Partition) *Partition {
	t.Helper()
	s := newProducerState()
	from, leo := p.log.StartOffset(), p.log.EndOffset()
	for from < leo {
		rr, err := p.log.Read(from, 64<<20, leo)
		if err != nil {
			t.Fatal(err)
		}
		next := from
		err = scanHeaders(rr, func(h record.Header, batch []byte) {
			s.apply(&h, h.BaseOffset, h.LastOffset(), controlOf(&h, batch))
			next = h.LastOffset() + 1
		})
		empty := rr.Size == 0
		rr.Release()
		if err != nil {
			t.Fatal(err)
		}
		if empty || next <= from {
			break
		}
		from = next
	}
	return &Partition{ps: s}
}

// checkRebuilt fails unless p's producer state equals a full replay of its
// log and its epoch cache equals a rebuild from the batch headers.
func checkRebuilt(t testing.TB, p *Partition, stage string) {
	t.Helper()
	gotP, gotA := stateOf(p)
	wantP, wantA := stateOf(replayAll(t, p))
	if !reflect.DeepEqual(gotP, wantP) || !reflect.DeepEqual(gotA, wantA) {
		t.Fatalf("%s: producer state\n%+v %+v\nfull replay\n%+v %+v", stage, gotP, gotA, wantP, wantA)
	}
	want, err := p.scanEpochs()
	if err != nil {
		t.Fatal(err)
	}
	if got := p.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("%s: epoch cache %v, rebuilt from headers %v", stage, got, want)
	}
}

// multiBatch is a data batch of n records of producer pid (pid < 0: not
// idempotent).
func multiBatch(t testing.TB, pid int64, seq int32, n int, txn bool) []byte {
	t.Helper()
	attrs := int16(0)
	if txn {
		attrs = record.TransactionalBit
	}
	if pid < 0 {
		seq = -1
	}
	recs := make([]record.Record, n)
	for i := range recs {
		recs[i] = record.Record{OffsetDelta: int32(i), Value: make([]byte, 40)}
	}
	b, err := record.Build(record.BatchSpec{ProducerID: pid, ProducerEpoch: 0, BaseSequence: seq, Attributes: attrs,
		BaseTimestamp: 1000, Records: recs})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// span is one batch of the history: its offsets.
type span struct{ base, last int64 }

// history writes a fixed mixed history over three leader epochs (1@0,
// 3@.., 5@..) across several segments and returns each batch's offsets:
// producer 1 idempotent, producer 2 transactional (committed, aborted, and
// one open at the end), plus plain batches of 3 records.
func history(t *testing.T, p *Partition) []span {
	t.Helper()
	var out []span
	seq := map[int64]int32{}
	data := func(pid int64, n int, txn bool) {
		b := multiBatch(t, pid, seq[pid], n, txn)
		h, _ := record.ParseHeader(b)
		var first, last int64
		if pid < 0 {
			info, err := p.Append(b, int64(n))
			if err != nil {
				t.Fatal(err)
			}
			first, last = info.FirstOffset, info.LastOffset
		} else {
			info, dup, err := p.Produce(b, h, nil)
			if err != nil || dup {
				t.Fatalf("produce pid %d seq %d: %v dup %v", pid, seq[pid], err, dup)
			}
			first, last = info.FirstOffset, info.LastOffset
		}
		seq[pid] += int32(n)
		out = append(out, span{first, last})
	}
	marker := func(commit bool) {
		end, err := p.AppendMarker(2, 0, commit, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, span{end - 1, end - 1})
	}
	for _, epoch := range []int32{1, 3, 5} {
		p.setLeaderEpoch(epoch)
		data(-1, 3, false)
		data(1, 2, false)
		data(2, 2, true)
		data(1, 1, false)
		marker(epoch != 3) // epoch 3's transaction aborts
		data(2, 3, true)
		data(-1, 3, false)
		if epoch != 5 {
			marker(true)
		}
	}
	if err := p.Commit(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestTruncateTo truncates the same history at every kind of point and
// checks the log end, the HW, the LSO, the epoch cache, the snapshots and
// that the producer state equals a full replay of what is left.
func TestTruncateTo(t *testing.T) {
	// Learn the layout once.
	p0 := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
	spans := history(t, p0)
	epochs0 := p0.EpochEntries()
	leo := p0.log.EndOffset()
	p0.log.Close()
	if len(epochs0) != 3 {
		t.Fatalf("setup: epochs %v", epochs0)
	}
	i := len(spans) / 2
	for spans[i].last == spans[i].base {
		i++ // a batch of several records
	}
	mid := spans[i]
	cases := []struct {
		name   string
		to     int64
		end    int64
		epochs []EpochEntry
	}{
		{"batch boundary", mid.base, mid.base, nil},
		{"middle of a batch", mid.base + 1, mid.base, nil},
		{"last offset of a batch", mid.last, mid.base, nil},
		{"start of epoch 3", epochs0[1].StartOffset, epochs0[1].StartOffset, epochs0[:1]},
		{"just after the start of epoch 5", epochs0[2].StartOffset + 1, epochs0[2].StartOffset, epochs0[:2]},
		{"log start", 0, 0, []EpochEntry{}},
		{"one before the end", leo - 1, spans[len(spans)-1].base, epochs0},
		{"at the end", leo, leo, epochs0},
		{"past the end", leo + 10, leo, epochs0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
			defer p.log.Close()
			history(t, p)
			ch := make(chan struct{}, 1)
			p.Watch(ch)
			if err := p.TruncateTo(c.to); err != nil {
				t.Fatal(err)
			}
			end := p.log.EndOffset()
			if end != c.end {
				t.Fatalf("end %d, want %d", end, c.end)
			}
			if hw := p.HighWatermark(); hw != end {
				t.Fatalf("HW %d after truncation to %d", hw, end)
			}
			if lso := p.LastStableOffset(); lso > p.HighWatermark() {
				t.Fatalf("LSO %d above HW", lso)
			}
			if c.epochs != nil {
				if got := p.EpochEntries(); !slices.Equal(got, c.epochs) && !(len(got) == 0 && len(c.epochs) == 0) {
					t.Fatalf("epochs %v, want %v", got, c.epochs)
				}
			}
			checkRebuilt(t, p, "after truncation")
			offs, _ := listSnapshots(p.Dir)
			for _, o := range offs {
				if o > end {
					t.Fatalf("snapshot %d left beyond the end %d", o, end)
				}
			}
			if c.to < leo {
				select {
				case <-ch:
				default:
					t.Fatalf("waiter not woken")
				}
			}
			// The next append starts at the new end, in a new epoch.
			p.setLeaderEpoch(7)
			info, err := p.Append(multiBatch(t, -1, 0, 2, false), 2)
			if err != nil {
				t.Fatal(err)
			}
			if info.FirstOffset != end {
				t.Fatalf("next append at %d, want %d", info.FirstOffset, end)
			}
			if got := p.EpochEntries(); got[len(got)-1] != (EpochEntry{7, end}) {
				t.Fatalf("epochs after the next append: %v", got)
			}
			checkRebuilt(t, p, "after the next append")
			// Reopening gives the same state.
			wantP, wantA := stateOf(p)
			wantE := p.EpochEntries()
			if err := p.close(); err != nil {
				t.Fatal(err)
			}
			p = openTestPartition(t, p.Dir)
			gotP, gotA := stateOf(p)
			if !reflect.DeepEqual(gotP, wantP) || !reflect.DeepEqual(gotA, wantA) || !slices.Equal(p.EpochEntries(), wantE) {
				t.Fatalf("reopened state differs")
			}
		})
	}
}

// TestTruncateOpenTransaction: a transaction whose marker lies past the
// cut is open again after truncation (it bounds the LSO), an aborted one
// whose marker is cut leaves the aborted list, and one that started past
// the cut is gone entirely.
func TestTruncateOpenTransaction(t *testing.T) {
	p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
	defer p.log.Close()
	produce := func(pid int64, seq int32, txn bool) int64 {
		b := multiBatch(t, pid, seq, 2, txn)
		h, _ := record.ParseHeader(b)
		info, _, err := p.Produce(b, h, nil)
		if err != nil {
			t.Fatal(err)
		}
		return info.FirstOffset
	}
	first2 := produce(2, 0, true)              // 0-1: producer 2's transaction
	produce(1, 0, false)                       // 2-3
	first3 := produce(3, 0, true)              // 4-5: producer 3's transaction
	cut, err := p.AppendMarker(3, 0, false, 0) // 6: abort of producer 3
	if err != nil {
		t.Fatal(err)
	}
	cut--                                                    // the abort marker's offset
	if _, err := p.AppendMarker(2, 0, true, 0); err != nil { // 7: commit of producer 2
		t.Fatal(err)
	}
	produce(4, 0, true) // 8-9: producer 4's transaction, past the cut
	if err := p.Commit(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	if got := p.AbortedTxns(0, 100); len(got) != 1 {
		t.Fatalf("setup: aborted %v", got)
	}
	if lso := p.LastStableOffset(); lso != 8 {
		t.Fatalf("setup: LSO %d, want 8", lso)
	}

	if err := p.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	if end := p.log.EndOffset(); end != cut {
		t.Fatalf("end %d, want %d", end, cut)
	}
	checkRebuilt(t, p, "after truncation")
	if got := p.AbortedTxns(0, 100); len(got) != 0 {
		t.Fatalf("aborted after the cut: %v", got)
	}
	if lso := p.LastStableOffset(); lso != first2 {
		t.Fatalf("LSO %d, want %d (producer 2's transaction is open again)", lso, first2)
	}
	byID := map[int64]ProducerInfo{}
	for _, pi := range p.Producers() {
		byID[pi.ProducerID] = pi
	}
	if byID[2].TxnStartOffset != first2 || byID[3].TxnStartOffset != first3 {
		t.Fatalf("open transactions: %+v", byID)
	}
	if _, ok := byID[4]; ok {
		t.Fatalf("producer 4 survived the cut: %+v", byID[4])
	}
	// Producer 1 continues at its next sequence; producer 4 starts over.
	if first := produce(1, 2, false); first != cut {
		t.Fatalf("next append at %d, want %d", first, cut)
	}
	produce(4, 0, true)
	// The leader's markers close both transactions again.
	if _, err := p.AppendMarker(3, 0, false, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.AppendMarker(2, 0, true, 0); err != nil {
		t.Fatal(err)
	}
	checkRebuilt(t, p, "after the leader's markers")
}

// TestTruncateBelowStartAndReset: a truncation below the log start and a
// reset both leave an empty log at the given offset with no epochs, no
// producers and no snapshots, and the leader's batches append from there.
func TestTruncateBelowStartAndReset(t *testing.T) {
	for _, c := range []struct {
		name  string
		do    func(p *Partition) error
		start int64
	}{
		{"reset ahead", func(p *Partition) error { return p.ResetTo(500) }, 500},
		{"reset behind", func(p *Partition) error { return p.ResetTo(3) }, 3},
		{"truncate below start", func(p *Partition) error {
			if err := p.ResetTo(100); err != nil {
				return err
			}
			if _, err := p.Append(multiBatch(t, 1, 0, 2, false), 2); err != nil {
				return err
			}
			return p.TruncateTo(50)
		}, 50},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
			defer p.log.Close()
			history(t, p)
			ch := make(chan struct{}, 1)
			p.Watch(ch)
			if err := c.do(p); err != nil {
				t.Fatal(err)
			}
			if s, e := p.log.StartOffset(), p.log.EndOffset(); s != c.start || e != c.start {
				t.Fatalf("log [%d, %d), want empty at %d", s, e, c.start)
			}
			if hw, lso := p.HighWatermark(), p.LastStableOffset(); hw != c.start || lso != c.start {
				t.Fatalf("HW %d LSO %d, want %d", hw, lso, c.start)
			}
			if e := p.EpochEntries(); len(e) != 0 {
				t.Fatalf("epochs %v", e)
			}
			if n := len(p.Producers()); n != 0 {
				t.Fatalf("%d producers left", n)
			}
			if offs, _ := listSnapshots(p.Dir); len(offs) != 0 {
				t.Fatalf("snapshots %v", offs)
			}
			select {
			case <-ch:
			default:
				t.Fatalf("waiter not woken")
			}
			p.setLeaderEpoch(9)
			info, err := p.Append(multiBatch(t, 1, 0, 2, false), 2)
			if err != nil || info.FirstOffset != c.start {
				t.Fatalf("append after reset: %+v %v", info, err)
			}
			if got := p.EpochEntries(); !slices.Equal(got, []EpochEntry{{9, c.start}}) {
				t.Fatalf("epochs %v", got)
			}
			checkRebuilt(t, p, "after reset and append")
			if err := p.close(); err != nil {
				t.Fatal(err)
			}
			p = openTestPartition(t, p.Dir)
			if s, e := p.log.StartOffset(), p.log.EndOffset(); s != c.start || e != c.start+2 {
				t.Fatalf("reopened log [%d, %d)", s, e)
			}
			checkRebuilt(t, p, "reopened")
		})
	}
}

// TestTruncateConcurrentReaders: readers of the HW, the LSO, the aborted
// index, the producers and the epoch cache run while the partition is
// truncated and refilled (run with -race); the state checks out after.
func TestTruncateConcurrentReaders(t *testing.T) {
	p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
	defer p.log.Close()
	history(t, p)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			_ = p.LastStableOffset()
			_ = p.HighWatermark()
			_ = p.AbortedTxns(0, 1<<40)
			_ = p.Producers()
			_ = p.EpochEntries()
			_, _, _ = p.DivergingEpoch(3, 10)
			_ = p.TruncationOffset(3, 10)
		}
	}()
	for i := range 5 {
		if err := p.TruncateTo(p.log.EndOffset() / 2); err != nil {
			t.Fatal(err)
		}
		p.setLeaderEpoch(int32(10 + i))
		for range 5 {
			if _, err := p.Append(multiBatch(t, 9, 0, 2, false), 2); err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-done
	checkRebuilt(t, p, "after concurrent truncations")
}

// TestTruncateEpochWriteFailure: when the epoch checkpoint cannot be
// written, TruncateTo reports it but still leaves the log, the cache in
// memory, the producer state and the HW consistent with the new end.
func TestTruncateEpochWriteFailure(t *testing.T) {
	p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
	defer p.log.Close()
	history(t, p)
	epochs := p.EpochEntries()
	// A directory where the checkpoint file goes: no rename can replace it.
	ck := filepath.Join(p.Dir, EpochCheckpointFile)
	if err := os.Remove(ck); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ck, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	cut := epochs[1].StartOffset
	if err := p.TruncateTo(cut); err == nil {
		t.Fatalf("no error from an unwritable epoch checkpoint")
	}
	if end := p.log.EndOffset(); end != cut || p.HighWatermark() != cut {
		t.Fatalf("end %d HW %d, want %d", end, p.HighWatermark(), cut)
	}
	checkRebuilt(t, p, "after the failed epoch write")
}
