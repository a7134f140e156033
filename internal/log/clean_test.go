package log

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/record"
)

var cleanNow = time.UnixMilli(1_700_000_000_000)

// splitAt returns the records below and at or above off.
func splitAt(rs []rec, off int64) (below, above []rec) {
	for _, r := range rs {
		if r.off < off {
			below = append(below, r)
		} else {
			above = append(above, r)
		}
	}
	return below, above
}

func TestCleanKeepsLatestPerKey(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	for i := range 40 {
		k := fmt.Sprintf("k%d", i%3)
		mustAppend(t, l, keyedBatch(t, 1000+int64(i), 0, -1, put(k, fmt.Sprint("v", i)), put("x", fmt.Sprint("x", i))))
	}
	before := readRecords(t, l)
	sizeBefore, segsBefore := l.Size(), l.NumSegments()
	active := l.ActiveBase()

	res := mustClean(t, l, cleanOpts(l, cleanNow))
	if !res.Cleaned || res.FirstDirty != active {
		t.Fatalf("result %+v, want a pass up to the active segment %d", res, active)
	}
	sealed, act := splitAt(before, active)
	want := append(latestPerKey(sealed), act...)
	sameRecs(t, "after cleaning", readRecords(t, l), want)
	// Groups are formed from the old segments' sizes (as Kafka does), so
	// these full segments are cleaned one by one; the next pass merges
	// the now small ones.
	if l.Size() >= sizeBefore/4 {
		t.Fatalf("size %d -> %d: did not shrink", sizeBefore, l.Size())
	}
	if l.EndOffset() != before[len(before)-1].off+1 {
		t.Fatalf("end offset moved to %d", l.EndOffset())
	}

	// A read starting inside a removed range gets the next kept batch.
	rr, err := l.Read(1, 1<<20, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := rr.ReadAll(nil)
	rr.Release()
	if hs := headers(t, b); len(hs) == 0 || hs[0].LastOffset() < 1 {
		t.Fatalf("read from 1 returned %v", hs)
	}

	// Nothing is dirty now: a second pass does nothing.
	if res := mustClean(t, l, cleanOpts(l, cleanNow)); res.Cleaned {
		t.Fatalf("second pass cleaned again: %+v", res)
	}
	// The result, with its offset gaps, survives a restart, and so does
	// the checkpoint.
	l = reopen(t, l, cfg)
	sameRecs(t, "after reopen", readRecords(t, l), want)
	if res := mustClean(t, l, cleanOpts(l, cleanNow)); res.Cleaned {
		t.Fatalf("pass after reopen cleaned again: %+v", res)
	}
	// More writes make it dirty again; the new pass folds them in.
	for i := range 10 {
		mustAppend(t, l, keyedBatch(t, 2000+int64(i), 0, -1, put("k0", fmt.Sprint("w", i))))
	}
	all := readRecords(t, l)
	active = l.ActiveBase()
	mustClean(t, l, cleanOpts(l, cleanNow))
	sealed, act = splitAt(all, active)
	sameRecs(t, "second round", readRecords(t, l), append(latestPerKey(sealed), act...))
	if n := l.NumSegments(); n > 15 { // 10 dirty full segments, the rest merged
		t.Fatalf("%d segments after two passes (%d before): small segments not merged", n, segsBefore)
	}
}

func TestCleanCompressed(t *testing.T) {
	for _, codec := range []int16{record.CodecGzip, record.CodecSnappy, record.CodecLZ4, record.CodecZstd} {
		t.Run(record.CodecName(int(codec)), func(t *testing.T) {
			cfg := testConfig()
			cfg.SegmentBytes = 300
			l, _ := mustOpen(t, t.TempDir(), cfg)
			for i := range 12 {
				mustAppend(t, l, keyedBatch(t, 1000, codec, -1,
					put("a", fmt.Sprint("a", i)), put("b", fmt.Sprint("b", i)), put(fmt.Sprint("u", i), "u"), put("a", fmt.Sprint("A", i))))
			}
			before := readRecords(t, l)
			active := l.ActiveBase()
			mustClean(t, l, cleanOpts(l, cleanNow))
			sealed, act := splitAt(before, active)
			sameRecs(t, "compacted", readRecords(t, l), append(latestPerKey(sealed), act...))
			for _, h := range headers(t, readAll(t, l, 0)) {
				if h.Codec() != int(codec) {
					t.Fatalf("batch %d has codec %d, want %d", h.BaseOffset, h.Codec(), codec)
				}
			}
		})
	}
}

func TestCleanTombstones(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("a", "1")))
	mustAppend(t, l, keyedBatch(t, 1001, 0, -1, put("b", "1")))
	mustAppend(t, l, keyedBatch(t, 1002, 0, -1, del("a"), put("c", "1")))
	mustAppend(t, l, keyedBatch(t, 1003, 0, -1, put("z", "active")))
	o := cleanOpts(l, cleanNow)
	o.DeleteRetentionMs = 5000
	mustClean(t, l, o)
	want := []rec{{off: 1, key: "b", val: "1", ts: 1001}, {off: 2, key: "a", tomb: true, ts: 1002},
		{off: 3, key: "c", val: "1", ts: 1003}, {off: 4, key: "z", val: "active", ts: 1003}}
	sameRecs(t, "first pass keeps the tombstone", readRecords(t, l), want)
	for _, r := range readRecords(t, l) {
		if r.ts != want[slicesIndexOff(want, r.off)].ts {
			t.Fatalf("record %v: timestamp %d changed", r, r.ts)
		}
	}
	horizon := cleanNow.UnixMilli() + 5000
	var found bool
	for _, h := range headers(t, readAll(t, l, 0)) {
		if h.BaseOffset == 2 {
			found = h.Attributes&DeleteHorizonBit != 0 && h.BaseTimestamp == horizon
		}
	}
	if !found {
		t.Fatal("tombstone batch lacks the delete horizon")
	}

	// Before the horizon nothing is due; at it the log is cleaned with no
	// new data and the tombstone goes, whatever the dirty ratio.
	l = reopen(t, l, cfg)
	o.Now = time.UnixMilli(horizon - 1)
	if info, _ := l.CleanInfo(o); info.Eligible {
		t.Fatalf("eligible before the horizon: %+v", info)
	}
	mustClean(t, l, o)
	sameRecs(t, "before the horizon", readRecords(t, l), want)
	o.Now = time.UnixMilli(horizon)
	o.MinCleanableRatio = 0.99
	if info, _ := l.CleanInfo(o); !info.Due {
		t.Fatalf("not due at the horizon: %+v", info)
	}
	mustClean(t, l, o)
	sameRecs(t, "at the horizon", readRecords(t, l), []rec{want[0], want[2], want[3]})
}

