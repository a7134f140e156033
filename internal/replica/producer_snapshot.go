package replica

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/fsutil"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/record"
)

// Producer state snapshots.
//
// A snapshot "%020d.snapshot" in the partition directory holds the producer
// state after every batch below its offset (the name): it is written when
// a segment rolls (named by the new segment's base offset) and at a clean
// close (named by the LEO). At open the newest snapshot not beyond the
// recovered LEO is loaded and the log from there (or from the log start,
// when there is none or it is unreadable) is scanned batch header by batch
// header to rebuild the rest, so a missing or corrupt snapshot only costs
// time. Snapshots beyond the LEO (the log lost its tail) are deleted; only
// the two newest are kept.
//
// Layout, integers big endian:
//
//	 0        4         6         10          18             22
//	+--------+---------+---------+-----------+--------------+-------------
//	| "SLPS" | version | crc32c  | offset    | producers n  | n entries...
//	+--------+---------+---------+-----------+--------------+-------------
//	  magic    int16=1   of every   int64        int32
//	                     byte after it
//
//	entry:   producerID int64 | epoch int16 | coordEpoch int32 |
//	         lastTimestamp int64 | txnFirstOffset int64 (-1: none) |
//	         batches uint8 (<= 5), then per batch, oldest first:
//	         firstSeq int32 | lastSeq int32 | firstOffset int64 | lastOffset int64
//	then:    aborted m int32, then m times:
//	         producerID int64 | firstOffset int64 | lastOffset (marker) int64
//
// Writes go to "<name>.tmp", are fsynced, renamed over the name and the
// directory is fsynced; log recovery deletes leftover *.tmp files. The
// aborted list is the partition's aborted-transaction index: markers below
// the snapshot offset are only found there, so it survives restarts; entries
// whose marker is below the log start offset are dropped.

const (
	snapshotSuffix  = ".snapshot"
	snapshotMagic   = "SLPS"
	snapshotVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func snapshotName(off int64) string { return fmt.Sprintf("%020d%s", off, snapshotSuffix) }

func encodeSnapshot(s *producerState, off int64) []byte {
	b := append([]byte(snapshotMagic), 0, snapshotVersion, 0, 0, 0, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(off))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.producers)))
	ids := make([]int64, 0, len(s.producers))
	for id := range s.producers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := s.producers[id]
		b = binary.BigEndian.AppendUint64(b, uint64(id))
		b = binary.BigEndian.AppendUint16(b, uint16(e.epoch))
		b = binary.BigEndian.AppendUint32(b, uint32(e.coordEpoch))
		b = binary.BigEndian.AppendUint64(b, uint64(e.lastTs))
		b = binary.BigEndian.AppendUint64(b, uint64(e.txnFirst))
		b = append(b, byte(len(e.batches)))
		for _, m := range e.batches {
			b = binary.BigEndian.AppendUint32(b, uint32(m.firstSeq))
			b = binary.BigEndian.AppendUint32(b, uint32(m.lastSeq))
			b = binary.BigEndian.AppendUint64(b, uint64(m.firstOff))
			b = binary.BigEndian.AppendUint64(b, uint64(m.lastOff))
		}
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.aborted)))
	for _, a := range s.aborted {
		b = binary.BigEndian.AppendUint64(b, uint64(a.ProducerID))
		b = binary.BigEndian.AppendUint64(b, uint64(a.FirstOffset))
		b = binary.BigEndian.AppendUint64(b, uint64(a.LastOffset))
	}
	binary.BigEndian.PutUint32(b[6:], crc32.Checksum(b[10:], castagnoli))
	return b
}

var errSnapshot = errors.New("replica: bad producer snapshot")

// snapReader reads big-endian fields; a short read sets bad.
type snapReader struct {
	b   []byte
	bad bool
}

