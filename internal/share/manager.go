package share

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
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

	mu       sync.Mutex
	parts    map[key]*sharePartition
	sessions map[sessionKey]*session
	closed   bool

	// stateMu guards creating __share_group_state; nstate is its
	// partition count once known.
	stateMu sync.Mutex
	nstate  int32

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
	return &Manager{cfg: cfg, groups: groups, be: be, log: logger,
		parts: map[key]*sharePartition{}, sessions: map[sessionKey]*session{}, stop: make(chan struct{})}
}

// Start replays __share_group_state (when it exists) and starts the lock
// sweeper.
func (m *Manager) Start() error {
	if err := m.load(); err != nil {
		return err
	}
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
			return Acquired{}, kerr.KafkaStorageError.Code
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
			return kerr.KafkaStorageError.Code
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

// ---- persistence ----

// stateLog returns the __share_group_state partition for k, creating the
// topic on first need.
func (m *Manager) stateLog(k key) (StateLog, error) {
	m.stateMu.Lock()
	defer m.stateMu.Unlock()
	if m.nstate == 0 {
		n := m.be.StatePartitions()
		if n == 0 {
			if err := m.be.CreateStateTopic(m.cfg.StatePartitions); err != nil {
				return nil, err
			}
			if n = m.be.StatePartitions(); n == 0 {
				return nil, errNoStateTopic
			}
			m.log.Info("created share state topic", "topic", StateTopic, "partitions", n)
		}
		m.nstate = n
	}
	l := m.be.StateLog(statePartition(k, m.nstate))
	if l == nil {
		return nil, errNoStateTopic
	}
	return l, nil
}

type shareError string

func (e shareError) Error() string { return string(e) }

const (
	errNoStateTopic = shareError("share: " + StateTopic + " partition not hosted")
	errClosed       = shareError("share: manager closed")
)

// persistLocked appends sp's snapshot (sp.mu held, so the log order is the
// state order) and returns the wait for its durability, which the caller
// runs after unlocking.
func (m *Manager) persistLocked(sp *sharePartition) (func() error, error) {
	var value []byte
	if !sp.deleted {
		value = encodeSnapshot(sp.snapshotLocked(), m.now())
	}
	return m.write(sp.key, value)
}

// write appends one record (a tombstone when value is nil) for k.
func (m *Manager) write(k key, value []byte) (func() error, error) {
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, errClosed
	}
	l, err := m.stateLog(k)
	if err != nil {
		return nil, err
	}
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: m.now().UnixMilli(), Records: []record.Record{{Key: encodeKey(k), Value: value}}})
	if err != nil {
		return nil, err
	}
	next, err := l.Append(batch, 1)
	if err != nil {
		return nil, err
	}
	return func() error { return l.Commit(next) }, nil
}

