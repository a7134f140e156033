package metadata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/raft"
)

// LogDirName is the metadata log's directory under log.dirs, as in KRaft.
// Partition log code must skip it when scanning log.dirs.
const LogDirName = "__cluster_metadata-0"

// Dir returns the metadata log directory under the data directory logDirs.
func Dir(logDirs string) string { return filepath.Join(logDirs, LogDirName) }

var (
	// ErrClosed is returned by Append after Close.
	ErrClosed = errors.New("metadata: store closed")
	// ErrNotController is returned by Append when no quorum leader could
	// take the records (none elected, or leadership moved while they were
	// in flight: they may still have committed). Kafka's NOT_CONTROLLER.
	ErrNotController = errors.New("metadata: not the active controller")
	// ErrTimeout is returned by Append when the quorum did not commit the
	// records in time (no majority). Kafka's REQUEST_TIMED_OUT.
	ErrTimeout = errors.New("metadata: the metadata quorum did not commit in time")
	// ErrLocked is returned by Open and Repair while another process (a
	// broker, a repair) has the metadata log open.
	ErrLocked = errors.New("metadata: the metadata log is in use by another process (a broker or a repair running on this data directory)")
	// ErrDamaged is wrapped by Open's error when the metadata log is
	// damaged other than by a torn tail (see OpenQuorum).
	ErrDamaged = errors.New("metadata log is damaged")
)

// Config configures the metadata quorum a Store runs on.
type Config struct {
	Dir       string // the metadata log directory (Dir(metadata.log.dir))
	NodeID    int32  // node.id
	ClusterID string // from meta.properties; quorum members of other clusters are refused
	// Voters maps each controller's node id to its controller listener
	// (host:port), from controller.quorum.voters. Empty: this node is a
	// one-voter quorum, which commits on its own fsync.
	Voters map[int32]string
	// Listener serves this node's raft traffic (the controller listener);
	// unused with one voter or a custom Transport.
	Listener net.Listener
	// Transport, when set, replaces TCP (tests: raft.Hub).
	Transport func(recv raft.Receiver) raft.Transport
	// Dial, when set, opens an observer's connections to the voters
	// (tests: internal/testcluster); nil dials with net.Dialer.
	Dial raft.Dialer

	ElectionTimeout time.Duration // controller.quorum.election.timeout.ms (default 1s)
	SnapshotBytes   int64         // metadata.log.max.record.bytes.between.snapshots
	RequestTimeout  time.Duration // how long Append waits for a commit (default 10s)
	Clock           clock.Clock
	Logger          *slog.Logger
	// OnFatal is called if the quorum member stops on an error it cannot
	// survive (a disk error, a committed entry the image refuses).
	OnFatal func(error)
}

// Store is the metadata state machine: the controller's records are
// proposed to the raft quorum (internal/raft) and, once committed, applied
// in order to a copy-on-write Image on every member. Readers are
// lock-free (Image); subscribers get every applied image in order from
// their own goroutine, so slow work there (opening partition logs) never
// blocks raft.
//
// INVARIANT: only the quorum leader proposes, one Append at a time, and
// each Append is validated against the image every earlier entry built; so
// a committed entry always applies. An entry that does not is fatal (the
// raft node stops): skipping it would let members diverge.
type Store struct {
	cfg    Config
	logger *slog.Logger
	node   member
	tr     raft.Transport
	fwd    forwarder // nil with one voter

	mu     sync.Mutex // serializes Append: validate, propose, wait
	lock   *os.File   // the lock on the log directory, held until Close
	closed atomic.Bool
	img    atomic.Pointer[Image]
	pub    *publisher
}

// Open opens a one-voter quorum in dir: a single node, as `sluice serve`
// runs with no KRaft settings. Node id 1.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	return OpenQuorum(Config{Dir: dir, NodeID: 1, Logger: logger})
}

// RaftID maps a Kafka node id (which may be 0) to a raft member id (never
// 0, which raft reserves for "none").
func RaftID(nodeID int32) uint64 { return uint64(nodeID) + 1 }

// NodeID maps a raft member id back to its node id (-1 for none).
func NodeID(raftID uint64) int32 { return int32(raftID) - 1 }