func slicesIndexOff(rs []rec, off int64) int {
	for i, r := range rs {
		if r.off == off {
			return i
		}
	}
	return -1
}

func TestCleanTransactions(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	txn := int16(record.TransactionalBit)
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("a", "1")))         // 0
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("b", "old")))       // 1
	mustAppend(t, l, keyedBatch(t, 1000, txn, 10, put("a", "aborted"))) // 2
	mustAppend(t, l, controlBatch(t, 1000, 10, false))                  // 3
	mustAppend(t, l, keyedBatch(t, 1000, txn, 11, put("b", "c1")))      // 4
	mustAppend(t, l, controlBatch(t, 1000, 11, true))                   // 5
	mustAppend(t, l, keyedBatch(t, 1000, txn, 12, put("a", "open")))    // 6: open: the LSO
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("a", "after")))     // 7
	mustAppend(t, l, keyedBatch(t, 1000, 0, 7, put("b", "idempotent"))) // 8
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("z", "active")))    // 9
	o := cleanOpts(l, cleanNow)
	o.Limit = 6
	o.Aborted = []AbortedTxn{{ProducerID: 10, FirstOffset: 2, LastOffset: 3}}
	mustClean(t, l, o)
	sameRecs(t, "below the LSO", readRecords(t, l), []rec{
		{off: 0, key: "a", val: "1", ts: 1000}, {off: 4, key: "b", val: "c1", ts: 1000},
		{off: 6, key: "a", val: "open", ts: 1000}, {off: 7, key: "a", val: "after", ts: 1000},
		{off: 8, key: "b", val: "idempotent", ts: 1000}, {off: 9, key: "z", val: "active", ts: 1000}})
	var ctl []int64
	for _, h := range headers(t, readAll(t, l, 0)) {
		if h.IsControl() {
			ctl = append(ctl, h.BaseOffset)
		}
	}
	if fmt.Sprint(ctl) != "[3 5]" {
		t.Fatalf("control batches at %v, want [3 5]", ctl)
	}

	// With the transaction done the rest is cleaned; the idempotent
	// producer's last batch stays as an empty batch.
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("b", "last"))) // 10
	mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("y", "1")))    // 11
	o.Limit = l.EndOffset()
	o.Aborted = nil
	mustClean(t, l, o)
	var empty bool
	for _, h := range headers(t, readAll(t, l, 0)) {
		if h.ProducerID == 7 {
			empty = h.NumRecords == 0 && h.BaseOffset == 8 && h.LastOffset() == 8
		}
	}
	if !empty {
		t.Fatal("the idempotent producer's last batch was not kept empty")
	}
	sameRecs(t, "after the transaction", readRecords(t, l), []rec{
		{off: 7, key: "a", val: "after", ts: 1000}, {off: 9, key: "z", val: "active", ts: 1000},
		{off: 10, key: "b", val: "last", ts: 1000}, {off: 11, key: "y", val: "1", ts: 1000}})
}

