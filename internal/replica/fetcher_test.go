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

// TestFollowerTruncatesOnDivergence: a follower holding records of epoch 0
// that the new leader (epoch 1) never had is told where epoch 0 ends on
// the leader (DivergingEpoch), truncates there, and then copies the new
// leader's records: both logs end up the same.
func TestFollowerTruncatesOnDivergence(t *testing.T) {
	leader := openTestPartition(t, t.TempDir())
	follower := openTestPartition(t, t.TempDir())
	oldLeader := openTestPartition(t, t.TempDir())
	defer leader.log.Close()
	defer follower.log.Close()
	defer oldLeader.log.Close()
	f := &fetcher{fs: newFetchers(FetcherConfig{NodeID: 2}), leader: 1, parts: map[partKey]*followState{}}
	st := &followState{p: follower, leaderEpoch: 1}

	// Epoch 0: three batches reach everyone, two more only the follower.
	shared := leaderResponse(t, oldLeader, 0, 3)
	for _, p := range []*Partition{leader, follower} {
		if _, err := p.AppendReplica(shared.RecordBatches); err != nil {
			t.Fatal(err)
		}
	}
	extra := leaderResponse(t, oldLeader, 3, 2)
	if _, err := follower.AppendReplica(extra.RecordBatches); err != nil {
		t.Fatal(err)
	}
	// Epoch 1 on the new leader: two other batches at offsets 3 and 4.
	leader.setLeaderEpoch(1)
	leader.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 1}, 1)
	fresh := leaderResponse(t, leader, 3, 2)
	follower.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 1}, 2)

	off, lastEpoch, _, err := follower.FetchPosition()
	if err != nil || off != 5 || lastEpoch != 0 {
		t.Fatalf("follower at %d epoch %d (%v)", off, lastEpoch, err)
	}
	// The leader's check (api/fetch_replica.go): epoch 0 ends at 3 here.
	ep, end := leader.EndOffsetForEpoch(lastEpoch)
	if ep != 0 || end != 3 {
		t.Fatalf("leader's end of epoch 0: %d %d", ep, end)
	}
	rp := kmsg.NewFetchResponseTopicPartition()
	rp.DivergingEpoch.Epoch, rp.DivergingEpoch.EndOffset = ep, end
	rp.HighWatermark = 3
	if err := f.applyPartition(st, off, &rp); err != nil {
		t.Fatal(err)
	}
	if off, _, _, _ := follower.FetchPosition(); off != 3 {
		t.Fatalf("follower truncated to %d, want 3", off)
	}
	fresh = leaderResponse(t, leader, 3, 0)
	if err := f.applyPartition(st, 3, &fresh); err != nil {
		t.Fatal(err)
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
		t.Fatal("follower log differs from the new leader's after truncation")
	}
	if e := follower.EpochEntries(); len(e) != 2 || e[1].Epoch != 1 || e[1].StartOffset != 3 {
		t.Fatalf("follower epochs %+v", e)
	}
}

// TestStaleAnswerAfterTakingLead: a replica fetch's answer that arrives
// after the image made this broker the partition's leader (the manager
// takes the fetcher off the partition only after followImage) changes
// nothing: no append of the old leader's batches after the new epoch's
// start, no truncation of the new leader's log, and the fetch state is
// parked until the manager's follow or unfollow.
func TestStaleAnswerAfterTakingLead(t *testing.T) {
	oldLeader := openTestPartition(t, t.TempDir())
	p := openTestPartition(t, t.TempDir())
	defer oldLeader.log.Close()
	defer p.log.Close()
	oldLeader.setLeaderEpoch(3)
	oldLeader.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 3}, 1)
	p.followImage(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 3}, 2)

	fs := newFetchers(FetcherConfig{NodeID: 2})
	f := &fetcher{fs: fs, leader: 1, parts: map[partKey]*followState{}}
	st := &followState{p: p, leaderEpoch: 3}
	first := leaderResponse(t, oldLeader, 0, 3)
	if err := f.applyPartition(st, 0, &first); err != nil {
		t.Fatal(err)
	}
	// The controller moves the lead to broker 2 (epoch 4) while a fetch
	// from broker 1 is in flight; broker 1 appended two more meanwhile.
	p.followImage(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 2, LeaderEpoch: 4}, 2)
	late := leaderResponse(t, oldLeader, 3, 2)
	if err := f.applyPartition(st, 3, &late); !errors.Is(err, errNotFollowing) {
		t.Fatalf("stale records answer: %v, want errNotFollowing", err)
	}
	diverged := kmsg.NewFetchResponseTopicPartition()
	diverged.DivergingEpoch.Epoch, diverged.DivergingEpoch.EndOffset = 3, 1
	if err := f.applyPartition(st, 3, &diverged); !errors.Is(err, errNotFollowing) {
		t.Fatalf("stale diverging answer: %v, want errNotFollowing", err)
	}
	if end := p.log.EndOffset(); end != 3 {
		t.Fatalf("new leader's log end %d, want 3 (neither appended to nor truncated)", end)
	}
	if e := p.EpochEntries(); len(e) != 2 || e[1].Epoch != 4 || e[1].StartOffset != 3 {
		t.Fatalf("new leader's epochs %+v, want epoch 4 from 3", e)
	}

	// Through apply: the state is parked, not failed with an error log.
	k := partKey{p.TopicID, p.Index}
	f.parts[k] = st
	resp := kmsg.NewFetchResponse()
	rt := kmsg.NewFetchResponseTopic()
	rt.TopicID = p.TopicID
	rt.Partitions = append(rt.Partitions, late)
	rt.Partitions[0].Partition = p.Index
	resp.Topics = append(resp.Topics, rt)
	f.apply(&resp, map[partKey]sentState{k: {st, 3}}, fs.cfg.Logger)
	if !errors.Is(st.failed, errNotFollowing) || p.log.EndOffset() != 3 {
		t.Fatalf("after apply: failed %v, log end %d", st.failed, p.log.EndOffset())
	}
}
