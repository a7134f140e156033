package log

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/record"
)

// Errors returned by Log methods.
var (
	// ErrOffsetOutOfRange: a read below StartOffset or above EndOffset.
	ErrOffsetOutOfRange = errors.New("log: offset out of range")
	// ErrClosed: the log was closed or deleted.
	ErrClosed = errors.New("log: closed")
	// ErrFailed wraps the I/O error that left the log in an unknown state
	// (a failed write or fsync). Every later Append and Sync returns it
	// until Heal (or closing and reopening: recovery) brings the log back.
	ErrFailed = errors.New("log: failed")
)

// Config is the per-topic part of a log's behaviour, under Kafka's names.
type Config struct {
	SegmentBytes       int64 // segment.bytes: roll before the active segment exceeds this (default 1 GiB)
	SegmentMs          int64 // segment.ms: roll when the active segment's first batch is older than this (default 7 days)
	RetentionMs        int64 // retention.ms: -1 = unlimited (0 deletes every sealed segment)
	RetentionBytes     int64 // retention.bytes: whole-log size limit, -1 = unlimited
	IndexIntervalBytes int   // index.interval.bytes: bytes between index entries (default 4096; 1 indexes every batch)
	// StrictRecovery makes Open fail with a *CorruptError on damage that is
	// not a torn tail, instead of truncating there (strict.go). Off for
	// partition logs; the metadata log sets it.
	StrictRecovery bool
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * time.Hour.Milliseconds(),
		RetentionMs:        7 * 24 * time.Hour.Milliseconds(),
		RetentionBytes:     -1,
		IndexIntervalBytes: 4096,
	}
}

// normalized replaces unset (<= 0) sizes, roll time and index interval with
// the defaults and caps SegmentBytes so every position fits the index's
// uint32. The retention fields are taken as given: negative is unlimited.
func (c Config) normalized() Config {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	c.SegmentBytes = min(c.SegmentBytes, math.MaxInt32)
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	return c
}

// AppendInfo describes one Append.
type AppendInfo struct {
	FirstOffset, LastOffset int64
	// MaxTimestamp is the largest batch maxTimestamp (-1 when none carry
	// one). OffsetOfMaxTimestamp is the last offset of the first batch
	// carrying it (Kafka's "shallow" offset; resolving the exact record
	// would mean decompressing on the append path). MaxTimestamp() resolves
	// the exact record.
	MaxTimestamp         int64
	OffsetOfMaxTimestamp int64
}

// Log is one partition's segmented log. See the package documentation for
// the locking rules.
type Log struct {
	dir    string
	logger *slog.Logger
	now    func() time.Time // time.Now; tests replace it

	// appendMu serializes every mutation: Append, roll, retention,
	// truncation, DeleteRecordsBefore, SetConfig, Close. It is held across
	// file writes and fsyncs done on behalf of those mutations.
	appendMu sync.Mutex
	// mu guards the fields below (and segment meta/index buffers). They are
	// written holding appendMu and mu, so holding either one is enough to
	// read them. mu is only ever held briefly, never across I/O except the
	// small rescans of TruncateTo.
	mu       sync.Mutex
	cfg      Config
	segs     []*segment // ascending base offsets; the last is the active segment
	start    int64      // log start offset: first readable offset
	leo      int64      // log end offset: next offset to assign
	closed   bool
	truncGen uint64 // bumped by TruncateTo, so a running fsync cannot claim truncated offsets

	durable  atomic.Int64          // offsets < durable are fsynced; <= leo
	dirDirty atomic.Bool           // a file was created or removed since the last directory fsync
	failErr  atomic.Pointer[error] // first fatal I/O error

	// Group commit (sync.go). Lock order: appendMu, syncMu, mu.
	syncMu    sync.Mutex
	syncCond  sync.Cond
	syncing   bool
	callbacks []syncCallback // SyncThen callers waiting (syncMu)
	holes     []hole         // offsets Heal dropped (heal.go); guarded by syncMu
}

// Open opens (creating if needed) the log in dir and recovers it; see
// doc.go for what recovery checks and repairs.
func Open(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	return open(dir, cfg, logger, false)
}

// OpenClean is Open for a log the broker closed cleanly (Close returned nil
// and the clean-shutdown marker was written after it): everything in it was
// fsynced then, so recovery skips its fsyncs, which dominate the start of a
// broker with many partitions.
func OpenClean(dir string, cfg Config, logger *slog.Logger) (*Log, error) {
	return open(dir, cfg, logger, true)
}

func open(dir string, cfg Config, logger *slog.Logger, clean bool) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := syncDir(filepath.Dir(dir)); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	l := &Log{dir: dir, logger: logger, now: time.Now, cfg: cfg.normalized()}
	l.syncCond.L = &l.syncMu
	if err := l.recover(clean); err != nil {
		for _, s := range l.segs {
			s.release()
		}
		return nil, fmt.Errorf("log: open %s: %w", dir, err)
	}
	return l, nil
}

