package replica

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/log"
)

// compaction is a topic's compaction config (Kafka's names), resolved like
// the rest of its config and replaced when it changes.
type compaction struct {
	enabled            bool // cleanup.policy includes compact
	minCleanableRatio  float64
	deleteRetentionMs  int64
	minCompactionLagMs int64
	maxCompactionLagMs int64
}

func resolveCompaction(b *config.Broker, overrides map[string]string) compaction {
	str := func(name string) string { v, _ := config.TopicValue(b, overrides, name); return v }
	num := func(name string) int64 { n, _ := strconv.ParseInt(str(name), 10, 64); return n }
	ratio, _ := strconv.ParseFloat(str("min.cleanable.dirty.ratio"), 64)
	return compaction{
		enabled:            strings.Contains(str("cleanup.policy"), "compact"),
		minCleanableRatio:  ratio,
		deleteRetentionMs:  num("delete.retention.ms"),
		minCompactionLagMs: num("min.compaction.lag.ms"),
		maxCompactionLagMs: num("max.compaction.lag.ms"),
	}
}

// cleanerSettings are the broker's log.cleaner.* properties.
type cleanerSettings struct {
	enable   bool          // log.cleaner.enable (true)
	backoff  time.Duration // log.cleaner.backoff.ms (15000): sleep when no log is eligible
	threads  int           // log.cleaner.threads (1)
	dedupe   int64         // log.cleaner.dedupe.buffer.size (128 MiB), shared by the threads
	ioBuffer int           // log.cleaner.io.buffer.size (512 KiB)
}

// cleanerSettingsFrom reads the settings after the dynamic layers: all but
// log.cleaner.enable are dynamic in Kafka (cluster-wide), and a pass reads
// them afresh.
func cleanerSettingsFrom(b *config.Broker) cleanerSettings {
	get := func(name string, def int64) int64 {
		if n, err := strconv.ParseInt(strings.TrimSpace(b.EffectiveValue(name)), 10, 64); err == nil && n > 0 {
			return n
		}
		return def
	}
	s := cleanerSettings{
		enable:   strings.TrimSpace(b.Raw["log.cleaner.enable"]) != "false",
		backoff:  time.Duration(get("log.cleaner.backoff.ms", 15000)) * time.Millisecond,
		threads:  int(min(get("log.cleaner.threads", 1), 64)),
		dedupe:   get("log.cleaner.dedupe.buffer.size", 128<<20),
		ioBuffer: int(min(get("log.cleaner.io.buffer.size", 512<<10), math.MaxInt32)),
	}
	return s
}

// cleaner is the broker's log cleaner: log.cleaner.threads goroutines,
// each taking the dirtiest eligible compacted partition not being cleaned
// by another, cleaning it, and sleeping log.cleaner.backoff.ms when there
// is none. A pass blocks the partition's produce and fetch only for its
// segment swaps (log.Clean).
type cleaner struct {
	m    *Manager
	stop chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	busy    map[*Partition]bool
	running int           // goroutines started and not yet retired
	wake    chan struct{} // closed (and replaced) on a reconfiguration
	last    cleanerSettings
}

// StartCleaner starts the log cleaner unless log.cleaner.enable=false.
// Close stops it.
func (m *Manager) StartCleaner() {
	set := cleanerSettingsFrom(m.broker)
	m.cleanerMu.Lock()
	defer m.cleanerMu.Unlock()
	if !set.enable || m.cleaner != nil {
		return
	}
	c := &cleaner{m: m, stop: make(chan struct{}), busy: map[*Partition]bool{}, wake: make(chan struct{})}
	m.cleaner = c
	c.resize(set)
}

// ReconfigureCleaner follows a dynamic change of the log.cleaner.*
// settings: more goroutines start at once, surplus ones retire after their
// pass, and sleeping ones wake to read the new backoff (Kafka restarts its
// cleaner threads on a change).
func (m *Manager) ReconfigureCleaner() {
	m.cleanerMu.Lock()
	defer m.cleanerMu.Unlock()
	if c := m.cleaner; c != nil {
		c.resize(cleanerSettingsFrom(m.broker))
	}
}

