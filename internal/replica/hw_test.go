package replica

import (
	"errors"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/metadata"
)

// appendN appends n one-record batches and commits them (leader's fsync).
func appendN(t *testing.T, p *Partition, n int) {
	t.Helper()
	for range n {
		b, _ := testBatch(t, -1, 0, -1, false)
		if _, err := p.Append(b, 1); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Commit(p.log.EndOffset()); err != nil {
		t.Fatal(err)
	}
}

// TestHighWatermarkOverTheISR: the leader's HW is the minimum of its own
// durable offset and every other ISR member's fetch offset; a member that
// has not fetched holds it; it never goes back; a member leaving the ISR
// lets it move; followers outside the ISR do not count.
func TestHighWatermarkOverTheISR(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	defer p.log.Close()
	role := func(isr ...int32) {
		p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: 1, LeaderEpoch: 4}, 1)
	}
	role(1, 2, 3)
	appendN(t, p, 5)
	if hw := p.HighWatermark(); hw != 0 {
		t.Fatalf("HW %d before any follower fetched, want 0", hw)
	}
	now := time.Now()
	if hw := p.UpdateFollower(2, -1, 3, now); hw != 0 {
		t.Fatalf("HW %d with follower 3 not fetched yet, want 0", hw)
	}
	if hw := p.UpdateFollower(3, -1, 4, now); hw != 3 {
		t.Fatalf("HW %d, want min(5, 3, 4) = 3", hw)
	}
	if hw := p.UpdateFollower(2, -1, 1, now); hw != 3 {
		t.Fatalf("HW went back to %d", hw)
	}
	if hw := p.UpdateFollower(2, -1, 5, now); hw != 4 {
		t.Fatalf("HW %d, want min(5, 5, 4) = 4", hw)
	}
	// Follower 3 leaves the ISR. It was caught up within
	// replica.lag.time.max.ms (as of this epoch's start), so Kafka's rule
	// still counts it: the HW stays at its offset.
	role(1, 2)
	if hw := p.HighWatermark(); hw != 4 {
		t.Fatalf("HW %d after the ISR shrank to {1, 2} with 3 caught up lately, want 4", hw)
	}
	// Once it is no longer caught up (its lag time passed), it does not
	// hold the HW: only the leader and 2 count.
	p.isr.followers[3].lastCaughtUp = now.Add(-2 * DefaultReplicaLagTimeMax)
	p.advance(p.ownOffset())
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d with follower 3 out of the ISR and lagging, want 5", hw)
	}
	// More data: the leader's own commit alone does not move the HW past
	// follower 2.
	appendN(t, p, 2)
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d with follower 2 at 5, want 5", hw)
	}
	if hw := p.UpdateFollower(2, -1, 7, now); hw != 7 {
		t.Fatalf("HW %d, want 7", hw)
	}
	// Caught-up bookkeeping (Kafka's lastCaughtUpTime).
	if f := p.isr.followers[2]; !f.lastCaughtUp.Equal(now) {
		t.Fatalf("follower 2 at the log end, last caught up %v", f.lastCaughtUp)
	}
	// A new leader epoch forgets the followers: the HW holds until they
	// fetch again.
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 5}, 1)
	if f := p.isr.followers[2]; f.fetchOffset != -1 {
		t.Fatalf("follower 2 kept across a leader epoch: %+v", f)
	}
}

// TestAwaitReplicated covers acks=all's answers.
func TestAwaitReplicated(t *testing.T) {
	p := openTestPartition(t, t.TempDir())
	defer p.log.Close()
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1}, 1)
	appendN(t, p, 3)
	if err := p.AwaitReplicated(3, 2, 50*time.Millisecond, nil); !errors.Is(err, ErrReplicationTimeout) {
		t.Fatalf("no follower fetch: %v, want a timeout", err)
	}
	done := make(chan error, 1)
	go func() { done <- p.AwaitReplicated(3, 2, 10*time.Second, nil) }()
	p.UpdateFollower(2, -1, 3, time.Now())
	if err := <-done; err != nil {
		t.Fatalf("follower caught up: %v", err)
	}
	appendN(t, p, 1)
	go func() { done <- p.AwaitReplicated(4, 2, 10*time.Second, nil) }()
	// The ISR shrinks under the waiter, its follower no longer caught up
	// (else Kafka's rule still counts it): the HW covers the batch with
	// one replica, fewer than min.insync.replicas 2.
	p.isr.followers[2].lastCaughtUp = time.Now().Add(-2 * DefaultReplicaLagTimeMax)
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1}, Leader: 1}, 1)
	if err := <-done; !errors.Is(err, ErrNotEnoughReplicasAfterAppend) {
		t.Fatalf("ISR shrank while waiting: %v", err)
	}
	appendN(t, p, 1)
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 1}, 1)
	go func() { done <- p.AwaitReplicated(6, 1, 10*time.Second, nil) }()
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2}, ISR: []int32{2}, Leader: 2, LeaderEpoch: 2}, 1)
	if err := <-done; !errors.Is(err, ErrNotLeader) {
		t.Fatalf("leadership moved while waiting: %v", err)
	}
}
