package replica

import (
	"slices"
	"sync"
	"time"
)

// The leader's in-sync replica decisions for one partition in one leader
// epoch, as Kafka's Partition and Replica make them (maybeExpandIsr,
// maybeShrinkIsr, updateFetchState, maybeIncrementLeaderHW). ISR holds
// what the leader knows of each follower and answers three questions: may
// this follower join the ISR, which members fell out of sync, and how far
// may the HW go. It does no I/O and starts no goroutines: the data path
// calls Fetched on every follower fetch and OutOfSync periodically, sends
// the AlterPartition the answers call for, and reports its outcome with
// Committed or Failed.
//
// Caught up (Kafka's lastCaughtUpTimeMs): a follower is caught up at a
// fetch whose offset reached the leader's LEO at that fetch, and also, as
// of its previous fetch, when this fetch reached the LEO the leader had
// then. It is in sync while its last caught-up time is within
// replica.lag.time.max.ms of now, or its fetch offset is the leader's LEO.
//
// INVARIANT: the leader never leaves the ISR by these decisions (it is
// never out of sync with itself), and at most one ISR change is in flight:
// while an AlterPartition is pending, no further expansion or shrink is
// proposed (Kafka's isInflight).
//
// INVARIANT (KIP-497, maximal ISR): while a change is in flight the HW is
// computed over the union of the committed and the proposed ISR, so
// neither an expansion (the new member may not be counted yet) nor a
// shrink (the controller may refuse it) lets the HW pass a record some
// replica the controller may still count as in sync lacks.

// DefaultReplicaLagTimeMax is Kafka's replica.lag.time.max.ms default.
const DefaultReplicaLagTimeMax = 30 * time.Second

// ISR is the leader's follower bookkeeping for one partition; safe for
// concurrent use (fetches of different followers call it at once).
type ISR struct {
	mu         sync.Mutex
	leader     int32
	lagMax     time.Duration
	epochStart int64 // the leader's LEO when its epoch began
	replicas   []int32
	isr        []int32 // committed
	pending    []int32 // proposed while an AlterPartition is in flight; nil: none
	followers  map[int32]*follower
	eligible   func(id int32) bool // nil: every broker
}

// follower is what the leader knows of one follower (Kafka's ReplicaState).
type follower struct {
	fetchOffset  int64 // its log end as of its last fetch; -1 unknown
	fetchLEO     int64 // the leader's LEO at that fetch; -1 unknown
	lastFetch    time.Time
	lastCaughtUp time.Time // zero: never in this epoch
}

// ISRConfig starts the bookkeeping when a broker becomes leader.
type ISRConfig struct {
	Leader     int32
	Replicas   []int32 // the assignment, leader included
	ISR        []int32 // committed ISR from the metadata image
	EpochStart int64   // the leader's LEO when it took the epoch
	LagMax     time.Duration
	Now        time.Time
	// Eligible reports whether a broker may be in an ISR (registered,
	// unfenced, not shutting down: KIP-841); nil: every broker. It is
	// called with ISR's mutex held, so it must take no lock (an image
	// lookup is an atomic load).
	Eligible func(id int32) bool
}

// NewISR starts a new leader's bookkeeping: fetch offsets are unknown
// until each follower fetches, and the ISR's members count as caught up
// now (Kafka's resetReplicaState), so a new leader does not drop them
// before they had replica.lag.time.max.ms to fetch.
func NewISR(c ISRConfig) *ISR {
	if c.LagMax <= 0 {
		c.LagMax = DefaultReplicaLagTimeMax
	}
	t := &ISR{leader: c.Leader, lagMax: c.LagMax, epochStart: c.EpochStart, followers: map[int32]*follower{},
		eligible: c.Eligible}
	t.setLocked(c.Replicas, c.ISR, c.Now)
	return t
}

// setLocked installs a committed assignment and ISR, keeping what is known
// of followers that stay and starting new ones as unknown.
func (t *ISR) setLocked(replicas, isr []int32, now time.Time) {
	t.replicas = slices.Clone(replicas)
	t.isr = sortedSet(isr)
	t.pending = nil
	for id := range t.followers {
		if !slices.Contains(t.replicas, id) {
			delete(t.followers, id)
		}
	}
	for _, id := range t.replicas {
		if id == t.leader || t.followers[id] != nil {
			continue
		}
		f := &follower{fetchOffset: -1, fetchLEO: -1}
		if slices.Contains(t.isr, id) {
			f.lastCaughtUp = now
		}
		t.followers[id] = f
	}
}

// Fetched records a follower's fetch at fetchOffset while the leader's log
// ends at leaderLEO (Kafka's updateFetchState). A fetch from a broker
// that is not a replica changes nothing.
func (t *ISR) Fetched(id int32, fetchOffset, leaderLEO int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.followers[id]
	if f == nil {
		return
	}
	switch {
	case fetchOffset >= leaderLEO:
		f.lastCaughtUp = later(f.lastCaughtUp, now)
	case f.fetchLEO >= 0 && fetchOffset >= f.fetchLEO:
		// It now holds everything the leader had at its previous fetch:
		// it was caught up as of then.
		f.lastCaughtUp = later(f.lastCaughtUp, f.lastFetch)
	}
	f.fetchOffset, f.fetchLEO, f.lastFetch = fetchOffset, leaderLEO, now
}

