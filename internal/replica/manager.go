package replica

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/fsutil"
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

	cleaner *cleaner // cleaner.go; nil until StartCleaner

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
	return &Manager{dir: dir, broker: broker, logger: logger, parts: map[TP]*Partition{}}
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
// whose topic is gone or was recreated under a new ID.
func (m *Manager) Apply(img *metadata.Image) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[TP]bool{}
	var firstErr error
	for _, t := range img.TopicsByName {
		cfg := config.ResolveTopic(m.broker, t.Configs)
		cc := resolveCompaction(m.broker, t.Configs)
		for i := range t.Partitions {
			tp := TP{t.Name, int32(i)}
			want[tp] = true
			p := m.parts[tp]
			if p != nil && p.TopicID != t.ID {
				m.removeLocked(tp, p)
				p = nil
			}
			if p == nil {
				var err error
				if p, err = m.open(t.Name, t.ID, int32(i), cfg, cc); err != nil {
					m.logger.Error("open partition", "topic", t.Name, "partition", i, "err", err)
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				m.parts[tp] = p
				continue
			}
			if *p.Config() != cfg {
				p.setConfig(cfg)
			}
			if *p.compact.Load() != cc {
				p.compact.Store(&cc)
			}
		}
	}
	for tp, p := range m.parts {
		if !want[tp] {
			m.removeLocked(tp, p)
		}
	}
	return firstErr
}

func (m *Manager) open(topic string, id [16]byte, idx int32, cfg config.Topic, cc compaction) (*Partition, error) {
	dir := filepath.Join(m.dir, topic+"-"+strconv.Itoa(int(idx)))
	if old, err := readTopicID(dir); err == nil && old != id {
		// A leftover of a deleted topic with the same name.
		if err := discard(dir); err != nil {
			return nil, err
		}
	}
	openLog := log.Open
	if m.cleanStart.Load() {
		openLog = log.OpenClean
	}
	l, err := openLog(dir, logConfig(cfg), m.logger.With("topic", topic, "partition", idx))
	if err != nil {
		return nil, err
	}
	if err := writeTopicID(dir, id); err != nil {
		l.Close()
		return nil, err
	}
	p := &Partition{Topic: topic, TopicID: id, Index: idx, Dir: dir, log: l,
		lg: m.logger.With("topic", topic, "partition", idx)}
	p.cfg.Store(&cfg)
	p.compact.Store(&cc)
	if err := p.loadProducerState(); err != nil {
		l.Close()
		return nil, fmt.Errorf("producer state of %s: %w", dir, err)
	}
	// Whatever recovery kept was on disk, so it is all visible.
	p.hw = l.EndOffset()
	return p, nil
}

func (m *Manager) removeLocked(tp TP, p *Partition) {
	delete(m.parts, tp)
	if err := p.log.Delete(); err != nil {
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
		}
		p.expireProducers(now)
		if !p.Durable() && p.Config().FlushMs >= 0 {
			_ = p.Flush()
		}
	}
}

// Close flushes and closes every partition.
func (m *Manager) Close() error {
	// The cleaner goes first: a pass must not race the logs' Close.
	if m.cleaner != nil {
		m.cleaner.close()
		m.cleaner = nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var firstErr error
	for tp, p := range m.parts {
		if err := p.close(); err != nil && firstErr == nil {
			firstErr = err
		}
		delete(m.parts, tp)
	}
	return firstErr
}

// partition.metadata records which topic ID a directory belongs to, as
// Kafka does, so a recreated topic never reads its predecessor's data.
const idFile = "partition.metadata"

func writeTopicID(dir string, id [16]byte) error {
	path := filepath.Join(dir, idFile)
	body := "version: 0\ntopic_id: " + hex.EncodeToString(id[:]) + "\n"
	if b, err := os.ReadFile(path); err == nil && string(b) == body {
		return nil
	}
	return fsutil.WriteFileAtomic(dir, idFile, []byte(body))
}

func readTopicID(dir string) ([16]byte, error) {
	var id [16]byte
	b, err := os.ReadFile(filepath.Join(dir, idFile))
	if err != nil {
		return id, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "topic_id: "); ok {
			raw, err := hex.DecodeString(v)
			if err != nil || len(raw) != 16 {
				return id, fmt.Errorf("bad topic_id in %s", dir)
			}
			copy(id[:], raw)
			return id, nil
		}
	}
	return id, fmt.Errorf("no topic_id in %s", dir)
}

func discard(dir string) error {
	trash := dir + ".stale-delete"
	if err := os.RemoveAll(trash); err != nil {
		return err
	}
	if err := os.Rename(dir, trash); err != nil {
		return err
	}
	return os.RemoveAll(trash)
}