// load replays every __share_group_state partition: the last record of a
// key wins, a tombstone removes it.
func (m *Manager) load() error {
	n := m.be.StatePartitions()
	if n == 0 {
		return nil
	}
	m.stateMu.Lock()
	m.nstate = n
	m.stateMu.Unlock()
	found := map[key]snapshot{}
	for i := int32(0); i < n; i++ {
		l := m.be.StateLog(i)
		if l == nil {
			continue
		}
		err := l.Replay(func(batch []byte) error {
			h, err := record.ParseHeader(batch)
			if err != nil || h.IsControl() {
				return err
			}
			if err := record.Records(batch, func(r *record.Record) error {
				k, ok, err := decodeKey(r.Key)
				if err != nil || !ok {
					return err
				}
				if r.Value == nil {
					delete(found, k)
					return nil
				}
				s, err := decodeSnapshot(r.Value)
				if err != nil {
					return err
				}
				found[k] = s
				return nil
			}); err != nil {
				m.log.Error("skipping unreadable batch in share state partition", "partition", i, "offset", h.BaseOffset, "err", err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	m.mu.Lock()
	for k, s := range found {
		sp := &sharePartition{key: k}
		sp.restore(s)
		m.parts[k] = sp
	}
	m.mu.Unlock()
	if len(found) > 0 {
		m.log.Info("loaded share-partition state", "share_partitions", len(found))
	}
	return nil
}

// ---- State (the group coordinator's side) ----

// Offsets implements State.
func (m *Manager) Offsets(group string, topicID [16]byte, partitions []int32) []PartitionOffset {
	out := make([]PartitionOffset, len(partitions))
	for i, p := range partitions {
		out[i] = PartitionOffset{StartOffset: -1, LeaderEpoch: -1, Lag: -1}
		sp := m.get(key{group, topicID, p}, false)
		if sp == nil {
			continue
		}
		sp.mu.Lock()
		if sp.initialized && !sp.deleted {
			out[i].StartOffset, out[i].LeaderEpoch = sp.spso, sp.leaderEpoch
			if d := m.be.Data(topicID, p); d != nil {
				hw := d.HighWatermark()
				out[i].Lag = max(0, hw-sp.spso-sp.inFlightDone(hw))
			}
		}
		sp.mu.Unlock()
	}
	return out
}

// Initialized implements State.
func (m *Manager) Initialized(group string) map[[16]byte][]int32 {
	m.mu.Lock()
	sps := make([]*sharePartition, 0)
	for k, sp := range m.parts {
		if k.group == group {
			sps = append(sps, sp)
		}
	}
	m.mu.Unlock()
	out := map[[16]byte][]int32{}
	for _, sp := range sps {
		sp.mu.Lock()
		if sp.initialized && !sp.deleted {
			out[sp.key.topicID] = append(out[sp.key.topicID], sp.key.partition)
		}
		sp.mu.Unlock()
	}
	for id := range out {
		slices.Sort(out[id])
	}
	return out
}

// SetStartOffset implements State.
func (m *Manager) SetStartOffset(group string, topicID [16]byte, p int32, offset int64) int16 {
	if offset < 0 {
		return kerr.InvalidRequest.Code
	}
	sp := m.lockLive(key{group, topicID, p}, true)
	sp.initialized = true
	sp.spso, sp.recs, sp.acquired = offset, nil, 0
	sp.stateEpoch++
	if d := m.be.Data(topicID, p); d != nil {
		sp.leaderEpoch = d.LeaderEpoch()
	}
	sp.wakeLocked()
	wait, err := m.persistLocked(sp)
	sp.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		m.log.Error("persist share start offset", "group", group, "partition", p, "err", err)
		return kerr.KafkaStorageError.Code
	}
	return 0
}

// DeleteTopic implements State.
func (m *Manager) DeleteTopic(group string, topicID [16]byte) int16 {
	return m.remove(func(k key) bool { return k.group == group && k.topicID == topicID })
}

// TopicsDeleted drops every group's state of the deleted topics (their
// IDs never come back), in the background: the broker calls it from the
// metadata subscription, where persisting cannot wait.
func (m *Manager) TopicsDeleted(ids [][16]byte) {
	if len(ids) == 0 {
		return
	}
	gone := map[[16]byte]bool{}
	for _, id := range ids {
		gone[id] = true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.remove(func(k key) bool { return gone[k.topicID] })
	}()
}

// DeleteGroup implements State.
func (m *Manager) DeleteGroup(group string) int16 {
	return m.remove(func(k key) bool { return k.group == group })
}

// remove deletes the share-partitions match selects, writing a tombstone
// for each, durably.
func (m *Manager) remove(match func(key) bool) int16 {
	m.mu.Lock()
	var sps []*sharePartition
	for k, sp := range m.parts {
		if match(k) {
			sps = append(sps, sp)
			delete(m.parts, k)
		}
	}
	m.mu.Unlock()
	var waits []func() error
	code := int16(0)
	for _, sp := range sps {
		sp.mu.Lock()
		wasPersisted := sp.initialized
		sp.deleted = true
		sp.wakeLocked()
		if wasPersisted {
			w, err := m.persistLocked(sp)
			if err != nil {
				m.log.Error("persist share state deletion", "group", sp.key.group, "err", err)
				code = kerr.KafkaStorageError.Code
			} else {
				waits = append(waits, w)
			}
		}
		sp.mu.Unlock()
	}
	for _, w := range waits {
		if err := w(); err != nil {
			code = kerr.KafkaStorageError.Code
		}
	}
	return code
}
