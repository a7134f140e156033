package share

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Config holds the broker settings share-partitions use.
type Config struct {
	// MaxRecordLocks is group.share.partition.max.record.locks: in-flight
	// records per share-partition beyond which no new record is acquired.
	MaxRecordLocks int
	// MaxSessions is group.share.max.share.sessions.
	MaxSessions int
	// StatePartitions is share.coordinator.state.topic.num.partitions,
	// used when __share_group_state is created.
	StatePartitions int32
	// Now is the clock (tests inject one); nil is time.Now.
	Now func() time.Time
	// SweepInterval is how often expired acquisition locks are looked for
	// (0: 100ms; negative: never, tests call ExpireLocks).
	SweepInterval time.Duration
	// NodeID is this broker's id.
	NodeID int32
	// Remote reaches the share coordinators of other brokers; nil: this
	// broker's share coordinator owns every __share_group_state partition
	// (a single node, unit tests).
	Remote Remote
}

// Defaults are Kafka's.
const (
	DefaultMaxRecordLocks  = 2000
	DefaultMaxSessions     = 2000
	DefaultStatePartitions = 50
)

// StateLog is one partition of __share_group_state.
type StateLog interface {
	// Append writes one record batch and returns the offset after it.
	Append(batch []byte, records int64) (next int64, err error)
	// Commit waits until every offset below upTo is durable.
	Commit(upTo int64) error
	// Replay calls fn with each batch up to the high watermark, in order.
	Replay(fn func(batch []byte) error) error
}

// Backend is what the manager needs from the broker (NewBackend; unit
// tests use in-memory ones).
type Backend interface {
	// Data is the hosted data partition topicID/p, or nil.
	Data(topicID [16]byte, p int32) Data
	// StatePartitions is the partition count of __share_group_state, 0
	// when it does not exist.
	StatePartitions() int32
	// CreateStateTopic creates __share_group_state (compacted) with n
	// partitions; it succeeds when the topic exists.
	CreateStateTopic(n int32) error
	// StateLog is partition i of __share_group_state, or nil.
	StateLog(i int32) StateLog
}

// Manager holds every share-partition and share session of the broker. It
// implements State for the group coordinator.
type Manager struct {
	cfg    Config
	groups Groups
	be     Backend
	log    *slog.Logger

	coord *Coordinator // the share coordinator of this broker's state partitions
	p     *persister

	mu       sync.Mutex
	parts    map[key]*sharePartition
	sessions map[sessionKey]*session
	closed   bool

	// stateMu guards creating __share_group_state; nstate is its
	// partition count once known.
	stateMu sync.Mutex
	nstate  int32

	// latest is the newest metadata image OnImage was given; imageWake
	// tells followImages.
	latest    atomic.Pointer[metadata.Image]
	imageWake chan struct{}

	stop chan struct{}
	wg   sync.WaitGroup
}

var (
	_ State          = (*Manager)(nil)
	_ MemberListener = (*Manager)(nil)
)

// New returns a manager; Start replays persisted state.
func New(cfg Config, groups Groups, be Backend, logger *slog.Logger) *Manager {
	if cfg.MaxRecordLocks <= 0 {
		cfg.MaxRecordLocks = DefaultMaxRecordLocks
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = DefaultMaxSessions
	}
	if cfg.StatePartitions <= 0 {
		cfg.StatePartitions = DefaultStatePartitions
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = 100 * time.Millisecond
	}
	if logger == nil {
		logger = slog.Default()
	}
	m := &Manager{cfg: cfg, groups: groups, be: be, log: logger,
		parts: map[key]*sharePartition{}, sessions: map[sessionKey]*session{}, stop: make(chan struct{}), imageWake: make(chan struct{}, 1)}
	m.coord = NewCoordinator(cfg.NodeID, be, cfg.Now, logger, cfg.Remote == nil)
	m.p = &persister{m: m, coord: m.coord, remote: cfg.Remote}
	return m
}

// Coordinator is this broker's share coordinator (keys 83-87).
func (m *Manager) Coordinator() *Coordinator { return m.coord }

