package coordinator

import (
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/share"
)

// DefaultOffsetMetadataMaxBytes is Kafka's offset.metadata.max.bytes
// default; the broker config has no field for it, so ConfigFrom reads the
// raw property when set.
const DefaultOffsetMetadataMaxBytes = 4096

// DefaultRetentionCheckInterval is Kafka's
// offsets.retention.check.interval.ms default (10 minutes).
const DefaultRetentionCheckInterval = 10 * time.Minute

// newMemberJoinTimeout is Kafka's group.new.member.join.timeout: a new
// member parked in JoinGroup is dropped after this long (its socket may be
// gone), and expected to retry.
const newMemberJoinTimeout = 5 * time.Minute

// Config holds the coordinator's settings (Kafka broker property names in
// the comments).
type Config struct {
	// NodeID is this broker: a shard serves only while the metadata
	// names this node the leader of its partition.
	NodeID                 int32
	NumPartitions          int32         // offsets.topic.num.partitions, when the topic is created
	ReplicationFactor      int16         // offsets.topic.replication.factor, when the topic is created
	MinSessionTimeout      time.Duration // group.min.session.timeout.ms
	MaxSessionTimeout      time.Duration // group.max.session.timeout.ms
	InitialRebalanceDelay  time.Duration // group.initial.rebalance.delay.ms
	OffsetsRetention       time.Duration // offsets.retention.minutes
	RetentionCheckInterval time.Duration // offsets.retention.check.interval.ms
	MetadataMaxBytes       int           // offset.metadata.max.bytes
	Clock                  Clock         // nil: the real clock

	// KIP-848 consumer groups (config848.go).
	ConsumerProtocol          bool          // group.coordinator.rebalance.protocols has "consumer"
	ConsumerHeartbeatInterval time.Duration // group.consumer.heartbeat.interval.ms
	ConsumerSessionTimeout    time.Duration // group.consumer.session.timeout.ms
	ConsumerMaxSize           int           // group.consumer.max.size
	ConsumerAssignors         []string      // group.consumer.assignors, short names; the first is the default

	// Share groups (KIP-932, share_*.go).
	ShareEnabled bool // group.share.enable (Kafka 4.2: the share.version feature, on by default)
	ShareMaxSize int  // group.share.max.size
	// Broker gives the broker defaults of group configs (dynamic layers
	// included); nil uses Kafka's defaults (unit tests).
	Broker *config.Broker
}

// ConfigFrom builds Config from the broker config. offset.metadata.max.bytes
// and offsets.retention.check.interval.ms are not broker config fields yet;
// they are read from the raw properties when given.
func ConfigFrom(b *config.Broker) Config {
	c := Config{
		NodeID:                 b.NodeID,
		NumPartitions:          b.OffsetsTopicNumPartitions,
		ReplicationFactor:      b.OffsetsTopicReplicationFactor(),
		MinSessionTimeout:      time.Duration(b.GroupMinSessionTimeoutMs) * time.Millisecond,
		MaxSessionTimeout:      time.Duration(b.GroupMaxSessionTimeoutMs) * time.Millisecond,
		InitialRebalanceDelay:  time.Duration(b.GroupInitialRebalanceDelayMs) * time.Millisecond,
		OffsetsRetention:       time.Duration(b.OffsetsRetentionMinutes) * time.Minute,
		RetentionCheckInterval: DefaultRetentionCheckInterval,
		MetadataMaxBytes:       DefaultOffsetMetadataMaxBytes,
	}
	if v, err := strconv.Atoi(b.Raw["offset.metadata.max.bytes"]); err == nil && v >= 0 {
		c.MetadataMaxBytes = v
	}
	if v, err := strconv.ParseInt(b.Raw["offsets.retention.check.interval.ms"], 10, 64); err == nil && v > 0 {
		c.RetentionCheckInterval = time.Duration(v) * time.Millisecond
	}
	consumerConfigFrom(b.Raw, &c)
	shareConfigFrom(b, &c)
	return c
}

// Coordinator routes group requests to the shard owning the group's
// __consumer_offsets partition. Only the shards of partitions this broker
// leads run (leadership.go); the others answer NOT_COORDINATOR.
type Coordinator struct {
	cfg   Config
	be    Backend
	log   *slog.Logger
	clock Clock

	// mu serialises leadership changes and Close; createMu, topic
	// creation (never held with mu).
	mu       sync.Mutex
	createMu sync.Mutex
	// shards has one shard per __consumer_offsets partition; nil while
	// the topic is not in the metadata. Replaced (copy on write) under mu.
	shards atomic.Pointer[[]*shard]
	// version is the metadata version of the leadership last followed
	// (mu): an older view never undoes a newer one.
	version int64
	closed  atomic.Bool
	// loops counts running shard loops, resigned ones included, so Close
	// returns only once no shard can touch a partition.
	loops sync.WaitGroup

	// shareState is the share-partition side (SetShareState); nil until set.
	shareState atomic.Pointer[share.State]
}

