package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"
)

// AbortedTxn is an aborted transaction as the caller's transaction index
// knows it: its producer, first offset and abort marker offset.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// CleanOptions is what a cleaning pass needs that the log does not know:
// the partition's stability limit, the compaction configs (Kafka's names)
// and the clock.
type CleanOptions struct {
	Now time.Time
	// Limit is the partition's last stable offset (<= its high watermark).
	// INVARIANT: nothing at or above it is cleaned, so records of open
	// transactions and records consumers cannot see yet are never touched.
	Limit              int64
	MinCleanableRatio  float64 // min.cleanable.dirty.ratio
	MinCompactionLagMs int64   // min.compaction.lag.ms
	MaxCompactionLagMs int64   // max.compaction.lag.ms (<= 0: none)
	DeleteRetentionMs  int64   // delete.retention.ms
	MapBytes           int64   // the share of log.cleaner.dedupe.buffer.size (<= 0: unbounded)
	IOBufferBytes      int     // log.cleaner.io.buffer.size
	// Aborted lists the aborted transactions that may have records below
	// Limit; their records are removed.
	Aborted []AbortedTxn
}

func (o *CleanOptions) ioBuffer() int {
	if o.IOBufferBytes <= 0 {
		return 512 << 10
	}
	return o.IOBufferBytes
}

// CleanInfo is how dirty a log is: the range [FirstDirty, End) was written
// since the last pass and may be cleaned now.
type CleanInfo struct {
	FirstDirty, End        int64
	CleanBytes, DirtyBytes int64
	Ratio                  float64 // DirtyBytes / (CleanBytes + DirtyBytes)
	// Due: max.compaction.lag.ms passed for dirty data, or a delete horizon
	// of a kept tombstone passed, so the log is cleaned whatever its ratio.
	Due bool
	// Eligible: a pass would do something the configs ask for.
	Eligible bool
}

// CleanResult describes one pass.
type CleanResult struct {
	Cleaned        bool
	SegmentsBefore int // segments rewritten
	SegmentsAfter  int
	BytesBefore    int64
	BytesAfter     int64
	RecordsRemoved int64
	FirstDirty     int64 // the checkpoint after the pass
}

// errCleanRaced: retention, truncation or close changed the segments being
// cleaned; the pass stops and a later one starts over.
var errCleanRaced = errors.New("log: segments changed during cleaning")

