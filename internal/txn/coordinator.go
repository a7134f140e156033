package txn

import (
	"context"
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

// Sluice's bounds on waits inside the coordinator.
const (
	defaultLocalWait      = 5 * time.Second  // a request waiting for local markers
	defaultLoadWait       = 5 * time.Second  // a request waiting for its shard's replay
	defaultRequestTimeout = 10 * time.Second // one inter-broker request
)

// Config is the coordinator's configuration.
type Config struct {
	NumPartitions     int32         // partitions of __transaction_state when created
	ReplicationFactor int16         // transaction.state.log.replication.factor (0: the controller's default)
	MinISR            int32         // transaction.state.log.min.isr, the topic's min.insync.replicas (0: unset)
	MaxTimeoutMs      int32         // transaction.max.timeout.ms
	CheckInterval     time.Duration // how often timed-out transactions are aborted
	Dir               string        // the first log dir (where an older Sluice kept producer-ids)
	NodeID            int32         // this broker, named in ProducerIdsRecords

	// Peers reaches the other brokers: partition leaders (markers,
	// verification) and the active controller (producer id blocks). Nil
	// on a single node: everything is local.
	Peers Peers
	// LocalWait bounds how long a request waits for a transaction whose
	// markers all go to this broker's own partitions (see the package
	// doc, "Ending a transaction").
	LocalWait time.Duration
	// LoadWait bounds how long a request waits for its shard's replay
	// before COORDINATOR_LOAD_IN_PROGRESS.
	LoadWait time.Duration
	// RequestTimeout bounds one inter-broker request.
	RequestTimeout time.Duration
}

// Peers sends a request to another broker by node id
// (interbroker.Client).
type Peers interface {
	Request(ctx context.Context, nodeID int32, req kmsg.Request) (kmsg.Response, error)
}

// Groups is what the coordinator needs from the group coordinator.
type Groups interface {
	// CompleteTxn tells the group coordinator that the producer's
	// marker is durable at markerOff in a __consumer_offsets partition
	// this broker leads: its pending transactional offsets there are
	// committed or dropped. It returns once they are.
	CompleteTxn(partition int32, pid int64, commit bool, markerOff int64)
	// CommitLegacyTxnOffsets makes offsets an older Sluice kept in
	// __transaction_state the group's committed offsets (durable when
	// it returns nil): the one-time upgrade path (legacy.go).
	CommitLegacyTxnOffsets(group string, topics []kmsg.TxnOffsetCommitRequestTopic) error
}

// Coordinator is the transaction coordinator of this broker: it serves
// the transactional ids of the __transaction_state partitions this broker
// leads.
type Coordinator struct {
	cfg    Config
	meta   *metadata.Store
	ctl    *controller.Controller
	parts  *replica.Manager
	groups Groups
	peers  Peers
	ids    *IDAllocator
	log    *slog.Logger
	now    func() time.Time

	// latest is the newest image the partitions have applied (OnImage);
	// shards follow it.
	latest atomic.Pointer[metadata.Image]
	wake   chan struct{}

	followMu sync.Mutex      // serializes follow; taken before any shard's mu
	followed *metadata.Image // the image the shards match (under followMu)
	shards   atomic.Pointer[[]*shard]

	ensureMu sync.Mutex // serializes creating __transaction_state

	closed atomic.Bool
	stop   chan struct{}
	// wg counts the follower loop, shard loads and marker jobs.
	wg sync.WaitGroup
}

// New returns a coordinator; Start makes it follow the metadata.
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
	if cfg.LocalWait <= 0 {
		cfg.LocalWait = defaultLocalWait
	}
	if cfg.LoadWait <= 0 {
		cfg.LoadWait = defaultLoadWait
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = defaultRequestTimeout
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Coordinator{cfg: cfg, meta: meta, ctl: ctl, parts: parts, groups: groups, peers: cfg.Peers,
		log: logger, now: time.Now, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	ids, err := OpenIDAllocator(cfg.Dir, c.allocateBlock)
	if err != nil {
		return nil, err
	}
	c.ids = ids
	return c, nil
}

// Start makes the coordinator follow the metadata: it loads the shards of
// the __transaction_state partitions this broker leads (completing
// transactions left prepared) and drops those it stops leading, and it
// starts the timeout checker. It subscribes to the store, and must be
// called after the partitions' own subscriber is registered, so that a
// partition this broker leads is open when the coordinator hears of it.
func (c *Coordinator) Start() {
	c.meta.Subscribe(func(_, img *metadata.Image) { c.OnImage(img) })
	c.OnImage(c.meta.Image())
	c.wg.Add(1)
	go c.run()
}

func (c *Coordinator) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.CheckInterval)
	defer t.Stop()
	for {
		c.follow()
		select {
		case <-c.stop:
			return
		case <-c.wake:
		case <-t.C:
			c.retryFailedLoads()
			c.checkTimeouts()
		}
	}
}

