package share

import (
	"sync"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/replica"
)

// Record states, with Kafka's numbering (RecordState), which is also what
// __share_group_state stores (Acquired is never stored).
const (
	stateAvailable    int8 = 0
	stateAcquired     int8 = 1
	stateAcknowledged int8 = 2
	stateArchived     int8 = 4
)

// Acknowledge types (Kafka's AcknowledgeType; 0 is a gap).
const (
	AckGap     int8 = 0
	AckAccept  int8 = 1
	AckRelease int8 = 2
	AckReject  int8 = 3
	AckRenew   int8 = 4 // ShareFetch/ShareAcknowledge v2 with IsRenewAck (KIP-1222)
)

// rec is the state of one in-flight offset.
type rec struct {
	owner    string // member holding the lock; set iff state == stateAcquired
	deadline int64  // lock deadline (unix nanoseconds); meaningful iff Acquired
	count    int16  // delivery count
	state    int8
}

// Data is what a share-partition reads from its data partition;
// *replica.Partition implements it.
type Data interface {
	HighWatermark() int64
	LastStableOffset() int64
	LogStartOffset() int64
	LeaderEpoch() int32
	AbortedTxns(from, to int64) []replica.AbortedTxn
	ShareRead(offset int64, maxBytes int, maxOffset int64) (*log.ReadResult, []replica.BatchInfo, error)
	OffsetForTime(ts int64) (int64, bool)
	Watch(ch chan struct{})
	Unwatch(ch chan struct{})
}

// sharePartition is one (group, topic ID, partition)'s state.
//
// INVARIANTS (kept under mu):
//   - recs[i] is the state of offset spso+i; end() = spso+len(recs) is the
//     next offset never acquired. Every in-flight offset o satisfies
//     spso <= o < end().
//   - recs[0], when present, is Available or Acquired: the SPSO never
//     stays behind an Acknowledged or Archived record (advance drops the
//     finished prefix).
//   - an Acquired record has exactly one owner and a lock deadline; any
//     other state has neither. acquired counts the Acquired records.
//   - an Available record's delivery count is below the delivery attempt
//     limit (a release or lock expiry at the limit archives instead).
type sharePartition struct {
	key key

	mu          sync.Mutex
	loaded      bool  // its state was read from the share coordinator (first Acquire here)
	initialized bool  // spso is set (first fetch, or read from the share coordinator)
	deleted     bool  // removed by DeleteGroup/DeleteTopic; a holder must look up again
	spso        int64 // share-partition start offset
	recs        []rec
	acquired    int
	stateEpoch  int32
	leaderEpoch int32
	waiters     map[chan struct{}]struct{}
}

func (sp *sharePartition) end() int64 { return sp.spso + int64(len(sp.recs)) }

// Range is a run of acquired offsets with one delivery count (a
// ShareFetch AcquiredRecords entry).
type Range struct {
	First, Last int64
	Count       int16
}

// acquireOpts are one acquisition's limits.
type acquireOpts struct {
	member      string
	now         time.Time
	settings    Settings
	maxRecords  int  // records to acquire at most
	strict      bool // ShareAcquireMode record_limit: never more than maxRecords
	maxBytes    int  // read budget (the first batch may exceed it)
	maxInFlight int  // group.share.partition.max.record.locks
}

// initialize sets the SPSO of a share-partition seen for the first time
// from share.auto.offset.reset.
func (sp *sharePartition) initialize(d Data, s Settings, now time.Time) {
	switch r := s.AutoOffsetReset; {
	case r == "earliest":
		sp.spso = d.LogStartOffset()
	case len(r) > len("by_duration:") && r[:len("by_duration:")] == "by_duration:":
		sp.spso = d.HighWatermark()
		if dur, ok := parseISODuration(r[len("by_duration:"):]); ok {
			if off, ok := d.OffsetForTime(now.Add(-dur).UnixMilli()); ok {
				sp.spso = off
			}
		}
	default: // latest
		sp.spso = d.HighWatermark()
	}
	sp.recs = sp.recs[:0]
	sp.leaderEpoch = d.LeaderEpoch()
	sp.initialized = true
}

