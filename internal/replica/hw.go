package replica

import (
	"errors"
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// The leader's view of replication (Kafka's Partition with its remote
// replica states): the replica set, ISR and partition epoch from the
// metadata image (or from an AlterPartition answer, isr_wiring.go), and,
// while this broker leads, the ISR component (isr.go) that records each
// follower's fetches. The HW is computed in one place, hwCapLocked, by
// ISR.HighWatermark over the maximal ISR (KIP-497):
//
//	HW = min(own durable offset, fetch offset of every member of the
//	         committed or proposed ISR, and of every caught-up follower)
//
// A follower's fetch offset is its durable LEO: followers fsync what they
// appended before they fetch again (fetcher.go), a departure from Kafka
// that keeps the single-node promise (a consumer never sees a record a
// power cut could take from an ISR member). An ISR member that has not
// fetched since this broker became leader holds the HW where it is.
//
// INVARIANT: HW <= the durable offset of every ISR member (committed or
// in flight), and the HW never goes back (advance).

// role is the partition's place in its replica set, from the image.
type role struct {
	self, leader int32
	leaderEpoch  int32
	// partitionEpoch is the image's, or a newer one from an
	// AlterPartition answer (the image catches up later).
	partitionEpoch int32
	replicas       []int32
	isr            []int32
}

// ErrNotLeader is returned by AwaitReplicated when this broker stopped
// leading the partition while a produce waited (NOT_LEADER_OR_FOLLOWER).
var ErrNotLeader = errors.New("replica: no longer the leader")

// ErrNotEnoughReplicasAfterAppend is returned by AwaitReplicated when the
// HW covers the records but the ISR shrank below min.insync.replicas
// meanwhile (Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND).
var ErrNotEnoughReplicasAfterAppend = errors.New("replica: ISR below min.insync.replicas after the append")

// ErrReplicationTimeout is returned by AwaitReplicated when the HW did not
// reach the records in time (REQUEST_TIMED_OUT).
var ErrReplicationTimeout = errors.New("replica: timed out waiting for the ISR")

// setRole installs the image's view of the partition. A broker that just
// became leader (or took a new leader epoch) starts a new ISR component,
// its epoch starting at its LEO, and forgets what it knew of followers
// (they fetch again, as Kafka resets remote replica states); a newer
// partition epoch commits the image's ISR into it, ending any change in
// flight; an older one (the image lags an AlterPartition answer already
// installed) keeps the newer ISR. An ISR change may let the HW move (a
// lagging member left) and wakes acks=all waiters to recheck.
func (p *Partition) setRole(pi metadata.PartitionImage, self int32) {
	now, leo := p.now(), p.log.EndOffset()
	p.mu.Lock()
	was := p.role
	next := role{self: self, leader: pi.Leader, leaderEpoch: pi.LeaderEpoch, partitionEpoch: pi.PartitionEpoch,
		replicas: slices.Clone(pi.Replicas), isr: slices.Clone(pi.ISR)}
	sameTerm := p.isr != nil && was.leader == self && was.leaderEpoch == pi.LeaderEpoch
	switch {
	case pi.Leader != self:
		p.isr, p.brokerEpochs = nil, nil
	case !sameTerm:
		p.isr = NewISR(ISRConfig{Leader: self, Replicas: pi.Replicas, ISR: pi.ISR, EpochStart: leo,
			LagMax: p.lagMax(), Now: now, Eligible: p.eligible})
		p.brokerEpochs = nil
	case pi.PartitionEpoch < was.partitionEpoch:
		next.partitionEpoch, next.replicas, next.isr = was.partitionEpoch, was.replicas, was.isr
	case pi.PartitionEpoch > was.partitionEpoch || !slices.Equal(was.isr, pi.ISR) || !slices.Equal(was.replicas, pi.Replicas):
		p.isr.Committed(pi.Replicas, pi.ISR, now)
	}
	p.role = next
	changed := was.leader != next.leader || !slices.Equal(was.isr, next.isr)
	var ws map[chan struct{}]struct{}
	if changed {
		ws = p.waiters
		p.waiters = nil
	}
	p.mu.Unlock()
	p.wake(ws)
	if pi.Leader == self {
		p.advance(p.ownOffset())
	}
}

// ownOffset is the leader's own contribution to the HW: its durable
// offset, or its LEO when acks do not wait for fsync (flush.messages > 1).
func (p *Partition) ownOffset() int64 {
	if p.Durable() {
		return p.log.DurableOffset()
	}
	return p.log.EndOffset()
}

// IsLeader reports whether the image names this broker the leader.
func (p *Partition) IsLeader() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.role.leader == p.role.self
}

// ReplicationState reports whether this broker leads the partition and,
// if so, whether its ISR is smaller than its replica set (metrics).
func (p *Partition) ReplicationState() (leads, underReplicated bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	leads = p.role.leader == p.role.self
	return leads, leads && len(p.role.isr) < len(p.role.replicas)
}

// ISRSize is the size of the ISR the image gives the partition (0 before
// the first image).
func (p *Partition) ISRSize() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.role.isr)
}

// IsReplica reports whether broker id is in the partition's replica set.
func (p *Partition) IsReplica(id int32) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Contains(p.role.replicas, id)
}

