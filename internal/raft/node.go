package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/metrics"
)

// StateMachine is what the quorum replicates into. The node calls it only
// from its own goroutine, in index order.
type StateMachine interface {
	// Apply applies one committed entry. data is nil for raft's own
	// entries (a new leader's empty entry, configuration changes), which
	// still move the applied index. An error is fatal: every replica
	// applies the same entries, so one that refuses an entry would diverge.
	Apply(index, term uint64, data []byte) error
	// Snapshot encodes the state as of the last applied entry.
	Snapshot() ([]byte, error)
	// Restore replaces the state with a snapshot's (installed from the
	// leader, or loaded at start).
	Restore(index, term uint64, data []byte) error
}

// Config configures a Node.
type Config struct {
	ID     uint64
	Dir    string   // the WAL, quorum-state and checkpoints
	Voters []uint64 // the configuration of a new quorum (used only when Dir has no state)

	TickInterval   time.Duration // one raft tick (default 100ms)
	ElectionTicks  int           // ticks without a leader before an election (default 10)
	HeartbeatTicks int           // ticks between a leader's heartbeats (default 1)

	// SnapshotBytes is how many bytes of entries are applied between
	// snapshots (KRaft's metadata.log.max.record.bytes.between.snapshots).
	SnapshotBytes int64
	// KeepEntries is how many entries stay behind a snapshot so a follower
	// slightly behind catches up from the log rather than a snapshot.
	KeepEntries uint64

	Clock        clock.Clock
	StateMachine StateMachine
	Logger       *slog.Logger
	// OnFatal is called once if the node stops on an error it cannot
	// survive (a disk error, or an entry the state machine refused).
	OnFatal func(error)
}

// ErrNotLeader is returned by Propose on a node that is not the leader,
// or whose proposal was overtaken by a change of leader or term.
var ErrNotLeader = errors.New("raft: not the leader")

// ErrStopped is returned after Stop, or after a fatal error.
var ErrStopped = errors.New("raft: node stopped")

// Node runs one member of the quorum: one goroutine owns the RawNode and
// the Ready loop. Order within a Ready: persist (snapshot, entries, hard
// state; fsync when MustSync), send, install the snapshot into the state
// machine, apply committed entries, Advance. Nothing is sent before what
// it promises is durable.
type Node struct {
	cfg Config
	st  *storage
	rn  *raft.RawNode
	tr  Transport

	recvc   chan *raftpb.Message
	propc   chan *proposal
	reportc chan func()
	readc   chan func() // observers' reads of the storage (observe.go)
	tickc   chan struct{}
	stopc   chan struct{}
	done    chan struct{}
	stopped atomic.Bool
	once    sync.Once

	// Owned by the loop goroutine.
	applied     uint64
	conf        *raftpb.ConfState
	waiters     map[uint64]*proposal
	early       []*proposal // leader proposals waiting for the term's first entry
	ready       bool        // leader and the term's first entry is applied
	readyTerm   uint64      // the term ready was reached in
	sinceSnap   int64
	fatalMu     sync.Mutex // guards fatal, which other goroutines read
	fatal       error
	lastFetched map[uint64]time.Time     // leader: last time each follower answered
	prevLeader  uint64                   // the last leader other than this node (Status.PrevLeader)
	observers   map[uint64]ReplicaStatus // observers' last fetches (observe.go)

	commitc atomic.Pointer[chan struct{}] // closed when the commit index moves

	status atomic.Pointer[Status]
}

type proposal struct {
	id    uint64
	data  []byte
	start time.Time
	done  chan proposalResult
}

type proposalResult struct {
	index uint64
	err   error
}

