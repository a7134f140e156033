package replica

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metrics"
)

// The scrubber (docs/RELIABILITY.md, 5): bit rot in a closed segment is
// otherwise only noticed by a consumer, which stops on a CRC error. Fetch
// sends segment bytes with sendfile and never reads them, so checksumming
// every fetch would cost the zero-copy path; instead one goroutine walks
// every sealed segment of every partition, at most log.scrub.bytes.per.second,
// one pass every log.scrub.interval.ms, and checks every batch
// (log.VerifySegment). Each damaged batch is logged and counted once
// (sluice_log_corrupt_batches_total), remembered on its partition so that
// Fetch answers KAFKA_STORAGE_ERROR at it instead of sending the bad bytes
// (readLimit), and reported by DescribeLogDirs as the directory's error.
// The active segment is left to recovery, which checks it whole at open.

// ErrCorrupt is what a read starting in damage the scrubber found returns
// (KAFKA_STORAGE_ERROR on the wire).
var ErrCorrupt = errors.New("replica: batch failed verification")

var errScrubStopped = errors.New("replica: scrubber stopped")

// ScrubConfig sets the scrubber: log.scrub.interval.ms and
// log.scrub.bytes.per.second.
type ScrubConfig struct {
	Interval       time.Duration // pause between the end of a pass and the next; < 0: no scrubber
	BytesPerSecond int64         // read rate limit (> 0)
}

// Scrubber verifies the sealed segments of a Manager's partitions in the
// background. Its partition state has one writer, its goroutine.
type Scrubber struct {
	m      *Manager
	cfg    ScrubConfig
	logger *slog.Logger
	stop   chan struct{}
	done   chan struct{}

	seen    map[*Partition]map[[2]int64]bool // reported damage: segment base, position
	allowed time.Time                        // pacing: when the bytes read so far are due
}

// StartScrubber starts the scrubber, nil when cfg disables it. The first
// pass starts at once; a restart begins a new pass.
func (m *Manager) StartScrubber(cfg ScrubConfig, logger *slog.Logger) *Scrubber {
	if cfg.Interval < 0 || cfg.BytesPerSecond <= 0 {
		return nil
	}
	s := &Scrubber{m: m, cfg: cfg, logger: logger, stop: make(chan struct{}), done: make(chan struct{}),
		seen: map[*Partition]map[[2]int64]bool{}}
	go s.run()
	return s
}

// Close stops the scrubber and waits for it; nil is a no-op.
func (s *Scrubber) Close() {
	if s == nil {
		return
	}
	close(s.stop)
	<-s.done
}

func (s *Scrubber) run() {
	defer close(s.done)
	for {
		if !s.pass() {
			return
		}
		metrics.ScrubPass()
		select {
		case <-s.stop:
			return
		case <-time.After(s.cfg.Interval):
		}
	}
}

// pass verifies every sealed segment once; false when stopped.
func (s *Scrubber) pass() bool {
	parts := s.m.All()
	slices.SortFunc(parts, func(a, b *Partition) int {
		return cmp.Or(cmp.Compare(a.Topic, b.Topic), cmp.Compare(a.Index, b.Index))
	})
	seen := make(map[*Partition]map[[2]int64]bool, len(s.seen))
	for _, p := range parts {
		if p.offlineErr() != nil {
			seen[p] = s.seen[p] // its probe comes first; look again next pass
			continue
		}
		found, ok := s.partition(p)
		if !ok {
			return false
		}
		seen[p] = found
	}
	s.seen = seen // partitions gone since are forgotten
	return true
}

// partition verifies p's sealed segments, reporting damage not reported
// before, and replaces p's known damage with what this pass found (damage
// in a segment that retention or the cleaner removed is gone).
func (s *Scrubber) partition(p *Partition) (map[[2]int64]bool, bool) {
	var found []log.BadBatch
	keys := map[[2]int64]bool{}
	for _, base := range p.log.SealedSegments() {
		n, _, err := p.log.VerifySegment(base, s.pace, func(b log.BadBatch) {
			found = append(found, b)
			p.addCorrupt(b)
			key := [2]int64{b.Segment, b.Position}
			keys[key] = true
			if !s.seen[p][key] {
				s.report(p, b)
			}
		})
		metrics.Scrubbed(n)
		if errors.Is(err, errScrubStopped) {
			return nil, false
		}
		if err != nil {
			s.logger.Warn("scrubber could not read a segment", "topic", p.Topic, "partition", p.Index, "segment", base, "err", err)
		}
	}
	p.setCorrupt(found)
	return keys, true
}

func (s *Scrubber) report(p *Partition, b log.BadBatch) {
	metrics.CorruptBatch(p.Topic, p.Index)
	s.logger.Error("corrupt batch in a closed segment: fetches from it answer KAFKA_STORAGE_ERROR",
		"topic", p.Topic, "partition", p.Index, "file", b.File, "position", b.Position, "bytes", b.Bytes,
		"first_offset", b.FirstOffset, "last_offset", b.LastOffset, "reason", b.Reason)
}

