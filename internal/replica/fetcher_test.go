package replica

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// leaderResponse appends n idempotent batches to the leader at epoch and
// returns what a replica fetch from offset would carry for it.
func leaderResponse(t *testing.T, leader *Partition, from int64, n int) kmsg.FetchResponseTopicPartition {
	t.Helper()
	for range n {
		b, _ := testBatch(t, 7, 0, int32(leader.log.EndOffset()), false)
		if _, err := leader.Append(b, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := leader.Commit(leader.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
	rr, err := leader.ReadReplica(from, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	b, err := rr.ReadAll(nil)
	if err != nil {
		t.Fatal(err)
	}
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.RecordBatches = b
	rp.HighWatermark = leader.HighWatermark()
	rp.LogStartOffset = leader.LogStartOffset()
	return rp
}

// TestFollowerSyncsBeforeFetchOffsetAdvances: the offset a follower names
// in its next fetch (what the leader counts toward the HW) is always
// durable on the follower. The follower's fsync is failed on purpose: the
// appended batches must then never be named as fetched.
func TestFollowerSyncsBeforeFetchOffsetAdvances(t *testing.T) {
	leader := openTestPartition(t, t.TempDir())
	fdir := t.TempDir()
	follower := openTestPartition(t, fdir)
	defer leader.log.Close()
	defer follower.log.Close()
	leader.setLeaderEpoch(3)
	leader.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 3}, 1)
	follower.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1, LeaderEpoch: 3}, 2)

	fs := newFetchers(FetcherConfig{NodeID: 2})
	f := &fetcher{fs: fs, leader: 1, parts: map[partKey]*followState{}}
	st := &followState{p: follower, leaderEpoch: 3}

	// A healthy round: append, fsync, then the fetch position moves.
	rp := leaderResponse(t, leader, 0, 5)
	if err := f.applyPartition(st, 0, &rp); err != nil {
		t.Fatal(err)
	}
	off, lastEpoch, _, err := follower.FetchPosition()
	if err != nil {
		t.Fatal(err)
	}
	if off != leader.log.EndOffset() || follower.log.DurableOffset() < off {
		t.Fatalf("fetch offset %d durable %d, leader LEO %d", off, follower.log.DurableOffset(), leader.log.EndOffset())
	}
	if lastEpoch != 3 {
		t.Fatalf("last fetched epoch %d, want the leader's 3", lastEpoch)
	}
	if hw := follower.HighWatermark(); hw != leader.HighWatermark() {
		t.Fatalf("follower HW %d, leader HW %d", hw, leader.HighWatermark())
	}

	// The follower's fsync fails: the batches are appended (page cache)
	// but the fetch position must not name them.
	boom := errors.New("injected fsync failure")
	restore := log.SetFaultHook(func(op log.FaultOp, path string) error {
		if op == log.FaultSync && strings.HasPrefix(path, fdir) {
			return boom
		}
		return nil
	})
	defer restore()
	durable := follower.log.DurableOffset()
	rp = leaderResponse(t, leader, off, 3)
	if err := f.applyPartition(st, off, &rp); err == nil {
		t.Fatal("applyPartition succeeded with a failing fsync")
	}
	if follower.log.DurableOffset() != durable {
		t.Fatalf("durable offset moved to %d without an fsync", follower.log.DurableOffset())
	}
	if got, _, _, err := follower.FetchPosition(); err == nil {
		t.Fatalf("FetchPosition named offset %d, above the durable %d", got, durable)
	}
	// And the fetcher does not send a fetch for it.
	f.parts[partKey{follower.TopicID, follower.Index}] = st
	if req, _, _ := f.build(); req != nil {
		t.Fatalf("fetch built for a partition whose log is not durable: %+v", req.Topics)
	}
}

// TestFollowerLogMatchesLeader: batches appended through AppendReplica
// keep the leader's offsets and epochs, so both logs are byte for byte
// the same; gaps (a compacted leader) are kept as gaps.
func TestFollowerLogMatchesLeader(t *testing.T) {
	leader := openTestPartition(t, t.TempDir())
	follower := openTestPartition(t, t.TempDir())
	defer leader.log.Close()
	defer follower.log.Close()
	leader.setLeaderEpoch(2)
	rp := leaderResponse(t, leader, 0, 4)
	if _, err := follower.AppendReplica(rp.RecordBatches); err != nil {
		t.Fatal(err)
	}
	if follower.log.EndOffset() != leader.log.EndOffset() {
		t.Fatalf("follower LEO %d, leader %d", follower.log.EndOffset(), leader.log.EndOffset())
	}
	read := func(p *Partition) []byte {
		rr, err := p.ReadReplica(0, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		b, err := rr.ReadAll(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if !bytes.Equal(read(leader), read(follower)) {
		t.Fatal("follower log differs from the leader's")
	}
	if e := follower.EpochEntries(); len(e) != 1 || e[0].Epoch != 2 || e[0].StartOffset != 0 {
		t.Fatalf("follower epoch cache %+v", e)
	}
	// Below the LEO is refused; above it is a gap, kept.
	if _, err := follower.AppendReplica(rp.RecordBatches); !errors.Is(err, log.ErrNonMonotonic) {
		t.Fatalf("append below the LEO: %v", err)
	}
	b, _ := testBatch(t, -1, 0, -1, false)
	gap := follower.log.EndOffset() + 10
	copy(b, beUint64(gap))
	if _, err := follower.AppendReplica(b); err != nil {
		t.Fatal(err)
	}
	if follower.log.EndOffset() != gap+1 {
		t.Fatalf("LEO %d after a batch at %d", follower.log.EndOffset(), gap)
	}
	// The log reopens (recovery accepts the gap between segments).
	if err := follower.log.Close(); err != nil {
		t.Fatal(err)
	}
	reopened := openTestPartition(t, follower.Dir)
	defer reopened.log.Close()
	if reopened.log.EndOffset() != gap+1 {
		t.Fatalf("reopened LEO %d, want %d", reopened.log.EndOffset(), gap+1)
	}
}

func beUint64(v int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(uint64(v) >> (56 - 8*i))
	}
	return b
}