// New opens (bootstrapping if needed) the node's storage and restores the
// state machine from its newest checkpoint. Run starts it.
func New(cfg Config) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.ElectionTicks <= 0 {
		cfg.ElectionTicks = 10
	}
	if cfg.HeartbeatTicks <= 0 {
		cfg.HeartbeatTicks = 1
	}
	if cfg.SnapshotBytes <= 0 {
		cfg.SnapshotBytes = 20 << 20
	}
	if cfg.KeepEntries == 0 {
		cfg.KeepEntries = 1000
	}
	st, err := openStorage(cfg.Dir, cfg.Logger)
	if errors.Is(err, errNoState) {
		data, serr := cfg.StateMachine.Snapshot()
		if serr != nil {
			return nil, serr
		}
		if _, err = Bootstrap(cfg.Dir, cfg.Voters, data, cfg.Logger); err != nil {
			return nil, err
		}
		st, err = openStorage(cfg.Dir, cfg.Logger)
	}
	if err != nil {
		return nil, err
	}
	snap, _ := st.Snapshot()
	md := snap.GetMetadata()
	if err := cfg.StateMachine.Restore(md.GetIndex(), md.GetTerm(), snap.GetData()); err != nil {
		st.close()
		return nil, fmt.Errorf("raft: restore checkpoint %d: %w", md.GetIndex(), err)
	}
	rn, err := raft.NewRawNode(&raft.Config{
		ID:                        cfg.ID,
		ElectionTick:              cfg.ElectionTicks,
		HeartbeatTick:             cfg.HeartbeatTicks,
		Storage:                   st,
		Applied:                   md.GetIndex(),
		MaxSizePerMsg:             1 << 20,
		MaxInflightMsgs:           256,
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		DisableProposalForwarding: true,
		Logger:                    raftLogger{cfg.Logger.With("raft", cfg.ID)},
	})
	if err != nil {
		st.close()
		return nil, err
	}
	n := &Node{
		cfg: cfg, st: st, rn: rn,
		recvc:       make(chan *raftpb.Message, 4096),
		propc:       make(chan *proposal, 256),
		reportc:     make(chan func(), 256),
		readc:       make(chan func()),
		tickc:       make(chan struct{}, 1),
		stopc:       make(chan struct{}),
		done:        make(chan struct{}),
		applied:     md.GetIndex(),
		conf:        md.GetConfState(),
		waiters:     map[uint64]*proposal{},
		lastFetched: map[uint64]time.Time{},
		observers:   map[uint64]ReplicaStatus{},
	}
	commitc := make(chan struct{})
	n.commitc.Store(&commitc)
	n.publishStatus()
	return n, nil
}

// Run starts the node's loop, sending through tr.
func (n *Node) Run(tr Transport) {
	n.tr = tr
	if len(n.conf.GetVoters()) == 1 && n.conf.GetVoters()[0] == n.cfg.ID {
		// A one-voter quorum need not wait an election timeout.
		_ = n.rn.Campaign()
	}
	n.armTick()
	go n.loop()
}

func (n *Node) armTick() {
	n.cfg.Clock.AfterFunc(n.cfg.TickInterval, func() {
		if n.stopped.Load() {
			return
		}
		select {
		case n.tickc <- struct{}{}:
		default:
		}
		n.armTick()
	})
}

// Step hands the node a message from a peer. It never blocks: when the
// inbox is full the message is dropped, which raft tolerates.
func (n *Node) Step(m *raftpb.Message) {
	select {
	case n.recvc <- m:
	default:
	}
}

// ReportUnreachable tells raft a message to id could not be sent.
func (n *Node) ReportUnreachable(id uint64) {
	n.report(func() { n.rn.ReportUnreachable(id) })
}

// ReportSnapshot tells raft whether a snapshot sent to id arrived.
func (n *Node) ReportSnapshot(id uint64, ok bool) {
	status := raft.SnapshotFinish
	if !ok {
		status = raft.SnapshotFailure
	}
	n.report(func() { n.rn.ReportSnapshot(id, status) })
}

func (n *Node) report(f func()) {
	select {
	case n.reportc <- f:
	default:
	}
}

// Propose replicates data and returns once it is committed and applied on
// this node, with its index (and the state machine's verdict, which for a
// committed entry is nil or fatal). Only the leader proposes; elsewhere it
// is ErrNotLeader. A proposal overtaken by a change of leader or term also
// fails with ErrNotLeader, although it may still commit later.
func (n *Node) Propose(ctx context.Context, data []byte) (uint64, error) {
	p := &proposal{id: rand.Uint64(), data: data, start: time.Now(), done: make(chan proposalResult, 1)}
	select {
	case n.propc <- p:
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-n.done:
		return 0, n.stopErr()
	}
	select {
	case r := <-p.done:
		return r.index, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	case <-n.done:
		return 0, n.stopErr()
	}
}

func (n *Node) stopErr() error {
	if err := n.fatalErr(); err != nil {
		return err
	}
	return ErrStopped
}