// resize wakes the goroutines when the settings changed (every image
// reaches ReconfigureCleaner) and starts more if set.threads grew.
func (c *cleaner) resize(set cleanerSettings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if set == c.last {
		return
	}
	c.last = set
	close(c.wake)
	c.wake = make(chan struct{})
	for ; c.running < set.threads; c.running++ {
		c.wg.Add(1)
		go c.run()
	}
}

// retire ends the calling goroutine's loop when there are more than
// log.cleaner.threads of them.
func (c *cleaner) retire(set cleanerSettings) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running > set.threads {
		c.running--
		return true
	}
	return false
}

func (c *cleaner) close() {
	close(c.stop)
	c.wg.Wait()
}

func (c *cleaner) run() {
	defer c.wg.Done()
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		set := cleanerSettingsFrom(c.m.broker)
		if c.retire(set) {
			return
		}
		c.mu.Lock()
		wake := c.wake
		c.mu.Unlock()
		p, o := c.pick(time.Now(), set)
		if p == nil {
			select {
			case <-c.stop:
				return
			case <-wake:
			case <-time.After(set.backoff):
			}
			continue
		}
		_, err := p.log.Clean(o)
		c.mu.Lock()
		delete(c.busy, p)
		c.mu.Unlock()
		if err != nil && !errors.Is(err, log.ErrClosed) {
			p.logger().Error("log cleaner", "err", err)
			// Do not spin on a log that keeps failing.
			select {
			case <-c.stop:
				return
			case <-time.After(set.backoff):
			}
		}
	}
}

// pick returns the eligible partition with the highest dirty ratio (one
// past max.compaction.lag.ms or a delete horizon first), marked busy.
func (c *cleaner) pick(now time.Time, set cleanerSettings) (*Partition, log.CleanOptions) {
	var best *Partition
	var bestOpts log.CleanOptions
	var bestInfo log.CleanInfo
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.m.All() {
		if c.busy[p] {
			continue
		}
		o, ok := p.cleanOptions(now, set)
		if !ok {
			continue
		}
		info, err := p.log.CleanInfo(o)
		if err != nil || !info.Eligible {
			continue
		}
		if best == nil || (info.Due && !bestInfo.Due) || (info.Due == bestInfo.Due && info.Ratio > bestInfo.Ratio) {
			best, bestOpts, bestInfo = p, o, info
		}
	}
	if best != nil {
		c.busy[best] = true
	}
	return best, bestOpts
}

// cleanOptions is what a pass over p needs; ok is false for a topic that
// is not compacted.
//
// INVARIANT: the limit is the last stable offset (<= HW), so the cleaner
// never touches an open transaction or a record consumers cannot see yet.
func (p *Partition) cleanOptions(now time.Time, set cleanerSettings) (log.CleanOptions, bool) {
	cc := p.compact.Load()
	if cc == nil || !cc.enabled {
		return log.CleanOptions{}, false
	}
	limit := p.LastStableOffset()
	var aborted []log.AbortedTxn
	for _, a := range p.AbortedTxns(p.log.StartOffset(), limit) {
		aborted = append(aborted, log.AbortedTxn{ProducerID: a.ProducerID, FirstOffset: a.FirstOffset, LastOffset: a.LastOffset})
	}
	return log.CleanOptions{
		Now:                now,
		Limit:              limit,
		MinCleanableRatio:  cc.minCleanableRatio,
		MinCompactionLagMs: cc.minCompactionLagMs,
		MaxCompactionLagMs: cc.maxCompactionLagMs,
		DeleteRetentionMs:  cc.deleteRetentionMs,
		MapBytes:           set.dedupe / int64(set.threads),
		IOBufferBytes:      set.ioBuffer,
		Aborted:            aborted,
	}, true
}