// SetConfig applies a changed topic config from the next operation on.
func (l *Log) SetConfig(cfg Config) {
	l.appendMu.Lock()
	l.mu.Lock()
	l.cfg = cfg.normalized()
	l.mu.Unlock()
	l.appendMu.Unlock()
}

// Dir is the partition directory.
func (l *Log) Dir() string { return l.dir }

// StartOffset is the first offset that can be read.
func (l *Log) StartOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.start
}

// EndOffset is the log end offset (LEO): the offset the next record gets.
func (l *Log) EndOffset() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leo
}

// DurableOffset is the highest offset+1 known to be fsynced.
func (l *Log) DurableOffset() int64 { return l.durable.Load() }

// Size is the total size of the segment files, in bytes.
func (l *Log) Size() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sizeLocked()
}

func (l *Log) sizeLocked() int64 {
	var n int64
	for _, s := range l.segs {
		n += s.meta.size
	}
	return n
}

// NumSegments is the number of segment files.
func (l *Log) NumSegments() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.segs)
}

func (l *Log) active() *segment { return l.segs[len(l.segs)-1] }

// ActiveBase is the base offset of the active (last) segment; a change
// tells the caller a roll happened (producer state snapshots).
func (l *Log) ActiveBase() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.segs) == 0 {
		return l.leo
	}
	return l.active().base
}

// segmentIndex returns the index of the segment that holds offset (the last
// one whose base is <= offset). Caller holds appendMu or mu.
func (l *Log) segmentIndex(offset int64) int {
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > offset })
	return max(i-1, 0)
}

// Failure returns the error that failed the log (wrapping ErrFailed), or
// nil while it works.
func (l *Log) Failure() error { return l.failure() }

// failure returns the error that failed the log, or nil.
func (l *Log) failure() error {
	if p := l.failErr.Load(); p != nil {
		return *p
	}
	return nil
}

// fail records err as fatal (the first one wins) and returns the log's
// failure error.
func (l *Log) fail(err error) error {
	e := fmt.Errorf("%w: %s: %w", ErrFailed, l.dir, err)
	if l.failErr.CompareAndSwap(nil, &e) {
		metrics.StorageError()
		l.logger.Error("log failed; it refuses writes until healed or reopened", "dir", l.dir, "err", err)
	}
	return l.failure()
}

// usable reports ErrClosed or the failure. Caller holds appendMu or mu.
func (l *Log) usable() error {
	if l.closed {
		return ErrClosed
	}
	return l.failure()
}

