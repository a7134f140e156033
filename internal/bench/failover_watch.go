package bench

import (
	"fmt"
	"sync"
	"time"
)

// ackWatch follows the producer's acknowledgements: the last one per
// partition, and, while a disruption is armed, for its partitions the
// first acknowledgement of a record sent after each awaited moment (the
// signal, the process's exit), the longest gap between consecutive
// acknowledgements and the errors.
type ackWatch struct {
	mu       sync.Mutex
	lastAck  []time.Time
	watched  map[int32]bool // the armed disruption's partitions; nil when unarmed
	waits    []*ackWait     // waits[0] is from the signal
	maxGap   time.Duration
	armErrs  int64
	errs     int64
	firstErr error
	closing  bool // the phase is over: errors are the client closing
}

// ackWait is one awaited moment: done closes once every watched partition
// has acknowledged a record sent after at.
type ackWait struct {
	at      time.Time
	pending map[int32]bool
	worst   time.Duration // the latest first acknowledgement so far, from at
	done    chan struct{}
}

func (w *ackWatch) acked(p int32, sent time.Time, err error) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if err != nil {
		if !w.closing {
			w.errs++
			if w.watched != nil {
				w.armErrs++
			}
			if w.firstErr == nil {
				w.firstErr = fmt.Errorf("partition %d: %w", p, err)
			}
		}
		return
	}
	if w.watched[p] {
		w.maxGap = max(w.maxGap, now.Sub(w.lastAck[p]))
	}
	w.lastAck[p] = now
	// A record sent after the moment proves the partition writable then;
	// one sent before may have been appended before the leader went.
	for _, a := range w.waits {
		if a.pending[p] && sent.After(a.at) {
			delete(a.pending, p)
			a.worst = max(a.worst, now.Sub(a.at))
			if len(a.pending) == 0 {
				close(a.done)
			}
		}
	}
}

// arm starts watching partitions from now, the moment of the signal; the
// channel closes once each has acknowledged a record sent after it.
func (w *ackWatch) arm(partitions []int32) <-chan struct{} {
	w.mu.Lock()
	w.watched = map[int32]bool{}
	for _, p := range partitions {
		w.watched[p] = true
	}
	w.waits, w.maxGap, w.armErrs = nil, 0, 0
	w.mu.Unlock()
	return w.await(time.Now())
}

// await adds a moment to the armed watch: the channel closes once every
// watched partition has acknowledged a record sent after at.
func (w *ackWatch) await(at time.Time) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	a := &ackWait{at: at, pending: map[int32]bool{}, done: make(chan struct{})}
	for p := range w.watched {
		a.pending[p] = true
	}
	if len(a.pending) == 0 {
		close(a.done)
	}
	w.waits = append(w.waits, a)
	return a.done
}

// disarm ends the watch: the time from the signal to the last partition's
// first acknowledgement after it, the longest gap, the errors while
// armed, and how many partitions have not yet acknowledged a record sent
// after every awaited moment.
func (w *ackWatch) disarm() (first, gap time.Duration, errs int64, left int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.waits {
		left = max(left, len(a.pending))
	}
	if len(w.waits) > 0 {
		first = w.waits[0].worst
	}
	gap, errs = w.maxGap, w.armErrs
	w.watched, w.waits = nil, nil
	return first, gap, errs, left
}

func (w *ackWatch) ackedSince(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr != nil {
		return errStop{w.firstErr}
	}
	for p, at := range w.lastAck {
		if !at.After(t) {
			return fmt.Errorf("partition %d: no acknowledgement yet", p)
		}
	}
	return nil
}

func (w *ackWatch) close() {
	w.mu.Lock()
	w.closing = true
	w.mu.Unlock()
}

func (w *ackWatch) errorsSeen() (int64, string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.firstErr == nil {
		return w.errs, ""
	}
	return w.errs, w.firstErr.Error()
}
