package log

import (
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/sluice-io/sluice/internal/record"
)

// Slice is a byte range of a segment file holding whole batches.
type Slice struct {
	File *os.File
	Pos  int64
	Len  int64
}

// ReadResult is the answer of Read: whole batches as file ranges, in offset
// order, ready for sendfile. The files stay open (even if retention deletes
// the segments meanwhile) until Release is called, which must happen exactly
// once, after the bytes are sent.
type ReadResult struct {
	Slices  []Slice
	Size    int   // total bytes of Slices
	Records int64 // records in those batches (from their headers)

	segs []*segment // one reference per Slice
}

// Release lets go of the segment files. Calling it again is a no-op.
func (r *ReadResult) Release() {
	if r == nil {
		return
	}
	for _, s := range r.segs {
		s.release()
	}
	r.segs = nil
}

// ReadAll appends the bytes of every slice to dst (pread), for callers that
// cannot sendfile.
func (r *ReadResult) ReadAll(dst []byte) ([]byte, error) {
	for _, s := range r.Slices {
		n := len(dst)
		dst = slices.Grow(dst, int(s.Len))[:n+int(s.Len)]
		if _, err := s.File.ReadAt(dst[n:], s.Pos); err != nil {
			return dst[:n], fmt.Errorf("log: read %s: %w", s.File.Name(), err)
		}
	}
	return dst, nil
}

func (r *ReadResult) add(s *segment, pos, n int64) {
	r.Slices = append(r.Slices, Slice{File: s.log, Pos: pos, Len: n})
	r.segs = append(r.segs, s)
	r.Size += int(n)
}

// Read returns whole batches starting with the batch that contains offset,
// stopping before any batch whose base offset is >= maxOffset (the high
// watermark) and before maxBytes would be exceeded, except that the first
// batch is returned even when it alone exceeds maxBytes (KIP-74), so a
// consumer always progresses. It may span segments. offset below
// StartOffset or above EndOffset is ErrOffsetOutOfRange; at EndOffset or at
// or above maxOffset the result is empty. An unreadable batch header ends
// the result before it, and is the error only when nothing comes before it.
// The caller must Release the result.
func (l *Log) Read(offset int64, maxBytes int, maxOffset int64) (*ReadResult, error) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, ErrClosed
	}
	if offset < l.start || offset > l.leo {
		l.mu.Unlock()
		return nil, ErrOffsetOutOfRange
	}
	res := &ReadResult{}
	if offset == l.leo || offset >= maxOffset {
		l.mu.Unlock()
		return res, nil
	}
	s := l.segs[l.segmentIndex(offset)]
	_, pos := s.idx.lookup(offset - s.base)
	limit, segNext := s.meta.size, s.meta.next
	s.acquire()
	l.mu.Unlock()

	// want is the next offset the result needs. The next segment is looked
	// up by it, not by the previous segment's base: the cleaner may have
	// merged segments meanwhile, and a merged segment can start below want,
	// so its batches below want are skipped like those before offset.
	want := offset

	hr := getHeaderReader()
	defer putHeaderReader(hr)
	found := false
	for {
		hr.reset(s.log)
		first, n, done := int64(-1), int64(0), false
		for pos < limit {
			h, err := hr.header(pos, limit)
			if err != nil && found {
				// Serve the whole batches before the damage; a read
				// that starts at it gets the error.
				done = true
				break
			}
			if err != nil {
				s.release()
				res.Release()
				return nil, err
			}
			size := int64(h.Size())
			if h.LastOffset() < want {
				pos += size
				continue
			}
			if h.BaseOffset >= maxOffset || (found && int64(res.Size)+n+size > int64(maxBytes)) {
				done = true
				break
			}
			found = true
			if first < 0 {
				first = pos
			}
			res.Records += int64(h.NumRecords)
			n += size
			pos += size
			want = h.LastOffset() + 1
		}
		want = max(want, segNext)
		if n > 0 {
			res.add(s, first, n)
		} else {
			s.release()
		}
		if done {
			return res, nil
		}
		// Continue in the segment holding want (or the first after it).
		l.mu.Lock()
		i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].meta.next > want })
		if l.closed || i == len(l.segs) || want >= maxOffset || l.segs[i].base >= maxOffset {
			l.mu.Unlock()
			return res, nil
		}
		s = l.segs[i]
		pos, limit, segNext = 0, s.meta.size, s.meta.next
		if want > s.base {
			_, pos = s.idx.lookup(want - s.base)
		}
		s.acquire()
		l.mu.Unlock()
	}
}

// headerReader reads batch headers through a small window, so a scan over
// many small batches costs one pread per window rather than per batch. After
// a big batch it reads just the next header, as a window would hold little
// else.
type headerReader struct {
	f   *os.File
	buf []byte
	at  int64 // file position of buf[0]
	n   int   // valid bytes in buf
	big bool  // the last batch was big
}

const headerWindow = 16 << 10

var headerReaders = sync.Pool{New: func() any { return &headerReader{buf: make([]byte, headerWindow)} }}

func getHeaderReader() *headerReader  { return headerReaders.Get().(*headerReader) }
func putHeaderReader(r *headerReader) { r.f = nil; headerReaders.Put(r) }

func (r *headerReader) reset(f *os.File) { r.f, r.at, r.n, r.big = f, 0, 0, false }

// header parses the header of the batch at pos, checking that the batch
// ends by limit (the segment size the caller saw).
func (r *headerReader) header(pos, limit int64) (record.Header, error) {
	if pos < r.at || pos+record.HeaderSize > r.at+int64(r.n) {
		want := min(int64(len(r.buf)), limit-pos)
		if r.big {
			want = min(want, record.HeaderSize)
		}
		if want < record.HeaderSize {
			return record.Header{}, fmt.Errorf("log: %s: %d bytes at position %d, short of a batch header",
				r.f.Name(), want, pos)
		}
		n, err := r.f.ReadAt(r.buf[:want], pos)
		if n < record.HeaderSize {
			if err == nil || err == io.EOF {
				err = record.ErrShort
			}
			return record.Header{}, fmt.Errorf("log: %s at position %d: %w", r.f.Name(), pos, err)
		}
		r.at, r.n = pos, n
	}
	h, err := record.ParseHeader(r.buf[pos-r.at : r.n])
	r.big = h.Size() >= headerWindow/4
	if err == nil && pos+int64(h.Size()) > limit {
		err = fmt.Errorf("%w: batch of %d bytes at position %d passes the segment end %d",
			record.ErrCorrupt, h.Size(), pos, limit)
	}
	if err != nil {
		return h, fmt.Errorf("log: %s: %w", r.f.Name(), err)
	}
	return h, nil
}
