package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
)

// StateTopic is Kafka's internal topic of transaction state.
const StateTopic = controller.TransactionStateTopic

// Kafka's defaults.
const (
	DefaultPartitions   = 50     // transaction.state.log.num.partitions
	DefaultMaxTimeoutMs = 900000 // transaction.max.timeout.ms
	stateSegmentBytes   = 104857600
)

// Config is the coordinator's configuration.
type Config struct {
	NumPartitions int32         // partitions of __transaction_state when created
	MaxTimeoutMs  int32         // transaction.max.timeout.ms
	CheckInterval time.Duration // how often timed-out transactions are aborted
	Dir           string        // the first log dir (where an older Sluice kept producer-ids)
	NodeID        int32         // this broker, named in ProducerIdsRecords
}

// Groups is what the coordinator needs from the group coordinator.
type Groups interface {
	// CommitTxnOffsets makes a committed transaction's offsets the
	// group's committed offsets (durable when it returns nil).
	CommitTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic) error
	// ValidateTxnMember checks TxnOffsetCommit's member fields (v3+).
	ValidateTxnMember(group, member string, instance *string, generation int32) int16
}

// Coordinator is the transaction coordinator of this broker.
type Coordinator struct {
	cfg    Config
	meta   *metadata.Store
	ctl    *controller.Controller
	parts  *replica.Manager
	groups Groups
	ids    *IDAllocator
	log    *slog.Logger
	now    func() time.Time

	mu     sync.Mutex // guards shards creation
	shards []*shard

	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

// New returns a coordinator; Start loads existing state.
func New(cfg Config, meta *metadata.Store, ctl *controller.Controller, parts *replica.Manager, groups Groups, logger *slog.Logger) (*Coordinator, error) {
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = DefaultPartitions
	}
	if cfg.MaxTimeoutMs <= 0 {
		cfg.MaxTimeoutMs = DefaultMaxTimeoutMs
	}
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = time.Second
	}
	ids, err := OpenIDAllocator(cfg.Dir, func(n, atLeast int64) (int64, error) {
		return ctl.AllocateProducerIDs(cfg.NodeID, n, atLeast)
	})
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{cfg: cfg, meta: meta, ctl: ctl, parts: parts, groups: groups, ids: ids,
		log: logger, now: time.Now, stop: make(chan struct{})}, nil
}

// Start loads the shards of an existing __transaction_state (completing
// transactions left prepared) and starts the timeout checker.
func (c *Coordinator) Start() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if _, ok := c.meta.Image().Topic(StateTopic); ok {
			if err := c.ensure(); err != nil {
				c.log.Error("load transaction state", "err", err)
			}
			c.checkTimeouts()
		}
		t := time.NewTicker(c.cfg.CheckInterval)
		defer t.Stop()
		for {
			select {
			case <-c.stop:
				return
			case <-t.C:
				c.checkTimeouts()
			}
		}
	}()
}

// Close stops the checker and waits for running operations' shards.
func (c *Coordinator) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	c.wg.Wait()
	c.mu.Lock()
	ss := c.shards
	c.mu.Unlock()
	for _, s := range ss {
		s.mu.Lock() // wait for a running operation
		s.closed = true
		s.mu.Unlock()
	}
}

var errClosed = errors.New("txn: coordinator closed")

// ensure creates __transaction_state when absent and the shards.
func (c *Coordinator) ensure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shards != nil {
		return nil
	}
	t, ok := c.meta.Image().Topic(StateTopic)
	if !ok {
		compact := "compact"
		seg := strconv.Itoa(stateSegmentBytes)
		_, cerr := c.ctl.CreateTopic(controller.CreateTopicRequest{
			Name: StateTopic, NumPartitions: c.cfg.NumPartitions, ReplicationFactor: -1,
			Configs: map[string]*string{"cleanup.policy": &compact, "segment.bytes": &seg},
		})
		if cerr != nil && cerr.Code != kerr.TopicAlreadyExists.Code {
			return fmt.Errorf("create %s: %w", StateTopic, cerr)
		}
		if t, ok = c.meta.Image().Topic(StateTopic); !ok {
			return fmt.Errorf("%s missing after creation", StateTopic)
		}
	}
	ss := make([]*shard, len(t.Partitions))
	for i := range ss {
		ss[i] = &shard{c: c, index: int32(i), txns: map[string]*txnMeta{}}
	}
	c.shards = ss
	return nil
}

// shardFor returns the locked, loaded shard of a transactional id, or a
// Kafka error code.
func (c *Coordinator) shardFor(id string) (*shard, int16) {
	if c.closed.Load() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if err := c.ensure(); err != nil {
		c.log.Warn("transaction coordinator not available", "err", err)
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	c.mu.Lock()
	ss := c.shards
	c.mu.Unlock()
	s := ss[partitionFor(id, int32(len(ss)))]
	s.mu.Lock()
	if code := s.ready(); code != 0 {
		s.mu.Unlock()
		return nil, code
	}
	return s, 0
}

// Ready reports whether the coordinator can serve (FindCoordinator).
func (c *Coordinator) Ready() int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	if err := c.ensure(); err != nil {
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}

// loadedShards returns the shards (nil before the topic exists).
func (c *Coordinator) loadedShards() []*shard {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.shards
}

// partitionFor is Kafka's Utils.abs(id.hashCode) % n with Java's
// String.hashCode over UTF-16 code units.
func partitionFor(id string, n int32) int32 {
	var h int32
	for _, r := range id {
		if r >= 0x10000 {
			r -= 0x10000
			h = 31*h + int32(0xD800+(r>>10))
			h = 31*h + int32(0xDC00+(r&0x3FF))
			continue
		}
		h = 31*h + int32(r)
	}
	if h == math.MinInt32 { // Kafka's Utils.abs
		return 0
	}
	if h < 0 {
		h = -h
	}
	return h % n
}

// checkTimeouts aborts transactions older than their timeout and completes
// transactions left prepared (a failed marker write, or a restart).
func (c *Coordinator) checkTimeouts() {
	for _, s := range c.loadedShards() {
		if c.closed.Load() {
			return
		}
		s.mu.Lock()
		if s.ready() == 0 {
			s.expire()
		}
		s.mu.Unlock()
	}
}