// Stop ends the loop and closes the storage. The transport is the
// caller's to close.
func (n *Node) Stop() {
	n.once.Do(func() {
		n.stopped.Store(true)
		close(n.stopc)
	})
	<-n.done
}

// Err returns the fatal error that stopped the node, or ErrStopped after
// Stop, or nil while it runs.
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.stopErr()
	default:
		return nil
	}
}

// Done is closed when the loop has ended (Stop or a fatal error).
func (n *Node) Done() <-chan struct{} { return n.done }

func (n *Node) loop() {
	defer close(n.done)
	defer n.st.close()
	for {
		// Ready is handled before waiting, not only after an event: Run's
		// Campaign of a one-voter quorum leaves its own vote in Ready, and
		// waiting for the first tick kept a single node from answering
		// for a whole tick interval after start.
		for n.fatal == nil && n.rn.HasReady() {
			rd := n.rn.Ready()
			if err := n.handle(&rd); err != nil {
				n.die(err)
				break
			}
			n.rn.Advance(rd)
		}
		if n.fatal != nil {
			return
		}
		n.publishStatus()
		select {
		case <-n.tickc:
			n.rn.Tick()
		case m := <-n.recvc:
			if m.GetType() == raftpb.MessageType_MsgAppResp || m.GetType() == raftpb.MessageType_MsgHeartbeatResp {
				n.lastFetched[m.GetFrom()] = time.Now()
			}
			if err := n.checkLostLog(m); err != nil {
				n.die(err)
				return
			}
			_ = n.rn.Step(m)
		case p := <-n.propc:
			n.propose(p)
		case f := <-n.reportc:
			f()
		case f := <-n.readc:
			f()
		case <-n.stopc:
			n.failAll(ErrStopped)
			return
		}
	}
}

// ErrLostLog is the fatal error of a member whose log lost entries it
// had acknowledged to the leader: its directory was lost, or replaced by
// a freshly formatted one.
var ErrLostLog = errors.New("raft: this member lost log entries it had acknowledged (its metadata log directory was lost or replaced)")

// checkLostLog refuses a heartbeat that says entries past this member's
// log end are committed here. A leader sends min(what the member
// acknowledged, its commit index), so an intact member never sees one;
// etcd raft would panic on it. A voter that forgot its log must not go on
// as one: it could vote a candidate missing committed entries into the
// lead (docs/CLUSTER.md, "Losing a disk").
func (n *Node) checkLostLog(m *raftpb.Message) error {
	if m.GetType() != raftpb.MessageType_MsgHeartbeat {
		return nil
	}
	last, err := n.st.LastIndex()
	if err != nil || m.GetCommit() <= last {
		return nil
	}
	return fmt.Errorf("%w: the leader (member %d) has index %d committed here, this log ends at %d",
		ErrLostLog, m.GetFrom(), m.GetCommit(), last)
}

func (n *Node) die(err error) {
	n.cfg.Logger.Error("raft node stopped on a fatal error", "node", n.cfg.ID, "err", err)
	n.setFatal(err)
	n.failAll(err)
	if n.cfg.OnFatal != nil {
		go n.cfg.OnFatal(err)
	}
}

func (n *Node) setFatal(err error) {
	n.fatalMu.Lock()
	n.fatal = err
	n.fatalMu.Unlock()
}

func (n *Node) fatalErr() error {
	n.fatalMu.Lock()
	defer n.fatalMu.Unlock()
	return n.fatal
}

func (n *Node) propose(p *proposal) {
	if n.fatal != nil {
		p.done <- proposalResult{err: n.fatal}
		return
	}
	if n.rn.BasicStatus().RaftState != raft.StateLeader {
		p.done <- proposalResult{err: ErrNotLeader}
		return
	}
	if !n.ready {
		n.early = append(n.early, p)
		return
	}
	buf := make([]byte, 8+len(p.data))
	binary.BigEndian.PutUint64(buf, p.id)
	copy(buf[8:], p.data)
	n.waiters[p.id] = p
	if err := n.rn.Propose(buf); err != nil {
		delete(n.waiters, p.id)
		if errors.Is(err, raft.ErrProposalDropped) {
			err = ErrNotLeader
		}
		p.done <- proposalResult{err: err}
	}
}

func (n *Node) failAll(err error) {
	for id, p := range n.waiters {
		p.done <- proposalResult{err: err}
		delete(n.waiters, id)
	}
	for _, p := range n.early {
		p.done <- proposalResult{err: err}
	}
	n.early = nil
}