// Start starts the lock sweeper. Share-partition state is read from its
// share coordinator when a share-partition is first used on this broker.
func (m *Manager) Start() error {
	m.wg.Add(1)
	go m.followImages()
	if m.cfg.SweepInterval > 0 {
		m.wg.Add(1)
		go m.sweep()
	}
	return nil
}

// Close stops the sweeper and fails later calls' persistence. It must run
// before the partitions close.
func (m *Manager) Close() {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return
	}
	m.closed = true
	ss := m.sessions
	m.sessions = map[sessionKey]*session{}
	m.mu.Unlock()
	close(m.stop)
	for _, s := range ss {
		s.stopWatch()
	}
	m.wg.Wait()
	m.coord.Close()
}

func (m *Manager) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// Groups returns the group side the manager asks.
func (m *Manager) Groups() Groups { return m.groups }

// Settings is group's effective share settings.
func (m *Manager) Settings(group string) Settings {
	s := m.groups.ShareSettings(group)
	if s.RecordLockDuration <= 0 {
		s.RecordLockDuration = 30 * time.Second
	}
	if s.DeliveryAttemptLimit <= 0 {
		s.DeliveryAttemptLimit = 5
	}
	return s
}

func (m *Manager) now() time.Time { return m.cfg.Now() }

// get returns the share-partition k, creating it (uninitialized) when
// create is set.
func (m *Manager) get(k key, create bool) *sharePartition {
	m.mu.Lock()
	defer m.mu.Unlock()
	sp := m.parts[k]
	if sp == nil && create {
		sp = &sharePartition{key: k}
		m.parts[k] = sp
	}
	return sp
}

// lockLive returns k's share-partition locked, skipping one that a
// concurrent delete removed.
func (m *Manager) lockLive(k key, create bool) *sharePartition {
	for {
		sp := m.get(k, create)
		if sp == nil {
			return nil
		}
		sp.mu.Lock()
		if !sp.deleted {
			return sp
		}
		sp.mu.Unlock()
	}
}

// Acquired is what one share-partition hands a fetch.
type Acquired struct {
	Ranges []Range
	// Read holds the batches to send (nil when nothing was acquired);
	// the caller releases it after sending.
	Read *log.ReadResult
}

// FetchOpts are a ShareFetch's limits for one share-partition.
type FetchOpts struct {
	MaxRecords int
	Strict     bool // ShareAcquireMode record_limit
	MaxBytes   int
	// Session, when set, is the share session the fetch runs in: once it
	// has ended (closed, replaced, or the member left the group) nothing
	// more is acquired (SHARE_SESSION_NOT_FOUND).
	Session *SessionRef
}

// Acquire acquires records of group's share-partition topicID/p (data d)
// for member, initializing the share-partition on first use.
func (m *Manager) Acquire(group, member string, topicID [16]byte, p int32, d Data, o FetchOpts) (Acquired, int16) {
	s := m.Settings(group)
	now := m.now()
	k := key{group, topicID, p}
	sp := m.lockLive(k, true)
	if o.Session != nil && !o.Session.Live() {
		// Checked under sp.mu: see session.ended.
		sp.mu.Unlock()
		return Acquired{}, kerr.ShareSessionNotFound.Code
	}
	if !sp.loaded {
		if code := m.loadLocked(sp, d); code != 0 {
			sp.mu.Unlock()
			return Acquired{}, code
		}
	}
	var wait func() error
	if !sp.initialized {
		sp.initialize(d, s, now)
		// The start offset is durable before anything is delivered:
		// "latest" must not move forward over records delivered
		// before a restart.
		var err error
		if wait, err = m.persistLocked(sp); err != nil {
			sp.initialized = false
			sp.mu.Unlock()
			m.log.Error("persist share-partition start", "group", group, "partition", p, "err", err)
			return Acquired{}, persistCode(err)
		}
	}
	ranges, rr, err := sp.acquire(d, acquireOpts{member: member, now: now, settings: s, maxRecords: o.MaxRecords,
		strict: o.Strict, maxBytes: o.MaxBytes, maxInFlight: m.cfg.MaxRecordLocks})
	sp.mu.Unlock()
	if wait != nil {
		if werr := wait(); werr != nil {
			if rr != nil {
				rr.Release()
			}
			return Acquired{}, kerr.KafkaStorageError.Code
		}
	}
	if err != nil {
		m.log.Error("share fetch read", "group", group, "partition", p, "err", err)
		return Acquired{}, kerr.KafkaStorageError.Code
	}
	return Acquired{Ranges: ranges, Read: rr}, 0
}