// New returns a coordinator; call Start before use.
func New(cfg Config, be Backend, logger *slog.Logger) *Coordinator {
	if logger == nil {
		logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock
	}
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = 50
	}
	if cfg.ReplicationFactor <= 0 {
		cfg.ReplicationFactor = 1
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	consumerDefaults(&cfg)
	shareDefaults(&cfg)
	return &Coordinator{cfg: cfg, be: be, log: logger, clock: cfg.Clock, version: -1 << 62}
}

// Start follows the current metadata: the shards of the
// __consumer_offsets partitions this broker leads replay their partition
// in the background (answering COORDINATOR_LOAD_IN_PROGRESS until done).
// Later changes arrive through OnImage. When the topic does not exist it
// is created on first need.
func (c *Coordinator) Start() {
	c.refresh()
}

// refresh follows the backend's current view of the leaders.
func (c *Coordinator) refresh() {
	v, leaders := c.be.OffsetsLeaders()
	c.follow(v, leaders)
}

// ensure creates __consumer_offsets when it does not exist yet. It fails
// while the topic is not in this broker's metadata (it may have been
// created through another broker whose change has not arrived here yet).
func (c *Coordinator) ensure() error {
	if c.closed.Load() {
		return errClosed
	}
	if c.shards.Load() != nil {
		return nil
	}
	created := false
	// Not under mu: creating the topic publishes an image, and the
	// subscriber's OnImage takes mu before the creation returns.
	c.createMu.Lock()
	if c.be.OffsetsPartitions() == 0 {
		if err := c.be.CreateOffsetsTopic(c.cfg.NumPartitions, c.cfg.ReplicationFactor); err != nil {
			c.createMu.Unlock()
			c.log.Warn("cannot create offsets topic", "err", err)
			return err
		}
		created = true
		c.log.Info("created offsets topic", "topic", OffsetsTopic, "partitions", c.cfg.NumPartitions,
			"replication_factor", c.cfg.ReplicationFactor)
	}
	c.createMu.Unlock()
	c.refresh()
	ss := c.shards.Load()
	if ss == nil {
		return fmt.Errorf("%s is not in this broker's metadata yet", OffsetsTopic)
	}
	if created {
		// Replaying a partition just created (so empty) takes one turn
		// of its loop: wait for it rather than send the first clients
		// away with COORDINATOR_LOAD_IN_PROGRESS.
		for _, s := range *ss {
			if s.code() == kerr.CoordinatorLoadInProgress.Code {
				<-call(s, func(int16) struct{} { return struct{}{} }, func(reply func(struct{})) { reply(struct{}{}) })
			}
		}
	}
	return nil
}

// Close stops every shard. Parked JoinGroup/SyncGroup requests and requests
// arriving later are answered with COORDINATOR_NOT_AVAILABLE. Close must
// run before the partitions are closed (in-flight fsyncs are awaited).
func (c *Coordinator) Close() {
	c.mu.Lock()
	if c.closed.Swap(true) {
		c.mu.Unlock()
		return
	}
	if ss := c.shards.Load(); ss != nil {
		for _, s := range *ss {
			s.halt(kerr.CoordinatorNotAvailable.Code)
		}
	}
	c.mu.Unlock()
	c.loops.Wait()
}

// Ready makes sure __consumer_offsets exists (creating it on first need,
// with offsets.topic.replication.factor replicas); FindCoordinator then
// names the leader of the group's partition.
func (c *Coordinator) Ready() (int16, error) {
	if c.closed.Load() {
		return kerr.CoordinatorNotAvailable.Code, errClosed
	}
	if err := c.ensure(); err != nil {
		return kerr.CoordinatorNotAvailable.Code, err
	}
	return 0, nil
}

var errClosed = fmt.Errorf("group coordinator is shut down")

// errNotCoordinator fails what a shard still had in hand when this broker
// stopped leading its partition.
var errNotCoordinator = fmt.Errorf("this broker no longer leads the group's %s partition", OffsetsTopic)