// OpenQuorum opens this node's member of the metadata quorum: migrates a
// metadata log written before the quorum existed, restores the newest
// checkpoint, starts the raft loop and, with one voter, waits until every
// entry already in the log is applied (so the image is complete before
// the broker serves).
func OpenQuorum(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.ElectionTimeout <= 0 {
		cfg.ElectionTimeout = time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	voters := []uint64{RaftID(cfg.NodeID)}
	if len(cfg.Voters) > 0 {
		voters = voters[:0]
		for id := range cfg.Voters {
			voters = append(voters, RaftID(id))
		}
	}
	if err := checkInterruptedRepair(cfg.Dir); err != nil {
		return nil, err
	}
	if err := mkdirDurable(cfg.Dir); err != nil {
		return nil, fmt.Errorf("metadata: %w", err)
	}
	lock, err := lockDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	if err := migrateLegacy(cfg.Dir, voters, cfg.Logger); err != nil {
		lock.Close()
		var ce *log.CorruptError
		if errors.As(err, &ce) {
			return nil, damaged(cfg.Dir, err)
		}
		return nil, err
	}
	s := &Store{cfg: cfg, logger: cfg.Logger, lock: lock}
	s.img.Store(Empty())
	s.pub = newPublisher(s.logger)
	node, err := raft.New(raft.Config{
		ID: RaftID(cfg.NodeID), Dir: cfg.Dir, Voters: voters,
		// Ten ticks to an election timeout, a heartbeat every tick: a
		// leader is noticed missing after one election timeout.
		TickInterval: cfg.ElectionTimeout / 10, ElectionTicks: 10, HeartbeatTicks: 1,
		SnapshotBytes: cfg.SnapshotBytes, Clock: cfg.Clock, StateMachine: (*stateMachine)(s),
		Logger: cfg.Logger, OnFatal: cfg.OnFatal,
	})
	if err != nil {
		s.pub.close()
		lock.Close()
		var ce *log.CorruptError
		if errors.As(err, &ce) || errors.Is(err, raft.ErrInconsistent) {
			// Damage before the end of the WAL is not a torn tail, nor
			// is a WAL that does not follow its checkpoint.
			return nil, damaged(cfg.Dir, err)
		}
		return nil, fmt.Errorf("metadata quorum: %w", err)
	}
	s.node = node
	s.pub.start(s.img.Load())
	switch {
	case cfg.Transport != nil:
		s.tr = cfg.Transport(node)
	case len(cfg.Voters) > 0:
		peers := map[uint64]string{}
		for id, addr := range cfg.Voters {
			peers[RaftID(id)] = addr
		}
		s.tr = raft.NewTCP(RaftID(cfg.NodeID), cfg.ClusterID, cfg.Listener, peers, node, cfg.Logger)
	default:
		s.tr = raft.NoTransport{}
	}
	if f, ok := s.tr.(raft.Forwarder); ok {
		s.fwd = forwarder{f}
		f.HandleForward(s.serveForward)
	}
	node.Run(s.tr)
	if len(cfg.Voters) <= 1 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := s.WaitReady(ctx); err != nil {
			s.Close()
			if nerr := node.Err(); nerr != nil && !errors.Is(nerr, raft.ErrStopped) {
				// An entry in the log that does not apply to the image
				// before it: the log is damaged (or was written by a
				// broken broker), and going on would serve less.
				return nil, damaged(cfg.Dir, nerr)
			}
			return nil, fmt.Errorf("metadata quorum: %w", err)
		}
	}
	img := s.img.Load()
	cfg.Logger.Info("metadata quorum member started", "dir", cfg.Dir, "node", cfg.NodeID, "voters", len(voters),
		"offset", img.Offset, "topics", len(img.TopicsByName), "brokers", len(img.Brokers))
	return s, nil
}

// WaitReady waits until a quorum leader is known and this member has
// applied every entry the leader had committed when it was first heard
// from: the image is as current as the quorum's.
func (s *Store) WaitReady(ctx context.Context) error {
	var target uint64
	for {
		st := s.node.Status()
		if st.Leader != 0 && target == 0 {
			target = max(st.Commit, 1)
		}
		if target != 0 && st.Applied >= target && s.pub.published() >= st.Applied {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the metadata quorum (leader %d, applied %d): %w", NodeID(st.Leader), st.Applied, ctx.Err())
		case <-s.node.Done():
			return s.node.Err()
		case <-time.After(time.Millisecond):
		}
	}
}

// Image returns the current image. It never blocks and never returns nil.
func (s *Store) Image() *Image { return s.img.Load() }

// Append commits recs as one atomic change: validated against the current
// image, proposed to the quorum, applied, and published to the
// subscribers, all before it returns. On a member that is not the quorum
// leader the records are forwarded to the leader, which validates and
// proposes them. If the records do not apply, nothing is written.
// Appending no records does nothing.
func (s *Store) Append(recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
	defer cancel()
	st := s.node.Status()
	if !st.IsLeader {
		if s.fwd.f == nil || st.Leader == 0 {
			return ErrNotController
		}
		return s.fwd.forward(ctx, st.Leader, recs)
	}
	return s.proposeLocked(ctx, recs)
}

func (s *Store) proposeLocked(ctx context.Context, recs []Record) error {
	if _, err := s.img.Load().Apply(recs); err != nil {
		return err
	}
	idx, err := s.node.Propose(ctx, EncodeRecords(recs))
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return ErrNotController
	case errors.Is(err, context.DeadlineExceeded):
		return ErrTimeout
	case err != nil:
		return fmt.Errorf("metadata: %w", err)
	}
	// The caller expects what it appended to be visible to every
	// subscriber (partitions opened) once Append returns.
	return s.pub.wait(ctx, idx)
}

// Subscribe registers fn to be called with the previous and the new image
// after every later change, in order, from the store's publisher
// goroutine. fn must not call Append or Close; it may take its time
// (Append waits for it, raft does not).
func (s *Store) Subscribe(fn func(old, new *Image)) { s.pub.subscribe(fn) }

// QuorumStatus is the metadata quorum as this member sees it.
func (s *Store) QuorumStatus() raft.Status { return s.node.Status() }

// Close stops the quorum member and the publisher. Image keeps working.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.node.Stop()
	err := s.tr.Close()
	s.pub.close()
	// The lock goes last: nothing may open the log while it is still
	// being closed.
	if s.lock != nil { // an observer locks nothing
		s.lock.Close()
	}
	return err
}

// damaged is Open's error for a damaged log in dir: what and where, and
// the way out.
func damaged(dir string, cause error) error {
	logDirs := filepath.Dir(dir)
	return fmt.Errorf("metadata: %w: %w. The broker does not start: going on would forget every change after the damage. "+
		"List the log with `sluice metadata inspect --log-dirs %s`, then run `sluice metadata repair --log-dirs %s`, "+
		"which rewrites it without the damaged bytes and keeps the old one aside (docs/RELIABILITY.md)",
		ErrDamaged, cause, logDirs, logDirs)
}

// mkdirDurable creates dir if it is missing, durably (the parent
// directory is fsynced).
func mkdirDurable(dir string) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dir))
}

// VoterAddrs returns the voters' controller listener addresses by node id
// (empty for a one-voter quorum).
func (s *Store) VoterAddrs() map[int32]string { return s.cfg.Voters }
