package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// TP names a partition.
type TP struct {
	Topic     string
	Partition int32
}

// Manager owns every hosted partition, following the metadata image.
type Manager struct {
	dir    string
	broker *config.Broker
	logger *slog.Logger

	mu    sync.RWMutex
	parts map[TP]*Partition

	cleaner   *cleaner // cleaner.go; nil until StartCleaner (guarded by cleanerMu)
	cleanerMu sync.Mutex
	fetch     *fetchers   // fetcher.go; nil until StartReplication (guarded by mu)
	isrc      *isrControl // isr_wiring.go: the leader's ISR changes

	swept bool // sweepDirs ran (at the first Apply); guarded by mu

	hwc *hwCheckpoint // replication-offset-checkpoint (hwcheckpoint.go)

	// cleanStart: the logs on disk were closed cleanly (the broker found
	// its clean-shutdown marker), so opening them skips recovery fsyncs.
	cleanStart atomic.Bool
}

// SetCleanStart tells the partition opens that follow whether the logs
// on disk were closed cleanly. The broker sets it for its first Apply only
// and removes the marker before anything is appended.
func (m *Manager) SetCleanStart(clean bool) { m.cleanStart.Store(clean) }

// NewManager hosts partitions under dir (the first of log.dirs).
func NewManager(dir string, broker *config.Broker, logger *slog.Logger) *Manager {
	lag := broker.ReplicaLagTimeMax()
	if lag <= 0 {
		lag = DefaultReplicaLagTimeMax
	}
	return &Manager{dir: dir, broker: broker, logger: logger, parts: map[TP]*Partition{}, hwc: &hwCheckpoint{dir: dir},
		isrc: &isrControl{lagMax: lag}}
}

// Get returns the hosted partition or nil.
func (m *Manager) Get(topic string, partition int32) *Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.parts[TP{topic, partition}]
}

// All returns every hosted partition.
func (m *Manager) All() []*Partition {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]*Partition, 0, len(m.parts))
	for _, p := range m.parts {
		out = append(out, p)
	}
	return out
}

// Apply makes the hosted set match img: opens new partitions (recovering
// their logs), applies config changes, and deletes the logs of partitions
// whose topic is gone or was recreated under a new ID. The first Apply
// also sweeps the directories img has no partition for (strays.go).
func (m *Manager) Apply(img *metadata.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.swept {
		m.swept = true
		m.sweepDirs(img)
	}
	want := map[TP]bool{}
	var firstErr error
	var follows []imageFollow
	var opens []partitionOpen
	for _, t := range img.TopicsByName {
		cfg := config.ResolveTopic(m.broker, t.Configs)
		cc := resolveCompaction(m.broker, t.Configs)
		for i := range t.Partitions {
			tp := TP{t.Name, int32(i)}
			// A broker hosts only the replicas assigned to it.
			if !slices.Contains(t.Partitions[i].Replicas, m.broker.NodeID) {
				if p := m.parts[tp]; p != nil && p.TopicID == t.ID {
					m.releaseLocked(tp, p)
				}
				continue
			}
			want[tp] = true
			p := m.parts[tp]
			if p != nil && p.TopicID != t.ID {
				m.removeLocked(tp, p)
				p = nil
			}
			if p == nil {
				opens = append(opens, partitionOpen{tp: tp, id: t.ID, pi: t.Partitions[i], cfg: cfg, cc: cc})
				continue
			}
			follows = append(follows, imageFollow{tp: tp, p: p, pi: t.Partitions[i]})
			if *p.Config() != cfg {
				p.setConfig(cfg)
			}
			if *p.compact.Load() != cc {
				p.compact.Store(&cc)
			}
		}
	}
	for _, o := range m.openAll(img, opens) {
		if o.err != nil {
			m.logger.Error("open partition", "topic", o.tp.Topic, "partition", o.tp.Partition, "err", o.err)
			if firstErr == nil {
				firstErr = o.err
			}
			continue
		}
		follows = append(follows, imageFollow{tp: o.tp, p: o.p, pi: o.pi, opened: true})
	}
	m.followImages(follows)
	for _, f := range follows {
		if f.opened {
			m.parts[f.tp] = f.p
		}
		// After followImage: the fetcher comes off a partition this
		// broker now leads only once the partition knows it leads
		// (follower.go followingLocked).
		m.followLocked(f.p)
	}
	for tp, p := range m.parts {
		if !want[tp] {
			m.removeLocked(tp, p)
		}
	}
	return firstErr
}