func (r *snapReader) take(n int) []byte {
	if len(r.b) < n {
		r.bad = true
		return make([]byte, n)
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
func (r *snapReader) u8() uint8   { return r.take(1)[0] }
func (r *snapReader) i16() int16  { return int16(binary.BigEndian.Uint16(r.take(2))) }
func (r *snapReader) i32() int32  { return int32(binary.BigEndian.Uint32(r.take(4))) }
func (r *snapReader) i64() int64  { return int64(binary.BigEndian.Uint64(r.take(8))) }
func (r *snapReader) u32() uint32 { return binary.BigEndian.Uint32(r.take(4)) }

func decodeSnapshot(b []byte) (*producerState, int64, error) {
	if len(b) < 22 || string(b[:4]) != snapshotMagic || binary.BigEndian.Uint16(b[4:]) != snapshotVersion {
		return nil, 0, errSnapshot
	}
	if crc32.Checksum(b[10:], castagnoli) != binary.BigEndian.Uint32(b[6:]) {
		return nil, 0, fmt.Errorf("%w: crc mismatch", errSnapshot)
	}
	r := &snapReader{b: b[10:]}
	off := r.i64()
	s := newProducerState()
	n := r.u32()
	for i := uint32(0); i < n && !r.bad; i++ {
		id := r.i64()
		e := &producerEntry{epoch: r.i16(), coordEpoch: r.i32(), lastTs: r.i64(), txnFirst: r.i64()}
		nb := int(r.u8())
		if nb > maxBatchesPerProducer {
			return nil, 0, fmt.Errorf("%w: %d batches", errSnapshot, nb)
		}
		for j := 0; j < nb; j++ {
			e.batches = append(e.batches, batchMeta{r.i32(), r.i32(), r.i64(), r.i64()})
		}
		s.producers[id] = e
		if e.txnFirst >= 0 {
			s.open[id] = e.txnFirst
		}
	}
	m := r.u32()
	for i := uint32(0); i < m && !r.bad; i++ {
		s.aborted = append(s.aborted, AbortedTxn{r.i64(), r.i64(), r.i64()})
	}
	if r.bad || len(r.b) != 0 {
		return nil, 0, fmt.Errorf("%w: length", errSnapshot)
	}
	return s, off, nil
}

// writeSnapshot persists the current producer state as of offset off.
// Caller holds appendMu. Failure is logged, not fatal: the log is the
// truth and the state can be rebuilt from it.
func (p *Partition) writeSnapshot(off int64) {
	p.psMu.Lock()
	p.ps.pruneAborted(p.log.StartOffset())
	b := encodeSnapshot(p.ps, off)
	p.psMu.Unlock()
	if err := fsutil.WriteFileAtomic(p.Dir, snapshotName(off), b); err != nil {
		p.logger().Warn("write producer snapshot", "dir", p.Dir, "offset", off, "err", err)
		return
	}
	offs, _ := listSnapshots(p.Dir)
	for len(offs) > 2 && offs[0] < off {
		_ = os.Remove(filepath.Join(p.Dir, snapshotName(offs[0])))
		offs = offs[1:]
	}
}

// listSnapshots returns the snapshot offsets in dir, ascending.
func listSnapshots(dir string) ([]int64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), snapshotSuffix)
		if !ok || len(name) != 20 {
			continue
		}
		if o, err := strconv.ParseInt(name, 10, 64); err == nil {
			out = append(out, o)
		}
	}
	slices.Sort(out)
	return out, nil
}

// loadProducerState rebuilds the producer state at open: newest usable
// snapshot, then a scan of the log from its offset to the LEO.
func (p *Partition) loadProducerState() error {
	p.ps = newProducerState()
	leo, start := p.log.EndOffset(), p.log.StartOffset()
	offs, err := listSnapshots(p.Dir)
	if err != nil {
		return err
	}
	from := start
	for i := len(offs) - 1; i >= 0; i-- {
		o := offs[i]
		path := filepath.Join(p.Dir, snapshotName(o))
		if o > leo {
			_ = os.Remove(path)
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		s, off, err := decodeSnapshot(b)
		if err != nil || off != o {
			p.logger().Warn("ignoring unreadable producer snapshot", "file", path, "err", err)
			_ = os.Remove(path)
			continue
		}
		p.ps, from = s, max(o, start)
		break
	}
	p.ps.pruneAborted(start)
	p.ps.nowMs = time.Now().UnixMilli()
	for _, e := range p.ps.producers {
		e.touchedMs = p.ps.nowMs
	}
	for from < leo {
		// Large reads: the scan only preads batch headers (and the
		// small control batches), hopping over record bytes.
		rr, err := p.log.Read(from, 64<<20, leo)
		if err != nil {
			return err
		}
		next := from
		err = scanHeaders(rr, func(h record.Header, batch []byte) {
			if h.LastOffset() >= from {
				p.ps.apply(&h, h.BaseOffset, h.LastOffset(), controlOf(&h, batch))
			}
			next = h.LastOffset() + 1
		})
		empty := rr.Size == 0
		rr.Release()
		if err != nil {
			return err
		}
		if empty {
			break // the rest is a gap without batches (log.Heal leaves one)
		}
		if next <= from {
			return fmt.Errorf("replica: producer state scan stuck at offset %d in %s", from, p.Dir)
		}
		from = next
	}
	return nil
}

// scanHeaders calls fn with the header of every batch of rr, reading only
// the 61 header bytes of each data batch; control batches (markers, a few
// dozen bytes) are read whole and passed as batch.
func scanHeaders(rr *log.ReadResult, fn func(h record.Header, batch []byte)) error {
	var hb [record.HeaderSize]byte
	for _, sl := range rr.Slices {
		for pos, end := sl.Pos, sl.Pos+sl.Len; pos < end; {
			if _, err := sl.File.ReadAt(hb[:], pos); err != nil {
				return fmt.Errorf("replica: read batch header at %d of %s: %w", pos, sl.File.Name(), err)
			}
			h, err := record.ParseHeader(hb[:])
			if err != nil {
				return fmt.Errorf("replica: batch header at %d of %s: %w", pos, sl.File.Name(), err)
			}
			var batch []byte
			if h.IsControl() && h.Size() <= 1<<16 {
				batch = make([]byte, h.Size())
				if _, err := sl.File.ReadAt(batch, pos); err != nil {
					return err
				}
			}
			fn(h, batch)
			pos += int64(h.Size())
		}
	}
	return nil
}
