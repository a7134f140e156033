package replica

import (
	"math"
	"sort"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/record"
)

// Producer state: what a partition remembers of each idempotent or
// transactional producer, rebuilt from the log (see producer_snapshot.go for
// the snapshot files that bound the rebuild).
//
// INVARIANT (sequence monotonic per producer and epoch): a data batch of
// producer p at epoch e is appended only if its first sequence follows the
// last sequence appended for (p, e) (lastSeq+1, wrapping at MaxInt32), or is
// 0 for an epoch higher than p's current one. check and apply run under
// Partition.appendMu around the log append, so two pipelined batches can
// never both pass the check for the same sequence.

// maxBatchesPerProducer is how many recent batches are kept per producer
// for duplicate detection (Kafka's NUM_BATCHES_TO_RETAIN; clients never
// have more than five requests in flight per partition when idempotent).
const maxBatchesPerProducer = 5

// batchMeta is one appended batch of a producer.
type batchMeta struct {
	firstSeq, lastSeq int32
	firstOff, lastOff int64
}

// producerEntry is one producer id's state in one partition.
type producerEntry struct {
	epoch      int16
	batches    []batchMeta // oldest first, at most maxBatchesPerProducer
	lastTs     int64       // max timestamp of its last batch (DescribeProducers)
	coordEpoch int32       // coordinator epoch of its last marker, -1 none
	txnFirst   int64       // first offset of its open transaction, -1 none
	markers    uint64      // markers applied since open (TxnGuard); not persisted
	touchedMs  int64       // wall clock of its last append (or of the load); not persisted
}

func (e *producerEntry) markerCount() uint64 {
	if e == nil {
		return 0
	}
	return e.markers
}

func (e *producerEntry) lastSeq() int32 {
	if len(e.batches) == 0 {
		return -1
	}
	return e.batches[len(e.batches)-1].lastSeq
}

// AbortedTxn is one aborted transaction: the producer, the offset of its
// first record in this partition and the offset of its abort marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// endedTxn is a transaction whose marker is appended but may not be
// durable yet: it still bounds the LSO until the HW passes the marker.
type endedTxn struct {
	first, marker int64
}

// producerState is the producer state of one partition. Mutations run
// under Partition.appendMu; Partition.psMu guards reads from other paths.
type producerState struct {
	nowMs     int64 // wall clock of the current append (set by the caller)
	producers map[int64]*producerEntry
	open      map[int64]int64 // producer id -> txnFirst, for producers with an open transaction
	ended     []endedTxn
	aborted   []AbortedTxn // ascending LastOffset
}

func newProducerState() *producerState {
	return &producerState{producers: map[int64]*producerEntry{}, open: map[int64]int64{}}
}

// ProduceError is a producer-state rejection with its Kafka error code.
type ProduceError struct {
	Err *kerr.Error
	Msg string
}

func (e *ProduceError) Error() string { return e.Err.Message + ": " + e.Msg }

// Is makes a NOT_LEADER_OR_FOLLOWER refusal ErrNotLeader, as callers
// waiting for replication already handle it.
func (e *ProduceError) Is(target error) bool {
	return target == ErrNotLeader && e.Err == kerr.NotLeaderForPartition
}

// errNotLeaderAppend refuses an append on a broker that does not lead
// the partition (any more, or yet).
var errNotLeaderAppend = &ProduceError{kerr.NotLeaderForPartition, "this broker does not lead the partition"}

func inSequence(last, next int32) bool {
	return next == last+1 || (next == 0 && last == math.MaxInt32)
}

// TxnGuard is what the transaction coordinator confirmed before the first
// batch of a transaction in a partition (KIP-890 verification): the
// producer's marker count when it was asked. A marker since then means the
// confirmed transaction ended, and the batch must not open a new one.
//
// On transaction version 2 (KIP-890 part 2: Produce v12+, TxnOffsetCommit
// v5+) the guard counts no markers (EpochBumps): every end of such a
// transaction writes its markers at an epoch above the transaction's, so
// the producer's epoch check already refuses a batch of the ended
// transaction. Counting would also refuse good batches: a coordinator
// whose WriteTxnMarkers timed out while the request still waited at this
// broker sends the marker again, and the copy (a marker for a producer with
// no open transaction, at the epoch it already has) lands after the
// original, while the producer's next transaction is being verified.
type TxnGuard struct {
	markers uint64
	bumps   bool
}

// EpochBumps marks g as taken for a transaction version 2 batch (see
// TxnGuard) and returns it; nil stays nil.
func (g *TxnGuard) EpochBumps() *TxnGuard {
	if g != nil {
		g.bumps = true
	}
	return g
}

// ended reports whether a marker that may have ended the verified
// transaction landed since g was taken (e: the producer's entry, nil for
// none, with no open transaction).
func (g *TxnGuard) ended(e *producerEntry) bool {
	return !g.bumps && g.markers != e.markerCount()
}

