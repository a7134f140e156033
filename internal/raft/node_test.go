package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/clock"
)

// listSM is a state machine that keeps every applied payload in order.
type listSM struct {
	mu      sync.Mutex
	items   []string
	applied uint64
}

func (s *listSM) Apply(index, term uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if index != s.applied+1 {
		return fmt.Errorf("apply %d after %d", index, s.applied)
	}
	s.applied = index
	if data != nil {
		s.items = append(s.items, string(data))
	}
	return nil
}

func (s *listSM) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return []byte(strings.Join(s.items, "\n")), nil
}

func (s *listSM) Restore(index, term uint64, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.items, s.applied = nil, index
	if len(data) > 0 {
		s.items = strings.Split(string(data), "\n")
	}
	return nil
}

func (s *listSM) list() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.items...)
}

// quorum is a test quorum of in-process nodes on a fake clock, over the
// in-memory hub or TCP.
type quorum struct {
	t      *testing.T
	clk    *clock.Fake
	hub    *Hub
	ids    []uint64
	dirs   map[uint64]string
	nodes  map[uint64]*Node
	sms    map[uint64]*listSM
	trs    map[uint64]Transport
	tcp    bool
	addrs  map[uint64]string
	lns    map[uint64]net.Listener
	snapAt int64

	stopTick chan struct{}
	tickDone chan struct{}
}

const testTick = 10 * time.Millisecond

func newQuorum(t *testing.T, n int, useTCP bool, snapBytes int64) *quorum {
	q := &quorum{t: t, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), hub: NewHub(1), dirs: map[uint64]string{},
		nodes: map[uint64]*Node{}, sms: map[uint64]*listSM{}, trs: map[uint64]Transport{}, tcp: useTCP,
		addrs: map[uint64]string{}, lns: map[uint64]net.Listener{}, snapAt: snapBytes,
		stopTick: make(chan struct{}), tickDone: make(chan struct{})}
	for i := 1; i <= n; i++ {
		id := uint64(i)
		q.ids = append(q.ids, id)
		q.dirs[id] = t.TempDir()
		if useTCP {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			q.lns[id], q.addrs[id] = ln, ln.Addr().String()
		}
	}
	for _, id := range q.ids {
		q.start(id)
	}
	// The fake clock moves one tick per millisecond of real time: raft's
	// timers are decoupled from the wall clock, and a test waits on
	// conditions, never on durations.
	go func() {
		defer close(q.tickDone)
		for {
			select {
			case <-q.stopTick:
				return
			case <-time.After(time.Millisecond):
				q.clk.Advance(testTick)
			}
		}
	}()
	t.Cleanup(q.close)
	return q
}

