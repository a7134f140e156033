package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// ObserverConfig configures an Observer.
type ObserverConfig struct {
	ID        uint64
	ClusterID string
	// Voters maps each voter's raft id to its controller listener.
	Voters map[uint64]string
	// Wait is how long a voter holds a fetch with nothing new (default 500ms).
	Wait time.Duration
	// Dial opens connections (default net.Dialer).
	Dial         func(ctx context.Context, network, addr string) (net.Conn, error)
	StateMachine StateMachine
	Logger       *slog.Logger
	// OnFatal is called once if the observer stops on an error it cannot
	// survive (an entry the state machine refused).
	OnFatal func(error)
}

// Observer follows the quorum without a vote (see observe.go): it fetches
// committed entries from a voter, the leader when it knows which, and
// applies them in index order, restoring a snapshot when it is behind the
// voter's log. It keeps nothing on disk: a restarted observer fetches the
// newest snapshot and the entries after it again, as a KRaft broker
// catches up before it is unfenced.
//
// INVARIANT: it applies only entries a voter reported committed, each
// once, in index order (applied+1 is always the next index asked for).
type Observer struct {
	cfg ObserverConfig

	status atomic.Pointer[Status]
	stopc  chan struct{}
	done   chan struct{}
	once   sync.Once

	fatalMu sync.Mutex
	fatal   error

	// Owned by the run goroutine.
	applied uint64
	term    uint64
}

// NewObserver returns an observer with an empty state machine; Run starts it.
func NewObserver(cfg ObserverConfig) (*Observer, error) {
	if len(cfg.Voters) == 0 {
		return nil, ErrObserverNoVoters
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Wait <= 0 {
		cfg.Wait = 500 * time.Millisecond
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	o := &Observer{cfg: cfg, stopc: make(chan struct{}), done: make(chan struct{})}
	o.publish(0, 0)
	return o, nil
}

// Run starts fetching.
func (o *Observer) Run() { go o.run() }

// Status is the observer's view: the leader and commit index last
// reported by a voter, and what it has applied. IsLeader is always false.
func (o *Observer) Status() Status { return *o.status.Load() }

// Propose always fails: an observer has no vote and proposes nothing
// (its Store forwards to the leader instead).
func (o *Observer) Propose(context.Context, []byte) (uint64, error) { return 0, ErrNotLeader }

// Stop ends fetching and waits for it.
func (o *Observer) Stop() {
	o.once.Do(func() { close(o.stopc) })
	<-o.done
}

// Done is closed when the observer has stopped.
func (o *Observer) Done() <-chan struct{} { return o.done }

// Err returns the fatal error that stopped the observer, ErrStopped
// after Stop, or nil while it runs.
func (o *Observer) Err() error {
	select {
	case <-o.done:
		o.fatalMu.Lock()
		defer o.fatalMu.Unlock()
		if o.fatal != nil {
			return o.fatal
		}
		return ErrStopped
	default:
		return nil
	}
}

func (o *Observer) publish(leader, commit uint64) {
	s := &Status{ID: o.cfg.ID, Leader: leader, Term: o.term, Commit: commit, Applied: o.applied, LastIndex: o.applied}
	for id := range o.cfg.Voters {
		s.Voters = append(s.Voters, id)
	}
	slices.Sort(s.Voters)
	o.status.Store(s)
}

func (o *Observer) run() {
	defer close(o.done)
	ids := make([]uint64, 0, len(o.cfg.Voters))
	for id := range o.cfg.Voters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var (
		c      net.Conn
		r      *bufio.Reader
		target uint64 // the voter c is connected to
		next   int    // round robin over voters while no leader is known
		fails  int
	)
	closeConn := func() {
		if c != nil {
			c.Close()
			c = nil
		}
	}
	defer closeConn()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-o.stopc
		cancel()
	}()
	for {
		if ctx.Err() != nil {
			return
		}
		st := o.Status()
		want := st.Leader
		if _, ok := o.cfg.Voters[want]; !ok {
			want = ids[next%len(ids)]
		}
		if c != nil && target != want {
			closeConn()
		}
		if c == nil {
			var err error
			c, r, err = o.connect(ctx, want)
			if err != nil {
				fails++
				next++
				o.publish(0, st.Commit) // the leader we knew is unreachable
				o.backoff(ctx, fails)
				continue
			}
			target = want
		}
		a, err := o.fetch(c, r)
		if err != nil || a.kind == obsStopped {
			if err != nil && ctx.Err() == nil {
				o.cfg.Logger.Debug("metadata observer: fetch failed", "voter", want, "err", err)
			}
			closeConn()
			fails++
			next++
			o.publish(0, st.Commit)
			o.backoff(ctx, fails)
			continue
		}
		fails = 0
		if err := o.apply(a); err != nil {
			o.die(err)
			return
		}
		o.publish(a.leader, a.commit)
	}
}

func (o *Observer) connect(ctx context.Context, id uint64) (net.Conn, *bufio.Reader, error) {
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	c, err := o.cfg.Dial(dctx, "tcp", o.cfg.Voters[id])
	if err != nil {
		return nil, nil, err
	}
	hello := append([]byte(obsMagic), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(hello[len(obsMagic):], uint32(len(o.cfg.ClusterID)))
	hello = append(hello, o.cfg.ClusterID...)
	if _, err := c.Write(hello); err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, bufio.NewReaderSize(c, 64<<10), nil
}

func (o *Observer) fetch(c net.Conn, r *bufio.Reader) (obsAnswer, error) {
	req := obsRequest{id: o.cfg.ID, from: o.applied + 1, maxBytes: 1 << 20, wait: o.cfg.Wait}.encode()
	c.SetDeadline(time.Now().Add(o.cfg.Wait + 10*time.Second))
	frame := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(req)), uint32(len(req)))
	if _, err := c.Write(append(frame, req...)); err != nil {
		return obsAnswer{}, err
	}
	resp, err := readFrame(r)
	if err != nil {
		return obsAnswer{}, err
	}
	return decodeObsAnswer(resp)
}

