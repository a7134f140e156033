package log

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/record"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// recover loads the segments of l.dir; see doc.go ("Recovery"). Only I/O
// errors fail it: bad data is truncated or rebuilt, and logged (with
// Config.StrictRecovery, damage that is not a torn tail fails it too:
// strict.go). clean
// says the log was closed cleanly, so what is on disk is already durable.
func (l *Log) recover(clean bool) error {
	if err := l.recoverCleanerFiles(); err != nil {
		return err
	}
	entries, err := os.ReadDir(l.dir)
	if err != nil {
		return err
	}
	var bases []int64
	indexFiles := map[int64][]string{}
	for _, e := range entries {
		name := e.Name()
		if base, ok := parseSegmentName(name, logSuffix); ok && e.Type().IsRegular() {
			bases = append(bases, base)
			continue
		}
		for _, suf := range []string{indexSuffix, timeIndexSuffix} {
			if base, ok := parseSegmentName(name, suf); ok {
				indexFiles[base] = append(indexFiles[base], name)
			}
		}
		if strings.HasSuffix(name, tmpSuffix) {
			l.logger.Warn("removing leftover temporary file", "dir", l.dir, "file", name)
			if err := os.Remove(l.path(name)); err != nil {
				return err
			}
		}
	}
	slices.Sort(bases)
	// Indexes without a log: a crash while deleting a segment.
	for base, names := range indexFiles {
		if _, ok := slices.BinarySearch(bases, base); ok {
			continue
		}
		for _, name := range names {
			l.logger.Warn("removing index without a segment", "dir", l.dir, "file", name)
			if err := os.Remove(l.path(name)); err != nil {
				return err
			}
		}
	}

	persisted, hasPersisted, err := readStartOffset(l.dir)
	if err != nil {
		l.logger.Warn("ignoring unreadable log start offset", "dir", l.dir, "err", err)
		hasPersisted = false
	}
	nowMs := l.now().UnixMilli()
	for i, base := range bases {
		s, err := openSegment(l.dir, base, false, nowMs)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, s)
		switch {
		case i == len(bases)-1:
			err = l.recoverActive(s)
		case l.cfg.StrictRecovery:
			err = l.verifySealed(s)
		default:
			err = l.loadSealed(s)
		}
		if err != nil {
			return err
		}
		if i > 0 {
			// Gaps are normal once a log is compacted; overlaps are not.
			if prev := l.segs[i-1]; prev.meta.next > s.base {
				if l.cfg.StrictRecovery {
					return &CorruptError{File: prev.log.Name(), Position: prev.meta.size, Offset: prev.meta.next, NextValid: -1,
						Reason: fmt.Errorf("segment ends at offset %d, past the next segment's base offset %d", prev.meta.next, s.base)}
				}
				l.logger.Warn("segments overlap", "dir", l.dir, "segment", base, "previous_end", prev.meta.next)
			}
		}
	}

	if len(l.segs) == 0 {
		s, err := openSegment(l.dir, persisted, true, nowMs)
		if err != nil {
			return err
		}
		l.segs = []*segment{s}
		l.dirDirty.Store(true)
	}
	l.leo = l.active().meta.next
	l.start = l.segs[0].base
	if hasPersisted && persisted > l.start {
		l.start = persisted
	}
	if l.start > l.leo {
		// DeleteRecords moved the start past offsets that were never
		// fsynced and are gone now. Restart empty at the start so no offset
		// below it is ever handed out again.
		l.logger.Warn("log start offset beyond the recovered end; emptying the log",
			"dir", l.dir, "start", l.start, "end", l.leo)
		if err := l.resetTo(l.start); err != nil {
			return err
		}
	}
	// Whatever recovery kept may still be only in the page cache (kill -9):
	// make it durable before reporting it so. After a clean shutdown it
	// was fsynced by Close, unless recovery itself changed files.
	if !clean || l.dirDirty.Load() {
		if err := syncFile(l.active().log); err != nil {
			return err
		}
		if err := syncDir(l.dir); err != nil {
			return err
		}
	}
	l.dirDirty.Store(false)
	l.durable.Store(l.leo)
	return nil
}

func (l *Log) path(name string) string { return l.dir + string(os.PathSeparator) + name }

// recoverActive validates the last segment batch by batch from its start
// and rebuilds its indexes from what it finds (writing them only if they
// differ from the files).
func (l *Log) recoverActive(s *segment) error {
	if err := errors.Join(s.idx.load(), s.tidx.load()); err != nil {
		return err
	}
	return l.rebuild(s, "")
}