// route finds the shard of group and the code for requests on it (0 when
// it serves; NOT_COORDINATOR when another broker leads the group's
// partition). create: make the offsets topic if absent (writes);
// otherwise a nil shard with code 0 means "no such group" (reads before
// the topic exists, when no group can).
func (c *Coordinator) route(group string, create bool) (*shard, int16) {
	if c.closed.Load() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if c.shards.Load() == nil {
		if !create {
			return nil, 0
		}
		if err := c.ensure(); err != nil {
			return nil, kerr.CoordinatorNotAvailable.Code
		}
	}
	ss := *c.shards.Load()
	s := ss[PartitionFor(group, int32(len(ss)))]
	return s, s.code()
}

// allShards returns the shards when the topic exists (idle ones, of
// partitions led elsewhere, included).
func (c *Coordinator) allShards() []*shard {
	if c.closed.Load() {
		return nil
	}
	if ss := c.shards.Load(); ss != nil {
		return *ss
	}
	return nil
}

type shardState int32

const (
	shardInactive shardState = iota // another broker leads the partition (or none does)
	shardLoading                    // replaying the log
	shardActive
	shardFailed // the partition is missing or could not be replayed
	shardClosed
)

// op is one unit of work on a shard loop. reject, when set, answers the
// request if the shard stops before running it.
type op struct {
	run    func()
	reject func()
}

// durableNote tells the loop that a write reached upTo (or failed).
type durableNote struct {
	upTo int64
	err  error
}

// inflight is a write waiting for its fsync; done runs on the loop.
type inflight struct {
	upTo int64
	done func(error)
}

// shard owns the groups of one __consumer_offsets partition for one term
// of this broker's leadership of it: a shard that stops (leadership lost,
// broker shut down) is never restarted; a new shard replays the partition
// when this broker leads it again. Fields below the line are touched only
// by the loop goroutine.
type shard struct {
	c     *Coordinator
	index int32
	epoch int32 // the partition's leader epoch when this shard started
	log   *slog.Logger
	state atomic.Int32
	// stopCode answers requests once the shard stopped: NOT_COORDINATOR
	// for an idle shard or one that lost leadership, COORDINATOR_NOT_AVAILABLE
	// when the broker shuts down. Set before stopped.
	stopCode atomic.Int32
	// notHosted: activation failed because the partition was not open
	// yet; the next metadata image retries it (retryActivate).
	notHosted atomic.Bool
	// prev is the shard this one replaces (same partition, an earlier
	// term); the load waits until it has stopped writing.
	prev *shard

	mu      sync.Mutex
	queue   []op
	stopped bool
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	durable chan durableNote
	syncs   sync.WaitGroup // helper goroutines waiting on fsyncs

	// ---- loop-owned ----
	groups map[string]*group
	shares map[string]*shareGroup // share groups (KIP-932); ids never also in groups
	// txnOffsets holds TxnOffsetCommit offsets until their transaction's
	// marker, by producer id (txn_offsets.go).
	txnOffsets map[int64]pendingTxn
	inflight   []inflight // in log order
	expiry     *timer
}

func newShard(c *Coordinator, index int32) *shard {
	s := &shard{
		c: c, index: index, log: c.log.With("partition", index),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		durable: make(chan durableNote, 64),
		groups:  map[string]*group{},
		shares:  map[string]*shareGroup{},
	}
	s.stopCode.Store(int32(kerr.CoordinatorNotAvailable.Code))
	return s
}

// idleShard stands for a partition another broker leads: it has no loop,
// and every request on it gets NOT_COORDINATOR.
func idleShard(c *Coordinator, index int32) *shard {
	s := newShard(c, index)
	s.stopCode.Store(int32(kerr.NotCoordinator.Code))
	s.stopped = true
	close(s.quit)
	close(s.done)
	return s
}

// code is the coordinator error for requests on this shard, 0 when it serves.
func (s *shard) code() int16 {
	switch shardState(s.state.Load()) {
	case shardActive:
		return 0
	case shardLoading:
		return kerr.CoordinatorLoadInProgress.Code
	case shardFailed:
		return kerr.CoordinatorNotAvailable.Code
	default:
		return int16(s.stopCode.Load())
	}
}

// closedErr is what writes still in hand fail with once the shard stops.
func (s *shard) closedErr() error {
	if int16(s.stopCode.Load()) == kerr.NotCoordinator.Code {
		return errNotCoordinator
	}
	return errClosed
}

// submit queues o on the loop; after stop it runs o.reject instead.
func (s *shard) submit(o op) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		if o.reject != nil {
			o.reject()
		}
		return
	}
	s.queue = append(s.queue, o)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// start runs the loop and queues the load (state loading meanwhile).
func (s *shard) start() {
	s.state.Store(int32(shardLoading))
	s.c.loops.Add(1)
	go func() {
		defer s.c.loops.Done()
		s.loop()
	}()
	s.submit(op{run: s.activate})
}