// pace sleeps as long as reading n more bytes takes at the configured
// rate. Time not spent reading is not saved up: the rate holds over any
// stretch of a pass.
func (s *Scrubber) pace(n int) error {
	now := time.Now()
	if s.allowed.Before(now) {
		s.allowed = now
	}
	s.allowed = s.allowed.Add(time.Duration(float64(n) / float64(s.cfg.BytesPerSecond) * float64(time.Second)))
	if d := s.allowed.Sub(now); d > time.Millisecond {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.stop:
			return errScrubStopped
		case <-t.C:
		}
	}
	select {
	case <-s.stop:
		return errScrubStopped
	default:
		return nil
	}
}

// addCorrupt remembers damage found in p (scrubber goroutine only: the
// list is replaced, never changed, so readers need no lock).
func (p *Partition) addCorrupt(b log.BadBatch) {
	var list []log.BadBatch
	if cur := p.corrupt.Load(); cur != nil {
		list = slices.Clone(*cur)
	}
	if slices.ContainsFunc(list, func(x log.BadBatch) bool { return x.File == b.File && x.Position == b.Position }) {
		return
	}
	list = append(list, b)
	slices.SortFunc(list, func(x, y log.BadBatch) int { return cmp.Compare(x.FirstOffset, y.FirstOffset) })
	p.corrupt.Store(&list)
}

// setCorrupt replaces p's known damage (scrubber goroutine only).
func (p *Partition) setCorrupt(bs []log.BadBatch) {
	if len(bs) == 0 {
		p.corrupt.Store(nil)
		return
	}
	list := slices.Clone(bs)
	slices.SortFunc(list, func(x, y log.BadBatch) int { return cmp.Compare(x.FirstOffset, y.FirstOffset) })
	p.corrupt.Store(&list)
}

// Corrupt lists the damage the scrubber found in p that is still at or
// above the log start offset.
func (p *Partition) Corrupt() []log.BadBatch {
	cur := p.corrupt.Load()
	if cur == nil {
		return nil
	}
	start := p.log.StartOffset()
	var out []log.BadBatch
	for _, b := range *cur {
		if lastOf(b) >= start {
			out = append(out, b)
		}
	}
	return out
}

// lastOf is b's last offset, unknown (-1) meaning to the end.
func lastOf(b log.BadBatch) int64 {
	if b.LastOffset < 0 {
		return math.MaxInt64
	}
	return b.LastOffset
}

// readLimit applies the directory's state and the scrubber's findings to
// a read from offset bounded by maxOffset: ErrOffline while the directory
// is offline, ErrCorrupt for a read that starts in known damage, and a
// bound lowered to stop short of damage further on. Without damage this
// is one atomic load: fetches stay zero-copy and unchecked.
func (p *Partition) readLimit(offset, maxOffset int64) (int64, error) {
	if err := p.offlineErr(); err != nil {
		return 0, err
	}
	cur := p.corrupt.Load()
	if cur == nil {
		return maxOffset, nil
	}
	for _, b := range *cur { // ascending FirstOffset
		if lastOf(b) < offset {
			continue
		}
		if b.FirstOffset <= offset {
			return 0, fmt.Errorf("%w: %s-%d offset %d: %s at position %d of %s", ErrCorrupt, p.Topic, p.Index, offset,
				b.Reason, b.Position, b.File)
		}
		return min(maxOffset, b.FirstOffset), nil
	}
	return maxOffset, nil
}

// corruptEnd is the offset after the known damage holding offset; ok is
// false when there is none (or it runs to the end of the log).
func (p *Partition) corruptEnd(offset int64) (next int64, ok bool) {
	cur := p.corrupt.Load()
	if cur == nil {
		return 0, false
	}
	for _, b := range *cur {
		if b.FirstOffset <= offset && offset <= lastOf(b) {
			return b.LastOffset + 1, b.LastOffset >= 0
		}
	}
	return 0, false
}

// DirError is why DescribeLogDirs reports m's directory with
// KAFKA_STORAGE_ERROR: it is offline, or the scrubber found damage in one
// of its partitions (the response has no per-partition error). nil when
// neither.
func (m *Manager) DirError() error {
	if v, ok := logDirs.Load(m.dirKey()); ok {
		if err := v.(*LogDir).Offline(); err != nil {
			return fmt.Errorf("%w: %w", ErrOffline, err)
		}
	}
	for _, p := range m.All() {
		if bad := p.Corrupt(); len(bad) > 0 {
			return fmt.Errorf("%w: %s-%d: %d damaged batches, the first at position %d of %s", ErrCorrupt,
				p.Topic, p.Index, len(bad), bad[0].Position, bad[0].File)
		}
	}
	return nil
}
