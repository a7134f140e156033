package replica

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/sluice-io/sluice/internal/fsutil"
	"github.com/sluice-io/sluice/internal/record"
)

// The leader epoch cache (Kafka's LeaderEpochFileCache): for each leader
// epoch of the partition, the first offset written in it. It answers
// OffsetForLeaderEpoch and, in a cluster, tells a follower where its log
// diverges from a new leader's: the end of epoch e is the start of the
// next epoch (or the log end for the latest).
//
// It is kept in the partition directory as leader-epoch-checkpoint, in
// Kafka's format: a version line (0), a count line, then one
// "<epoch> <startOffset>" line per entry; replaced atomically on every
// change (fsutil.WriteFileAtomic). A missing or unreadable file is rebuilt
// from the epochs stamped in the log's batches.
//
// INVARIANT: entries are strictly increasing in epoch and non-decreasing
// in start offset, and every start offset is below the log end when the
// entry is written.

// EpochCheckpointFile is the cache's file in a partition directory.
const EpochCheckpointFile = "leader-epoch-checkpoint"

// EpochEntry is one leader epoch and the first offset written in it.
type EpochEntry struct {
	Epoch       int32
	StartOffset int64
}

type epochCache struct {
	dir     string
	mu      sync.Mutex
	entries []EpochEntry
}

// loadEpochCache reads dir's checkpoint; ok is false when there is none or
// it cannot be read (the caller rebuilds it from the log).
func loadEpochCache(dir string) (c *epochCache, ok bool) {
	c = &epochCache{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, EpochCheckpointFile))
	if err != nil {
		return c, false
	}
	entries, err := parseEpochCheckpoint(b)
	if err != nil {
		return c, false
	}
	c.entries = entries
	return c, true
}

func parseEpochCheckpoint(b []byte) ([]EpochEntry, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	line := func() (string, bool) {
		if !sc.Scan() {
			return "", false
		}
		return strings.TrimSpace(sc.Text()), true
	}
	if v, ok := line(); !ok || v != "0" {
		return nil, fmt.Errorf("leader-epoch-checkpoint: version %q", v)
	}
	n, ok := line()
	count, err := strconv.Atoi(n)
	if !ok || err != nil || count < 0 {
		return nil, fmt.Errorf("leader-epoch-checkpoint: count %q", n)
	}
	out := make([]EpochEntry, 0, count)
	for range count {
		l, ok := line()
		if !ok {
			return nil, errors.New("leader-epoch-checkpoint: fewer entries than its count")
		}
		f := strings.Fields(l)
		if len(f) != 2 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: line %q", l)
		}
		e, err1 := strconv.ParseInt(f[0], 10, 32)
		o, err2 := strconv.ParseInt(f[1], 10, 64)
		if err1 != nil || err2 != nil || e < 0 || o < 0 {
			return nil, fmt.Errorf("leader-epoch-checkpoint: line %q", l)
		}
		if k := len(out); k > 0 && (int32(e) <= out[k-1].Epoch || o < out[k-1].StartOffset) {
			return nil, fmt.Errorf("leader-epoch-checkpoint: entry %q out of order", l)
		}
		out = append(out, EpochEntry{Epoch: int32(e), StartOffset: o})
	}
	return out, nil
}

func (c *epochCache) encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "0\n%d\n", len(c.entries))
	for _, e := range c.entries {
		fmt.Fprintf(&b, "%d %d\n", e.Epoch, e.StartOffset)
	}
	return b.Bytes()
}

// flushLocked writes the cache. When that fails the old file is removed
// (best effort): left in place it could describe epochs a truncation
// dropped, and a missing file is rebuilt from the log at the next open.
func (c *epochCache) flushLocked() error {
	err := fsutil.WriteFileAtomic(c.dir, EpochCheckpointFile, c.encode())
	if err != nil {
		_ = os.Remove(filepath.Join(c.dir, EpochCheckpointFile))
	}
	return err
}

// Entries returns a copy of the cache.
func (c *epochCache) Entries() []EpochEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]EpochEntry(nil), c.entries...)
}

// Latest is the newest epoch, -1 when the cache is empty.
func (c *epochCache) Latest() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) == 0 {
		return -1
	}
	return c.entries[len(c.entries)-1].Epoch
}

