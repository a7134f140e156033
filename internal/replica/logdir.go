package replica

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metrics"
)

// Offline log directories (docs/RELIABILITY.md, 4).
//
// A write or fsync error on a partition log (ENOSPC, EIO) fails that log
// (log.ErrFailed) and takes its whole log directory offline, as Kafka's
// LogDirFailureChannel does: every partition in it answers Produce and
// Fetch with KAFKA_STORAGE_ERROR (their appends and reads return
// ErrOffline), DescribeLogDirs gives the directory that error code, and
// kafka_log_logmanager_offlinelogdirectorycount counts it. Kafka needs a
// restart to bring a directory back; here LogDir.Maintain, called every
// second by the broker's maintenance loop, probes the directory (a file
// written, fsynced and removed) with exponential backoff and, once a probe
// succeeds, heals every failed log in place (log.Heal: recovery from the
// files, the unacknowledged tail dropped) and reloads its producer state;
// then the directory is online again. The directory going offline and
// coming back are logged once each; the probes in between are not.

// ErrOffline is what appends and reads of a partition in an offline log
// directory return (KAFKA_STORAGE_ERROR on the wire).
var ErrOffline = errors.New("replica: log directory offline")

// Probe schedule: the first probe a second after the directory went
// offline, then twice as long after each failed one, up to probeMax.
// A directory that fails again soon after coming back (flapDelay) keeps its
// backoff rather than starting over, so a disk with room for the probe but
// not for the partitions is not probed every second.
const (
	probeMin   = time.Second
	probeMax   = 10 * time.Second
	flapDelay  = time.Minute
	probeBytes = 1 << 20 // about one batch at message.max.bytes
	probeFile  = ".sluice-log-dir-probe"
)

// LogDir is the health of the log directory holding the partitions of a
// Manager.
type LogDir struct {
	path   string // filepath.Clean'd: the key partitions look it up by
	m      *Manager
	logger *slog.Logger

	offline atomic.Pointer[offlineState] // nil while online

	// Only Maintain (one goroutine) touches these.
	scheduled *offlineState // the state the probe schedule below is for
	nextProbe time.Time
	backoff   time.Duration
	onlineAt  time.Time // when the directory last came back
}

type offlineState struct {
	err   error // the failure that took the directory offline
	since time.Time
}

// logDirs finds a partition's LogDir by its parent directory, so the
// partition needs no pointer to it (partitions are built by the Manager
// before the broker starts maintenance).
var logDirs sync.Map // clean path → *LogDir

// OpenLogDir starts tracking the health of m's directory (path, the
// directory m hosts partitions in). Close stops it.
func OpenLogDir(path string, m *Manager, logger *slog.Logger) *LogDir {
	d := &LogDir{path: filepath.Clean(path), m: m, logger: logger}
	logDirs.Store(d.path, d)
	return d
}

// Close stops tracking; the offline gauge forgets the directory.
func (d *LogDir) Close() {
	logDirs.CompareAndDelete(d.path, d)
	if d.offline.Swap(nil) != nil {
		metrics.LogDirOffline(false)
	}
}

// Path is the directory.
func (d *LogDir) Path() string { return d.path }

// Offline returns the error that took the directory offline, or nil.
func (d *LogDir) Offline() error {
	if st := d.offline.Load(); st != nil {
		return st.err
	}
	return nil
}

// setOffline takes the directory offline because of err (a log failure);
// only the first failure is logged and kept.
func (d *LogDir) setOffline(err error) {
	st := &offlineState{err: err, since: time.Now()}
	if d.offline.CompareAndSwap(nil, st) {
		metrics.LogDirOffline(true)
		d.logger.Error("log directory offline: its partitions answer KAFKA_STORAGE_ERROR until a probe write succeeds and their logs are healed",
			"dir", d.path, "err", err)
	}
}

// Maintain notices logs that failed outside a request (a background
// fsync, the cleaner), and, while the directory is offline, probes it when
// due and heals it. It is called periodically from one goroutine.
func (d *LogDir) Maintain(now time.Time) {
	parts := d.m.All()
	for _, p := range parts {
		if err := p.log.Failure(); err != nil {
			d.setOffline(err)
			break
		}
	}
	st := d.offline.Load()
	if st == nil {
		return
	}
	if d.scheduled != st {
		d.scheduled = st
		if d.onlineAt.IsZero() || now.Sub(d.onlineAt) > flapDelay {
			d.backoff = probeMin
		}
		d.nextProbe = st.since.Add(d.backoff)
	}
	if now.Before(d.nextProbe) {
		return
	}
	healed, err := d.probeAndHeal(parts)
	if err != nil {
		d.backoff = min(2*d.backoff, probeMax)
		d.nextProbe = now.Add(d.backoff)
		d.logger.Debug("log directory still offline", "dir", d.path, "err", err, "next_probe_in", d.backoff)
		return
	}
	if !d.offline.CompareAndSwap(st, nil) {
		return
	}
	d.onlineAt = now
	metrics.LogDirOffline(false)
	d.logger.Warn("log directory back online", "dir", d.path, "offline_for", now.Sub(st.since).Round(time.Millisecond),
		"healed_partitions", healed, "cause", st.err)
}