// imageFollow is a partition Apply hands its image entry to.
type imageFollow struct {
	tp     TP
	p      *Partition
	pi     metadata.PartitionImage
	opened bool // opened by this Apply, not hosted yet
}

// applyWorkers bounds the partitions Apply opens, or writes a new leader
// epoch of, at once.
const applyWorkers = 32

// partitionOpen is a partition Apply opens: its image entry and configs,
// and what opening it gave.
type partitionOpen struct {
	tp  TP
	id  metadata.UUID
	pi  metadata.PartitionImage
	cfg config.Topic
	cc  compaction
	p   *Partition
	err error
}

// openAll opens ps applyWorkers at a time: a broker that starts with
// 1,000 partitions opened them one after another in 0.5-1.1 s here, most
// of it waiting on file opens and reads that do not depend on each other.
func (m *Manager) openAll(img *metadata.Image, ps []partitionOpen) []partitionOpen {
	parallel(len(ps), func(k int) {
		o := &ps[k]
		o.p, o.err = m.open(img, o.tp.Topic, o.id, o.tp.Partition, len(o.pi.Replicas), o.cfg, o.cc)
	})
	return ps
}

// parallel runs f(0..n-1), applyWorkers at a time, and returns when all
// have.
func parallel(n int, f func(k int)) {
	if n < 2 {
		for k := range n {
			f(k)
		}
		return
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(applyWorkers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range next {
				f(k)
			}
		}()
	}
	for k := range n {
		next <- k
	}
	close(next)
	wg.Wait()
}

// followImages runs followImage for each of fs. A partition this broker
// starts to lead in a new epoch writes and fsyncs its
// leader-epoch-checkpoint there; a broker that restarts, or takes over
// from a failed one, does that for every partition it leads, and one
// after another 1,000 of them took about 1.5 s on this disk. Those run
// applyWorkers at a time (the file system commits concurrent fsyncs
// together); the rest, which write nothing, run inline.
func (m *Manager) followImages(fs []imageFollow) {
	self := m.broker.NodeID
	var writes []imageFollow
	for _, f := range fs {
		if f.pi.Leader == self && (f.opened || f.p.LeaderEpoch() != f.pi.LeaderEpoch) {
			writes = append(writes, f)
			continue
		}
		f.p.followImage(f.pi, self)
	}
	parallel(len(writes), func(k int) { writes[k].p.followImage(writes[k].pi, self) })
}

func (m *Manager) open(img *metadata.Image, topic string, id [16]byte, idx int32, replicas int, cfg config.Topic, cc compaction) (*Partition, error) {
	dir := filepath.Join(m.dir, metadata.PartitionDirName(topic, idx))
	if err := m.claimDir(dir, id, img); err != nil {
		return nil, err
	}
	openLog := log.Open
	if m.cleanStart.Load() {
		openLog = log.OpenClean
	}
	l, err := openLog(dir, logConfig(cfg), m.logger.With("topic", topic, "partition", idx))
	if err != nil {
		return nil, err
	}
	if err := metadata.WritePartitionTopicID(dir, id); err != nil {
		l.Close()
		return nil, err
	}
	p := &Partition{Topic: topic, TopicID: id, Index: idx, Dir: dir, log: l,
		lg: m.logger.With("topic", topic, "partition", idx), ctl: m.isrc}
	p.cfg.Store(&cfg)
	p.compact.Store(&cc)
	if err := p.loadProducerState(); err != nil {
		l.Close()
		return nil, fmt.Errorf("producer state of %s: %w", dir, err)
	}
	if err := p.openEpochs(); err != nil {
		l.Close()
		return nil, fmt.Errorf("leader epochs of %s: %w", dir, err)
	}
	// One replica: whatever recovery kept was on disk (fsynced before it
	// was acknowledged), so it is all visible. More: only what the
	// checkpoint says the ISR confirmed (hwcheckpoint.go).
	ck, ok := m.hwc.load(m)[TP{topic, idx}]
	p.hw = openHW(replicas, ck, ok, l.StartOffset(), l.EndOffset())
	return p, nil
}

// removeLocked closes and deletes the log of a partition whose topic the
// image removed (or recreated under a new id), or that was reassigned away.
// releaseLocked stops hosting a partition that was reassigned away from
// this broker and deletes its log, as Kafka does (StopReplica with
// delete, or a KRaft broker's stray log): the image names the same topic
// id and other replicas, which hold the data (a reassignment completes
// only once every target replica is in the ISR).
func (m *Manager) releaseLocked(tp TP, p *Partition) {
	m.logger.Info("partition reassigned away from this broker; deleting its log", "topic", tp.Topic, "partition", tp.Partition, "dir", p.Dir)
	m.removeLocked(tp, p)
}