func (o *Observer) apply(a obsAnswer) error {
	if a.kind == obsSnapshot {
		md := a.snap.GetMetadata()
		if md.GetIndex() <= o.applied {
			return nil // an older snapshot than what we have: nothing to do
		}
		if err := o.cfg.StateMachine.Restore(md.GetIndex(), md.GetTerm(), a.snap.GetData()); err != nil {
			return fmt.Errorf("raft observer: restore snapshot %d: %w", md.GetIndex(), err)
		}
		o.applied, o.term = md.GetIndex(), md.GetTerm()
		o.cfg.Logger.Info("metadata observer: snapshot installed", "index", md.GetIndex(), "term", md.GetTerm())
		return nil
	}
	for _, e := range a.entries {
		idx := e.GetIndex()
		if idx <= o.applied {
			continue
		}
		if idx != o.applied+1 {
			// A gap: the voter's log moved under us (a snapshot); ask again.
			return nil
		}
		var payload []byte
		if e.GetType() == raftpb.EntryType_EntryNormal {
			if d := e.GetData(); len(d) >= 8 {
				payload = d[8:] // the proposal id, then the state machine's data
			}
		}
		if err := o.cfg.StateMachine.Apply(idx, e.GetTerm(), payload); err != nil {
			return fmt.Errorf("raft observer: state machine refused committed entry %d (term %d): %w", idx, e.GetTerm(), err)
		}
		o.applied, o.term = idx, e.GetTerm()
	}
	return nil
}

func (o *Observer) die(err error) {
	o.cfg.Logger.Error("metadata observer stopped on a fatal error", "err", err)
	o.fatalMu.Lock()
	o.fatal = err
	o.fatalMu.Unlock()
	if o.cfg.OnFatal != nil {
		o.cfg.OnFatal(err)
	}
}

// backoff waits before the next attempt: 50ms doubling to 1s.
func (o *Observer) backoff(ctx context.Context, fails int) {
	d := 50 * time.Millisecond << min(fails-1, 5)
	d = min(d, time.Second)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// ErrObserverNoVoters is returned for an observer configured without voters.
var ErrObserverNoVoters = errors.New("raft observer: no voters to fetch from")
