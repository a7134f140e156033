package replica

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// wiredLeader opens a partition led by broker 1 with replicas {1, 2, 3},
// ISR isr, wired to alter (the controller's answers, scripted by the
// test) with lag time lag.
func wiredLeader(t *testing.T, lag time.Duration, isr []int32, alter func(ISRChange) (ISRCommit, error)) (*Partition, chan ISRChange) {
	t.Helper()
	p := openTestPartition(t, t.TempDir())
	t.Cleanup(func() { p.log.Close() })
	sent := make(chan ISRChange, 8)
	p.ctl = &isrControl{lagMax: lag}
	cfg := &ISRControl{Logger: slog.New(slog.DiscardHandler), Alter: func(_ context.Context, c ISRChange) (ISRCommit, error) {
		sent <- c
		return alter(c)
	}}
	p.ctl.cfg, p.ctl.ctx, p.ctl.cancel = cfg, context.Background(), func() {}
	p.ctl.live.Store(cfg)
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: isr, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 7}, 1)
	t.Cleanup(p.ctl.wg.Wait)
	return p, sent
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestISRShrinkCommitted: a member that fell behind for longer than the
// lag time is proposed away with the leader's epochs; the controller's
// answer is installed at once (ISR, partition epoch) and the HW, held by
// the lagging member, moves once it no longer counts as caught up.
func TestISRShrinkCommitted(t *testing.T) {
	p, sent := wiredLeader(t, 50*time.Millisecond, []int32{1, 2, 3}, func(c ISRChange) (ISRCommit, error) {
		return ISRCommit{ISR: c.ISR, LeaderEpoch: c.LeaderEpoch, PartitionEpoch: c.PartitionEpoch + 1}, nil
	})
	appendN(t, p, 4)
	now := time.Now()
	p.UpdateFollower(2, 11, 4, now) // caught up
	p.UpdateFollower(3, 12, 1, now) // behind
	if hw := p.HighWatermark(); hw != 1 {
		t.Fatalf("HW %d, want 1 (member 3 holds it)", hw)
	}
	p.maybeShrink(now) // 3 was caught up at the epoch's start: not yet
	select {
	case c := <-sent:
		t.Fatalf("shrink proposed within the lag time: %+v", c)
	default:
	}
	later := now.Add(time.Second)
	p.UpdateFollower(2, 11, 4, later)
	p.maybeShrink(later)
	c := <-sent
	if !slices.Equal(c.ISR, []int32{1, 2}) || c.LeaderEpoch != 3 || c.PartitionEpoch != 7 || c.BrokerEpochs[2] != 11 {
		t.Fatalf("proposal %+v", c)
	}
	waitUntil(t, "the shrink installed", func() bool { return p.ISRSize() == 2 })
	// Out of the ISR, member 3 holds the HW only while it counts as
	// caught up (Kafka's rule); the periodic check moves the HW after.
	waitUntil(t, "the HW past the dropped member", func() bool {
		p.maybeShrink(time.Now())
		return p.HighWatermark() == 4
	})
	// The image catching up with the same partition epoch changes nothing;
	// an older one does not bring the old ISR back.
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2, 3}, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 7}, 1)
	if got := p.ISRView().Current(); !slices.Equal(got, []int32{1, 2}) || p.ISRSize() != 2 {
		t.Fatalf("an older image restored the ISR: %v", got)
	}
}

// TestISRExpandStaleWaitsForImage: a caught-up follower outside the ISR
// is proposed in; FENCED_LEADER_EPOCH keeps the proposal in flight (the
// HW still counts the follower) until an image with a newer partition
// epoch commits the controller's ISR.
func TestISRExpandStaleWaitsForImage(t *testing.T) {
	p, sent := wiredLeader(t, time.Minute, []int32{1, 2}, func(ISRChange) (ISRCommit, error) {
		return ISRCommit{}, kerr.FencedLeaderEpoch
	})
	appendN(t, p, 3)
	now := time.Now()
	p.UpdateFollower(2, -1, 3, now)
	p.UpdateFollower(3, -1, 3, now)
	c := <-sent
	if !slices.Equal(c.ISR, []int32{1, 2, 3}) {
		t.Fatalf("proposal %+v", c)
	}
	p.ctl.wg.Wait()
	if got := p.ISRView().InFlight(); !slices.Equal(got, []int32{1, 2, 3}) {
		t.Fatalf("in flight after FENCED_LEADER_EPOCH: %v, want the proposal kept", got)
	}
	appendN(t, p, 1)
	p.UpdateFollower(2, -1, 4, now)
	if hw := p.HighWatermark(); hw != 3 {
		t.Fatalf("HW %d, want 3: the proposed member still counts (maximal ISR)", hw)
	}
	p.setRole(metadata.PartitionImage{Replicas: []int32{1, 2, 3}, ISR: []int32{1, 2}, Leader: 1, LeaderEpoch: 3, PartitionEpoch: 8}, 1)
	if got := p.ISRView().InFlight(); got != nil {
		t.Fatalf("in flight after a newer image: %v", got)
	}
}

// TestISRFailedRetries: INELIGIBLE_REPLICA ends the proposal; the next
// fetch proposes again, and a non-eligible broker is not proposed.
func TestISRFailedRetries(t *testing.T) {
	p, sent := wiredLeader(t, time.Minute, []int32{1, 2}, func(ISRChange) (ISRCommit, error) {
		return ISRCommit{}, kerr.IneligibleReplica
	})
	appendN(t, p, 2)
	p.UpdateFollower(3, -1, 2, time.Now())
	<-sent
	p.ctl.wg.Wait()
	if got := p.ISRView().InFlight(); got != nil {
		t.Fatalf("in flight after INELIGIBLE_REPLICA: %v", got)
	}
	p.UpdateFollower(3, -1, 2, time.Now())
	<-sent
	p.ctl.wg.Wait()
	p.ctl.cfg.Eligible = func(id int32) bool { return id != 3 }
	p.UpdateFollower(3, -1, 2, time.Now())
	select {
	case c := <-sent:
		t.Fatalf("an ineligible broker proposed: %+v", c)
	default:
	}
}
