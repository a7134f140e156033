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
	NumPartitions          int32         // offsets.topic.num.partitions, when the topic is created
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
		NumPartitions:          b.OffsetsTopicNumPartitions,
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
// __consumer_offsets partition.
type Coordinator struct {
	cfg   Config
	be    Backend
	log   *slog.Logger
	clock Clock

	// mu serialises topic creation, shard replacement and Close.
	mu     sync.Mutex
	shards atomic.Pointer[[]*shard]
	// ready: __consumer_offsets exists and the shards follow its partitions.
	ready  atomic.Bool
	closed atomic.Bool

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
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = DefaultRetentionCheckInterval
	}
	consumerDefaults(&cfg)
	shareDefaults(&cfg)
	return &Coordinator{cfg: cfg, be: be, log: logger, clock: cfg.Clock}
}

// Start creates the shards. When __consumer_offsets exists, each shard
// replays its partition in the background (answering
// COORDINATOR_LOAD_IN_PROGRESS until done); otherwise the topic is created
// on first need.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.be.OffsetsPartitions()
	exists := n > 0
	if !exists {
		n = c.cfg.NumPartitions
	}
	c.setShards(n)
	if exists {
		c.activateLocked(true)
	}
}

func (c *Coordinator) setShards(n int32) {
	if old := c.shards.Load(); old != nil {
		for _, s := range *old {
			s.stop()
		}
	}
	ss := make([]*shard, n)
	for i := range ss {
		ss[i] = newShard(c, int32(i))
		go ss[i].loop()
	}
	c.shards.Store(&ss)
}

// activateLocked points every shard at its partition. loading: replay in
// the background; otherwise the partitions are new and empty, so the shards
// serve at once (the replay op still runs first on each loop).
func (c *Coordinator) activateLocked(loading bool) {
	for _, s := range *c.shards.Load() {
		if loading {
			s.state.Store(int32(shardLoading))
		} else {
			s.state.Store(int32(shardActive))
		}
		s.submit(op{run: s.activate})
	}
	c.ready.Store(true)
}

// ensure creates __consumer_offsets when it does not exist yet.
func (c *Coordinator) ensure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Load() {
		return errClosed
	}
	if c.ready.Load() {
		return nil
	}
	n := c.be.OffsetsPartitions()
	loading := n > 0 // created by someone else meanwhile: it may hold data
	if n == 0 {
		if err := c.be.CreateOffsetsTopic(c.cfg.NumPartitions); err != nil {
			c.log.Error("cannot create offsets topic", "err", err)
			return err
		}
		if n = c.be.OffsetsPartitions(); n == 0 {
			return fmt.Errorf("%s missing after creation", OffsetsTopic)
		}
		c.log.Info("created offsets topic", "topic", OffsetsTopic, "partitions", n)
	}
	if int(n) != len(*c.shards.Load()) {
		c.setShards(n) // inactive shards hold nothing yet
	}
	c.activateLocked(loading)
	return nil
}

// Close stops every shard. Parked JoinGroup/SyncGroup requests and requests
// arriving later are answered with COORDINATOR_NOT_AVAILABLE. Close must
// run before the partitions are closed (in-flight fsyncs are awaited).
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed.Swap(true) {
		return
	}
	if ss := c.shards.Load(); ss != nil {
		for _, s := range *ss {
			s.stop()
		}
	}
}

// Ready makes sure the coordinator can serve group keys (creating the
// offsets topic on first need); FindCoordinator answers from it.
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

// route finds the shard of group. create: make the offsets topic if absent
// (writes); otherwise a nil shard with code 0 means "no such group" (reads
// before any group ever existed). A non-zero code is a coordinator error.
func (c *Coordinator) route(group string, create bool) (*shard, int16) {
	if c.closed.Load() {
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	if !c.ready.Load() {
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

// allShards returns the shards when the topic exists.
func (c *Coordinator) allShards() []*shard {
	if !c.ready.Load() || c.closed.Load() {
		return nil
	}
	return *c.shards.Load()
}

type shardState int32

const (
	shardInactive shardState = iota // no partition yet
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

// shard owns the groups of one __consumer_offsets partition. Fields below
// the line are touched only by the loop goroutine.
type shard struct {
	c     *Coordinator
	index int32
	log   *slog.Logger
	state atomic.Int32

	mu      sync.Mutex
	queue   []op
	stopped bool
	wake    chan struct{}
	quit    chan struct{}
	done    chan struct{}
	durable chan durableNote
	syncs   sync.WaitGroup // helper goroutines waiting on fsyncs

	// ---- loop-owned ----
	groups   map[string]*group
	shares   map[string]*shareGroup // share groups (KIP-932); ids never also in groups
	inflight []inflight             // in log order
	expiry   *timer
}

func newShard(c *Coordinator, index int32) *shard {
	return &shard{
		c: c, index: index, log: c.log.With("partition", index),
		wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		durable: make(chan durableNote, 64),
		groups:  map[string]*group{},
		shares:  map[string]*shareGroup{},
	}
}

// code is the coordinator error for requests on this shard, 0 when it serves.
func (s *shard) code() int16 {
	switch shardState(s.state.Load()) {
	case shardActive:
		return 0
	case shardLoading:
		return kerr.CoordinatorLoadInProgress.Code
	default:
		return kerr.CoordinatorNotAvailable.Code
	}
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

func (s *shard) stop() {
	s.mu.Lock()
	already := s.stopped
	s.stopped = true
	s.mu.Unlock()
	if !already {
		close(s.quit)
	}
	<-s.done
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
// in-flight writes get their fsync result, parked requests get
// COORDINATOR_NOT_AVAILABLE, timers are stopped.
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
		f.done(errClosed)
	}
	s.inflight = nil
	s.expiry.stop()
	for _, g := range s.groups {
		g.stopAll(kerr.CoordinatorNotAvailable.Code)
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

// activate resolves the partition and replays it, then serves.
func (s *shard) activate() {
	l := s.c.be.OffsetsLog(s.index)
	if l == nil {
		s.log.Error("offsets partition not hosted")
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
	if len(s.groups) > 0 {
		s.log.Info("loaded groups", "groups", len(s.groups), "took", s.c.clock.Now().Sub(start))
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
		reject: func() { reply(fail(kerr.CoordinatorNotAvailable.Code)) },
	})
	return ch
}

// ready returns a channel holding v.
func ready[T any](v T) <-chan T {
	ch := make(chan T, 1)
	ch <- v
	return ch
}
