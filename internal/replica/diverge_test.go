package replica

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// The leader of these tests has epochs 0@0, 2@10, 4@20 and ends at 30.
var leaderEpochs = []EpochEntry{{0, 0}, {2, 10}, {4, 20}}

const leaderLEO = 30

// TestDivergingEpochLeader: the leader answers DivergingEpoch exactly when
// the end of the follower's last fetched epoch in its cache is below the
// fetch offset, or its largest epoch <= that one is older.
func TestDivergingEpochLeader(t *testing.T) {
	c := &epochCache{entries: leaderEpochs}
	cases := []struct {
		lastEpoch int32
		fetch     int64
		epoch     int32
		end       int64
		diverged  bool
	}{
		{-1, 5, -1, -1, false}, // no last fetched epoch: no check
		{0, 0, -1, -1, false},  // an empty follower that knows epoch 0
		{0, 5, -1, -1, false},  // inside epoch 0
		{0, 10, -1, -1, false}, // exactly at the end of epoch 0
		{0, 12, 0, 10, true},   // past the end of epoch 0
		{1, 10, 0, 10, true},   // epoch 1 is unknown: the leader has 0 up to 10
		{1, 8, 0, 10, true},    // even below 10: the follower's epoch-1 records are not the leader's
		{2, 15, -1, -1, false}, // inside epoch 2
		{2, 20, -1, -1, false}, // at the end of epoch 2
		{2, 25, 2, 20, true},   // past it
		{3, 20, 2, 20, true},   // unknown epoch 3: epoch 2 ends at 20
		{4, 25, -1, -1, false}, // the latest epoch, below the LEO
		{4, 30, -1, -1, false}, // at the LEO
		{4, 35, 4, 30, true},   // past the leader's LEO
		{5, 30, -1, -1, true},  // newer than anything the leader knows
		{99, 1, -1, -1, true},  // likewise
	}
	for _, k := range cases {
		e, end, d := divergingEpoch(c, k.lastEpoch, k.fetch, leaderLEO)
		if d != k.diverged || (d && (e != k.epoch || end != k.end)) {
			t.Errorf("lastFetchedEpoch %d fetch %d: (%d, %d, %v), want (%d, %d, %v)",
				k.lastEpoch, k.fetch, e, end, d, k.epoch, k.end, k.diverged)
		}
	}
}

// TestTruncationOffsetFollower: where a follower truncates on a
// DivergingEpoch, by what its own cache knows of the leader's epoch.
func TestTruncationOffsetFollower(t *testing.T) {
	cases := []struct {
		name     string
		follower []EpochEntry
		leo      int64
		epoch    int32
		end      int64
		want     int64
	}{
		{"knows the epoch, ends later", []EpochEntry{{0, 0}, {1, 12}}, 20, 0, 10, 10},
		{"knows the epoch, ends earlier", []EpochEntry{{0, 0}, {1, 8}}, 20, 0, 10, 8},
		{"knows the epoch, its last", []EpochEntry{{0, 0}, {2, 10}}, 25, 2, 20, 20},
		{"knows the epoch, shorter log", []EpochEntry{{0, 0}, {2, 10}}, 15, 2, 20, 15},
		{"older epoch only: its end", []EpochEntry{{0, 0}, {1, 8}, {3, 15}}, 18, 2, 20, 15},
		{"epoch newer than it knows: the leader's end (Kafka's None case)", []EpochEntry{{0, 0}, {1, 8}}, 18, 2, 20, 18},
		{"epoch before its first", []EpochEntry{{2, 10}, {4, 20}}, 25, 0, 10, 10},
		{"epoch before its first, leader shorter", []EpochEntry{{2, 12}, {4, 20}}, 25, 0, 10, 10},
		{"empty cache", nil, 18, 2, 20, 18},
		{"empty cache, leader shorter", nil, 18, 2, 12, 12},
		{"leader gave no epoch", []EpochEntry{{0, 0}}, 18, -1, 12, 12},
		{"leader gave no end", []EpochEntry{{0, 0}}, 18, -1, -1, 18},
	}
	for _, k := range cases {
		c := &epochCache{entries: k.follower}
		if got := truncationOffset(c, k.epoch, k.end, k.leo); got != k.want {
			t.Errorf("%s: DivergingEpoch{%d, %d} on %v end %d: truncate to %d, want %d",
				k.name, k.epoch, k.end, k.follower, k.leo, got, k.want)
		}
	}
}