// check validates a client data batch against the state. It returns the
// original batch when h is a retry of one of the producer's last batches.
// guard, when set, must still hold for a batch that opens a transaction.
func (s *producerState) check(h *record.Header, guard *TxnGuard) (*batchMeta, error) {
	if h.ProducerID < 0 {
		return nil, nil
	}
	e := s.producers[h.ProducerID]
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	if lastSeq < h.BaseSequence { // wrapped past MaxInt32
		lastSeq = h.LastOffsetDelta - (math.MaxInt32 - h.BaseSequence) - 1
	}
	if guard != nil && h.IsTransactional() && (e == nil || e.txnFirst < 0) && guard.ended(e) {
		return nil, &ProduceError{kerr.InvalidTxnState, "the transaction ended while this batch was verified"}
	}
	if guard != nil && h.IsTransactional() && e != nil && e.txnFirst >= 0 && e.epoch < h.ProducerEpoch {
		// The batch opens the producer's next transaction while the
		// previous one (an older epoch) still waits for its marker: it
		// must not join it.
		return nil, &ProduceError{kerr.NotEnoughReplicas, "the previous transaction's marker has not arrived yet"}
	}
	if e == nil {
		if h.BaseSequence != 0 {
			return nil, &ProduceError{kerr.UnknownProducerID, "no state for this producer id and its sequence is not 0"}
		}
		return nil, nil
	}
	if h.ProducerEpoch == e.epoch {
		for i := range e.batches {
			b := &e.batches[i]
			if b.firstSeq == h.BaseSequence && b.lastSeq == lastSeq {
				dup := *b
				return &dup, nil
			}
		}
	}
	switch {
	case h.ProducerEpoch < e.epoch:
		return nil, &ProduceError{kerr.InvalidProducerEpoch, "producer epoch is older than the partition's"}
	case h.ProducerEpoch > e.epoch:
		if h.BaseSequence != 0 {
			return nil, &ProduceError{kerr.OutOfOrderSequenceNumber, "a new epoch must start at sequence 0"}
		}
	case !inSequence(e.lastSeq(), h.BaseSequence):
		// lastSeq is -1 for an entry with only markers, which accepts 0.
		return nil, &ProduceError{kerr.OutOfOrderSequenceNumber, "sequence does not follow the last one appended"}
	}
	if !h.IsTransactional() && e.txnFirst >= 0 && h.ProducerEpoch == e.epoch {
		return nil, &ProduceError{kerr.InvalidTxnState, "non-transactional batch while a transaction is open"}
	}
	return nil, nil
}

// apply records an appended batch (data or control) at offsets
// [first, last]. Control batches end the producer's open transaction.
func (s *producerState) apply(h *record.Header, first, last int64, ctl controlInfo) {
	if h.ProducerID < 0 {
		return
	}
	e := s.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch, coordEpoch: -1, txnFirst: -1}
		s.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch > e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	e.lastTs = max(e.lastTs, h.MaxTimestamp)
	e.touchedMs = s.nowMs
	if h.IsControl() {
		e.markers++
		if ctl.valid {
			e.coordEpoch = ctl.coordEpoch
		}
		if e.txnFirst >= 0 {
			s.ended = append(s.ended, endedTxn{first: e.txnFirst, marker: first})
			if ctl.valid && !ctl.commit {
				s.aborted = append(s.aborted, AbortedTxn{h.ProducerID, e.txnFirst, first})
			}
			e.txnFirst = -1
			delete(s.open, h.ProducerID)
		}
		return
	}
	lastSeq := h.BaseSequence + h.LastOffsetDelta
	if lastSeq < h.BaseSequence {
		lastSeq = h.LastOffsetDelta - (math.MaxInt32 - h.BaseSequence) - 1
	}
	if len(e.batches) == maxBatchesPerProducer {
		copy(e.batches, e.batches[1:])
		e.batches = e.batches[:maxBatchesPerProducer-1]
	}
	e.batches = append(e.batches, batchMeta{h.BaseSequence, lastSeq, first, last})
	if h.IsTransactional() && e.txnFirst < 0 {
		e.txnFirst = first
		s.open[h.ProducerID] = first
	}
}

// controlInfo is the decoded key of a control batch's record.
type controlInfo struct {
	valid, commit bool
	coordEpoch    int32
}

// firstUnstable is the first offset of the oldest transaction that is open
// or whose marker is not yet below hw; it prunes ended transactions whose
// marker is. ok is false when there is none.
func (s *producerState) firstUnstable(hw int64) (int64, bool) {
	out, ok := int64(math.MaxInt64), false
	kept := s.ended[:0]
	for _, t := range s.ended {
		if t.marker >= hw {
			kept = append(kept, t)
			out, ok = min(out, t.first), true
		}
	}
	clear(s.ended[len(kept):])
	s.ended = kept
	for _, first := range s.open {
		out, ok = min(out, first), true
	}
	return out, ok
}

// abortedIn returns the aborted transactions that may hold records in
// [from, to): their marker is at or after from and they started before to.
func (s *producerState) abortedIn(from, to int64) []AbortedTxn {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].LastOffset >= from })
	var out []AbortedTxn
	for _, a := range s.aborted[i:] {
		if a.FirstOffset < to {
			out = append(out, a)
		}
	}
	return out
}

// pruneAborted drops aborted transactions whose marker is below start
// (retention removed them).
func (s *producerState) pruneAborted(start int64) {
	i := sort.Search(len(s.aborted), func(i int) bool { return s.aborted[i].LastOffset >= start })
	if i > 0 {
		s.aborted = append(s.aborted[:0], s.aborted[i:]...)
	}
}

// producerExpirationMs is Kafka's producer.id.expiration.ms default: a
// producer without an open transaction that has not appended for this long
// is forgotten (its next batch must then start at sequence 0, or it gets
// UNKNOWN_PRODUCER_ID and resets, as with Kafka).
const producerExpirationMs = 86400000

// expire forgets idle producers. The clock is the broker's (the append
// time), not the batches' timestamps, so a producer writing old timestamps
// is not forgotten at once.
func (s *producerState) expire(nowMs int64) {
	for id, e := range s.producers {
		if e.txnFirst < 0 && nowMs-e.touchedMs > producerExpirationMs {
			delete(s.producers, id)
		}
	}
}
