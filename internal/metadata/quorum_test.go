package metadata

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/raft"
)

// hubQuorum is three Stores (node ids 0, 1, 2) sharing one metadata quorum
// over raft's in-memory hub, with a 100 ms election timeout.
type hubQuorum struct {
	t      *testing.T
	hub    *raft.Hub
	dirs   []string
	stores []*Store
}

func newHubQuorum(t *testing.T) *hubQuorum {
	q := &hubQuorum{t: t, hub: raft.NewHub(7)}
	for range 3 {
		q.dirs = append(q.dirs, t.TempDir())
	}
	q.stores = make([]*Store, 3)
	for i := range 3 {
		q.start(i)
	}
	t.Cleanup(func() {
		for i := range q.stores {
			q.kill(i)
		}
	})
	return q
}

func (q *hubQuorum) start(i int) {
	s, err := OpenQuorum(Config{Dir: q.dirs[i], NodeID: int32(i), Voters: map[int32]string{0: "", 1: "", 2: ""},
		Transport:       func(r raft.Receiver) raft.Transport { return q.hub.Join(RaftID(int32(i)), r) },
		ElectionTimeout: 100 * time.Millisecond, RequestTimeout: 2 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		q.t.Fatal(err)
	}
	q.stores[i] = s
}

func (q *hubQuorum) kill(i int) {
	if q.stores[i] != nil {
		q.stores[i].Close()
		q.stores[i] = nil
	}
}

func (q *hubQuorum) waitFor(what string, cond func() bool) {
	q.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			q.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (q *hubQuorum) leader() int {
	q.t.Helper()
	lead := -1
	q.waitFor("a ready leader", func() bool {
		for i, s := range q.stores {
			if s != nil && s.QuorumStatus().IsLeader && s.QuorumStatus().Ready {
				lead = i
				return true
			}
		}
		return false
	})
	return lead
}

// createTopic creates a one-partition topic through store i, retrying
// while no leader is known (NOT_CONTROLLER is retriable).
func (q *hubQuorum) createTopic(i int, name string, id byte) {
	q.t.Helper()
	var err error
	q.waitFor("create "+name+" through node "+fmt.Sprint(i), func() bool {
		err = q.stores[i].Append(TopicRecord{Name: name, ID: uuid(id)},
			PartitionRecord{TopicID: uuid(id), Partition: 0, Replicas: []int32{int32(i)}, ISR: []int32{int32(i)}, Leader: int32(i)})
		return err == nil
	})
}

func (q *hubQuorum) everywhere(name string) {
	q.t.Helper()
	q.waitFor(name+" in every live image", func() bool {
		for _, s := range q.stores {
			if s == nil {
				continue
			}
			if _, ok := s.Image().Topic(name); !ok {
				return false
			}
		}
		return true
	})
}

// TestQuorumCreatesTopicsAcrossLeaderKill: topics created through the
// leader and through followers (forwarded) reach every member; after the
// leader is killed a new one keeps creating topics; the old leader comes
// back with everything.
func TestQuorumCreatesTopicsAcrossLeaderKill(t *testing.T) {
	q := newHubQuorum(t)
	for i := range 3 {
		q.createTopic(i, fmt.Sprintf("t%d", i), byte(10+i))
	}
	for i := range 3 {
		q.everywhere(fmt.Sprintf("t%d", i))
	}
	old := q.leader()
	q.kill(old)
	for i := range 3 {
		if i != old {
			q.createTopic(i, fmt.Sprintf("after%d", i), byte(20+i))
		}
	}
	if lead := q.leader(); lead == old {
		t.Fatalf("killed node %d still leads", old)
	}
	q.start(old)
	for i := range 3 {
		if i != old {
			q.everywhere(fmt.Sprintf("after%d", i))
		}
	}
	// A duplicate is refused by the leader's validation, also when it
	// comes through a follower.
	follower := (q.leader() + 1) % 3
	if err := q.stores[follower].Append(TopicRecord{Name: "t0", ID: uuid(99)}); err == nil {
		t.Fatal("a duplicate topic name was committed")
	}
}

// TestQuorumPartitionedLeaderCommitsNothing: a leader cut off from both
// followers cannot commit a metadata change; the majority elects a new
// leader and goes on; after healing, every member holds the same image.
func TestQuorumPartitionedLeaderCommitsNothing(t *testing.T) {
	q := newHubQuorum(t)
	q.createTopic(0, "first", 1)
	old := q.leader()
	q.hub.Isolate(RaftID(int32(old)))
	if err := q.stores[old].Append(TopicRecord{Name: "lost", ID: uuid(2)}); err == nil {
		t.Fatal("an isolated leader committed a change")
	}
	other := (old + 1) % 3
	q.createTopic(other, "majority", 3)
	q.hub.Heal()
	q.everywhere("majority")
	for _, s := range q.stores {
		if _, ok := s.Image().Topic("lost"); ok {
			t.Fatal("the isolated leader's change reached an image")
		}
	}
}