func (q *quorum) start(id uint64) {
	sm := &listSM{}
	n, err := New(Config{ID: id, Dir: q.dirs[id], Voters: q.ids, TickInterval: testTick, ElectionTicks: 10,
		Clock: q.clk, StateMachine: sm, SnapshotBytes: q.snapAt, KeepEntries: 5,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		q.t.Fatalf("node %d: %v", id, err)
	}
	var tr Transport
	if q.tcp {
		ln := q.lns[id]
		if ln == nil {
			if ln, err = net.Listen("tcp", q.addrs[id]); err != nil {
				q.t.Fatalf("relisten %d: %v", id, err)
			}
		}
		q.lns[id] = nil
		tr = NewTCP(id, "test-cluster", ln, q.addrs, n, slog.New(slog.DiscardHandler))
	} else {
		tr = q.hub.Join(id, n)
	}
	n.Run(tr)
	q.nodes[id], q.sms[id], q.trs[id] = n, sm, tr
}

// kill stops a node as a crash would look to its peers: it stops
// answering, and its files stay as they are.
func (q *quorum) kill(id uint64) {
	n := q.nodes[id]
	if n == nil {
		return
	}
	q.trs[id].Close()
	n.Stop()
	delete(q.nodes, id)
}

func (q *quorum) close() {
	for _, id := range q.ids {
		q.kill(id)
	}
	close(q.stopTick)
	<-q.tickDone
}

// waitFor polls cond until it holds or 10 s pass.
func (q *quorum) waitFor(what string, cond func() bool) {
	q.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			q.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// leader waits until exactly one live node leads and is ready.
func (q *quorum) leader() uint64 {
	q.t.Helper()
	var lead uint64
	q.waitFor("a ready leader", func() bool {
		lead = 0
		for id, n := range q.nodes {
			if st := n.Status(); st.IsLeader && st.Ready {
				if lead != 0 {
					return false
				}
				lead = id
			}
		}
		return lead != 0
	})
	return lead
}

// propose proposes on the current leader, retrying across elections.
func (q *quorum) propose(v string) {
	q.t.Helper()
	q.waitFor("proposal "+v+" to commit", func() bool {
		lead := q.leader()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := q.nodes[lead].Propose(ctx, []byte(v))
		return err == nil
	})
}

func (q *quorum) converged(want int) {
	q.t.Helper()
	q.waitFor(fmt.Sprintf("every live node to hold %d items", want), func() bool {
		var first []string
		for _, id := range q.ids {
			n := q.nodes[id]
			if n == nil {
				continue
			}
			l := q.sms[id].list()
			if len(l) != want {
				return false
			}
			if first == nil {
				first = l
			} else if strings.Join(first, ",") != strings.Join(l, ",") {
				q.t.Fatalf("node %d diverged: %v vs %v", id, l, first)
			}
		}
		return true
	})
}

func TestOneVoterQuorumRestarts(t *testing.T) {
	q := newQuorum(t, 1, false, 0)
	for i := range 20 {
		q.propose(fmt.Sprint("v", i))
	}
	q.converged(20)
	q.kill(1)
	q.start(1)
	q.leader()
	q.converged(20)
	q.propose("after")
	q.converged(21)
}

// TestOneVoterLeadsWithoutATick: a one-voter quorum campaigns in Run and
// must lead and commit with no tick at all (a clock that never moves), or
// a single broker waits a tick interval (100 ms by default) before it can
// answer anything after every start.
func TestOneVoterLeadsWithoutATick(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0)) // never advanced
	hub := NewHub(1)
	n, err := New(Config{ID: 1, Dir: t.TempDir(), Voters: []uint64{1}, TickInterval: time.Hour, ElectionTicks: 10,
		Clock: clk, StateMachine: &listSM{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	tr := hub.Join(1, n)
	n.Run(tr)
	t.Cleanup(func() { tr.Close(); n.Stop() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.Propose(ctx, []byte("first")); err != nil {
		t.Fatalf("propose on a one-voter quorum whose clock never ticks: %v (status %+v)", err, n.Status())
	}
	if st := n.Status(); !st.IsLeader || !st.Ready {
		t.Fatalf("status after a commit: %+v, want a ready leader", st)
	}
}

func TestLeaderKilledNewLeaderCommits(t *testing.T) {
	for _, useTCP := range []bool{false, true} {
		t.Run(map[bool]string{false: "hub", true: "tcp"}[useTCP], func(t *testing.T) {
			t.Parallel()
			q := newQuorum(t, 3, useTCP, 0)
			q.propose("a")
			old := q.leader()
			q.kill(old)
			q.propose("b")
			if lead := q.leader(); lead == old {
				t.Fatalf("killed node %d still leads", old)
			}
			q.converged(2)
			q.start(old)
			q.propose("c")
			q.converged(3)
		})
	}
}

func TestPartitionedLeaderCommitsNothing(t *testing.T) {
	q := newQuorum(t, 3, false, 0)
	q.propose("before")
	old := q.leader()
	q.hub.Isolate(old)
	// The isolated leader can accept a proposal into its log but never
	// commit it: it fails (CheckQuorum makes it step down), never succeeds.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_, err := q.nodes[old].Propose(ctx, []byte("lost"))
	cancel()
	if err == nil {
		t.Fatal("an isolated leader committed a proposal")
	}
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("isolated leader: %v", err)
	}
	q.waitFor("a new leader among the majority", func() bool {
		for id, n := range q.nodes {
			if st := n.Status(); id != old && st.IsLeader && st.Ready {
				return true
			}
		}
		return false
	})
	for id, n := range q.nodes {
		if id != old {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			if n.Status().IsLeader {
				if _, err := n.Propose(ctx, []byte("majority")); err != nil {
					t.Fatalf("majority leader: %v", err)
				}
			}
			cancel()
		}
	}
	q.hub.Heal()
	q.converged(2)
	for _, id := range q.ids {
		if l := q.sms[id].list(); l[1] != "majority" {
			t.Fatalf("node %d: %v", id, l)
		}
	}
}

func TestHealedMinorityCatchesUpFromSnapshot(t *testing.T) {
	q := newQuorum(t, 3, false, 64) // a snapshot every 64 bytes of entries
	q.propose("first")
	lag := q.ids[0]
	if lag == q.leader() {
		lag = q.ids[1]
	}
	q.hub.Isolate(lag)
	for i := range 100 {
		q.propose(fmt.Sprintf("entry-%03d", i))
	}
	// The leader's log no longer reaches back to what the lagging node
	// has: it can only catch up from a snapshot.
	lead := q.leader()
	st, _ := q.nodes[lead].st.FirstIndex()
	if got := q.nodes[lag].Status().Applied; st <= got+1 {
		t.Fatalf("leader log starts at %d, lagging node applied %d: no snapshot needed", st, got)
	}
	q.hub.Heal()
	q.converged(101)
	// And it restarts from its own checkpoint.
	q.kill(lag)
	q.start(lag)
	q.converged(101)
}