// Assign records that epoch starts at offset (Kafka's
// LeaderEpochFileCache.assign). Later batches of the latest epoch change
// nothing. Otherwise every entry that conflicts with the new one goes
// first, newest first while they conflict: one of an epoch not older
// (a follower that took the lead at a newer epoch and wrote nothing, or
// wrote what its new leader never had, is now given the leader's history)
// or starting at or after offset (a log that was truncated away).
//
// INVARIANT: epochs and start offsets both strictly increase along the
// cache.
func (c *epochCache) Assign(epoch int32, offset int64) error {
	if epoch < 0 {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := len(c.entries); k > 0 && epoch == c.entries[k-1].Epoch && offset >= c.entries[k-1].StartOffset {
		return nil
	}
	for k := len(c.entries); k > 0 && (c.entries[k-1].Epoch >= epoch || c.entries[k-1].StartOffset >= offset); k = len(c.entries) {
		c.entries = c.entries[:k-1]
	}
	c.entries = append(c.entries, EpochEntry{Epoch: epoch, StartOffset: offset})
	return c.flushLocked()
}

// EndOffsetFor is OffsetForLeaderEpoch's answer for epoch with the log
// ending at logEnd: the largest epoch <= epoch the cache knows and the end
// offset of epoch (the start of the next newer epoch, or logEnd for the
// latest). (-1, -1) when epoch is newer than any known, or the cache is
// empty; an epoch older than the first known answers (epoch, first start).
func (c *epochCache) EndOffsetFor(epoch int32, logEnd int64) (int32, int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := len(c.entries)
	if k == 0 || epoch < 0 {
		return -1, -1
	}
	if epoch == c.entries[k-1].Epoch {
		return epoch, logEnd
	}
	// higher: the first entry newer than epoch.
	higher := -1
	for i, e := range c.entries {
		if e.Epoch > epoch {
			higher = i
			break
		}
	}
	switch {
	case higher < 0:
		return -1, -1 // newer than anything known
	case higher == 0:
		return epoch, c.entries[0].StartOffset
	}
	return c.entries[higher-1].Epoch, c.entries[higher].StartOffset
}

// TruncateFromEnd drops the entries that start at or after end (the log
// was truncated to end).
func (c *epochCache) TruncateFromEnd(end int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := len(c.entries)
	for k > 0 && c.entries[k-1].StartOffset >= end {
		k--
	}
	if k == len(c.entries) {
		return nil
	}
	c.entries = c.entries[:k]
	return c.flushLocked()
}

// TruncateFromStart forgets what lies before start (the log start moved
// there): entries wholly before it go, and the one covering it now starts
// at start.
func (c *epochCache) TruncateFromStart(start int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i := 0
	for i+1 < len(c.entries) && c.entries[i+1].StartOffset <= start {
		i++
	}
	if len(c.entries) == 0 || (i == 0 && c.entries[0].StartOffset >= start) {
		return nil
	}
	c.entries = c.entries[i:]
	c.entries[0].StartOffset = start
	return c.flushLocked()
}

// Reset replaces the cache (a rebuild from the log).
func (c *epochCache) Reset(entries []EpochEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.entries = append([]EpochEntry(nil), entries...)
	return c.flushLocked()
}

// openEpochs loads the partition's epoch cache, or rebuilds it from the
// epochs stamped in the log's batch headers when it has no readable
// checkpoint (a log written before the cache existed, or a lost file),
// and trims it to the log's current bounds (a torn tail recovery removed
// may have held the start of an epoch).
func (p *Partition) openEpochs() error {
	c, ok := loadEpochCache(p.Dir)
	p.epochs = c
	if !ok {
		entries, err := p.scanEpochs()
		if err != nil {
			return err
		}
		if err := c.Reset(entries); err != nil {
			return err
		}
	}
	if err := c.TruncateFromEnd(p.log.EndOffset()); err != nil {
		return err
	}
	return c.TruncateFromStart(p.log.StartOffset())
}

// scanEpochs lists where each leader epoch starts in the log, reading
// only batch headers.
func (p *Partition) scanEpochs() ([]EpochEntry, error) {
	var out []EpochEntry
	from, leo := p.log.StartOffset(), p.log.EndOffset()
	for from < leo {
		rr, err := p.log.Read(from, 64<<20, leo)
		if err != nil {
			return nil, err
		}
		next := from
		err = scanHeaders(rr, func(h record.Header, _ []byte) {
			if e := h.PartitionLeaderEpoch; e >= 0 && (len(out) == 0 || e > out[len(out)-1].Epoch) {
				out = append(out, EpochEntry{Epoch: e, StartOffset: h.BaseOffset})
			}
			next = h.LastOffset() + 1
		})
		empty := rr.Size == 0
		rr.Release()
		if err != nil {
			return nil, err
		}
		if empty || next <= from {
			break // a gap without batches ends what can be read
		}
		from = next
	}
	return out, nil
}

// EpochEntries is the partition's leader epoch cache (tests, tools).
func (p *Partition) EpochEntries() []EpochEntry { return p.epochs.Entries() }

// EndOffsetForEpoch answers OffsetForLeaderEpoch from the cache: the
// largest known epoch <= epoch and where it ends (the log end for the
// latest epoch); (-1, -1) for an epoch newer than any known.
func (p *Partition) EndOffsetForEpoch(epoch int32) (int32, int64) {
	return p.epochs.EndOffsetFor(epoch, p.log.EndOffset())
}