// ShouldExpand reports whether follower id may join the ISR (Kafka's
// canAddReplicaToIsr and isFollowerInSync): no change is in flight, it is
// a replica outside the ISR, and its fetch offset reached both the HW and
// the start of the leader's epoch (so it holds this leader's history, not
// only an old leader's). Whether its broker is fenced or shutting down is
// the caller's check.
func (t *ISR) ShouldExpand(id int32, hw int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.shouldExpandLocked(id, hw)
}

func (t *ISR) shouldExpandLocked(id int32, hw int64) bool {
	f := t.followers[id]
	if f == nil || t.pending != nil || slices.Contains(t.isr, id) {
		return false
	}
	return f.fetchOffset >= 0 && f.fetchOffset >= hw && f.fetchOffset >= t.epochStart
}

// OutOfSync lists the ISR members to drop (Kafka's getOutOfSyncReplicas):
// followers not caught up within replica.lag.time.max.ms of now, given the
// leader's log end. Never the leader; nothing while a change is in flight.
func (t *ISR) OutOfSync(leaderLEO int64, now time.Time) []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending != nil {
		return nil
	}
	var out []int32
	for _, id := range t.isr {
		if id == t.leader {
			continue
		}
		if f := t.followers[id]; f == nil || !t.caughtUp(f, leaderLEO, now) {
			out = append(out, id)
		}
	}
	return out
}

// caughtUp is Kafka's ReplicaState.isCaughtUp.
func (t *ISR) caughtUp(f *follower, leaderLEO int64, now time.Time) bool {
	return f.fetchOffset == leaderLEO || (!f.lastCaughtUp.IsZero() && now.Sub(f.lastCaughtUp) <= t.lagMax)
}

// ProposeExpand marks the ISR with id added as in flight and returns it,
// for the AlterPartition request; ok is false when ShouldExpand would be.
func (t *ISR) ProposeExpand(id int32, hw int64) (isr []int32, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.shouldExpandLocked(id, hw) {
		return nil, false
	}
	t.pending = sortedSet(append(slices.Clone(t.isr), id))
	return slices.Clone(t.pending), true
}

// ProposeShrink marks the ISR without ids (never the leader) as in flight
// and returns it; ok is false when a change is already in flight or ids
// remove no member.
func (t *ISR) ProposeShrink(ids []int32) (isr []int32, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending != nil {
		return nil, false
	}
	next := slices.DeleteFunc(slices.Clone(t.isr), func(id int32) bool {
		return id != t.leader && slices.Contains(ids, id)
	})
	if len(next) == len(t.isr) {
		return nil, false
	}
	t.pending = next
	return slices.Clone(next), true
}

// Committed installs the ISR the controller accepted (the AlterPartition
// answer, or a metadata image with this leader's epoch) and ends any
// change in flight. replicas is the assignment, which a reassignment may
// have changed; nil keeps it.
func (t *ISR) Committed(replicas, isr []int32, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if replicas == nil {
		replicas = t.replicas
	}
	t.setLocked(replicas, isr, now)
}

// Failed ends a change in flight that the controller refused or that got
// no answer: the committed ISR stands, and the next fetch or periodic
// check may propose again.
func (t *ISR) Failed() {
	t.mu.Lock()
	t.pending = nil
	t.mu.Unlock()
}

// Current is the committed ISR.
func (t *ISR) Current() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.isr)
}

// InFlight is the proposed ISR while an AlterPartition is pending, else nil.
func (t *ISR) InFlight() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.pending)
}

// MaximalISR is the union of the committed and the proposed ISR (KIP-497):
// the replicas the HW must wait for.
func (t *ISR) MaximalISR() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.maximalLocked()
}

func (t *ISR) maximalLocked() []int32 {
	return sortedSet(append(slices.Clone(t.isr), t.pending...))
}

// HighWatermark is where the HW may be, given the offset the leader itself
// holds durably (leaderOffset, at most its LEO): the smallest fetch offset
// among the maximal ISR's followers, and among followers outside it that
// are caught up and eligible and so about to join (Kafka's
// maybeIncrementLeaderHW with KIP-841: a fenced or shutting-down broker
// outside the ISR does not hold the HW), but not above leaderOffset. A member not heard from in this epoch (offset
// unknown) holds it at -1. The result may be below the current HW; the
// caller only ever moves the HW up.
func (t *ISR) HighWatermark(leaderOffset, leaderLEO int64, now time.Time) int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	hw := leaderOffset
	maximal := t.maximalLocked()
	for id, f := range t.followers {
		if f.fetchOffset >= hw {
			continue
		}
		if slices.Contains(maximal, id) || (t.caughtUp(f, leaderLEO, now) && (t.eligible == nil || t.eligible(id))) {
			hw = f.fetchOffset
		}
	}
	return hw
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// sortedSet returns ids sorted without duplicates (a new slice).
func sortedSet(ids []int32) []int32 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}