func TestCleanLagAndRatio(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	for i := range 6 {
		mustAppend(t, l, keyedBatch(t, cleanNow.UnixMilli()-int64(10-i)*1000, 0, -1, put("a", fmt.Sprint(i))))
	}
	o := cleanOpts(l, cleanNow)
	o.MinCompactionLagMs = 60_000
	if info, _ := l.CleanInfo(o); info.Eligible || info.DirtyBytes != 0 {
		t.Fatalf("young segments eligible: %+v", info)
	}
	o.MinCompactionLagMs = 7_500 // the first three segments are old enough
	info, _ := l.CleanInfo(o)
	if !info.Eligible || info.End != 3 {
		t.Fatalf("info %+v, want eligible up to 3", info)
	}
	mustClean(t, l, o)
	recs := readRecords(t, l)
	if recs[0].off != 2 || recs[1].off != 3 {
		t.Fatalf("records %v: want offsets 2, 3, ... (0 and 1 cleaned, 3 not yet)", recs)
	}
	o.MinCompactionLagMs = 0
	o.MinCleanableRatio = 0.9 // 2 dirty of 3 segments
	if info, _ := l.CleanInfo(o); info.Eligible {
		t.Fatalf("eligible below the ratio: %+v", info)
	}
	o.MaxCompactionLagMs = 1000 // but the dirty data is older than the max lag
	if info, _ := l.CleanInfo(o); !info.Eligible || !info.Due {
		t.Fatalf("not due past max.compaction.lag.ms: %+v", info)
	}
}

// TestCleanReadHoldsOldSegments: a fetch that took its result before a
// pass keeps reading the old (now unlinked) files, and they still hold
// valid batches.
func TestCleanReadHoldsOldSegments(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	for i := range 20 {
		mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("k", fmt.Sprint(i))))
	}
	want := readAll(t, l, 0)
	rr, err := l.Read(0, 1<<30, l.EndOffset())
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	if res := mustClean(t, l, cleanOpts(l, cleanNow)); !res.Cleaned {
		t.Fatal("nothing cleaned")
	}
	got, err := rr.ReadAll(nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("a read taken before the pass changed")
	}
	headers(t, got) // CRCs
	if n := len(readRecords(t, l)); n != 2 {
		t.Fatalf("%d records after cleaning, want 2", n)
	}
}

