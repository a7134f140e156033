package replica

import (
	"errors"
	"slices"
	"time"

	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
)

// The leader's view of replication (Kafka's Partition with its remote
// replica states): the replica set and ISR from the metadata image, and
// each follower's last fetch. The leader computes the high watermark from
// them:
//
//	HW = min(own durable offset, fetch offset of every other ISR member)
//
// A follower's fetch offset is its durable LEO: followers fsync what they
// appended before they fetch again (fetcher.go), a departure from Kafka
// that keeps the single-node promise (a consumer never sees a record a
// power cut could take from an ISR member). An ISR member that has not
// fetched since this broker became leader holds the HW where it is.
//
// INVARIANT: HW <= the durable offset of every ISR member, and the HW
// never goes back (advance).

// followerState is what the leader knows of one follower.
type followerState struct {
	fetchOffset  int64     // the offset of its last fetch: its durable LEO
	lastFetch    time.Time // when it last fetched
	leoAtFetch   int64     // the leader's LEO at that fetch
	lastCaughtUp time.Time // Kafka's lastCaughtUpTime: the follower had everything the leader had then
}

// FollowerState is the leader's view of one follower, for the ISR
// decisions (Kafka's replica.lag.time.max.ms rule reads LastCaughtUp).
type FollowerState struct {
	ID           int32
	FetchOffset  int64
	LastFetch    time.Time
	LastCaughtUp time.Time
}

// role is the partition's place in its replica set, from the image.
type role struct {
	self, leader int32
	leaderEpoch  int32
	replicas     []int32
	isr          []int32
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
// became leader forgets what it knew of followers (they fetch again, as
// Kafka resets remote replica states); an ISR change may let the HW move
// (a lagging member left) and wakes acks=all waiters to recheck.
func (p *Partition) setRole(pi metadata.PartitionImage, self int32) {
	p.mu.Lock()
	was := p.role
	p.role = role{self: self, leader: pi.Leader, leaderEpoch: pi.LeaderEpoch,
		replicas: slices.Clone(pi.Replicas), isr: slices.Clone(pi.ISR)}
	if pi.Leader != self || was.leader != self || was.leaderEpoch != pi.LeaderEpoch {
		p.followers = nil
	}
	changed := was.leader != pi.Leader || !slices.Equal(was.isr, pi.ISR)
	var ws map[chan struct{}]struct{}
	if changed {
		ws = p.waiters
		p.waiters = nil
	}
	p.mu.Unlock()
	wake(ws)
	if pi.Leader == self {
		p.advance(p.ownOffset())
	}
}

// wake signals every channel of ws (each buffered, size 1).
func wake(ws map[chan struct{}]struct{}) {
	for ch := range ws {
		select {
		case ch <- struct{}{}:
		default:
		}
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

// hwCapLocked bounds a candidate HW by every other ISR member's fetch
// offset. Caller holds mu.
func (p *Partition) hwCapLocked(own int64) int64 {
	r := p.role
	if r.leader != r.self {
		return p.hw // a follower's HW comes from its leader (setFollowerHW)
	}
	for _, id := range r.isr {
		if id == r.self {
			continue
		}
		f := p.followers[id]
		if f == nil {
			return min(own, p.hw) // not fetched yet: the HW stays
		}
		own = min(own, f.fetchOffset)
	}
	return own
}

// UpdateFollower records a replica fetch from follower id at offset (its
// durable LEO) and moves the HW if the ISR now covers more, waking
// consumers and acks=all waiters. It returns the HW after the update.
// Only offsets within the log are recorded (the caller checked the range).
func (p *Partition) UpdateFollower(id int32, offset int64, now time.Time) int64 {
	leo := p.log.EndOffset()
	p.mu.Lock()
	if p.followers == nil {
		p.followers = map[int32]*followerState{}
	}
	f := p.followers[id]
	if f == nil {
		f = &followerState{}
		p.followers[id] = f
	}
	// As Kafka: caught up now when it has the whole log, or as of its
	// previous fetch when it now has what the log held then.
	switch {
	case offset >= leo:
		f.lastCaughtUp = now
	case !f.lastFetch.IsZero() && offset >= f.leoAtFetch:
		f.lastCaughtUp = f.lastFetch
	}
	f.fetchOffset, f.lastFetch, f.leoAtFetch = offset, now, leo
	p.mu.Unlock()
	p.advance(p.ownOffset())
	return p.HighWatermark()
}

// Followers returns what the leader knows of each follower that fetched
// since this broker became leader (ISR decisions, tests).
func (p *Partition) Followers() []FollowerState {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]FollowerState, 0, len(p.followers))
	for id, f := range p.followers {
		out = append(out, FollowerState{ID: id, FetchOffset: f.fetchOffset, LastFetch: f.lastFetch, LastCaughtUp: f.lastCaughtUp})
	}
	return out
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
	wake(ws)
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

// AwaitReplicated waits until the HW covers every offset < upTo (acks=all)
// or timeout passes, or done closes (nil result then). It answers as
// Kafka's DelayedProduce does: once the HW is there, an ISR smaller than
// minISR is ErrNotEnoughReplicasAfterAppend; losing the leadership is
// ErrNotLeader; the timeout ErrReplicationTimeout.
func (p *Partition) AwaitReplicated(upTo int64, minISR int, timeout time.Duration, done <-chan struct{}) error {
	p.mu.Lock()
	covered := p.hw >= upTo && p.role.leader == p.role.self && len(p.role.isr) >= minISR
	p.mu.Unlock()
	if covered {
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