// probeAndHeal writes the probe file and heals every failed partition
// log; the directory may come online only if that all worked and no log
// is failed any more.
func (d *LogDir) probeAndHeal(parts []*Partition) (healed int, err error) {
	if err := d.probe(); err != nil {
		return 0, err
	}
	for _, p := range parts {
		did, err := p.heal()
		if err != nil {
			return healed, fmt.Errorf("%s-%d: %w", p.Topic, p.Index, err)
		}
		if did {
			healed++
		}
	}
	for _, p := range parts {
		if err := p.log.Failure(); err != nil {
			return healed, err
		}
	}
	return healed, nil
}

// probe checks that the directory takes writes again: a file of
// probeBytes written, fsynced and removed.
func (d *LogDir) probe() error {
	path := filepath.Join(d.path, probeFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(make([]byte, probeBytes))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if rerr := os.Remove(path); err == nil {
		err = rerr
	}
	if err != nil {
		return err
	}
	dir, err := os.Open(d.path)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// logDir is the LogDir of p's directory, nil when none is open (tests
// that build partitions without a broker).
func (p *Partition) logDir() *LogDir {
	if d := p.ld.Load(); d != nil {
		return d
	}
	v, ok := logDirs.Load(filepath.Dir(p.Dir))
	if !ok {
		return nil
	}
	d := v.(*LogDir)
	p.ld.Store(d)
	return d
}

// offlineErr is ErrOffline (with the cause) while p's directory is
// offline, else nil.
func (p *Partition) offlineErr() error {
	if d := p.logDir(); d != nil {
		if st := d.offline.Load(); st != nil {
			return fmt.Errorf("%w: %s: %w", ErrOffline, d.path, st.err)
		}
	}
	return nil
}

// noteStorage takes p's directory offline when err is a log failure; it
// returns err.
func (p *Partition) noteStorage(err error) error {
	if errors.Is(err, log.ErrFailed) {
		if d := p.logDir(); d != nil {
			d.setOffline(err)
		}
	}
	return err
}

// heal brings p's failed log back (log.Heal) and rebuilds what follows
// the log's tail: the producer state, reloaded from snapshots and the log
// as at open, and the HW. did is false when there was nothing to heal.
func (p *Partition) heal() (did bool, err error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	if p.log.Failure() == nil && !p.stale.Load() {
		return false, nil
	}
	// With flush.messages > 1 acks did not wait for fsync: keep what is
	// on disk rather than drop acknowledged records.
	p.stale.Store(true)
	info, err := p.log.Heal(p.Durable())
	if err != nil {
		return false, err
	}
	// The producer state may hold batches the heal dropped, or miss one
	// whose append failed after its bytes were written: rebuild it from
	// the log, as at open.
	fresh := &Partition{Dir: p.Dir, log: p.log, lg: p.lg}
	if err := fresh.loadProducerState(); err != nil {
		return false, fmt.Errorf("producer state: %w", err)
	}
	p.psMu.Lock()
	p.ps = fresh.ps
	p.psMu.Unlock()
	p.stale.Store(false)

	if err := p.epochs.TruncateFromEnd(p.log.EndOffset()); err != nil {
		return false, fmt.Errorf("leader epochs: %w", err)
	}

	// Everything the healed log holds was on disk when recovery ended.
	// Only a log acknowledged before fsync can lose records above the HW
	// here, and then the HW comes back down to the end of the log.
	end := p.log.EndOffset()
	p.mu.Lock()
	p.hw = end
	p.unflushed = 0
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	p.wake(ws)
	p.logger().Warn("partition log healed", "dropped_offsets", info.Dropped, "dropped_from", info.DroppedFrom, "end", end)
	return true, nil
}

// dirKey is m's directory as LogDirs are keyed.
func (m *Manager) dirKey() string { return filepath.Clean(m.dir) }