// TestDivergenceRounds runs the fetch loop between the leader (0@0, 2@10,
// 4@20, end 30) and followers with various histories until the leader
// stops answering DivergingEpoch, and checks where each follower ends: at
// the last offset both logs agree on.
func TestDivergenceRounds(t *testing.T) {
	lc := &epochCache{entries: leaderEpochs}
	cases := []struct {
		follower []EpochEntry
		leo      int64
		want     int64
		rounds   int
	}{
		{[]EpochEntry{{0, 0}, {2, 10}, {4, 20}}, 26, 26, 0}, // a prefix: nothing to do
		{[]EpochEntry{{0, 0}, {2, 10}}, 24, 20, 1},          // epoch 2 went on past 20 here
		{[]EpochEntry{{0, 0}, {1, 8}, {3, 15}}, 18, 8, 2},   // two unknown epochs: two rounds
		{[]EpochEntry{{0, 0}, {3, 10}}, 14, 10, 1},          // epoch 3 never reached the leader
		{[]EpochEntry{{0, 0}}, 12, 10, 1},                   // epoch 0 too long
		{[]EpochEntry{{0, 0}, {2, 10}, {4, 20}}, 33, 30, 1}, // longer than the leader in its epoch
	}
	for i, k := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			fc := &epochCache{entries: slices.Clone(k.follower)}
			leo, rounds := k.leo, 0
			for {
				last := int32(-1)
				if n := len(fc.entries); n > 0 {
					last = fc.entries[n-1].Epoch
				}
				e, end, d := divergingEpoch(lc, last, leo, leaderLEO)
				if !d {
					break
				}
				if rounds++; rounds > 10 {
					t.Fatalf("no agreement after 10 rounds, at %d", leo)
				}
				to := truncationOffset(fc, e, end, leo)
				if to > leo {
					t.Fatalf("truncation offset %d past the end %d", to, leo)
				}
				leo = to
				// what Partition.TruncateTo does to the cache
				for n := len(fc.entries); n > 0 && fc.entries[n-1].StartOffset >= leo; n-- {
					fc.entries = fc.entries[:n-1]
				}
			}
			if leo != k.want || rounds != k.rounds {
				t.Fatalf("ends at %d after %d rounds, want %d after %d", leo, rounds, k.want, k.rounds)
			}
		})
	}
}

// TestPartitionDivergence goes through Partition: the leader's answer from
// its log's epochs and the follower's truncation point from its own.
func TestPartitionDivergence(t *testing.T) {
	build := func(epochs []int32) *Partition {
		p := openTestPartition(t, filepath.Join(t.TempDir(), "t-0"))
		t.Cleanup(func() { p.log.Close() })
		for _, e := range epochs {
			p.setLeaderEpoch(e)
			if _, err := p.Append(multiBatch(t, -1, 0, 1, false), 1); err != nil {
				t.Fatal(err)
			}
		}
		return p
	}
	leader := build([]int32{0, 0, 0, 2, 2, 4})   // 0@0, 2@3, 4@5, end 6
	follower := build([]int32{0, 0, 0, 2, 3, 3}) // 0@0, 2@3, 3@4, end 6
	if got := follower.LastFetchedEpoch(); got != 3 {
		t.Fatalf("LastFetchedEpoch %d", got)
	}
	e, end, d := leader.DivergingEpoch(follower.LastFetchedEpoch(), follower.log.EndOffset())
	if !d || e != 2 || end != 5 {
		t.Fatalf("DivergingEpoch = %d, %d, %v; want 2, 5, true", e, end, d)
	}
	to := follower.TruncationOffset(e, end)
	if to != 4 {
		t.Fatalf("TruncationOffset = %d, want 4", to)
	}
	if err := follower.TruncateTo(to); err != nil {
		t.Fatal(err)
	}
	if _, _, d := leader.DivergingEpoch(follower.LastFetchedEpoch(), follower.log.EndOffset()); d {
		t.Fatalf("still diverged after truncation to %d", to)
	}
	if got := follower.EpochEntries(); !slices.Equal(got, []EpochEntry{{0, 0}, {2, 3}}) {
		t.Fatalf("follower epochs %v", got)
	}
}
