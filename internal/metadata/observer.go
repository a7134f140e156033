package metadata

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/sluice-io/sluice/internal/clock"
	"github.com/sluice-io/sluice/internal/raft"
)

// member is this node's part in the quorum as the Store uses it: a voter
// (raft.Node) or an observer (raft.Observer).
type member interface {
	Status() raft.Status
	Propose(ctx context.Context, data []byte) (uint64, error)
	Done() <-chan struct{}
	Err() error
	Stop()
}

// OpenObserver follows the metadata quorum without a vote: a broker-only
// node (process.roles=broker), which fetches committed entries from the
// voters in cfg.Voters (raft/observe.go) and applies them to its image
// like any member. Its Append forwards to the leader. It keeps no
// metadata log of its own (cfg.Dir is unused): at every start it fetches
// the newest snapshot and what follows it, and WaitReady waits for that.
func OpenObserver(cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if len(cfg.Voters) == 0 {
		return nil, fmt.Errorf("metadata: an observer needs controller.quorum.voters")
	}
	if _, ok := cfg.Voters[cfg.NodeID]; ok {
		return nil, fmt.Errorf("metadata: node %d is a voter, not an observer", cfg.NodeID)
	}
	peers := map[uint64]string{}
	for id, addr := range cfg.Voters {
		peers[RaftID(id)] = addr
	}
	s := &Store{cfg: cfg, logger: cfg.Logger}
	s.img.Store(Empty())
	s.pub = newPublisher(s.logger)
	obs, err := raft.NewObserver(raft.ObserverConfig{
		ID: RaftID(cfg.NodeID), ClusterID: cfg.ClusterID, Voters: peers,
		StateMachine: (*stateMachine)(s), Logger: cfg.Logger, OnFatal: cfg.OnFatal, Dial: cfg.Dial,
	})
	if err != nil {
		return nil, err
	}
	s.node = obs
	s.pub.start(s.img.Load())
	tcp := raft.NewTCPDialer(RaftID(cfg.NodeID), cfg.ClusterID, nil, peers, noReceiver{}, cfg.Logger, cfg.Dial)
	s.tr, s.fwd = tcp, forwarder{tcp}
	obs.Run()
	cfg.Logger.Info("metadata observer started", "node", cfg.NodeID, "voters", len(peers))
	return s, nil
}

// noReceiver is an observer transport's receiver: it is never sent raft
// messages (it serves nothing), and what it sends are forwards only.
type noReceiver struct{}

func (noReceiver) Step(*raftpb.Message)        {}
func (noReceiver) ReportUnreachable(uint64)    {}
func (noReceiver) ReportSnapshot(uint64, bool) {}
