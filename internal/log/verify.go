package log

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/sluice-io/sluice/internal/record"
)

// Verification of segment files at rest (bit rot): every batch's CRC-32C,
// header and offsets, reading the whole file. It serves the broker's
// scrubber (VerifySegment, sealed segments only, paced) and `sluice log
// verify` (VerifyDir, offline). Unlike recovery it does not stop at the
// first bad batch: it reports each one and carries on with the next batch
// it can find (the next one when the header's length is sane, else the next
// offset index entry), so one flipped bit does not hide the rest.

// BadBatch is a stretch of a segment file that failed verification.
type BadBatch struct {
	File     string // path of the .log file
	Segment  int64  // the segment's base offset
	Position int64  // file position where the damage starts
	Bytes    int64  // bytes it covers: the batch, or up to the next readable batch
	// FirstOffset..LastOffset are the offsets the damage may hold: from
	// the offset after the last good batch before it to the last offset
	// of the batch (when its header offsets are sane) or the offset before
	// the next good batch. LastOffset is -1 when unknown (damage running
	// to the end of a segment whose end offset is unknown).
	FirstOffset, LastOffset int64
	Reason                  string
	// Tail: the damage runs to the end of the directory's last segment,
	// as a write torn by a crash does; the next Open truncates it. Only
	// VerifyDir sets it.
	Tail bool
}

// verifyChunk is the read size of verification, and so the granularity
// of its pacing.
const verifyChunk = 64 << 10

// segmentCheck is one segment file to verify.
type segmentCheck struct {
	f     io.ReaderAt
	name  string
	base  int64
	size  int64  // bytes to check (the file size, or the sealed size)
	end   int64  // offset after the last batch (or the next segment's base), -1 unknown
	index []byte // offset index contents: resync points, trusted only as hints
	pace  func(n int) error
}

// verifyStats counts what a verification read.
type verifyStats struct {
	Batches int64 // good batches
	Bytes   int64 // bytes read
}

// pacedReader calls pace after each read, so a rate limiter can sleep.
type pacedReader struct {
	r    io.Reader
	pace func(n int) error
	n    *int64
}

func (p pacedReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	*p.n += int64(n)
	if n > 0 && p.pace != nil {
		if perr := p.pace(n); perr != nil {
			return n, perr
		}
	}
	return n, err
}

// verify checks c batch by batch and calls report for each bad stretch.
// The error is an I/O error (or the pace function's), not damage.
func (c *segmentCheck) verify(report func(BadBatch)) (verifyStats, error) {
	var st verifyStats
	var br *bufio.Reader
	seek := func(pos int64) {
		sr := io.NewSectionReader(c.f, pos, c.size-pos)
		br = bufio.NewReaderSize(pacedReader{sr, c.pace, &st.Bytes}, verifyChunk)
	}
	// open holds damage whose last offset is only known at the next good
	// batch (its header offsets could not be trusted).
	var open []BadBatch
	closeOpen := func(next int64) {
		for _, b := range open {
			b.LastOffset = next - 1
			if next < 0 {
				b.LastOffset = -1
			}
			report(b)
		}
		open = open[:0]
	}
	expect := c.base // offset after the last good batch
	var hdr [record.HeaderSize]byte
	crc := crc32.New(castagnoli)
	pos := int64(0)
	seek(0)
	for pos < c.size {
		rem := c.size - pos
		bad := BadBatch{File: c.name, Segment: c.base, Position: pos, FirstOffset: expect}
		if rem < record.HeaderSize {
			bad.Bytes, bad.Reason = rem, fmt.Sprintf("%d trailing bytes, fewer than a batch header", rem)
			open = append(open, bad)
			break
		}
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return st, err
		}
		h, perr := record.ParseHeader(hdr[:])
		size := int64(h.Size())
		if perr != nil || size > rem {
			bad.Reason = fmt.Sprintf("unreadable batch header: %v", perr)
			if perr == nil {
				bad.Reason = fmt.Sprintf("batch of %d bytes runs past the end of the segment (%d left)", size, rem)
			}
			next := c.nextIndexed(pos)
			if next < 0 {
				bad.Bytes = rem
				open = append(open, bad)
				break
			}
			bad.Bytes = next - pos
			open = append(open, bad)
			pos = next
			seek(pos)
			continue
		}
		crc.Reset()
		crc.Write(hdr[21:])
		if _, err := io.CopyN(crc, br, size-record.HeaderSize); err != nil {
			return st, err
		}
		sum := crc.Sum32()
		offsetsOK := h.BaseOffset >= expect && h.LastOffsetDelta >= 0 && (c.end < 0 || h.LastOffset() < c.end)
		bad.Bytes = size
		switch {
		case sum == h.CRC && offsetsOK:
			closeOpen(h.BaseOffset)
			expect = h.LastOffset() + 1
			st.Batches++
		case offsetsOK:
			closeOpen(h.BaseOffset)
			bad.FirstOffset = max(expect, h.BaseOffset)
			bad.LastOffset = h.LastOffset()
			bad.Reason = fmt.Sprintf("CRC-32C mismatch: stored %08x, computed %08x", h.CRC, sum)
			report(bad)
			expect = h.LastOffset() + 1
		default:
			// The base offset and length are not covered by the CRC: a
			// flip there shows as offsets out of place.
			bad.Reason = fmt.Sprintf("batch offsets %d-%d out of place (expected from %d", h.BaseOffset, h.LastOffset(), expect)
			if c.end >= 0 {
				bad.Reason += fmt.Sprintf(", below %d", c.end)
			}
			bad.Reason += ")"
			if sum != h.CRC {
				bad.Reason += fmt.Sprintf(", and CRC-32C mismatch: stored %08x, computed %08x", h.CRC, sum)
			}
			open = append(open, bad)
		}
		pos += size
	}
	closeOpen(c.end)
	return st, nil
}