// verifySealed is loadSealed for strict recovery: the sealed segment is
// scanned in full, CRCs included, and its indexes rebuilt from the scan.
// Damage in it fails Open: roll fsynced the segment whole before the next
// one existed, so no crash can leave a torn tail there.
func (l *Log) verifySealed(s *segment) error {
	if err := errors.Join(s.idx.load(), s.tidx.load()); err != nil {
		return err
	}
	return l.rebuild(s, strictSealed)
}

// strictSealed is rebuild's reason for a sealed segment that strict
// recovery verifies: routine, so not worth a warning.
const strictSealed = "strict recovery verifies every segment"

// loadSealed trusts a sealed segment's batches when its indexes pass their
// checks: whole, monotonic entries inside the file, the last offset entry
// pointing at a batch with that offset, the batches after it reaching the
// end of the file, and the time index ending with the segment's largest
// timestamp. Otherwise the segment is recovered like the active one.
func (l *Log) loadSealed(s *segment) error {
	if err := errors.Join(s.idx.load(), s.tidx.load()); err != nil {
		return err
	}
	fileSize, err := s.fileSize()
	if err != nil {
		return err
	}
	sealTs := s.tidx.lastTs()
	problem := s.idx.validate(fileSize)
	if problem == nil {
		problem, err = s.reloadTail(fileSize, l.cfg.IndexIntervalBytes)
		if err != nil {
			return err
		}
	}
	if problem == nil {
		problem = s.tidx.validate(s.meta.next - s.base)
	}
	if problem == nil && s.meta.maxTsBatch >= 0 && s.meta.maxTs != sealTs {
		// Rolling writes a final entry holding the segment's largest
		// timestamp; without it the index was cut short.
		problem = errors.New("time index lacks the final entry of a sealed segment")
	}
	if problem != nil {
		return l.rebuild(s, problem.Error())
	}
	// An IndexIntervalBytes smaller than when the segment was written can
	// add entries during the tail scan.
	return errors.Join(s.idx.flush(), s.tidx.flush())
}

// reloadTail rebuilds s.meta from the index (the last offset entry and the
// last time entry) and a scan of the batches after the last offset entry to
// the end of the file. problem reports data that does not check out.
func (s *segment) reloadTail(fileSize int64, interval int) (problem, err error) {
	rel, pos := s.idx.last()
	m := emptyMeta(s.base)
	m.size, m.next, m.lastIndexedPos = pos, s.base+rel, pos
	if n := s.tidx.entries(); n > 0 {
		ts, r := s.tidx.entry(n - 1)
		m.maxTs, m.maxTsBatch, m.lastTimeTs = ts, s.base+int64(r), ts
	}
	if fileSize >= record.HeaderSize {
		h, err := readHeaderAt(s.log, 0)
		if err != nil {
			return fmt.Errorf("first batch: %w", err), nil
		}
		m.rollTs = h.MaxTimestamp
	}
	if pos > 0 {
		h, err := readHeaderAt(s.log, pos)
		if err != nil {
			return fmt.Errorf("batch at last index entry: %w", err), nil
		}
		if h.BaseOffset != m.next {
			return fmt.Errorf("last index entry says offset %d at position %d, batch has %d", m.next, pos, h.BaseOffset), nil
		}
	}
	s.meta = m
	stop, err := s.scan(fileSize, false, interval, true)
	if err != nil {
		return nil, err
	}
	if stop != nil {
		return fmt.Errorf("after the last index entry: %w", stop), nil
	}
	return nil, nil
}

// rebuild scans s from the start with full checks (CRC included), cuts the
// file at the first bad batch, and rewrites the index files if the rebuilt
// indexes differ. why is the reason for rebuilding a sealed segment, "" for
// the active one.
func (l *Log) rebuild(s *segment, why string) error {
	sealed := why != ""
	fileSize, err := s.fileSize()
	if err != nil {
		return err
	}
	if sealed && why != strictSealed {
		l.logger.Warn("rebuilding indexes of sealed segment", "file", s.log.Name(), "reason", why)
	}
	oldIdx, oldTidx := s.idx.buf[:s.idx.written], s.tidx.buf[:s.tidx.written]
	s.idx.buf, s.tidx.buf = nil, nil
	s.meta = emptyMeta(s.base)
	stop, err := s.scan(fileSize, true, l.cfg.IndexIntervalBytes, sealed)
	if err != nil {
		return err
	}
	if sealed {
		s.addSealEntry()
	}
	if stop != nil && l.cfg.StrictRecovery {
		if err := s.refuseMidLogDamage(fileSize, sealed, stop); err != nil {
			return err
		}
	}
	if stop != nil {
		l.logger.Warn("truncating segment at first invalid batch",
			"file", s.log.Name(), "position", s.meta.size, "bytes_dropped", fileSize-s.meta.size,
			"next_offset", s.meta.next, "reason", stop)
		if err := s.log.Truncate(s.meta.size); err != nil {
			return err
		}
		if err := syncFile(s.log); err != nil {
			return err
		}
	}
	for _, x := range []struct {
		f   *indexFile
		old []byte
	}{{&s.idx.indexFile, oldIdx}, {&s.tidx.indexFile, oldTidx}} {
		if bytes.Equal(x.f.buf, x.old) {
			x.f.written = len(x.f.buf)
			continue
		}
		if !sealed && s.meta.size > 0 {
			l.logger.Info("rewrote index of active segment", "file", x.f.f.Name())
		}
		if err := x.f.rewrite(); err != nil {
			return err
		}
		if err := syncFile(x.f.f); err != nil {
			return err
		}
	}
	return nil
}