// acquire hands records to o.member: first the Available in-flight ones in
// offset order, then new ones from end() up to the HW (LSO when
// read_committed). Acquisition follows the batches read from the log, so
// the result's bytes hold every acquired record; the caller sends rr and
// releases it. New records are acquired whole batches at a time unless
// strict. Control batches, aborted transactions' batches (read_committed)
// and offsets no batch holds are archived, never delivered.
func (sp *sharePartition) acquire(d Data, o acquireOpts) ([]Range, *log.ReadResult, error) {
	sp.expire(o.now, o.settings.DeliveryAttemptLimit)
	if ls := d.LogStartOffset(); sp.spso < ls {
		// Retention removed records below the SPSO: they can never be
		// delivered again.
		sp.moveStart(ls)
	}
	limit := d.HighWatermark()
	if o.settings.ReadCommitted {
		limit = min(limit, d.LastStableOffset())
	}
	from := sp.end()
	for i := range sp.recs {
		if sp.recs[i].state == stateAvailable {
			from = sp.spso + int64(i)
			break
		}
	}
	if from >= limit || o.maxRecords <= 0 {
		return nil, nil, nil
	}
	if from == sp.end() && len(sp.recs) >= o.maxInFlight {
		return nil, nil, nil // the lock window is full until records finish
	}
	rr, batches, err := d.ShareRead(from, o.maxBytes, limit)
	if err != nil {
		return nil, nil, err
	}
	var aborted []replica.AbortedTxn
	if o.settings.ReadCommitted {
		aborted = d.AbortedTxns(from, limit)
	}
	deadline := o.now.Add(o.settings.RecordLockDuration).UnixNano()
	var ranges []Range
	add := func(off int64, count int16) {
		if n := len(ranges); n > 0 && ranges[n-1].Last == off-1 && ranges[n-1].Count == count {
			ranges[n-1].Last = off
			return
		}
		ranges = append(ranges, Range{off, off, count})
	}
	got, used := 0, 0
walk:
	for bi, b := range batches {
		if got >= o.maxRecords {
			break
		}
		// Offsets already in flight: take the Available ones.
		for off := max(b.Base, sp.spso); off <= b.Last && off < sp.end(); off++ {
			if got >= o.maxRecords {
				break walk
			}
			r := &sp.recs[off-sp.spso]
			if r.state != stateAvailable {
				continue
			}
			r.state, r.owner, r.deadline = stateAcquired, o.member, deadline
			r.count++
			sp.acquired++
			add(off, r.count)
			got++
			used = bi + 1
		}
		if b.Last < sp.end() {
			continue
		}
		// New offsets. Anything between end() and the batch is not in
		// the log (compacted away): archive it.
		skip := b.Control || (b.Transactional && isAborted(aborted, b))
		if !skip && len(sp.recs) >= o.maxInFlight {
			break
		}
		switch {
		case sp.end() >= b.Base:
		case len(sp.recs) == 0:
			sp.spso = b.Base // nothing in flight: the SPSO jumps the hole
		case b.Base-sp.end() > int64(o.maxInFlight):
			break walk // a hole wider than the window waits until it is the prefix
		default:
			for sp.end() < b.Base {
				sp.recs = append(sp.recs, rec{state: stateArchived})
			}
		}
		if skip {
			for sp.end() <= b.Last {
				sp.recs = append(sp.recs, rec{state: stateArchived})
			}
			continue
		}
		for sp.end() <= b.Last {
			if o.strict && got >= o.maxRecords {
				break walk
			}
			off := sp.end()
			sp.recs = append(sp.recs, rec{state: stateAcquired, owner: o.member, deadline: deadline, count: 1})
			sp.acquired++
			add(off, 1)
			got++
			used = bi + 1
		}
	}
	sp.advance()
	if used == 0 {
		rr.Release()
		return nil, nil, nil
	}
	replica.KeepBatches(rr, batches, used)
	return ranges, rr, nil
}

// isAborted reports whether transactional batch b belongs to an aborted
// transaction: one of its producer's whose first offset is at or before b
// and whose abort marker comes after it.
func isAborted(aborted []replica.AbortedTxn, b replica.BatchInfo) bool {
	for _, a := range aborted {
		if a.ProducerID == b.ProducerID && a.FirstOffset <= b.Base && b.Base <= a.LastOffset {
			return true
		}
	}
	return false
}

// AckBatch is one acknowledgement batch of a request: Types has one entry
// for the whole range, or one per offset.
type AckBatch struct {
	First, Last int64
	Types       []int8
}

// ackResult says what an acknowledgement changed.
type ackResult struct {
	changed   bool // state other than lock deadlines changed: persist
	available bool // records became Available or the window moved: wake fetchers
}

// validAcks checks the shape of acks (Kafka's INVALID_REQUEST cases):
// ranges in order and disjoint, types per offset or one, known types.
func validAcks(acks []AckBatch, maxType int8) bool {
	prev := int64(-1)
	for _, a := range acks {
		if a.First < 0 || a.Last < a.First || a.First <= prev {
			return false
		}
		if len(a.Types) != 1 && int64(len(a.Types)) != a.Last-a.First+1 {
			return false
		}
		for _, t := range a.Types {
			if t < AckGap || t > maxType {
				return false
			}
		}
		prev = a.Last
	}
	return true
}

