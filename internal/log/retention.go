package log

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// EnforceRetention deletes old segments; it is called periodically.
//
//   - time (RetentionMs >= 0): sealed segments whose largest timestamp is
//     older than now-RetentionMs, oldest first, stopping at the first one that
//     is not. If the active segment itself has expired and is not empty it is
//     rolled first, so it is deleted in the same pass (as Kafka does); the new
//     empty active segment is never deleted.
//   - size (RetentionBytes >= 0): the oldest sealed segment, as long as the
//     log without it is still at least RetentionBytes (Kafka's rule: the
//     limit is a floor of what is kept, not a ceiling).
//   - log start offset: sealed segments wholly below StartOffset (after
//     DeleteRecordsBefore).
//
// StartOffset moves up to the new first segment's base offset.
//
// On a failed log it does nothing and returns nil: the failure was reported
// when it happened, and periodic callers would only repeat it until Heal.
func (l *Log) EnforceRetention(now time.Time) (deletedSegments int, err error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if skip, err := l.maintainable(); skip {
		return 0, err
	}
	nowMs := now.UnixMilli()
	cfg := l.cfg
	n := 0
	if cfg.RetentionMs >= 0 {
		cutoff := nowMs - cfg.RetentionMs
		if act := l.active(); act.meta.size > 0 && act.largestTimestamp() < cutoff {
			if err := l.roll(nowMs); err != nil {
				return n, err
			}
		}
		for len(l.segs) > 1 && l.segs[0].largestTimestamp() < cutoff {
			if err := l.deleteFirst("retention.ms"); err != nil {
				return n, err
			}
			n++
		}
	}
	if cfg.RetentionBytes >= 0 {
		for len(l.segs) > 1 && l.sizeLocked()-l.segs[0].meta.size >= cfg.RetentionBytes {
			if err := l.deleteFirst("retention.bytes"); err != nil {
				return n, err
			}
			n++
		}
	}
	for len(l.segs) > 1 && l.segs[1].base <= l.start {
		if err := l.deleteFirst("log start offset"); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// maintainable tells periodic maintenance to skip a closed (ErrClosed) or
// failed (nil error: already reported) log. Caller holds appendMu.
func (l *Log) maintainable() (skip bool, err error) {
	if l.closed {
		return true, ErrClosed
	}
	return l.failure() != nil, nil
}

// deleteFirst removes the oldest segment (never the only one). Caller holds
// appendMu. Readers holding the segment keep reading its unlinked files.
func (l *Log) deleteFirst(reason string) error {
	s := l.segs[0]
	l.mu.Lock()
	l.segs = append([]*segment(nil), l.segs[1:]...)
	l.start = max(l.start, l.segs[0].base)
	l.mu.Unlock()
	l.dirDirty.Store(true)
	err := s.removeFiles()
	s.release()
	if err != nil {
		return fmt.Errorf("log: delete segment %d: %w", s.base, err)
	}
	l.logger.Info("deleted segment", "dir", l.dir, "base", s.base, "next", s.meta.next,
		"bytes", s.meta.size, "reason", reason)
	return nil
}

// MaybeRoll rolls the active segment when segment.ms has passed since its
// first batch's timestamp (or since its creation when batches carry none).
// Like EnforceRetention it does nothing on a failed log.
func (l *Log) MaybeRoll(now time.Time) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if skip, err := l.maintainable(); skip {
		return err
	}
	nowMs := now.UnixMilli()
	if l.active().rollDue(nowMs, nowMs, l.cfg.SegmentMs) {
		return l.roll(nowMs)
	}
	return nil
}

// DeleteRecordsBefore moves StartOffset up to offset (DeleteRecords). The
// new start is persisted (startOffsetFile) before it takes effect, so it
// survives a restart; segments wholly below it are deleted now. offset above
// EndOffset is ErrOffsetOutOfRange; offset at or below StartOffset does nothing.
func (l *Log) DeleteRecordsBefore(offset int64) error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if offset > l.leo || offset < 0 {
		return ErrOffsetOutOfRange
	}
	if offset <= l.start {
		return nil
	}
	if err := writeStartOffset(l.dir, offset); err != nil {
		return fmt.Errorf("log: persist start offset: %w", err)
	}
	l.mu.Lock()
	l.start = offset
	l.mu.Unlock()
	for len(l.segs) > 1 && l.segs[1].base <= l.start {
		if err := l.deleteFirst("log start offset"); err != nil {
			return err
		}
	}
	return nil
}

// The log start offset file: see doc.go.
const (
	startOffsetFile = "log-start-offset"
	tmpSuffix       = ".tmp"
	startOffsetHdr  = "sluice-log-start-offset v1\n"
)

// writeStartOffset replaces the start offset file atomically: write a
// temporary file, fsync it, rename it over the old one, fsync the directory.
func writeStartOffset(dir string, offset int64) error {
	tmp := dir + string(os.PathSeparator) + startOffsetFile + tmpSuffix
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(startOffsetHdr + strconv.FormatInt(offset, 10) + "\n")
	if err == nil {
		err = syncFile(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, dir+string(os.PathSeparator)+startOffsetFile)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// readStartOffset reads the start offset file; ok is false when there is none.
func readStartOffset(dir string) (offset int64, ok bool, err error) {
	b, err := os.ReadFile(dir + string(os.PathSeparator) + startOffsetFile)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	rest, found := strings.CutPrefix(string(b), startOffsetHdr)
	num, nl := strings.CutSuffix(rest, "\n")
	if !found || !nl {
		return 0, false, fmt.Errorf("%s: malformed", startOffsetFile)
	}
	offset, err = strconv.ParseInt(num, 10, 64)
	if err != nil || offset < 0 {
		return 0, false, fmt.Errorf("%s: bad offset %q", startOffsetFile, num)
	}
	return offset, true, nil
}