func (n *Node) handle(rd *raft.Ready) error {
	if rd.SoftState != nil && rd.SoftState.RaftState != raft.StateLeader && n.ready {
		n.ready = false
		n.failAll(ErrNotLeader)
	}
	if rd.HardState != nil && rd.HardState.GetTerm() != n.readyTerm && n.ready {
		n.ready = false
		n.failAll(ErrNotLeader)
	}
	if err := n.st.save(rd); err != nil {
		return err
	}
	if len(rd.Entries) > 0 {
		if n.rn.BasicStatus().RaftState == raft.StateLeader {
			metrics.RaftAppended(len(rd.Entries))
		} else {
			metrics.RaftFetched(len(rd.Entries))
		}
	}
	if n.tr != nil && len(rd.Messages) > 0 {
		n.tr.Send(rd.Messages)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		md := rd.Snapshot.GetMetadata()
		if err := n.cfg.StateMachine.Restore(md.GetIndex(), md.GetTerm(), rd.Snapshot.GetData()); err != nil {
			return fmt.Errorf("raft: restore snapshot %d: %w", md.GetIndex(), err)
		}
		n.applied, n.conf, n.sinceSnap = md.GetIndex(), md.GetConfState(), 0
		n.cfg.Logger.Info("raft snapshot installed", "node", n.cfg.ID, "index", md.GetIndex(), "term", md.GetTerm())
	}
	for _, e := range rd.CommittedEntries {
		if err := n.apply(e); err != nil {
			return err
		}
	}
	if n.sinceSnap >= n.cfg.SnapshotBytes {
		return n.snapshot()
	}
	return nil
}

func (n *Node) apply(e *raftpb.Entry) error {
	idx := e.GetIndex()
	if idx <= n.applied {
		return nil
	}
	var payload []byte
	var id uint64
	switch e.GetType() {
	case raftpb.EntryType_EntryNormal:
		if d := e.GetData(); len(d) >= 8 {
			id, payload = binary.BigEndian.Uint64(d), d[8:]
		} else if len(d) == 0 && n.rn.BasicStatus().RaftState == raft.StateLeader && e.GetTerm() == n.rn.BasicStatus().HardState.GetTerm() {
			// The first entry of our own term: every earlier entry is
			// now applied, so the leader's view is complete. Only now
			// may it accept proposals.
			n.becomeReady()
		}
	case raftpb.EntryType_EntryConfChange:
		var cc raftpb.ConfChange
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return fmt.Errorf("raft: entry %d: %w", idx, err)
		}
		n.conf = n.rn.ApplyConfChange(&cc)
	case raftpb.EntryType_EntryConfChangeV2:
		var cc raftpb.ConfChangeV2
		if err := proto.Unmarshal(e.GetData(), &cc); err != nil {
			return fmt.Errorf("raft: entry %d: %w", idx, err)
		}
		n.conf = n.rn.ApplyConfChange(&cc)
	}
	// INVARIANT: a committed entry always applies. The proposer validated
	// it against the state it would follow; a refusal here means replicas
	// would diverge, so it stops the node.
	if err := n.cfg.StateMachine.Apply(idx, e.GetTerm(), payload); err != nil {
		return fmt.Errorf("raft: state machine refused committed entry %d (term %d): %w", idx, e.GetTerm(), err)
	}
	n.applied = idx
	n.sinceSnap += int64(len(e.GetData()))
	if p, ok := n.waiters[id]; ok && id != 0 {
		delete(n.waiters, id)
		observeCommit(time.Since(p.start))
		p.done <- proposalResult{index: idx}
	}
	return nil
}

func (n *Node) becomeReady() {
	n.ready, n.readyTerm = true, n.rn.BasicStatus().HardState.GetTerm()
	early := n.early
	n.early = nil
	for _, p := range early {
		n.propose(p)
	}
}

func (n *Node) snapshot() error {
	data, err := n.cfg.StateMachine.Snapshot()
	if err != nil {
		return err
	}
	if err := n.st.snapshot(n.applied, n.conf, data, n.cfg.KeepEntries); err != nil {
		return err
	}
	n.sinceSnap = 0
	n.cfg.Logger.Info("raft snapshot taken", "node", n.cfg.ID, "index", n.applied, "bytes", len(data))
	return nil
}
