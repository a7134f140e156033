package replica

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Partition is one hosted partition, led by this broker or followed
// (its role and the leader's view of its followers: hw.go; the follower's
// append path: follower.go).
type Partition struct {
	Topic   string
	TopicID [16]byte
	Index   int32
	Dir     string

	log     *log.Log
	cfg     atomic.Pointer[config.Topic]
	compact atomic.Pointer[compaction] // cleaner.go

	// appendMu serializes appends to the log together with the producer
	// state checks and updates (producer_append.go), so state is applied
	// in log order. psMu guards ps for readers (LSO, aborted list).
	appendMu sync.Mutex
	psMu     sync.Mutex
	ps       *producerState
	lg       *slog.Logger
	epochs   *epochCache // leader-epoch-checkpoint (epochcache.go)

	mu           sync.Mutex
	hw           int64
	leaderEpoch  int32
	waiters      map[chan struct{}]struct{} // signalled when the HW moves
	subsMu       sync.Mutex                 // serializes changes to subs
	subs         atomic.Pointer[[]HWSubscriber]
	unflushed    int64
	role         role                       // from the image (hw.go)
	isr          *ISR                       // leader only: the ISR decisions and follower fetches (isr.go)
	brokerEpochs map[int32]int64            // leader only: each follower's broker epoch from its fetches
	isrGen       uint64                     // the AlterPartition in flight (isr_wiring.go)
	ctl          *isrControl                // the Manager's ISR wiring; nil in unit tests
	leoWaiters   map[chan struct{}]struct{} // replica fetches: signalled on append
	// clock is the time of the leader's ISR decisions (setRole, the HW's
	// caught-up check, an AlterPartition answer); nil: the wall clock.
	// Tests set it so lag times are deterministic.
	clock func() time.Time

	ld      atomic.Pointer[LogDir]         // the directory's health (logdir.go), found on first use
	stale   atomic.Bool                    // a heal ended before the producer state was rebuilt
	corrupt atomic.Pointer[[]log.BadBatch] // damage the scrubber found (scrub.go); nil: none
}

// Log exposes the underlying log to admin paths (ListOffsets, DescribeLogDirs).
func (p *Partition) Log() *log.Log { return p.log }

// Config returns the effective topic config.
func (p *Partition) Config() *config.Topic { return p.cfg.Load() }

// Durable reports whether acks wait for fsync (flush.messages == 1).
func (p *Partition) Durable() bool { return p.cfg.Load().FlushMessages <= 1 }

// LeaderEpoch is the current leader epoch.
func (p *Partition) LeaderEpoch() int32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch
}

// followImage takes the partition's leader epoch from the image; when
// this broker leads, the epoch starts at the log end in the epoch cache at
// once (Kafka's leader does this when it becomes leader), so
// OffsetForLeaderEpoch knows it before the first batch of the epoch.
//
// All of it happens under appendMu, so an append sees the old term or the
// new one whole (appendLocked's invariant).
func (p *Partition) followImage(pi metadata.PartitionImage, self int32) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	p.setLeaderEpoch(pi.LeaderEpoch)
	p.setRole(pi, self)
	if pi.Leader != self {
		return
	}
	if err := p.epochs.Assign(pi.LeaderEpoch, p.log.EndOffset()); err != nil {
		p.logger().Error("write leader-epoch-checkpoint", "err", err)
	}
}

// leaderTerm is the current leader epoch and whether this broker leads
// in it. A partition no image has reached yet (role unset, as in the
// package's own tests) counts as led.
func (p *Partition) leaderTerm() (int32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.leaderEpoch, p.role.leader == p.role.self
}

// setLeaderEpoch follows the image's leader epoch for the partition (it
// grows each time leadership changes, fencing included); batches appended
// from then on carry it, and client requests are checked against it.
func (p *Partition) setLeaderEpoch(epoch int32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.leaderEpoch = epoch
}

// now is the partition's clock (see clock).
func (p *Partition) now() time.Time {
	if p.clock != nil {
		return p.clock()
	}
	return time.Now()
}

// HighWatermark is the offset below which records are visible to consumers.
func (p *Partition) HighWatermark() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hw
}

// LogStartOffset is the first offset still readable.
func (p *Partition) LogStartOffset() int64 { return p.log.StartOffset() }

// Append writes validated batches (records is their total record count)
// without producer-state checks (the broker's own writes); producer ids
// they carry are still recorded. In durable mode the records become
// visible only after Commit.
func (p *Partition) Append(batches []byte, records int64) (log.AppendInfo, error) {
	p.appendMu.Lock()
	defer p.appendMu.Unlock()
	return p.appendLocked(batches, records)
}

// Commit waits until every offset < upTo is durable (group commit with other
// producers of this log) and then moves the HW as far as the ISR allows
// (hw.go; with no other ISR member: to the durable offset), waking
// fetchers. In non-durable mode it returns at once. It does not wait for
// followers: acks=all does that with AwaitReplicated.
func (p *Partition) Commit(upTo int64) error {
	if !p.Durable() {
		return nil
	}
	if err := p.log.Sync(upTo); err != nil {
		return p.noteStorage(err)
	}
	p.advance(p.log.DurableOffset())
	return nil
}

