package log

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// File name suffixes of one segment; the stem is the base offset, %020d.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"
)

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a "%020d<suffix>" name.
func parseSegmentName(name, suffix string) (int64, bool) {
	stem, ok := strings.CutSuffix(name, suffix)
	if !ok || len(stem) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(stem, 10, 64)
	if err != nil || base < 0 {
		return 0, false
	}
	return base, true
}

// batchInfo is what the log needs from one batch header.
type batchInfo struct {
	last  int64 // offset of the last record
	maxTs int64 // batch maxTimestamp
	size  int64 // bytes on disk
}

// segMeta is the state derived from a segment's batches. It is a value so
// Append can compute the next state aside and publish it in one assignment.
type segMeta struct {
	size           int64 // bytes of whole, valid batches (the file is never longer once recovered)
	next           int64 // offset after the last batch (== base when empty)
	maxTs          int64 // largest batch maxTimestamp, -1 when no batch has one (>= 0)
	maxTsBatch     int64 // base offset of the first batch carrying maxTs, -1 when none
	rollTs         int64 // maxTimestamp of the first batch (time-based roll), -1 when none
	lastIndexedPos int64 // position of the last offset index entry, 0 when none
	lastTimeTs     int64 // timestamp of the last time index entry, MinInt64 when none
}

func emptyMeta(base int64) segMeta {
	return segMeta{next: base, maxTs: -1, maxTsBatch: -1, rollTs: -1, lastTimeTs: math.MinInt64}
}

// track folds the batch with base offset base at position pos into m and
// returns oi and ti with the index entries it calls for appended. The batch
// must start at m.size and have base == m.next; callers check that.
//
// An entry is due once IndexIntervalBytes have been appended since the last
// one (the batch at position 0 is implicitly indexed). The time index entry
// written with it covers every batch up to and including this one.
func (m *segMeta) track(segBase, base int64, b batchInfo, interval int, oi, ti []byte) ([]byte, []byte) {
	pos := m.size
	if pos == 0 {
		m.rollTs = b.maxTs
	}
	if b.maxTs > m.maxTs {
		m.maxTs, m.maxTsBatch = b.maxTs, base
	}
	if pos-m.lastIndexedPos >= int64(interval) {
		oi = appendOffsetEntry(oi, uint32(base-segBase), uint32(pos))
		m.lastIndexedPos = pos
		if m.maxTsBatch >= 0 && m.maxTs > m.lastTimeTs {
			ti = appendTimeEntry(ti, m.maxTs, uint32(m.maxTsBatch-segBase))
			m.lastTimeTs = m.maxTs
		}
	}
	m.size = pos + b.size
	m.next = b.last + 1
	return oi, ti
}

// segment is one "%020d.log" file and its two indexes.
//
// Files stay open while refs > 0: the Log holds one reference for as long as
// the segment is in its list, and every ReadResult (and a running fsync)
// holds one more, so a segment deleted by retention or truncation stays
// readable (unlinked, still open) until the last reader releases it.
type segment struct {
	base int64
	dir  string
	log  *os.File
	idx  offsetIndex
	tidx timeIndex

	// Written holding both Log.appendMu and Log.mu; read holding either.
	// idx.buf and tidx.buf follow the same rule.
	meta        segMeta
	created     int64 // ms: creation (or load) time, for time-based roll without timestamps
	lastWriteMs int64 // ms: last append (file mtime at load), for retention without timestamps

	refs atomic.Int32
}

// openSegment opens (creating if needed) the three files of a segment. With
// truncate the files are emptied (a fresh segment replacing leftovers).
func openSegment(dir string, base int64, truncate bool, nowMs int64) (*segment, error) {
	flag := os.O_RDWR | os.O_CREATE
	if truncate {
		flag |= os.O_TRUNC
	}
	s := &segment{base: base, dir: dir, meta: emptyMeta(base), created: nowMs, lastWriteMs: nowMs}
	s.idx.entSize, s.tidx.entSize = offsetEntrySize, timeEntrySize
	var err error
	if s.log, err = os.OpenFile(segmentPath(dir, base, logSuffix), flag, 0o644); err != nil {
		return nil, err
	}
	if s.idx.f, err = os.OpenFile(segmentPath(dir, base, indexSuffix), flag, 0o644); err != nil {
		s.log.Close()
		return nil, err
	}
	if s.tidx.f, err = os.OpenFile(segmentPath(dir, base, timeIndexSuffix), flag, 0o644); err != nil {
		s.log.Close()
		s.idx.f.Close()
		return nil, err
	}
	s.refs.Store(1)
	return s, nil
}

func (s *segment) acquire() { s.refs.Add(1) }

// release drops one reference and closes the files with the last one.
func (s *segment) release() {
	if n := s.refs.Add(-1); n == 0 {
		_ = s.closeFiles()
	} else if n < 0 {
		panic("log: segment released more often than acquired")
	}
}

func (s *segment) closeFiles() error {
	return errors.Join(s.log.Close(), s.idx.f.Close(), s.tidx.f.Close())
}

// removeFiles unlinks the segment's files, the log first: a crash in between
// leaves orphan indexes, which Open deletes.
func (s *segment) removeFiles() error {
	var errs []error
	for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
		if err := os.Remove(segmentPath(s.dir, s.base, suf)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// syncAll fsyncs the log and both indexes.
func (s *segment) syncAll() error {
	if err := syncFile(s.log); err != nil {
		return err
	}
	if err := syncFile(s.idx.f); err != nil {
		return err
	}
	return syncFile(s.tidx.f)
}

// addSealEntry adds the final time index entry of a sealed segment, which
// covers the whole segment, so that a sealed segment's largest timestamp is
// its last time index entry (checked by recovery). Caller holds appendMu and
// mu (or is Open).
func (s *segment) addSealEntry() {
	if m := &s.meta; m.maxTsBatch >= 0 && m.maxTs > m.lastTimeTs {
		s.tidx.buf = appendTimeEntry(s.tidx.buf, m.maxTs, uint32(m.maxTsBatch-s.base))
		m.lastTimeTs = m.maxTs
	}
}

// largestTimestamp is what time-based retention compares: the largest
// batch timestamp, or the last write time when batches carry none.
func (s *segment) largestTimestamp() int64 {
	if s.meta.maxTs >= 0 {
		return s.meta.maxTs
	}
	return s.lastWriteMs
}

// rollDue reports whether segment.ms has passed for a non-empty segment.
// Like Kafka, the age is measured in message time when the first batch has a
// timestamp (msgTs is the incoming batches' max timestamp, or now for the
// periodic check), so replaying old data does not roll on every append, and
// in wall-clock time since creation otherwise.
func (s *segment) rollDue(msgTs, nowMs, segmentMs int64) bool {
	if s.meta.size == 0 {
		return false
	}
	if s.meta.rollTs >= 0 {
		return msgTs-s.meta.rollTs > segmentMs
	}
	return nowMs-s.created > segmentMs
}