func (m *Manager) removeLocked(tp TP, p *Partition) {
	delete(m.parts, tp)
	m.unfollowLocked(p)
	err := p.log.Close()
	if err == nil || errors.Is(err, log.ErrFailed) {
		err = deleteDir(p.Dir)
	}
	if err != nil {
		m.logger.Error("delete partition log", "topic", tp.Topic, "partition", tp.Partition, "err", err)
	}
}

// Maintain runs time-based roll, retention and flush.ms for every partition.
func (m *Manager) Maintain(now time.Time, retention bool) {
	for _, p := range m.All() {
		if err := p.maybeRoll(now); err != nil {
			m.logger.Error("roll segment", "topic", p.Topic, "partition", p.Index, "err", err)
		}
		if retention {
			if _, err := p.log.EnforceRetention(now); err != nil {
				m.logger.Error("retention", "topic", p.Topic, "partition", p.Index, "err", err)
			}
			// The epoch cache forgets what lies before the log start.
			if err := p.epochs.TruncateFromStart(p.log.StartOffset()); err != nil {
				m.logger.Error("write leader-epoch-checkpoint", "topic", p.Topic, "partition", p.Index, "err", err)
			}
		}
		p.expireProducers(now)
		if !p.Durable() && p.Config().FlushMs >= 0 {
			_ = p.Flush()
		}
	}
}

// Close flushes and closes every partition.
func (m *Manager) Close() error {
	// No ISR change is sent for a partition being closed.
	m.StopISR()
	// The cleaner goes first: a pass must not race the logs' Close.
	m.cleanerMu.Lock()
	c := m.cleaner
	m.cleaner = nil
	m.cleanerMu.Unlock()
	if c != nil {
		c.close()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	// The fetchers go before the logs: none appends to a closed log.
	if m.fetch != nil {
		m.fetch.close()
		m.fetch = nil
	}
	// The HWs are final now (no fetcher, and the coordinators closed
	// first): a clean restart opens with exactly these.
	var firstErr error
	if m.swept {
		hws := make(map[TP]int64, len(m.parts))
		for tp, p := range m.parts {
			hws[tp] = min(p.HighWatermark(), p.log.EndOffset())
		}
		if err := m.hwc.write(hws); err != nil {
			m.logger.Error("write high-watermark checkpoint", "dir", m.dir, "err", err)
			firstErr = err
		}
	}
	for tp, p := range m.parts {
		if err := p.close(); err != nil && firstErr == nil {
			firstErr = err
		}
		delete(m.parts, tp)
	}
	return firstErr
}

// StartReplication starts the follower side (fetcher.go): from now on
// every hosted partition this broker follows is fetched from its leader,
// and Apply keeps the fetchers following the image.
func (m *Manager) StartReplication(cfg FetcherConfig) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fetch != nil {
		return
	}
	cfg.NodeID = m.broker.NodeID
	m.fetch = newFetchers(cfg)
	// After the fetcher cut a log, the checkpoint must not keep a HW
	// above the new end (hwcheckpoint.go).
	m.fetch.afterCut = m.afterTruncate
	for _, p := range m.parts {
		m.followLocked(p)
	}
}

// ReplicaMaxLag is the largest lag of a partition this broker follows
// behind its leader's HW (0 when it follows none).
func (m *Manager) ReplicaMaxLag() int64 {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.fetch == nil {
		return 0
	}
	return m.fetch.maxLag()
}

// StopReplication stops the fetchers (before their client closes).
func (m *Manager) StopReplication() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fetch != nil {
		m.fetch.close()
		m.fetch = nil
	}
}

// followLocked puts p on the fetcher of its leader when this broker is
// one of its followers, and takes it off otherwise (it leads, or the
// partition has no leader: nothing to fetch from). Caller holds mu.
func (m *Manager) followLocked(p *Partition) {
	if m.fetch == nil {
		return
	}
	p.mu.Lock()
	r := p.role
	p.mu.Unlock()
	if r.leader >= 0 && r.leader != r.self && slices.Contains(r.replicas, r.self) {
		m.fetch.follow(p, r.leader, r.leaderEpoch)
		return
	}
	m.fetch.unfollow(p)
}

func (m *Manager) unfollowLocked(p *Partition) {
	if m.fetch != nil {
		m.fetch.unfollow(p)
	}
}