// scan validates batches from s.meta.size to fileSize and folds each valid
// one into s.meta and the indexes. It returns stop, the reason it ended
// before fileSize (nil when every byte belongs to a valid batch); err is an
// I/O error. A batch is valid when its header parses (magic 2, sane length),
// it lies wholly inside the file, its base offset is the expected next
// offset, its lastOffsetDelta is >= 0, its offsets and position fit the
// indexes' uint32 fields and, with checkCRC, its CRC-32C matches (the same
// check as record.CheckCRC, computed while streaming so a huge bogus length
// costs no allocation). With gaps (sealed segments, which the cleaner may
// have compacted) a base offset above the expected one is accepted: offsets
// must still strictly increase. The active segment is never compacted, so
// it keeps the stricter check.
func (s *segment) scan(fileSize int64, checkCRC bool, interval int, gaps bool) (stop, err error) {
	pos := s.meta.size
	br := bufio.NewReaderSize(io.NewSectionReader(s.log, pos, fileSize-pos), int(min(fileSize-pos, 256<<10)))
	var hdr [record.HeaderSize]byte
	crc := crc32.New(castagnoli)
	for pos < fileSize {
		rem := fileSize - pos
		if rem < record.HeaderSize {
			return fmt.Errorf("%d trailing bytes, fewer than a batch header", rem), nil
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return nil, err
		}
		h, perr := record.ParseHeader(hdr[:])
		size := int64(h.Size())
		switch {
		case perr != nil:
			return fmt.Errorf("batch at position %d: %w", pos, perr), nil
		case size > rem:
			return fmt.Errorf("batch at position %d is %d bytes, %d left in the file", pos, size, rem), nil
		case h.BaseOffset < s.meta.next || (!gaps && h.BaseOffset != s.meta.next):
			return fmt.Errorf("batch at position %d has base offset %d, expected %d", pos, h.BaseOffset, s.meta.next), nil
		case h.LastOffsetDelta < 0:
			return fmt.Errorf("batch at position %d has lastOffsetDelta %d", pos, h.LastOffsetDelta), nil
		case h.LastOffset()-s.base > math.MaxUint32 || pos > math.MaxUint32:
			return fmt.Errorf("batch at position %d overflows the segment's index", pos), nil
		}
		if checkCRC {
			crc.Reset()
			crc.Write(hdr[21:])
			if _, err := io.CopyN(crc, br, size-record.HeaderSize); err != nil {
				return nil, err
			}
			if crc.Sum32() != h.CRC {
				return fmt.Errorf("batch at position %d (offset %d): %w", pos, h.BaseOffset, record.ErrCRC), nil
			}
		} else if _, err := br.Discard(int(size - record.HeaderSize)); err != nil {
			return nil, err
		}
		b := batchInfo{last: h.LastOffset(), maxTs: h.MaxTimestamp, size: size}
		s.idx.buf, s.tidx.buf = s.meta.track(s.base, h.BaseOffset, b, interval, s.idx.buf, s.tidx.buf)
		pos += size
	}
	return nil, nil
}

func (s *segment) fileSize() (int64, error) {
	st, err := s.log.Stat()
	if err != nil {
		return 0, err
	}
	s.lastWriteMs = st.ModTime().UnixMilli()
	return st.Size(), nil
}

// readHeaderAt reads and parses the batch header at pos.
func readHeaderAt(f *os.File, pos int64) (record.Header, error) {
	var b [record.HeaderSize]byte
	if _, err := f.ReadAt(b[:], pos); err != nil {
		if errors.Is(err, io.EOF) {
			err = record.ErrShort
		}
		return record.Header{}, err
	}
	return record.ParseHeader(b[:])
}
