package replica

import (
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// BatchInfo describes one batch of a ShareRead result: what share-partition
// acquisition needs to know (its offsets, whether it is a control batch or
// a transactional one, its producer), and where it ends in the result so
// the result can be cut after it.
type BatchInfo struct {
	Base, Last    int64
	ProducerID    int64
	Records       int32
	Control       bool
	Transactional bool

	slice int   // index in ReadResult.Slices
	end   int64 // file position just after the batch
}

// ShareRead is ReadUpTo plus the header of every batch returned (one
// 61-byte pread each; the record bytes stay in the file for sendfile).
func (p *Partition) ShareRead(offset int64, maxBytes int, maxOffset int64) (*log.ReadResult, []BatchInfo, error) {
	rr, err := p.ReadUpTo(offset, maxBytes, maxOffset)
	if err != nil {
		return nil, nil, err
	}
	var out []BatchInfo
	for i, sl := range rr.Slices {
		var hb [record.HeaderSize]byte
		for pos, end := sl.Pos, sl.Pos+sl.Len; pos < end; {
			if _, err := sl.File.ReadAt(hb[:], pos); err != nil {
				rr.Release()
				return nil, nil, err
			}
			h, err := record.ParseHeader(hb[:])
			if err != nil {
				rr.Release()
				return nil, nil, err
			}
			pos += int64(h.Size())
			out = append(out, BatchInfo{Base: h.BaseOffset, Last: h.LastOffset(), ProducerID: h.ProducerID,
				Records: h.NumRecords, Control: h.IsControl(), Transactional: h.IsTransactional(), slice: i, end: pos})
		}
	}
	return rr, out, nil
}

// KeepBatches cuts rr (a ShareRead result) after its first n batches, so
// only those are sent. The segment references stay with rr until Release.
func KeepBatches(rr *log.ReadResult, batches []BatchInfo, n int) {
	if n >= len(batches) {
		return
	}
	if n <= 0 {
		rr.Slices, rr.Size, rr.Records = nil, 0, 0
		return
	}
	last := batches[n-1]
	if last.slice >= len(rr.Slices) {
		return // not from ShareRead (a test's batches without slices)
	}
	rr.Slices = rr.Slices[:last.slice+1]
	rr.Slices[last.slice].Len = last.end - rr.Slices[last.slice].Pos
	rr.Size, rr.Records = 0, 0
	for _, s := range rr.Slices {
		rr.Size += int(s.Len)
	}
	for _, b := range batches[:n] {
		rr.Records += int64(b.Records)
	}
}

// OffsetForTime is ListOffsets by timestamp: the first offset whose record
// timestamp is >= ts, or false when there is none.
func (p *Partition) OffsetForTime(ts int64) (int64, bool) {
	off, _, ok := p.log.OffsetForTimestamp(ts)
	return off, ok
}