// CleanInfo reports the log's dirtiness under o. It reads the cleaner
// checkpoint file, so it is meant for the cleaner, not request paths.
func (l *Log) CleanInfo(o CleanOptions) (CleanInfo, error) {
	ck, err := readCleanCheckpoint(l.dir)
	if err != nil {
		l.logger.Warn("ignoring unreadable cleaner checkpoint", "dir", l.dir, "err", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return CleanInfo{}, ErrClosed
	}
	return l.cleanInfoLocked(&o, ck), nil
}

// cleanInfoLocked computes the dirty range: from the checkpoint (or the
// log start) to the first uncleanable offset, which is the smallest of the
// caller's Limit, the active segment's base (never cleaned) and the base of
// the first dirty segment younger than min.compaction.lag.ms. Caller holds
// mu.
func (l *Log) cleanInfoLocked(o *CleanOptions, ck cleanCheckpoint) CleanInfo {
	nowMs := o.Now.UnixMilli()
	first := max(ck.firstDirty, l.start)
	end := min(o.Limit, l.active().base)
	sealed := l.segs[:len(l.segs)-1]
	if o.MinCompactionLagMs > 0 {
		for _, s := range sealed {
			if s.meta.next > first && s.largestTimestamp() > nowMs-o.MinCompactionLagMs {
				end = min(end, s.base)
				break
			}
		}
	}
	info := CleanInfo{FirstDirty: first, End: end}
	var firstDirtySeg *segment
	for _, s := range sealed {
		if s.base >= end {
			break
		}
		if s.meta.next > first && first < end {
			info.DirtyBytes += s.meta.size
			if firstDirtySeg == nil {
				firstDirtySeg = s
			}
		} else {
			info.CleanBytes += s.meta.size
		}
	}
	if total := info.CleanBytes + info.DirtyBytes; total > 0 {
		info.Ratio = float64(info.DirtyBytes) / float64(total)
	}
	if firstDirtySeg != nil && o.MaxCompactionLagMs > 0 && o.MaxCompactionLagMs < math.MaxInt64 {
		ts := firstDirtySeg.meta.rollTs
		if ts < 0 {
			ts = firstDirtySeg.created
		}
		info.Due = ts <= nowMs-o.MaxCompactionLagMs
	}
	if ck.horizonMs >= 0 && ck.horizonMs <= nowMs && info.CleanBytes+info.DirtyBytes > 0 {
		info.Due = true
	}
	info.Eligible = (info.DirtyBytes > 0 && info.Ratio >= o.MinCleanableRatio) || info.Due
	return info
}

// Clean runs one compaction pass if the log is eligible (see CleanInfo):
// it maps each key of the dirty range to its latest offset, then rewrites
// every sealed segment below the end of that map, group by group, keeping
// a record only if it is the latest of its key (tombstones until their
// delete horizon), and swaps each group's new segment in (clean_swap.go).
// Produce and fetch wait only for the swap itself. A second pass over the
// same log while one runs returns an error.
func (l *Log) Clean(o CleanOptions) (CleanResult, error) {
	var res CleanResult
	if _, busy := cleaning.LoadOrStore(l, struct{}{}); busy {
		return res, errors.New("log: clean: a pass is already running")
	}
	defer cleaning.Delete(l)
	ck, err := readCleanCheckpoint(l.dir)
	if err != nil {
		l.logger.Warn("ignoring unreadable cleaner checkpoint", "dir", l.dir, "err", err)
	}
	l.mu.Lock()
	if err := l.usable(); err != nil {
		l.mu.Unlock()
		return res, err
	}
	info := l.cleanInfoLocked(&o, ck)
	gen := l.truncGen
	res.FirstDirty = info.FirstDirty
	if !info.Eligible {
		l.mu.Unlock()
		return res, nil
	}
	cfg := l.cfg
	var segs []*segment
	for _, s := range l.segs[:len(l.segs)-1] {
		if s.base >= info.End && s.base >= info.FirstDirty {
			break
		}
		s.acquire()
		segs = append(segs, s)
	}
	l.mu.Unlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()

	ab := newAbortedIndex(o.Aborted)
	m, mapEnd, err := buildOffsetMap(segs, info.FirstDirty, info.End, &o, ab)
	if err != nil {
		return res, fmt.Errorf("log: clean %s: offset map: %w", l.dir, err)
	}
	var todo []*segment
	for _, s := range segs {
		if s.base < mapEnd {
			todo = append(todo, s)
		}
	}
	lastOfPid, err := lastBatchOfProducers(todo, o.ioBuffer())
	if err != nil {
		return res, fmt.Errorf("log: clean %s: %w", l.dir, err)
	}
	f := &batchFilter{
		m: m, mapEnd: mapEnd, nowMs: o.Now.UnixMilli(), horizonMs: o.Now.UnixMilli() + o.DeleteRetentionMs,
		aborted: ab, lastOfPid: lastOfPid, nextHorizon: -1,
	}
	for _, g := range groupSegments(todo, cfg.SegmentBytes) {
		c, err := l.cleanGroup(g, f, cfg.IndexIntervalBytes, o.ioBuffer())
		if err != nil {
			return res, fmt.Errorf("log: clean %s: %w", l.dir, err)
		}
		before := int64(0)
		for _, s := range g {
			before += s.meta.size
		}
		if err := l.swapIn(g, c); err != nil {
			if errors.Is(err, errCleanRaced) {
				return res, nil
			}
			return res, fmt.Errorf("log: clean %s: swap: %w", l.dir, err)
		}
		res.Cleaned = true
		res.SegmentsBefore += len(g)
		res.SegmentsAfter++
		res.BytesBefore += before
		res.BytesAfter += c.meta.size
	}
	res.RecordsRemoved = f.recordsRemoved
	// The checkpoint moves only after every group is swapped in: a crash
	// before means the range is cleaned again, which changes nothing.
	res.FirstDirty = max(info.FirstDirty, mapEnd)
	if err := l.writeCleanCheckpointIf(gen, cleanCheckpoint{firstDirty: res.FirstDirty, horizonMs: f.nextHorizon}); err != nil {
		return res, fmt.Errorf("log: clean %s: checkpoint: %w", l.dir, err)
	}
	l.logger.Info("cleaned log", "dir", l.dir, "segments", res.SegmentsBefore, "into", res.SegmentsAfter,
		"bytes_before", res.BytesBefore, "bytes_after", res.BytesAfter, "records_removed", res.RecordsRemoved,
		"first_dirty", res.FirstDirty, "ratio", info.Ratio)
	return res, nil
}

// lastBatchOfProducers finds the last batch of each producer id in segs,
// which the cleaner keeps (empty if need be) so producer state survives.
func lastBatchOfProducers(segs []*segment, bufSize int) (map[int64]int64, error) {
	out := map[int64]int64{}
	for _, s := range segs {
		r := newBatchReader(s, bufSize)
		for {
			h, _, err := r.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if h.ProducerID >= 0 {
				out[h.ProducerID] = h.LastOffset()
			}
		}
	}
	return out, nil
}

// groupSegments splits segs into runs of adjacent segments whose total size
// fits one segment (segment.bytes, itself below the index's 2 GiB position
// limit) and whose offsets fit the index's 32-bit relative offsets, so a
// log of many small cleaned segments becomes fewer, fuller ones.
func groupSegments(segs []*segment, maxBytes int64) [][]*segment {
	var out [][]*segment
	for i := 0; i < len(segs); {
		j, size := i+1, segs[i].meta.size
		for j < len(segs) && size+segs[j].meta.size <= maxBytes &&
			segs[j].meta.next-1-segs[i].base <= math.MaxUint32 {
			size += segs[j].meta.size
			j++
		}
		out = append(out, segs[i:j])
		i = j
	}
	return out
}

// cleanGroup writes the kept batches of group g into new "<base>.log.cleaned"
// files (with both indexes) and fsyncs them.
func (l *Log) cleanGroup(g []*segment, f *batchFilter, interval, bufSize int) (*cleanedSegment, error) {
	c, err := createCleaned(l.dir, g[0].base)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(c.log, bufSize)
	for _, s := range g {
		c.lastWriteMs = max(c.lastWriteMs, s.lastWriteMs)
		r := newBatchReader(s, bufSize)
		for {
			h, b, err := r.next()
			if err == io.EOF {
				break
			}
			if err == nil {
				b, err = f.filter(h, b)
			}
			if err != nil {
				c.discard()
				return nil, err
			}
			if b == nil {
				continue
			}
			bi := batchInfo{last: h.LastOffset(), maxTs: int64(binary.BigEndian.Uint64(b[35:])), size: int64(len(b))}
			c.idx, c.tidx = c.meta.track(c.base, h.BaseOffset, bi, interval, c.idx, c.tidx)
			if _, err := w.Write(b); err != nil {
				c.discard()
				return nil, err
			}
		}
	}
	if err := w.Flush(); err != nil {
		c.discard()
		return nil, err
	}
	if err := c.finish(); err != nil {
		c.discard()
		return nil, err
	}
	return c, nil
}

// cleaning holds the logs with a pass running: two passes over one log
// would write the same .cleaned files.
var cleaning sync.Map // *Log -> struct{}