// TestCleanSwapCrash leaves the files of each step of a swap behind, as a
// crash would, and checks that Open keeps either the old segments or the
// cleaned one, whole.
func TestCleanSwapCrash(t *testing.T) {
	cfg := smallSegments()
	orig := t.TempDir()
	l, _ := mustOpen(t, orig, cfg)
	for i := range 12 {
		mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put(fmt.Sprint("k", i%2), fmt.Sprint(i))))
	}
	oldRecs := readRecords(t, l)
	l.Close()

	// A cleaned copy: one group (a larger segment.bytes) into segment 0.
	cleanedDir := filepath.Join(t.TempDir(), "cleaned")
	copyDir(t, orig, cleanedDir)
	big := cfg
	big.SegmentBytes = 1 << 20
	lc, _ := mustOpen(t, cleanedDir, big)
	mustClean(t, lc, cleanOpts(lc, cleanNow))
	newRecs := readRecords(t, lc)
	if lc.NumSegments() != 2 {
		t.Fatalf("cleaned copy has %d segments, want 2", lc.NumSegments())
	}
	lc.Close()
	os.Remove(filepath.Join(cleanedDir, cleanerCheckpointFile))

	from := func(suf string) string { return segmentPath(cleanedDir, 0, suf) }
	cases := []struct {
		name  string
		setup func(dir string)
		want  []rec
	}{
		{"cleaned files written", func(dir string) {
			for _, suf := range segmentSuffixes {
				copyFile(t, from(suf), segmentPath(dir, 0, suf+cleanedSuffix))
			}
		}, oldRecs},
		{"indexes renamed to swap", func(dir string) {
			copyFile(t, from(indexSuffix), segmentPath(dir, 0, indexSuffix+swapSuffix))
			copyFile(t, from(timeIndexSuffix), segmentPath(dir, 0, timeIndexSuffix+swapSuffix))
			copyFile(t, from(logSuffix), segmentPath(dir, 0, logSuffix+cleanedSuffix))
		}, oldRecs},
		{"swap committed", func(dir string) {
			for _, suf := range segmentSuffixes {
				copyFile(t, from(suf), segmentPath(dir, 0, suf+swapSuffix))
			}
		}, newRecs},
		{"old segments partly deleted", func(dir string) {
			for _, suf := range segmentSuffixes {
				copyFile(t, from(suf), segmentPath(dir, 0, suf+swapSuffix))
			}
			for _, b := range []int64{1, 2, 3} {
				(&segment{base: b, dir: dir}).removeFiles()
			}
			os.Remove(segmentPath(dir, 4, logSuffix)) // its indexes stay
		}, newRecs},
		{"indexes already stripped", func(dir string) {
			copyFile(t, from(logSuffix), segmentPath(dir, 0, logSuffix+swapSuffix))
			copyFile(t, from(indexSuffix), segmentPath(dir, 0, indexSuffix))
			copyFile(t, from(timeIndexSuffix), segmentPath(dir, 0, timeIndexSuffix))
		}, newRecs},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "p")
			copyDir(t, orig, dir)
			c.setup(dir)
			l, logs := mustOpen(t, dir, cfg)
			defer l.Close()
			sameRecs(t, "after recovery", readRecords(t, l), c.want)
			for _, pat := range []string{"*" + cleanedSuffix, "*" + swapSuffix} {
				if m, _ := filepath.Glob(filepath.Join(dir, pat)); len(m) > 0 {
					t.Fatalf("left behind: %v", m)
				}
			}
			if logs.warned("rebuilding indexes") && c.name == "swap committed" {
				t.Fatal("the committed swap's indexes were not used")
			}
			// The log keeps working: appends continue at the old end.
			info := mustAppend(t, l, keyedBatch(t, 1000, 0, -1, put("n", "n")))
			if info.FirstOffset != oldRecs[len(oldRecs)-1].off+1 {
				t.Fatalf("append at %d", info.FirstOffset)
			}
		})
	}
}

// TestTruncateLowersCleanCheckpoint: after a truncation or a reset below
// where the last pass ended, the offsets from the new end on are dirty
// again (they will hold a leader's new batches), and a pass that was
// running across the truncation does not raise the checkpoint past it.
func TestTruncateLowersCleanCheckpoint(t *testing.T) {
	cfg := smallSegments()
	l, _ := mustOpen(t, t.TempDir(), cfg)
	defer l.Close()
	fill := func(n int) {
		for i := range n {
			mustAppend(t, l, keyedBatch(t, 1000+int64(i), 0, -1, put(fmt.Sprintf("k%d", i%3), fmt.Sprint("v", i))))
		}
	}
	fill(40)
	res := mustClean(t, l, cleanOpts(l, cleanNow))
	if !res.Cleaned || res.FirstDirty < 20 {
		t.Fatalf("setup: %+v", res)
	}
	firstDirty := func() int64 {
		t.Helper()
		info, err := l.CleanInfo(cleanOpts(l, cleanNow))
		if err != nil {
			t.Fatal(err)
		}
		return info.FirstDirty
	}
	cut := res.FirstDirty - 5
	if err := l.TruncateTo(cut); err != nil {
		t.Fatal(err)
	}
	end := l.EndOffset()
	if got := firstDirty(); got != end {
		t.Fatalf("first dirty %d after truncation to %d (end %d), want the end", got, cut, end)
	}
	// A truncation above the checkpoint leaves it alone.
	fill(10)
	if err := l.TruncateTo(l.EndOffset() - 1); err != nil {
		t.Fatal(err)
	}
	if got := firstDirty(); got != end {
		t.Fatalf("first dirty %d after a truncation above it, want %d", got, end)
	}
	// A pass that began before a truncation keeps its hands off the
	// checkpoint.
	if err := l.writeCleanCheckpointIf(l.truncGen-1, cleanCheckpoint{firstDirty: end + 100, horizonMs: -1}); err != nil {
		t.Fatal(err)
	}
	if got := firstDirty(); got != end {
		t.Fatalf("first dirty %d after a stale pass, want %d", got, end)
	}
	if err := l.ResetTo(3); err != nil {
		t.Fatal(err)
	}
	ck, err := readCleanCheckpoint(l.Dir())
	if err != nil || ck.firstDirty != 3 {
		t.Fatalf("checkpoint after reset to 3: %+v %v", ck, err)
	}
}