// Close stops following, drops every shard (running marker jobs stop
// where they are: a later leader completes their transactions) and waits
// for the coordinator's goroutines.
func (c *Coordinator) Close() {
	if c.closed.Swap(true) {
		return
	}
	close(c.stop)
	c.followMu.Lock()
	if p := c.shards.Load(); p != nil {
		for _, s := range *p {
			s.mu.Lock() // waits for a running operation
			s.unloadLocked()
			s.status = shardClosed
			s.mu.Unlock()
		}
	}
	c.followMu.Unlock()
	c.wg.Wait()
}

// ensure creates __transaction_state when absent. It returns a Kafka code
// for the client: COORDINATOR_NOT_AVAILABLE until the topic can be
// created (too few brokers for its replication factor) and is in this
// broker's image.
func (c *Coordinator) ensure() int16 {
	if _, ok := c.meta.Image().Topic(StateTopic); ok {
		return 0
	}
	c.ensureMu.Lock()
	defer c.ensureMu.Unlock()
	if _, ok := c.meta.Image().Topic(StateTopic); ok {
		return 0
	}
	compact := "compact"
	seg := strconv.Itoa(stateSegmentBytes)
	configs := map[string]*string{"cleanup.policy": &compact, "segment.bytes": &seg}
	if c.cfg.MinISR > 0 {
		isr := strconv.Itoa(int(c.cfg.MinISR))
		configs["min.insync.replicas"] = &isr
	}
	rf := c.cfg.ReplicationFactor
	if rf <= 0 {
		rf = -1
	}
	_, cerr := c.ctl.CreateTopic(controller.CreateTopicRequest{
		Name: StateTopic, NumPartitions: c.cfg.NumPartitions, ReplicationFactor: rf, Configs: configs,
	})
	if cerr != nil && cerr.Code != kerr.TopicAlreadyExists.Code {
		c.log.Warn("transaction coordinator not available: cannot create "+StateTopic, "err", cerr)
		return kerr.CoordinatorNotAvailable.Code
	}
	if _, ok := c.meta.Image().Topic(StateTopic); !ok {
		// Created through the quorum leader; this broker's image
		// has not caught up yet.
		return kerr.CoordinatorNotAvailable.Code
	}
	return 0
}

// shardFor returns the locked, loaded shard of a transactional id, or a
// Kafka error code: NOT_COORDINATOR when another broker leads its
// partition, COORDINATOR_LOAD_IN_PROGRESS while it replays.
func (c *Coordinator) shardFor(id string) (*shard, int16) {
	if c.closed.Load() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if code := c.ensure(); code != 0 {
		return nil, code
	}
	c.follow()
	ss := c.loadedShards()
	if ss == nil {
		// The topic exists in the store's image, but the partitions
		// have not applied that image yet.
		return nil, kerr.CoordinatorLoadInProgress.Code
	}
	return ss[PartitionFor(id, int32(len(ss)))].acquire(c.cfg.LoadWait)
}

// Ready reports whether __transaction_state exists (creating it if
// needed); Locate says which broker coordinates an id.
func (c *Coordinator) Ready() int16 {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code
	}
	return c.ensure()
}

// loadedShards returns the shards (nil before the topic is followed).
func (c *Coordinator) loadedShards() []*shard {
	if p := c.shards.Load(); p != nil {
		return *p
	}
	return nil
}

// PartitionFor is the __transaction_state partition of a transactional id
// among n: Kafka's Utils.abs(id.hashCode) % n with Java's String.hashCode
// over UTF-16 code units.
func PartitionFor(id string, n int32) int32 {
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

// checkTimeouts aborts transactions older than their timeout and restarts
// the completion of transactions left prepared (a stopped marker job).
func (c *Coordinator) checkTimeouts() {
	for _, s := range c.loadedShards() {
		if c.closed.Load() {
			return
		}
		s.mu.Lock()
		if s.status == shardActive {
			s.expire()
		}
		s.mu.Unlock()
	}
}