// acknowledge applies member's acks. Every acknowledged offset must be
// Acquired by member (else INVALID_RECORD_STATE and nothing changes).
func (sp *sharePartition) acknowledge(member string, acks []AckBatch, now time.Time, s Settings) (ackResult, bool) {
	sp.expire(now, s.DeliveryAttemptLimit)
	for _, a := range acks {
		if a.First < sp.spso || a.Last >= sp.end() {
			return ackResult{}, false
		}
		for off := a.First; off <= a.Last; off++ {
			if r := &sp.recs[off-sp.spso]; r.state != stateAcquired || r.owner != member {
				return ackResult{}, false
			}
		}
	}
	var res ackResult
	renewed := now.Add(s.RecordLockDuration).UnixNano()
	for _, a := range acks {
		for off := a.First; off <= a.Last; off++ {
			t := a.Types[0]
			if len(a.Types) > 1 {
				t = a.Types[off-a.First]
			}
			r := &sp.recs[off-sp.spso]
			switch t {
			case AckRenew:
				r.deadline = renewed
				continue
			case AckAccept:
				sp.finish(r, stateAcknowledged)
			case AckRelease:
				if sp.release(r, s.DeliveryAttemptLimit) {
					res.available = true
				}
			default: // gap, reject
				sp.finish(r, stateArchived)
			}
			res.changed = true
		}
	}
	if sp.advance() {
		res.available = true
	}
	return res, true
}

// finish ends an Acquired record's lock with state (Acknowledged or
// Archived).
func (sp *sharePartition) finish(r *rec, state int8) {
	r.state, r.owner, r.deadline = state, "", 0
	sp.acquired--
}

// release ends an Acquired record's lock without delivering it: Available
// again, or Archived once it was delivered limit times. It reports
// whether the record became Available.
func (sp *sharePartition) release(r *rec, limit int32) bool {
	if int32(r.count) >= limit {
		sp.finish(r, stateArchived)
		return false
	}
	sp.finish(r, stateAvailable)
	return true
}

// releaseMember releases every record member holds (its share session
// closed). It reports whether anything changed.
func (sp *sharePartition) releaseMember(member string, limit int32) bool {
	if sp.acquired == 0 {
		return false
	}
	changed := false
	for i := range sp.recs {
		if r := &sp.recs[i]; r.state == stateAcquired && r.owner == member {
			sp.release(r, limit)
			changed = true
		}
	}
	sp.advance()
	return changed
}

// expire releases the records whose lock deadline passed. It reports
// whether any did.
func (sp *sharePartition) expire(now time.Time, limit int32) bool {
	if sp.acquired == 0 {
		return false
	}
	t := now.UnixNano()
	changed := false
	for i := range sp.recs {
		if r := &sp.recs[i]; r.state == stateAcquired && r.deadline <= t {
			sp.release(r, limit)
			changed = true
		}
	}
	if changed {
		sp.advance()
	}
	return changed
}

// advance moves the SPSO past the finished (Acknowledged or Archived)
// prefix. It reports whether it moved.
func (sp *sharePartition) advance() bool {
	n := 0
	for n < len(sp.recs) && (sp.recs[n].state == stateAcknowledged || sp.recs[n].state == stateArchived) {
		n++
	}
	if n == 0 {
		return false
	}
	sp.spso += int64(n)
	sp.recs = sp.recs[n:]
	if len(sp.recs) == 0 {
		sp.recs = nil // let the old array go
	}
	return true
}

// moveStart makes off the SPSO, dropping in-flight state below it (and
// all of it when off is past end()).
func (sp *sharePartition) moveStart(off int64) {
	if off >= sp.end() {
		sp.spso, sp.recs, sp.acquired = off, nil, 0
		return
	}
	if off <= sp.spso {
		return
	}
	drop := int(off - sp.spso)
	for i := 0; i < drop; i++ {
		if sp.recs[i].state == stateAcquired {
			sp.acquired--
		}
	}
	sp.spso, sp.recs = off, sp.recs[drop:]
	sp.advance()
}

// inFlightDone counts the Acknowledged and Archived records below hw
// (for the lag DescribeShareGroupOffsets reports).
func (sp *sharePartition) inFlightDone(hw int64) int64 {
	var n int64
	for i := range sp.recs {
		if sp.spso+int64(i) >= hw {
			break
		}
		if s := sp.recs[i].state; s == stateAcknowledged || s == stateArchived {
			n++
		}
	}
	return n
}

// wake signals every fetch waiting on this share-partition.
func (sp *sharePartition) wakeLocked() {
	for ch := range sp.waiters {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	sp.waiters = nil
}