// Acknowledge applies member's acknowledgements to group's
// share-partition topicID/p and makes the result durable before
// returning. maxType is AckRenew when renewals are allowed (v2
// IsRenewAck), else AckReject.
func (m *Manager) Acknowledge(group, member string, topicID [16]byte, p int32, acks []AckBatch, maxType int8) int16 {
	if !validAcks(acks, maxType) {
		return kerr.InvalidRequest.Code
	}
	s := m.Settings(group)
	sp := m.lockLive(key{group, topicID, p}, false)
	if sp == nil {
		return kerr.InvalidRecordState.Code
	}
	if !sp.initialized {
		sp.mu.Unlock()
		return kerr.InvalidRecordState.Code
	}
	res, ok := sp.acknowledge(member, acks, m.now(), s)
	if !ok {
		sp.mu.Unlock()
		return kerr.InvalidRecordState.Code
	}
	if res.available {
		sp.wakeLocked()
	}
	var wait func() error
	if res.changed {
		var err error
		if wait, err = m.persistLocked(sp); err != nil {
			sp.mu.Unlock()
			m.log.Error("persist share acknowledgement", "group", group, "partition", p, "err", err)
			return persistCode(err)
		}
	}
	sp.mu.Unlock()
	if wait != nil {
		if err := wait(); err != nil {
			m.log.Error("commit share acknowledgement", "group", group, "partition", p, "err", err)
			return kerr.KafkaStorageError.Code
		}
	}
	return 0
}

// Watch registers ch (buffered, size 1) to be signalled when records of
// group's share-partition topicID/p may have become acquirable again
// (released, expired, or the in-flight window moved).
func (m *Manager) Watch(group string, topicID [16]byte, p int32, ch chan struct{}) {
	sp := m.lockLive(key{group, topicID, p}, true)
	if sp.waiters == nil {
		sp.waiters = map[chan struct{}]struct{}{}
	}
	sp.waiters[ch] = struct{}{}
	sp.mu.Unlock()
}

// Unwatch removes ch.
func (m *Manager) Unwatch(group string, topicID [16]byte, p int32, ch chan struct{}) {
	if sp := m.get(key{group, topicID, p}, false); sp != nil {
		sp.mu.Lock()
		delete(sp.waiters, ch)
		sp.mu.Unlock()
	}
}

// ExpireLocks releases every acquisition lock whose deadline passed (the
// sweeper calls it; tests with an injected clock call it directly).
func (m *Manager) ExpireLocks() {
	m.mu.Lock()
	sps := make([]*sharePartition, 0, len(m.parts))
	for _, sp := range m.parts {
		sps = append(sps, sp)
	}
	m.mu.Unlock()
	now := m.now()
	for _, sp := range sps {
		sp.mu.Lock()
		if sp.acquired > 0 && !sp.deleted {
			if sp.expire(now, m.Settings(sp.key.group).DeliveryAttemptLimit) {
				sp.wakeLocked()
			}
		}
		sp.mu.Unlock()
	}
}

func (m *Manager) sweep() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.ExpireLocks()
		}
	}
}

// releaseMember releases what member holds in group's share-partitions
// parts, durably.
func (m *Manager) releaseMember(group, member string, parts []TP) {
	limit := m.Settings(group).DeliveryAttemptLimit
	var waits []func() error
	for _, tp := range parts {
		sp := m.get(key{group, tp.TopicID, tp.Partition}, false)
		if sp == nil {
			continue
		}
		sp.mu.Lock()
		if !sp.deleted && sp.initialized && sp.releaseMember(member, limit) {
			sp.wakeLocked()
			if w, err := m.persistLocked(sp); err == nil {
				waits = append(waits, w)
			} else {
				m.log.Error("persist share release", "group", group, "err", err)
			}
		}
		sp.mu.Unlock()
	}
	for _, w := range waits {
		if err := w(); err != nil {
			m.log.Error("commit share release", "group", group, "err", err)
		}
	}
}

// Persistence is in state.go (through the persister).
