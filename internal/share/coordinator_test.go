package share

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stateImage is an image at offset off where __share_group_state has one
// partition per leader given.
func stateImage(off int64, leaders ...int32) *metadata.Image {
	t := &metadata.TopicImage{Name: StateTopic}
	for _, l := range leaders {
		t.Partitions = append(t.Partitions, metadata.PartitionImage{Leader: l})
	}
	return &metadata.Image{Offset: off, TopicsByName: map[string]*metadata.TopicImage{StateTopic: t},
		TopicsByID: map[metadata.UUID]*metadata.TopicImage{}}
}

// The share coordinator fences as Kafka's: a write with an older state
// epoch than stored, or an older leader epoch than a reader's or writer's
// before, and an initialization not above the stored state epoch.
func TestCoordinatorFencing(t *testing.T) {
	be := newMemBackend()
	be.CreateStateTopic(3)
	c := NewCoordinator(1, be, nil, quietLog(), true)
	defer c.Close()
	g, tid := "g", [16]byte{7}
	if ps, code := c.Read(g, tid, 0, 3); code != 0 || ps.StartOffset != -1 {
		t.Fatalf("read of nothing: %+v %d", ps, code)
	}
	st := PartitionState{StateEpoch: 1, LeaderEpoch: 3, StartOffset: 10, Batches: []StateBatch{{First: 12, Last: 13, State: stateAcknowledged, Count: 1}}}
	if code := c.Write(g, tid, 0, st); code != 0 {
		t.Fatalf("write: %d", code)
	}
	old := st
	old.StateEpoch = 0
	if code := c.Write(g, tid, 0, old); code != kerr.FencedStateEpoch.Code {
		t.Fatalf("older state epoch: %d", code)
	}
	if _, code := c.Read(g, tid, 0, 4); code != 0 {
		t.Fatalf("read at leader epoch 4: %d", code)
	}
	if code := c.Write(g, tid, 0, st); code != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("write by the leader of epoch 3 after one of 4 read: %d", code)
	}
	if _, code := c.Read(g, tid, 0, 3); code != kerr.FencedLeaderEpoch.Code {
		t.Fatalf("read by an older leader: %d", code)
	}
	if code := c.Initialize(g, tid, 0, 1, 20); code != kerr.FencedStateEpoch.Code {
		t.Fatalf("initialize at the same state epoch: %d", code)
	}
	bad := st
	bad.LeaderEpoch, bad.Batches = 4, []StateBatch{{First: 5, Last: 6, State: stateAcknowledged, Count: 1}}
	if code := c.Write(g, tid, 0, bad); code != kerr.InvalidRequest.Code {
		t.Fatalf("batch below the start offset: %d", code)
	}
	if code := c.Initialize(g, tid, 0, 2, 20); code != 0 {
		t.Fatalf("initialize: %d", code)
	}
	if s, code := c.Summary(g, tid, 0); code != 0 || s.StartOffset != 20 || s.StateEpoch != 2 || s.DeliveryComplete != 0 {
		t.Fatalf("summary after initialize: %+v %d", s, code)
	}

	// What was answered is durable: a new coordinator replays it.
	c2 := NewCoordinator(1, be, nil, quietLog(), true)
	defer c2.Close()
	if s, code := c2.Summary(g, tid, 0); code != 0 || s.StartOffset != 20 || s.StateEpoch != 2 {
		t.Fatalf("summary after replay: %+v %d", s, code)
	}
	if code := c2.Delete(g, tid, 0); code != 0 {
		t.Fatalf("delete: %d", code)
	}
	c3 := NewCoordinator(1, be, nil, quietLog(), true)
	defer c3.Close()
	if s, code := c3.Summary(g, tid, 0); code != 0 || s.StartOffset != -1 {
		t.Fatalf("deleted state replayed: %+v %d", s, code)
	}
}

// A share coordinator following the metadata serves only the state
// partitions this broker leads: NOT_COORDINATOR before it does and after it
// stopped, the state loaded again when leadership comes back.
func TestCoordinatorFollowsLeadership(t *testing.T) {
	be := newMemBackend()
	be.CreateStateTopic(1)
	c := NewCoordinator(1, be, nil, quietLog(), false)
	defer c.Close()
	g, tid := "g", [16]byte{9}
	if _, code := c.Summary(g, tid, 0); code != kerr.NotCoordinator.Code {
		t.Fatalf("before any image: %d", code)
	}
	c.OnImage(stateImage(1, 2))
	if _, code := c.Summary(g, tid, 0); code != kerr.NotCoordinator.Code {
		t.Fatalf("led by another broker: %d", code)
	}
	c.OnImage(stateImage(2, 1))
	if code := c.Initialize(g, tid, 0, 1, 5); code != 0 {
		t.Fatalf("initialize as the leader: %d", code)
	}
	c.OnImage(stateImage(1, 2)) // an older image changes nothing
	if s, code := c.Summary(g, tid, 0); code != 0 || s.StartOffset != 5 {
		t.Fatalf("after an older image: %+v %d", s, code)
	}
	c.OnImage(stateImage(3, 2))
	if _, code := c.Summary(g, tid, 0); code != kerr.NotCoordinator.Code {
		t.Fatalf("after losing the partition: %d", code)
	}
	if len(c.keys(func(key) bool { return true })) != 0 {
		t.Fatal("state kept for a partition led elsewhere")
	}
	c.OnImage(stateImage(4, 1))
	deadline := time.Now().Add(5 * time.Second)
	for {
		s, code := c.Summary(g, tid, 0)
		if code == 0 && s.StartOffset == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("state not loaded again: %+v %d", s, code)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A share-partition whose data partition this broker no longer leads is
// dropped; used again, its state is read back from the share coordinator.
func TestManagerDropsPartitionsNotLed(t *testing.T) {
	h := newHarness(t)
	h.d.add(5)
	h.acquire("a", 10)
	if code := h.ack("a", 0, 1, AckAccept); code != 0 {
		t.Fatal(code)
	}
	img := &metadata.Image{Offset: 1, TopicsByName: map[string]*metadata.TopicImage{},
		TopicsByID: map[metadata.UUID]*metadata.TopicImage{metadata.UUID(h.tid): {Name: "t", Partitions: []metadata.PartitionImage{{Leader: 2}}}}}
	h.m.OnImage(img)
	deadline := time.Now().Add(5 * time.Second)
	for h.m.get(key{"g", h.tid, 0}, false) != nil {
		if time.Now().After(deadline) {
			t.Fatal("share-partition kept after leadership moved")
		}
		time.Sleep(time.Millisecond)
	}
	// Leadership back: 2-4 were acquired by a on the old leader and come
	// back Available; 0-1 stay acknowledged.
	if got := h.acquire("b", 10); count(got) != 3 || got[0].First != 2 {
		t.Fatalf("after leadership came back: %v", got)
	}
}