// CommitThen is Commit calling done instead of blocking: at once when the
// offsets are durable already, else on the goroutine whose fsync covers
// them (log.SyncThen), so done must not block.
func (p *Partition) CommitThen(upTo int64, done func(error)) {
	if !p.Durable() {
		done(nil)
		return
	}
	p.log.SyncThen(upTo, func(err error) {
		if err != nil {
			done(p.noteStorage(err))
			return
		}
		p.advance(p.log.DurableOffset())
		done(nil)
	})
}

// Flush fsyncs everything appended so far (flush.ms and shutdown).
func (p *Partition) Flush() error {
	end := p.log.EndOffset()
	if err := p.log.Sync(end); err != nil {
		return p.noteStorage(err)
	}
	p.advance(p.log.DurableOffset())
	return nil
}

// advance moves the HW forward (never back) to the leader's own offset
// to, bounded by the other ISR members' fetch offsets (hw.go), and wakes
// waiting fetches.
func (p *Partition) advance(to int64) {
	p.mu.Lock()
	// INVARIANT: HW only grows here, never past the log end nor past an
	// ISR member's durable offset.
	to = p.hwCapLocked(to)
	if end := p.log.EndOffset(); to > end {
		to = end
	}
	if to <= p.hw {
		p.mu.Unlock()
		return
	}
	p.hw = to
	ws := p.waiters
	p.waiters = nil
	p.mu.Unlock()
	p.wake(ws)
}

// Watch registers ch (buffered, size 1) to be signalled at the next HW move.
func (p *Partition) Watch(ch chan struct{}) {
	p.mu.Lock()
	if p.waiters == nil {
		p.waiters = map[chan struct{}]struct{}{}
	}
	p.waiters[ch] = struct{}{}
	p.mu.Unlock()
}

// Unwatch removes ch.
func (p *Partition) Unwatch(ch chan struct{}) {
	p.mu.Lock()
	delete(p.waiters, ch)
	p.mu.Unlock()
}

// HWSubscriber is told of every change a parked fetch would be woken for
// (the HW moving, either way, or the partition's role changing) until it
// unsubscribes. A consumer's fetch session subscribes to each of its
// partitions once, where a one-shot Watch would be registered and removed
// on every partition for every fetch.
type HWSubscriber interface {
	// HWMoved must not block: it runs on the path that moved the HW.
	HWMoved()
}

// Subscribe adds s (once per s).
func (p *Partition) Subscribe(s HWSubscriber) {
	p.subsMu.Lock()
	defer p.subsMu.Unlock()
	var next []HWSubscriber
	if cur := p.subs.Load(); cur != nil {
		if slices.Contains(*cur, s) {
			return
		}
		next = slices.Clone(*cur)
	}
	next = append(next, s)
	p.subs.Store(&next)
}

// Unsubscribe removes s.
func (p *Partition) Unsubscribe(s HWSubscriber) {
	p.subsMu.Lock()
	defer p.subsMu.Unlock()
	cur := p.subs.Load()
	if cur == nil {
		return
	}
	i := slices.Index(*cur, s)
	if i < 0 {
		return
	}
	next := slices.Delete(slices.Clone(*cur), i, i+1)
	if len(next) == 0 {
		p.subs.Store(nil)
		return
	}
	p.subs.Store(&next)
}

// wake signals every channel of ws (each buffered, size 1) and tells
// every subscriber.
func (p *Partition) wake(ws map[chan struct{}]struct{}) {
	for ch := range ws {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	if subs := p.subs.Load(); subs != nil {
		for _, s := range *subs {
			s.HWMoved()
		}
	}
}

// Read returns whole batches from offset, bounded by the HW. While the
// log directory is offline it returns ErrOffline; at damage the scrubber
// found, ErrCorrupt (readLimit).
func (p *Partition) Read(offset int64, maxBytes int) (*log.ReadResult, error) {
	limit, err := p.readLimit(offset, p.HighWatermark())
	if err != nil {
		return nil, err
	}
	return p.log.Read(offset, maxBytes, limit)
}

func (p *Partition) setConfig(c config.Topic) {
	p.cfg.Store(&c)
	p.log.SetConfig(logConfig(c))
}

// logConfig maps topic configs onto the log. A compact-only topic never
// deletes by time or size (Kafka's cleanup.policy=compact): the cleaner
// (cleaner.go) keeps it small; compact,delete gets both.
func logConfig(c config.Topic) log.Config {
	if !strings.Contains(c.CleanupPolicy, "delete") {
		c.RetentionMs, c.RetentionBytes = -1, -1
	}
	return log.Config{
		SegmentBytes:       c.SegmentBytes,
		SegmentMs:          c.SegmentMs,
		RetentionMs:        c.RetentionMs,
		RetentionBytes:     c.RetentionBytes,
		IndexIntervalBytes: int(c.IndexIntervalBytes),
	}
}
