package raft

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
)

// TestObserverFollowsQuorum: an observer started after the voters have
// snapshotted and compacted their logs installs a snapshot, then applies
// every later entry in order, the same list as the voters'; it follows a
// new leader after the old one is killed, and the leader lists it among
// its observers. It never votes: the quorum's configuration stays three.
func TestObserverFollowsQuorum(t *testing.T) {
	q := newQuorum(t, 3, true, 64) // a snapshot every few entries
	for i := range 30 {
		q.propose(fmt.Sprintf("a%d", i))
	}
	q.converged(30)

	sm := &listSM{}
	obs, err := NewObserver(ObserverConfig{ID: 9, ClusterID: "test-cluster", Voters: q.addrs, StateMachine: sm,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	obs.Run()
	defer obs.Stop()
	same := func(want int) {
		t.Helper()
		q.waitFor(fmt.Sprintf("the observer to hold %d items", want), func() bool { return len(sm.list()) == want })
		for _, id := range q.ids {
			if n := q.nodes[id]; n != nil && !slices.Equal(q.sms[id].list(), sm.list()) {
				t.Fatalf("observer diverged from node %d: %v vs %v", id, sm.list(), q.sms[id].list())
			}
		}
	}
	same(30)
	for i := range 10 {
		q.propose(fmt.Sprintf("b%d", i))
	}
	q.converged(40)
	same(40)

	lead := q.leader()
	q.waitFor("the leader to list the observer", func() bool {
		st := q.nodes[lead].Status()
		return len(st.Observers) == 1 && st.Observers[0].ID == 9 && len(st.Voters) == 3
	})
	q.kill(lead)
	for i := range 5 {
		q.propose(fmt.Sprintf("c%d", i))
	}
	q.converged(45)
	same(45)
	if st := obs.Status(); st.Leader == lead || st.Leader == 0 || st.IsLeader {
		t.Fatalf("observer status %+v after leader %d was killed", st, lead)
	}
	if _, err := obs.Propose(t.Context(), []byte("x")); err != ErrNotLeader {
		t.Fatalf("observer Propose: %v", err)
	}
}