// nextIndexed is the smallest offset index position after pos where a
// batch header fits, or -1. Entries are only hints: a position that is
// not a batch start shows up as more damage, and the scan moves on.
func (c *segmentCheck) nextIndexed(pos int64) int64 {
	next := int64(-1)
	for i := 0; i+offsetEntrySize <= len(c.index); i += offsetEntrySize {
		p := int64(binary.BigEndian.Uint32(c.index[i+4:]))
		if p > pos && p+record.HeaderSize <= c.size && (next < 0 || p < next) {
			next = p
		}
	}
	return next
}

// SealedSegments returns the base offsets of the sealed segments (every
// one but the active), oldest first.
func (l *Log) SealedSegments() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int64
	for i := 0; i < len(l.segs)-1; i++ {
		out = append(out, l.segs[i].base)
	}
	return out
}

// VerifySegment checks every batch of the sealed segment with base offset
// base (CRC-32C, header, offsets) and calls report for each bad stretch.
// pace (nil: none) is called with the bytes of each read, so the caller
// can limit the rate; an error from it ends the check with that error. ok
// is false when base is not a sealed segment of the log (any more: the
// cleaner or retention replaced it, or the log closed). It takes no lock
// while reading: sealed segments never change.
func (l *Log) VerifySegment(base int64, pace func(n int) error, report func(BadBatch)) (checked int64, ok bool, err error) {
	l.mu.Lock()
	i := slices.IndexFunc(l.segs, func(s *segment) bool { return s.base == base })
	if l.closed || i < 0 || i == len(l.segs)-1 {
		l.mu.Unlock()
		return 0, false, nil
	}
	s := l.segs[i]
	s.acquire()
	c := segmentCheck{f: s.log, name: s.log.Name(), base: s.base, size: s.meta.size, end: s.meta.next,
		index: slices.Clone(s.idx.buf), pace: pace}
	l.mu.Unlock()
	defer s.release()
	st, err := c.verify(report)
	return st.Bytes, true, err
}

// VerifySummary is what VerifyDir checked and found.
type VerifySummary struct {
	Dirs, Segments int
	Batches, Bytes int64
	Damaged        int // bad stretches, torn tails excluded
	TornTails      int
}

// VerifyDir checks every segment file offline: dir is a partition
// directory, or a log directory whose subdirectories are partitions. Each
// bad stretch goes to report; damage running to the end of a partition's
// last segment is marked Tail (a crash's torn write, which Open
// truncates). The error is an I/O error or a dir without segments.
func VerifyDir(dir string, report func(BadBatch)) (VerifySummary, error) {
	var sum VerifySummary
	parts, err := partitionDirs(dir)
	if err != nil {
		return sum, err
	}
	if len(parts) == 0 {
		return sum, fmt.Errorf("%s: no segment files (*.log) in it or in its subdirectories", dir)
	}
	for _, p := range parts {
		if err := verifyPartitionDir(p, &sum, report); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

// partitionDirs is dir itself when it holds segment files, else its
// subdirectories that do, sorted.
func partitionDirs(dir string) ([]string, error) {
	bases, err := segmentBases(dir)
	if err != nil {
		return nil, err
	}
	if len(bases) > 0 {
		return []string{dir}, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		sub := filepath.Join(dir, e.Name())
		if b, err := segmentBases(sub); err == nil && len(b) > 0 {
			out = append(out, sub)
		}
	}
	return out, nil
}

// segmentBases lists the base offsets of dir's .log files, ascending.
func segmentBases(dir string) ([]int64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var bases []int64
	for _, e := range entries {
		if base, ok := parseSegmentName(e.Name(), logSuffix); ok && e.Type().IsRegular() {
			bases = append(bases, base)
		}
	}
	slices.Sort(bases)
	return bases, nil
}

func verifyPartitionDir(dir string, sum *VerifySummary, report func(BadBatch)) error {
	bases, err := segmentBases(dir)
	if err != nil {
		return err
	}
	sum.Dirs++
	for i, base := range bases {
		last := i == len(bases)-1
		end := int64(-1)
		if !last {
			end = bases[i+1]
		}
		if err := verifySegmentFile(dir, base, end, last, sum, report); err != nil {
			return err
		}
	}
	return nil
}

func verifySegmentFile(dir string, base, end int64, last bool, sum *VerifySummary, report func(BadBatch)) error {
	f, err := os.Open(segmentPath(dir, base, logSuffix))
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	index, _ := os.ReadFile(segmentPath(dir, base, indexSuffix)) // hints only; missing is fine
	c := segmentCheck{f: f, name: f.Name(), base: base, size: st.Size(), end: end, index: index}
	vs, err := c.verify(func(b BadBatch) {
		b.Tail = last && b.Position+b.Bytes == c.size
		if b.Tail {
			sum.TornTails++
		} else {
			sum.Damaged++
		}
		report(b)
	})
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			err = fmt.Errorf("file shrank while being read: %w", err)
		}
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	sum.Segments++
	sum.Batches += vs.Batches
	sum.Bytes += vs.Bytes
	return nil
}
