package controller

import (
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Every change of a partition's leader, ISR or replicas goes through
// partitionChange (Kafka's PartitionChangeBuilder, without eligible leader
// replicas, which Sluice does not have): fencing, controlled
// shutdown, unfencing, ElectLeaders, AlterPartition and the periodic
// unclean election all say what they want (a target ISR, who may lead,
// which election) and get the one record that does it, or none.
//
// Elections, Kafka's rules:
//   - clean: the current leader stays while it is acceptable and in the
//     target ISR, else the first replica (in replica order) that is both,
//     else no leader (-1);
//   - preferred: the first replica if it is acceptable and in the target
//     ISR, else as clean but looking past the first replica;
//   - unclean: as clean, and when no in-sync replica can lead, the first
//     acceptable replica leads although it is not in sync: the ISR becomes
//     it alone and its leader recovery state RECOVERING (KIP-704) until it
//     says RECOVERED in an AlterPartition. Records acknowledged by the old
//     ISR may be lost; that is what unclean.leader.election.enable trades
//     for availability.
//
// Reassignments (reassign.go): while one is ongoing the replicas are the
// target plus the removing replicas. INVARIANT (Kafka's
// tryCompleteReassignment): whatever change is built, when every adding
// replica is in the target ISR and the ISR without the removing replicas
// is not empty, the same record completes the reassignment: replicas =
// target, the removing replicas leave the ISR, adding/removing are cleared
// and, the removed leader being out of the ISR, the election picks the
// first target replica in sync. So the leader's AlterPartition expansion
// that admits the last adding replica completes it, as does any other
// change (fencing, a new reassignment) that finds it complete.
//
// INVARIANT: a record is built only when something changes, so the
// partition epoch counts real changes (metadata.PartitionChangeRecord); a
// target ISR that would be empty is not written (Kafka without ELR keeps
// the last member, so the partition remembers who may lead it cleanly).

type electionKind int

const (
	electClean electionKind = iota
	electPreferred
	electUnclean
)

type partitionChange struct {
	topicID    metadata.UUID
	partition  int32
	p          metadata.PartitionImage
	election   electionKind
	acceptable func(int32) bool // may lead (besides being in sync)
	targetISR  []int32
	recovery   metadata.LeaderRecoveryState // target leader recovery state
	// The target replicas and reassignment state (default: unchanged).
	replicas, adding, removing []int32
}

// newPartitionChange starts a change of partition i of topic t that, until
// told otherwise, keeps the ISR and elects cleanly among active brokers.
func newPartitionChange(im *metadata.Image, t *metadata.TopicImage, i int32) *partitionChange {
	p := t.Partitions[i]
	return &partitionChange{topicID: t.ID, partition: i, p: p, election: electClean,
		acceptable: func(r int32) bool { return acceptableLeader(im, r) },
		targetISR:  p.ISR, recovery: p.LeaderRecoveryState,
		replicas: p.Replicas, adding: p.AddingReplicas, removing: p.RemovingReplicas}
}

// completeReassignment applies the reassignment INVARIANT above.
func (c *partitionChange) completeReassignment() {
	if len(c.adding) == 0 && len(c.removing) == 0 {
		return
	}
	for _, r := range c.adding {
		if !slices.Contains(c.targetISR, r) {
			return
		}
	}
	isr := without(c.targetISR, c.removing)
	if len(isr) == 0 {
		return
	}
	c.replicas, c.targetISR = without(c.replicas, c.removing), isr
	c.adding, c.removing = nil, nil
}

// without returns s without the members of drop, in s's order.
func without(s, drop []int32) []int32 {
	out := make([]int32, 0, len(s))
	for _, x := range s {
		if !slices.Contains(drop, x) {
			out = append(out, x)
		}
	}
	return out
}

// build returns the record, or nil when nothing would change.
func (c *partitionChange) build() *metadata.PartitionChangeRecord {
	rec := &metadata.PartitionChangeRecord{TopicID: c.topicID, Partition: c.partition, Leader: metadata.NoLeaderChange}
	c.completeReassignment()
	if !slices.Equal(c.replicas, c.p.Replicas) {
		rec.Replicas = slices.Clone(c.replicas)
	}
	if !slices.Equal(c.adding, c.p.AddingReplicas) || !slices.Equal(c.removing, c.p.RemovingReplicas) {
		// Empty, not nil, clears a field (metadata.PartitionChangeRecord).
		rec.AddingReplicas = append([]int32{}, c.adding...)
		rec.RemovingReplicas = append([]int32{}, c.removing...)
	}
	leader, unclean := c.elect()
	if leader != c.p.Leader {
		rec.Leader = leader
		if unclean {
			rec.ISR = []int32{leader}
			if c.p.LeaderRecoveryState != metadata.Recovering {
				rec.LeaderRecovery = metadata.RecoveryToRecovering
			}
		}
	}
	if rec.ISR == nil && len(c.targetISR) > 0 && !slices.Equal(c.targetISR, c.p.ISR) {
		rec.ISR = slices.Clone(c.targetISR)
	}
	if rec.LeaderRecovery == metadata.RecoveryUnchanged && c.recovery != c.p.LeaderRecoveryState {
		rec.LeaderRecovery = metadata.RecoveryToRecovered
		if c.recovery == metadata.Recovering {
			rec.LeaderRecovery = metadata.RecoveryToRecovering
		}
	}
	if rec.Leader == metadata.NoLeaderChange && rec.ISR == nil && rec.LeaderRecovery == metadata.RecoveryUnchanged &&
		rec.Replicas == nil && rec.AddingReplicas == nil {
		return nil
	}
	return rec
}

// elect returns the leader the election picks (maybe the current one) and
// whether it is an unclean pick.
func (c *partitionChange) elect() (int32, bool) {
	valid := func(r int32) bool { return slices.Contains(c.targetISR, r) && c.acceptable(r) }
	replicas := c.replicas
	if c.election == electPreferred {
		if len(replicas) > 0 && valid(replicas[0]) {
			return replicas[0], false
		}
		if valid(c.p.Leader) {
			return c.p.Leader, false
		}
		for _, r := range replicas[min(1, len(replicas)):] {
			if valid(r) {
				return r, false
			}
		}
		return metadata.NoLeader, false
	}
	if valid(c.p.Leader) {
		return c.p.Leader, false
	}
	for _, r := range replicas {
		if valid(r) {
			return r, false
		}
	}
	if c.election == electUnclean {
		for _, r := range replicas {
			if c.acceptable(r) {
				return r, true
			}
		}
	}
	return metadata.NoLeader, false
}

// uncleanEnabled reports unclean.leader.election.enable for topic t: its
// override, else the broker's (dynamic, then static) default, as Kafka's
// ConfigurationControlManager.uncleanLeaderElectionEnabledForTopic.
func (c *Controller) uncleanEnabled(t *metadata.TopicImage) bool {
	v, _ := config.TopicValue(c.cfg, t.Configs, "unclean.leader.election.enable")
	return strings.EqualFold(v, "true")
}

// topicElection is the election a change of t's partitions runs when no
// admin asked for one: unclean when the topic allows it.
func (c *Controller) topicElection(t *metadata.TopicImage) electionKind {
	if c.uncleanEnabled(t) {
		return electUnclean
	}
	return electClean
}
