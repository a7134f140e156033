package log

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

// A cleaned segment reaches the log in three steps, each crash-safe (see
// doc.go, "Compaction files"):
//
//  1. its three files are written as <base><suffix>.cleaned and fsynced;
//     a crash leaves .cleaned files, which Open deletes: the old segments
//     are untouched.
//  2. they are renamed to .swap, the .log last, and the directory fsynced:
//     "<base>.log.swap" exists is the commit point. Open completes a
//     committed swap: it deletes the old segments the new one overlaps and
//     strips the suffix; index .swap files without a .log.swap are deleted.
//  3. the old segments' files are deleted (the first one's are replaced by
//     the renames), the suffix is stripped, the directory is fsynced.
const (
	cleanedSuffix = ".cleaned"
	swapSuffix    = ".swap"
)

var segmentSuffixes = []string{logSuffix, indexSuffix, timeIndexSuffix}

// cleanedSegment is a new segment being written by the cleaner.
type cleanedSegment struct {
	dir         string
	base        int64
	log         *os.File
	idxF, tidxF *os.File
	meta        segMeta
	idx, tidx   []byte // index contents, built while writing
	lastWriteMs int64
}

func createCleaned(dir string, base int64) (*cleanedSegment, error) {
	c := &cleanedSegment{dir: dir, base: base, meta: emptyMeta(base)}
	files := []**os.File{&c.log, &c.idxF, &c.tidxF}
	for i, suf := range segmentSuffixes {
		f, err := os.OpenFile(segmentPath(dir, base, suf+cleanedSuffix), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			c.discard()
			return nil, err
		}
		*files[i] = f
	}
	return c, nil
}

// finish writes the indexes (with the seal entry: the segment is sealed),
// fsyncs the three files and gives the log file the group's last write
// time, which retention of timestamp-less data goes by.
func (c *cleanedSegment) finish() error {
	if m := &c.meta; m.maxTsBatch >= 0 && m.maxTs > m.lastTimeTs {
		c.tidx = appendTimeEntry(c.tidx, m.maxTs, uint32(m.maxTsBatch-c.base))
		m.lastTimeTs = m.maxTs
	}
	if _, err := c.idxF.WriteAt(c.idx, 0); err != nil {
		return err
	}
	if _, err := c.tidxF.WriteAt(c.tidx, 0); err != nil {
		return err
	}
	for _, f := range []*os.File{c.log, c.idxF, c.tidxF} {
		if err := syncFile(f); err != nil {
			return err
		}
	}
	if c.lastWriteMs > 0 {
		t := time.UnixMilli(c.lastWriteMs)
		_ = os.Chtimes(c.log.Name(), t, t)
	}
	return nil
}

func (c *cleanedSegment) close() {
	for _, f := range []*os.File{c.log, c.idxF, c.tidxF} {
		if f != nil {
			_ = f.Close()
		}
	}
}

// discard drops the cleaned files before they were committed.
func (c *cleanedSegment) discard() {
	c.close()
	for _, suf := range segmentSuffixes {
		_ = os.Remove(segmentPath(c.dir, c.base, suf+cleanedSuffix))
		_ = os.Remove(segmentPath(c.dir, c.base, suf+swapSuffix))
	}
}

// swapIn replaces group g, still in the log's list, by c. It holds
// appendMu (so no append, roll, retention or truncation runs meanwhile)
// for the renames, deletions and two directory fsyncs only. Readers
// holding the old segments keep reading their unlinked files.
func (l *Log) swapIn(g []*segment, c *cleanedSegment) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		c.discard()
		return err
	}
	i := slices.Index(l.segs, g[0])
	if i < 0 || i+len(g) >= len(l.segs) || !slices.Equal(l.segs[i:i+len(g)], g) {
		c.discard()
		return errCleanRaced
	}
	c.close()
	// Step 2: the .log rename is the commit point.
	for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		if err := os.Rename(segmentPath(l.dir, c.base, suf+cleanedSuffix), segmentPath(l.dir, c.base, suf+swapSuffix)); err != nil {
			c.discard()
			return err
		}
	}
	if err := syncDir(l.dir); err != nil {
		return l.fail(fmt.Errorf("commit cleaned segment %d: %w", c.base, err))
	}
	// Step 3.
	for _, s := range g[1:] {
		if err := s.removeFiles(); err != nil {
			return l.fail(fmt.Errorf("remove cleaned-over segment %d: %w", s.base, err))
		}
	}
	if err := stripSwap(l.dir, c.base); err != nil {
		return l.fail(err)
	}
	if err := syncDir(l.dir); err != nil {
		return l.fail(err)
	}
	ns, err := openSegment(l.dir, c.base, false, l.now().UnixMilli())
	if err != nil {
		return l.fail(err)
	}
	ns.meta = c.meta
	ns.idx.buf, ns.idx.written = c.idx, len(c.idx)
	ns.tidx.buf, ns.tidx.written = c.tidx, len(c.tidx)
	ns.created = g[0].created
	ns.lastWriteMs = c.lastWriteMs
	segs := make([]*segment, 0, len(l.segs)-len(g)+1)
	segs = append(append(append(segs, l.segs[:i]...), ns), l.segs[i+len(g):]...)
	l.mu.Lock()
	l.segs = segs
	l.mu.Unlock()
	for _, s := range g {
		s.release() // the list's reference; readers hold their own
	}
	return nil
}

