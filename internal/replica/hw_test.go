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
	if hw := p.UpdateFollower(2, 3, now); hw != 0 {
		t.Fatalf("HW %d with follower 3 not fetched yet, want 0", hw)
	}
	if hw := p.UpdateFollower(3, 4, now); hw != 3 {
		t.Fatalf("HW %d, want min(5, 3, 4) = 3", hw)
	}
	if hw := p.UpdateFollower(2, 1, now); hw != 3 {
		t.Fatalf("HW went back to %d", hw)
	}
	if hw := p.UpdateFollower(2, 5, now); hw != 4 {
		t.Fatalf("HW %d, want min(5, 5, 4) = 4", hw)
	}
	// Follower 3 leaves the ISR: only the leader and 2 count.
	role(1, 2)
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d after the ISR shrank to {1, 2}, want 5", hw)
	}
	// More data: the leader's own commit alone does not move the HW past
	// follower 2, and follower 3 (out of the ISR) does not hold it.
	appendN(t, p, 2)
	if hw := p.HighWatermark(); hw != 5 {
		t.Fatalf("HW %d with follower 2 at 5, want 5", hw)
	}
	if hw := p.UpdateFollower(2, 7, now); hw != 7 {
		t.Fatalf("HW %d, want 7", hw)
	}
	// Caught-up bookkeeping (Kafka's lastCaughtUpTime).
	for _, f := range p.Followers() {
		if f.ID == 2 && !f.LastCaughtUp.Equal(now) {
			t.Fatalf("follower 2 at the log end, last caught up %v", f.LastCaughtUp)
		}
	}
	// A new leader epoch forgets the followers: the HW holds until they
	// fetch again.
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 5}, 1)
	if len(p.Followers()) != 0 {
		t.Fatalf("followers kept across a leader epoch: %+v", p.Followers())
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
	p.UpdateFollower(2, 3, time.Now())
	if err := <-done; err != nil {
		t.Fatalf("follower caught up: %v", err)
	}
	appendN(t, p, 1)
	go func() { done <- p.AwaitReplicated(4, 2, 10*time.Second, nil) }()
	// The ISR shrinks under the waiter: the HW covers the batch with one
	// replica, fewer than min.insync.replicas 2.
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