// Append assigns offsets to one or more concatenated, already validated v2
// batches and writes them to the active segment with a single write. It
// rewrites each batch's baseOffset and partitionLeaderEpoch in place in
// batches (neither is covered by the CRC). It returns once the bytes are in
// the page cache; use Sync for durability.
func (l *Log) Append(batches []byte, leaderEpoch int32) (AppendInfo, error) {
	info := AppendInfo{MaxTimestamp: -1, OffsetOfMaxTimestamp: -1}
	if len(batches) == 0 {
		return info, errors.New("log: append: no batches")
	}
	if len(batches) > math.MaxInt32 {
		return info, fmt.Errorf("log: append: %d bytes in one append", len(batches))
	}
	var stack [16]batchInfo
	hs := stack[:0]
	var count int64
	maxTs := int64(-1)
	err := record.Split(batches, func(h record.Header, _ []byte) error {
		if h.LastOffsetDelta < 0 {
			return fmt.Errorf("%w: lastOffsetDelta %d", record.ErrCorrupt, h.LastOffsetDelta)
		}
		// last holds the delta until offsets are assigned below.
		hs = append(hs, batchInfo{last: int64(h.LastOffsetDelta), maxTs: h.MaxTimestamp, size: int64(h.Size())})
		count += int64(h.LastOffsetDelta) + 1
		maxTs = max(maxTs, h.MaxTimestamp)
		return nil
	})
	if err != nil {
		return info, fmt.Errorf("log: append: %w", err)
	}

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		return info, err
	}
	nowMs := l.now().UnixMilli()
	s := l.active()
	if s.meta.size > 0 && (s.meta.size+int64(len(batches)) > l.cfg.SegmentBytes ||
		s.rollDue(maxTs, nowMs, l.cfg.SegmentMs) || l.leo+count-1-s.base > math.MaxUint32) {
		if err := l.roll(nowMs); err != nil {
			return info, err
		}
		s = l.active()
	}
	if l.leo+count-1-s.base > math.MaxUint32 {
		return info, fmt.Errorf("log: append: %d offsets in one append", count)
	}

	// INVARIANT: offsets are strictly monotonic. Each batch gets base offset
	// next, which starts at the LEO, and next then grows by the batch's
	// offset count (lastOffsetDelta+1 >= 1, checked above). All of it
	// happens under appendMu, and the LEO is published only after the write,
	// so no two batches ever share an offset and the file order is the
	// offset order. Only TruncateTo lowers the LEO, and it first removes
	// every byte at or above the new LEO.
	meta := s.meta
	next := l.leo
	info.FirstOffset = next
	var oi, ti []byte
	p := int64(0)
	for _, h := range hs {
		b := batches[p : p+h.size]
		record.SetBaseOffset(b, next)
		record.SetPartitionLeaderEpoch(b, leaderEpoch)
		h.last += next
		oi, ti = meta.track(s.base, next, h, l.cfg.IndexIntervalBytes, oi, ti)
		if h.maxTs > info.MaxTimestamp {
			info.MaxTimestamp, info.OffsetOfMaxTimestamp = h.maxTs, h.last
		}
		next = h.last + 1
		p += h.size
	}
	if err := writeSegment(s.log, batches, s.meta.size); err != nil {
		// INVARIANT: a failed append leaves no trace. Nothing of it was
		// published (meta, indexes and the LEO are still the last good
		// batch's), and whatever part of it landed (ENOSPC part-way
		// through) is cut, so the file never holds bytes past meta.size.
		// If the cut fails too, the torn tail is what recovery (Heal or
		// Open) truncates.
		_ = s.log.Truncate(s.meta.size)
		return info, l.fail(fmt.Errorf("write %s: %w", s.log.Name(), err))
	}
	// Start writeback of a small append at once, so the group commit's
	// fsync finds it on its way to the disk already (ack p50 at 5,000
	// records/s about halved). A large one is left to the fsync, which
	// writes it back in larger requests: started early, 1 MiB appends
	// produced 7-10% less (docs/BENCHMARKS.md).
	if len(batches) <= writebackMaxBytes {
		_ = startWriteback(s.log, s.meta.size, int64(len(batches)))
	}
	l.mu.Lock()
	s.meta = meta
	s.idx.buf = append(s.idx.buf, oi...)
	s.tidx.buf = append(s.tidx.buf, ti...)
	s.lastWriteMs = nowMs
	l.leo = next
	l.mu.Unlock()
	// Index entries go to disk after the batches they point to.
	if err := errors.Join(s.idx.flush(), s.tidx.flush()); err != nil {
		return info, l.fail(fmt.Errorf("write index: %w", err))
	}
	info.LastOffset = next - 1
	return info, nil
}

// writebackMaxBytes is the largest append whose writeback Append starts.
const writebackMaxBytes = 128 << 10

// roll seals the active segment and starts a new one at the LEO. Caller
// holds appendMu. The sealed segment is fsynced (log and indexes) before
// the new file exists, so after a crash every segment but the last is
// whole: recovery only has to scan the last one.
func (l *Log) roll(nowMs int64) error {
	old := l.active()
	if old.meta.size == 0 {
		return nil
	}
	l.mu.Lock()
	old.addSealEntry()
	l.mu.Unlock()
	if err := errors.Join(old.idx.flush(), old.tidx.flush()); err != nil {
		return l.fail(fmt.Errorf("seal %s: %w", old.log.Name(), err))
	}
	if err := old.syncAll(); err != nil {
		return l.fail(fmt.Errorf("seal %s: %w", old.log.Name(), err))
	}
	s, err := openSegment(l.dir, l.leo, true, nowMs)
	if err != nil {
		// Like any write error: the directory cannot take files now.
		return l.fail(fmt.Errorf("roll: create segment %d: %w", l.leo, err))
	}
	l.dirDirty.Store(true)
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.logger.Debug("rolled segment", "dir", l.dir, "base", s.base, "sealed", old.base, "sealed_bytes", old.meta.size)
	return nil
}

// Close fsyncs the active segment and the directory and closes the files
// (files of segments still held by a ReadResult close on its Release).
// Closing twice is a no-op.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if l.closed {
		return nil
	}
	err := l.failure()
	if err == nil {
		s := l.active()
		err = errors.Join(s.idx.flush(), s.tidx.flush())
		if err == nil {
			err = s.syncAll()
		}
		if err == nil && l.dirDirty.Swap(false) {
			err = syncDir(l.dir)
		}
		if err != nil {
			err = l.fail(err)
		}
	}
	l.mu.Lock()
	if err == nil {
		l.durable.Store(l.leo)
	}
	l.closed = true
	segs := l.segs
	l.segs = nil
	l.mu.Unlock()
	for _, s := range segs {
		s.release()
	}
	l.syncMu.Lock()
	l.syncCond.Broadcast()
	l.syncMu.Unlock()
	return err
}

// Delete closes the log and removes its directory. Segments still held by
// a ReadResult stay readable until released.
func (l *Log) Delete() error {
	if err := l.Close(); err != nil && !errors.Is(err, ErrFailed) {
		return err
	}
	return os.RemoveAll(l.dir)
}