// stripSwap renames base's .swap files to their final names, the .log
// last; an index without a .swap file is removed so Open rebuilds it.
func stripSwap(dir string, base int64) error {
	for _, suf := range []string{indexSuffix, timeIndexSuffix, logSuffix} {
		final := segmentPath(dir, base, suf)
		err := os.Rename(final+swapSuffix, final)
		if errors.Is(err, os.ErrNotExist) && suf != logSuffix {
			err = os.Remove(final)
			if errors.Is(err, os.ErrNotExist) {
				err = nil
			}
		}
		if err != nil {
			return fmt.Errorf("swap in cleaned segment %d: %w", base, err)
		}
	}
	return nil
}

// recoverCleanerFiles finishes or undoes what a crash interrupted (see the
// steps above), before the segments are loaded.
func (l *Log) recoverCleanerFiles() error {
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var swaps []int64
	var logs []int64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, cleanedSuffix) {
			l.logger.Warn("removing uncommitted cleaned file", "dir", l.dir, "file", name)
			if err := os.Remove(l.path(name)); err != nil {
				return err
			}
			continue
		}
		if base, ok := parseSegmentName(strings.TrimSuffix(name, swapSuffix), logSuffix); ok && strings.HasSuffix(name, swapSuffix) {
			swaps = append(swaps, base)
		}
		if base, ok := parseSegmentName(name, logSuffix); ok {
			logs = append(logs, base)
		}
	}
	for _, e := range entries {
		name := e.Name()
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if base, ok := parseSegmentName(strings.TrimSuffix(name, swapSuffix), suf); ok &&
				strings.HasSuffix(name, swapSuffix) && !slices.Contains(swaps, base) {
				l.logger.Warn("removing uncommitted swap index", "dir", l.dir, "file", name)
				if err := os.Remove(l.path(name)); err != nil {
					return err
				}
			}
		}
	}
	slices.Sort(swaps)
	slices.Sort(logs)
	for _, base := range swaps {
		if err := l.completeSwap(base, logs); err != nil {
			return err
		}
	}
	if len(swaps) > 0 {
		return syncDir(l.dir)
	}
	return nil
}

// completeSwap finishes a committed swap of the segment at base: the old
// segments whose offsets the new one overlaps go (an old segment wholly
// above the new one's last batch holds only records this pass removed;
// keeping it only leaves them uncleaned), then the suffix is stripped.
func (l *Log) completeSwap(base int64, logs []int64) error {
	f, err := os.Open(segmentPath(l.dir, base, logSuffix+swapSuffix))
	if err != nil {
		return err
	}
	s := &segment{base: base, dir: l.dir, log: f, meta: emptyMeta(base)}
	s.idx.entSize, s.tidx.entSize = offsetEntrySize, timeEntrySize
	size, err := s.fileSize()
	if err == nil {
		_, err = s.scan(size, true, l.cfg.IndexIntervalBytes, true)
	}
	f.Close()
	if err != nil {
		return err
	}
	next := s.meta.next
	l.logger.Warn("completing interrupted segment swap", "dir", l.dir, "base", base, "next", next)
	for _, b := range logs {
		if b > base && b < next {
			old := &segment{base: b, dir: l.dir}
			if err := old.removeFiles(); err != nil {
				return err
			}
		}
	}
	return stripSwap(l.dir, base)
}
