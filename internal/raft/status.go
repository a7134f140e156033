package raft

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.etcd.io/raft/v3"

	"github.com/sluice-io/sluice/internal/metrics"
)

// Status is a node's view of the quorum, published by the loop after each
// step so readers (DescribeQuorum, metrics) never wait on it.
type Status struct {
	ID        uint64
	Leader    uint64 // 0 when unknown
	Term      uint64
	Commit    uint64 // the high watermark: the last committed index
	Applied   uint64
	LastIndex uint64
	IsLeader  bool
	Ready     bool // leader and its term's first entry is applied
	// PrevLeader is the last leader other than this node it has known
	// (0: none yet): on a new leader, the node it took over from.
	PrevLeader uint64
	Voters     []uint64
	Learners   []uint64
	// Replicas is the leader's view of each member (itself included):
	// the last index known to match and when it last answered. Empty on
	// followers.
	Replicas []ReplicaStatus
	// Observers are the nodes without a vote that fetched from this
	// member (observe.go): the index they have and when they last asked.
	Observers []ReplicaStatus
}

// ReplicaStatus is one member as the leader sees it.
type ReplicaStatus struct {
	ID        uint64
	Match     uint64
	LastFetch time.Time // zero when never heard from
}

// Status returns the node's latest published status.
func (n *Node) Status() Status { return *n.status.Load() }

func (n *Node) publishStatus() {
	bs := n.rn.BasicStatus()
	last, _ := n.st.LastIndex()
	if bs.Lead != 0 && bs.Lead != n.cfg.ID {
		n.prevLeader = bs.Lead
	}
	s := &Status{
		ID:         n.cfg.ID,
		Leader:     bs.Lead,
		Term:       bs.HardState.GetTerm(),
		Commit:     bs.HardState.GetCommit(),
		Applied:    n.applied,
		LastIndex:  last,
		IsLeader:   bs.RaftState == raft.StateLeader,
		Ready:      n.ready,
		PrevLeader: n.prevLeader,
		Voters:     slices.Clone(n.conf.GetVoters()),
		Learners:   slices.Clone(n.conf.GetLearners()),
	}
	if s.IsLeader {
		st := n.rn.Status()
		for id, pr := range st.Progress {
			rs := ReplicaStatus{ID: id, Match: pr.Match}
			if id == n.cfg.ID {
				rs.LastFetch = time.Now()
			} else {
				rs.LastFetch = n.lastFetched[id]
			}
			s.Replicas = append(s.Replicas, rs)
		}
		slices.SortFunc(s.Replicas, func(a, b ReplicaStatus) int { return int(a.ID) - int(b.ID) })
	}
	for _, o := range n.observers {
		s.Observers = append(s.Observers, o)
	}
	slices.SortFunc(s.Observers, func(a, b ReplicaStatus) int { return int(a.ID) - int(b.ID) })
	if prev := n.status.Load(); prev != nil && s.Commit > prev.Commit {
		n.signalCommit()
	}
	metrics.RaftState(float64(s.Leader), float64(s.Term), float64(s.Commit))
	n.status.Store(s)
}

func observeCommit(d time.Duration) {
	metrics.MetadataCommit(d)
	metrics.RaftCommitMs(float64(d.Microseconds()) / 1000)
}

// raftLogger routes etcd raft's logging to slog: its Info chatter (votes,
// term changes) at Debug, except elections, which operators want to see.
type raftLogger struct{ l *slog.Logger }

func (r raftLogger) Debug(v ...any)              { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Debugf(f string, v ...any)   { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Error(v ...any)              { r.l.Error(fmt.Sprint(v...)) }
func (r raftLogger) Errorf(f string, v ...any)   { r.l.Error(fmt.Sprintf(f, v...)) }
func (r raftLogger) Info(v ...any)               { r.l.Debug(fmt.Sprint(v...)) }
func (r raftLogger) Infof(f string, v ...any)    { r.l.Debug(fmt.Sprintf(f, v...)) }
func (r raftLogger) Warning(v ...any)            { r.l.Warn(fmt.Sprint(v...)) }
func (r raftLogger) Warningf(f string, v ...any) { r.l.Warn(fmt.Sprintf(f, v...)) }
func (r raftLogger) Fatal(v ...any)              { r.l.Error(fmt.Sprint(v...)); panic(fmt.Sprint(v...)) }
func (r raftLogger) Fatalf(f string, v ...any) {
	r.l.Error(fmt.Sprintf(f, v...))
	panic(fmt.Sprintf(f, v...))
}
func (r raftLogger) Panic(v ...any)            { panic(fmt.Sprint(v...)) }
func (r raftLogger) Panicf(f string, v ...any) { panic(fmt.Sprintf(f, v...)) }