// hwCapLocked bounds a candidate HW (the leader's own offset) by the
// followers, through ISR.HighWatermark: the one HW computation. Caller
// holds mu (ISR's mutex is a leaf, so taking it here is in order).
// INVARIANT: the result is at most the fetch offset (durable LEO) of every
// member of the maximal ISR, so HW <= every ISR member's durable offset.
func (p *Partition) hwCapLocked(own int64) int64 {
	r := p.role
	switch {
	case r.leader != r.self:
		return p.hw // a follower's HW comes from its leader (FollowLeader)
	case p.isr == nil:
		return own // no image yet: a lone log
	}
	return p.isr.HighWatermark(own, p.log.EndOffset(), p.now())
}

// UpdateFollower records a replica fetch from follower id at offset (its
// durable LEO) with the broker epoch its fetch carried (-1: unknown),
// moves the HW if the ISR now covers more, waking consumers and acks=all
// waiters, and proposes adding the follower to the ISR when it may join
// (isr_wiring.go). It returns the HW after the update. Only offsets
// within the log are recorded (the caller checked the range).
func (p *Partition) UpdateFollower(id int32, brokerEpoch, offset int64, now time.Time) int64 {
	leo := p.log.EndOffset()
	p.mu.Lock()
	t := p.isr
	switch {
	case t == nil:
	case brokerEpoch >= 0:
		if p.brokerEpochs == nil {
			p.brokerEpochs = map[int32]int64{}
		}
		p.brokerEpochs[id] = brokerEpoch
	default:
		// A fetch without an epoch (before Fetch v15) skips the check,
		// as Kafka's stored -1 does: forget an older one.
		delete(p.brokerEpochs, id)
	}
	p.mu.Unlock()
	if t != nil {
		t.Fetched(id, offset, leo, now)
	}
	p.advance(p.ownOffset())
	hw := p.HighWatermark()
	if t != nil {
		p.maybeExpand(t, id, hw)
	}
	return hw
}

// ISRView is the leader's ISR component for the partition (nil unless
// this broker leads it): its committed and in-flight ISR, for tests and
// tools.
func (p *Partition) ISRView() *ISR {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isr
}

// WatchLEO registers ch (buffered, size 1) to be signalled at the next
// append: replica fetches wait for new data, not for the HW.
func (p *Partition) WatchLEO(ch chan struct{}) {
	p.mu.Lock()
	if p.leoWaiters == nil {
		p.leoWaiters = map[chan struct{}]struct{}{}
	}
	p.leoWaiters[ch] = struct{}{}
	p.mu.Unlock()
}

// UnwatchLEO removes ch.
func (p *Partition) UnwatchLEO(ch chan struct{}) {
	p.mu.Lock()
	delete(p.leoWaiters, ch)
	p.mu.Unlock()
}

// signalLEO wakes the replica fetches parked on the partition.
func (p *Partition) signalLEO() {
	p.mu.Lock()
	ws := p.leoWaiters
	p.leoWaiters = nil
	p.mu.Unlock()
	p.wake(ws)
}

// ReadReplica returns whole batches from offset up to the LEO (not the
// HW): what a follower copies.
func (p *Partition) ReadReplica(offset int64, maxBytes int) (*log.ReadResult, error) {
	limit, err := p.readLimit(offset, p.log.EndOffset())
	if err != nil {
		return nil, err
	}
	return p.log.Read(offset, maxBytes, limit)
}

// Replicated reports whether AwaitReplicated(upTo, minISR, ...) would
// return nil at once: the HW covers upTo on this leader with at least
// minISR in the ISR.
func (p *Partition) Replicated(upTo int64, minISR int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hw >= upTo && p.role.leader == p.role.self && len(p.role.isr) >= minISR
}

// AwaitReplicated waits until the HW covers every offset < upTo (acks=all)
// or timeout passes, or done closes (nil result then). It answers as
// Kafka's DelayedProduce does: once the HW is there, an ISR smaller than
// minISR is ErrNotEnoughReplicasAfterAppend; losing the leadership is
// ErrNotLeader; the timeout ErrReplicationTimeout.
func (p *Partition) AwaitReplicated(upTo int64, minISR int, timeout time.Duration, done <-chan struct{}) error {
	if p.Replicated(upTo, minISR) {
		return nil // one replica: the commit already moved the HW there
	}
	ch := make(chan struct{}, 1)
	var timer <-chan time.Time
	for {
		p.Watch(ch)
		p.mu.Lock()
		hw, r := p.hw, p.role
		p.mu.Unlock()
		switch {
		case r.leader != r.self:
			p.Unwatch(ch)
			return ErrNotLeader
		case hw >= upTo && len(r.isr) < minISR:
			p.Unwatch(ch)
			return ErrNotEnoughReplicasAfterAppend
		case hw >= upTo:
			p.Unwatch(ch)
			return nil
		}
		if timer == nil {
			t := time.NewTimer(timeout)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-ch:
		case <-timer:
			p.Unwatch(ch)
			return ErrReplicationTimeout
		case <-done:
			p.Unwatch(ch)
			return nil
		}
	}
}
