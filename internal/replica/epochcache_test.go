package replica

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEpochCacheAnswers: Kafka's OffsetForLeaderEpoch rules over a cache
// of epochs 1@0, 3@10, 6@25 with the log ending at 40.
func TestEpochCacheAnswers(t *testing.T) {
	c := &epochCache{dir: t.TempDir()}
	for _, e := range []EpochEntry{{1, 0}, {3, 10}, {6, 25}} {
		if err := c.Assign(e.Epoch, e.StartOffset); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		epoch     int32
		wantEpoch int32
		wantEnd   int64
	}{
		{6, 6, 40},   // the latest epoch ends at the log end
		{3, 3, 25},   // a known epoch ends where the next starts
		{4, 3, 25},   // an unknown epoch between: the largest below it
		{2, 1, 10},   // likewise
		{0, 0, 0},    // older than the first: the first start
		{7, -1, -1},  // newer than any known
		{-1, -1, -1}, // undefined
	} {
		e, end := c.EndOffsetFor(tc.epoch, 40)
		if e != tc.wantEpoch || end != tc.wantEnd {
			t.Errorf("EndOffsetFor(%d) = %d, %d; want %d, %d", tc.epoch, e, end, tc.wantEpoch, tc.wantEnd)
		}
	}
	// An epoch not newer than the latest changes nothing.
	if err := c.Assign(5, 30); err != nil {
		t.Fatal(err)
	}
	if got := c.Entries(); len(got) != 3 {
		t.Fatalf("entries %v after assigning an older epoch", got)
	}
	// Truncating the log end to 12 drops the epochs starting at or after it;
	// a new epoch then starts at the truncation point.
	if err := c.TruncateFromEnd(12); err != nil {
		t.Fatal(err)
	}
	if err := c.Assign(7, 12); err != nil {
		t.Fatal(err)
	}
	want := []EpochEntry{{1, 0}, {3, 10}, {7, 12}}
	if got := c.Entries(); !slices.Equal(got, want) {
		t.Fatalf("after truncation: %v, want %v", got, want)
	}
	// Retention moving the log start to 11 keeps the epoch covering it.
	if err := c.TruncateFromStart(11); err != nil {
		t.Fatal(err)
	}
	want = []EpochEntry{{3, 11}, {7, 12}}
	if got := c.Entries(); !slices.Equal(got, want) {
		t.Fatalf("after start truncation: %v, want %v", got, want)
	}
	// The checkpoint on disk is what was kept, in Kafka's format.
	b, err := os.ReadFile(filepath.Join(c.dir, EpochCheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "0\n2\n3 11\n7 12\n" {
		t.Fatalf("checkpoint %q", b)
	}
	re, ok := loadEpochCache(c.dir)
	if !ok || !slices.Equal(re.Entries(), want) {
		t.Fatalf("reloaded %v (ok %v)", re.Entries(), ok)
	}
}

// TestEpochCacheParseRefusesDamage: a checkpoint that is not Kafka's
// format, or whose entries go backwards, is not trusted (the partition
// rebuilds the cache from the log instead).
func TestEpochCacheParseRefusesDamage(t *testing.T) {
	for _, bad := range []string{"", "1\n0\n", "0\n2\n1 0\n", "0\n1\nx 0\n", "0\n2\n3 10\n2 20\n", "0\n2\n1 10\n2 5\n", "0\n-1\n"} {
		if _, err := parseEpochCheckpoint([]byte(bad)); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
	if got, err := parseEpochCheckpoint([]byte("0\n0\n")); err != nil || len(got) != 0 {
		t.Errorf("empty cache: %v, %v", got, err)
	}
}

// TestPartitionEpochsFollowAppends: appends under changing leader epochs
// start entries in the cache; reopening reads the checkpoint, and without
// it the cache is rebuilt from the batch headers to the same entries.
func TestPartitionEpochsFollowAppends(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "t-0")
	p := openTestPartition(t, dir)
	appendOne := func() {
		t.Helper()
		b, _ := testBatch(t, -1, -1, -1, false)
		if _, err := p.Append(b, 1); err != nil {
			t.Fatal(err)
		}
	}
	for _, epoch := range []int32{0, 0, 2, 2, 2, 5} {
		p.setLeaderEpoch(epoch)
		appendOne()
	}
	want := []EpochEntry{{0, 0}, {2, 2}, {5, 5}}
	if got := p.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("entries %v, want %v", got, want)
	}
	if e, end := p.EndOffsetForEpoch(2); e != 2 || end != 5 {
		t.Fatalf("EndOffsetForEpoch(2) = %d, %d", e, end)
	}
	if err := p.log.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPartition(t, dir)
	if got := p.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("reopened: %v, want %v", got, want)
	}
	if err := p.log.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, EpochCheckpointFile)); err != nil {
		t.Fatal(err)
	}
	p = openTestPartition(t, dir)
	if got := p.EpochEntries(); !slices.Equal(got, want) {
		t.Fatalf("rebuilt from the log: %v, want %v", got, want)
	}
	// A truncated log trims the cache on open.
	if err := p.log.TruncateTo(3); err != nil {
		t.Fatal(err)
	}
	if err := p.log.Close(); err != nil {
		t.Fatal(err)
	}
	p = openTestPartition(t, dir)
	if got, want := p.EpochEntries(), []EpochEntry{{0, 0}, {2, 2}}; !slices.Equal(got, want) {
		t.Fatalf("after truncation to 3: %v, want %v", got, want)
	}
	p.log.Close()
}