// halt stops the shard without waiting for its loop: everything it still
// holds is answered with code (halt is called under the coordinator's
// lock, from the metadata subscriber, which must not wait for fsyncs).
func (s *shard) halt(code int16) {
	s.mu.Lock()
	already := s.stopped
	if !already {
		s.stopCode.Store(int32(code))
		s.stopped = true
	}
	s.mu.Unlock()
	if !already {
		close(s.quit)
	}
}

func (s *shard) take() []op {
	s.mu.Lock()
	q := s.queue
	s.queue = nil
	s.mu.Unlock()
	return q
}

func (s *shard) loop() {
	defer close(s.done)
	for {
		select {
		case <-s.wake:
			for _, o := range s.take() {
				o.run()
			}
		case n := <-s.durable:
			s.onDurable(n)
		case <-s.quit:
			s.shutdown()
			return
		}
	}
}

// shutdown answers everything still waiting: queued requests are rejected,
// in-flight writes get their fsync result, parked requests get the stop
// code (NOT_COORDINATOR when leadership moved, so clients find the new
// coordinator), timers are stopped. The groups die with the shard.
func (s *shard) shutdown() {
	s.state.Store(int32(shardClosed))
	for _, o := range s.take() {
		if o.reject != nil {
			o.reject()
		}
	}
	go func() { s.syncs.Wait(); close(s.durable) }()
	for n := range s.durable {
		s.onDurable(n)
	}
	for _, f := range s.inflight {
		f.done(s.closedErr())
	}
	s.inflight = nil
	s.expiry.stop()
	code := int16(s.stopCode.Load())
	for _, g := range s.groups {
		g.stopAll(code)
	}
	for _, g := range s.shares {
		g.stopTimers()
	}
	if s.prev != nil {
		// Halted before its load ran: the shard it replaced may still
		// be writing, and the next shard waits only for this one.
		<-s.prev.done
	}
}

// onDurable applies, in log order, every write the note covers.
func (s *shard) onDurable(n durableNote) {
	i := 0
	for i < len(s.inflight) && s.inflight[i].upTo <= n.upTo {
		i++
	}
	done := s.inflight[:i]
	s.inflight = s.inflight[i:]
	for _, f := range done {
		f.done(n.err)
	}
}

// activate resolves the partition and replays it, then serves. A shard of
// an earlier term of the same partition finishes its writes first, so the
// replay sees all of them.
func (s *shard) activate() {
	if s.prev != nil {
		<-s.prev.done
		s.prev = nil
	}
	l := s.c.be.OffsetsLog(s.index)
	if l == nil {
		// The partition opens when the replica manager applies the
		// image naming this broker leader; the next image retries.
		s.log.Warn("offsets partition not hosted yet")
		s.notHosted.Store(true)
		s.state.Store(int32(shardFailed))
		return
	}
	start := s.c.clock.Now()
	if err := s.load(l); err != nil {
		s.log.Error("loading groups failed", "err", err)
		s.state.Store(int32(shardFailed))
		return
	}
	s.afterLoad()
	s.state.Store(int32(shardActive))
	if len(s.groups) > 0 || len(s.shares) > 0 {
		s.log.Info("loaded groups", "groups", len(s.groups), "share_groups", len(s.shares),
			"leader_epoch", s.epoch, "took", s.c.clock.Now().Sub(start))
	}
	s.scheduleExpiry()
}

// timer is a loop-owned timer: its function runs on the loop, and never
// after stop was called there.
type timer struct {
	stopped bool
	t       Stopper
}

func (s *shard) after(d time.Duration, fn func()) *timer {
	tm := &timer{}
	tm.t = s.c.clock.AfterFunc(d, func() {
		s.submit(op{run: func() {
			if !tm.stopped {
				tm.stopped = true
				fn()
			}
		}})
	})
	return tm
}

func (t *timer) stop() {
	if t != nil && !t.stopped {
		t.stopped = true
		t.t.Stop()
	}
}

// call runs fn on s and returns where its single answer arrives. fail
// builds the answer for a coordinator-level error code.
func call[T any](s *shard, fail func(code int16) T, fn func(reply func(T))) <-chan T {
	ch := make(chan T, 1)
	var once atomic.Bool
	reply := func(v T) {
		if once.CompareAndSwap(false, true) {
			ch <- v
		}
	}
	s.submit(op{
		run:    func() { fn(reply) },
		reject: func() { reply(fail(int16(s.stopCode.Load()))) },
	})
	return ch
}

// ready returns a channel holding v.
func ready[T any](v T) <-chan T {
	ch := make(chan T, 1)
	ch <- v
	return ch
}
