package coordinator

import (
	"maps"
	"slices"
)

// Reconciliation moves one member from its current assignment towards its
// target, in Kafka's steps (CurrentAssignmentBuilder):
//
//  1. partitions no longer in the target become pending revocation; the
//     member keeps its epoch and stays in unrevoked_partitions until a
//     heartbeat's owned partitions no longer include any of them;
//  2. then it moves to the target epoch and gets the target partitions
//     that no other member owns; those still owned elsewhere are
//     "unreleased" and are handed over by a later heartbeat, once their
//     previous owner has revoked them.
//
// So a partition changes owner only after its previous owner revoked it:
// one owner per partition at any time.

// reconcileStep is a member's next (epoch, state, assigned, pending).
type reconcileStep struct {
	epoch    int32
	state    memberState
	assigned parts
	pending  parts
}

// reconcile computes m's next step towards target at targetEpoch. owned
// is what the member reports owning (nil: not reported, which counts as
// still owning everything pending). ownerOf names the member owning a
// partition ("" when free). changed is false when m is already
// reconciled or must keep waiting.
func reconcile(m *cmember, targetEpoch int32, target parts, owned parts, ownerOf func(tpid) string) (reconcileStep, bool) {
	cur := reconcileStep{epoch: m.epoch, state: m.state, assigned: m.assigned, pending: m.pending}
	switch m.state {
	case memberStable:
		if m.epoch == targetEpoch {
			return cur, false
		}
		return nextStep(m, m.epoch, targetEpoch, target, owned, ownerOf), true
	case memberUnrevokedPartitions:
		if ownsAny(owned, m.pending) {
			return cur, false
		}
		return nextStep(m, min(m.epoch+1, targetEpoch), targetEpoch, target, owned, ownerOf), true
	default: // memberUnreleasedPartitions
		return nextStep(m, m.epoch, targetEpoch, target, owned, ownerOf), true
	}
}

// ownsAny reports whether owned still holds a partition of set (owned
// nil: the member did not say, so it still owns them).
func ownsAny(owned, set parts) bool {
	if len(set) == 0 {
		return false
	}
	if owned == nil {
		return true
	}
	for id, ps := range set {
		for _, p := range ps {
			if owned.has(id, p) {
				return true
			}
		}
	}
	return false
}

func nextStep(m *cmember, epoch, targetEpoch int32, target parts, owned parts, ownerOf func(tpid) string) reconcileStep {
	assigned, revoke, gain := parts{}, parts{}, parts{}
	unreleased := false
	ids := map[uuid]bool{}
	for id := range target {
		ids[id] = true
	}
	for id := range m.assigned {
		ids[id] = true
	}
	for _, id := range slices.SortedFunc(maps.Keys(ids), compareUUID) {
		for _, p := range m.assigned[id] {
			if target.has(id, p) {
				assigned.add(id, p)
			} else {
				revoke.add(id, p)
			}
		}
		for _, p := range target[id] {
			if assigned.has(id, p) {
				continue
			}
			if o := ownerOf(tpid{id, p}); o != "" && o != m.id {
				unreleased = true
				continue
			}
			gain.add(id, p)
		}
	}
	switch {
	case len(revoke) > 0 && ownsAny(owned, revoke):
		return reconcileStep{epoch: epoch, state: memberUnrevokedPartitions, assigned: assigned, pending: revoke}
	case len(gain) > 0:
		for id, ps := range gain {
			for _, p := range ps {
				assigned.add(id, p)
			}
		}
		st := memberStable
		if unreleased {
			st = memberUnreleasedPartitions
		}
		return reconcileStep{epoch: targetEpoch, state: st, assigned: assigned, pending: parts{}}
	case unreleased:
		return reconcileStep{epoch: targetEpoch, state: memberUnreleasedPartitions, assigned: assigned, pending: parts{}}
	default:
		return reconcileStep{epoch: targetEpoch, state: memberStable, assigned: assigned, pending: parts{}}
	}
}
