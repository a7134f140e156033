package controller

import (
	"slices"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// ReassignPartition is one partition of an AlterPartitionReassignments
// request. Replicas == nil cancels the partition's ongoing reassignment.
type ReassignPartition struct {
	Partition int32
	Replicas  []int32
}

// ReassignTopic is one topic of an AlterPartitionReassignments request.
type ReassignTopic struct {
	Topic      string
	Partitions []ReassignPartition
}

// AlterPartitionReassignments reassigns partitions like KRaft's
// ReplicationControlManager: unknown topics and partitions get
// UNKNOWN_TOPIC_OR_PARTITION; a target with no replicas, a broker twice or
// an unregistered broker gets INVALID_REPLICA_ASSIGNMENT; a target equal to
// the current replicas changes nothing; cancelling when nothing is ongoing
// gets NO_REASSIGNMENT_IN_PROGRESS.
//
// A reassignment completes at once when every target replica is already in
// sync: the PartitionChangeRecord sets the replicas to the target, drops
// the removed brokers from the ISR and, if the leader was removed, makes
// the first target replica leader. A target naming a broker that is not in
// sync would need that broker to copy the partition first, and replication
// between brokers is not built (the cluster issue): such a target gets
// INVALID_REPLICA_ASSIGNMENT and nothing is ever left ongoing. (On a
// single node the only registered broker is this one, which is in every
// ISR, so Kafka answers exactly the same.) The records of all changed
// partitions are appended as one batch.
func (c *Controller) AlterPartitionReassignments(topics []ReassignTopic) []TopicResults {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := changeBatch{im: c.store.Image()}
	out := make([]TopicResults, 0, len(topics))
	for _, rt := range topics {
		tr := TopicResults{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			rec, e := reassign(b.im, rt.Topic, rp)
			if rec != nil {
				e = b.add(*rec)
			}
			tr.Partitions = append(tr.Partitions, PartitionResult{Partition: rp.Partition, Err: e})
		}
		out = append(out, tr)
	}
	if err := c.store.Append(b.recs...); err != nil {
		failAll(out, storeError(err))
		return out
	}
	if len(b.recs) > 0 {
		c.logger.Info("partitions reassigned", "partitions", len(b.recs))
	}
	return out
}

// reassign returns the record reassigning one partition (nil when nothing
// changes), or why it cannot.
func reassign(im *metadata.Image, topic string, rp ReassignPartition) (*metadata.PartitionChangeRecord, *Error) {
	t, part, e := lookupPartition(im, topic, rp.Partition)
	if e != nil {
		return nil, e
	}
	if rp.Replicas == nil {
		// Every reassignment completes in the request that starts it
		// (see AlterPartitionReassignments), so none is ever ongoing.
		return nil, errorf(kerr.NoReassignmentInProgress, "No partition reassignment is in progress.")
	}
	if e := validateReassignment(im, rp.Replicas); e != nil {
		return nil, e
	}
	if slices.Equal(rp.Replicas, part.Replicas) {
		return nil, nil
	}
	for _, b := range rp.Replicas {
		if !slices.Contains(part.ISR, b) {
			return nil, errorf(kerr.InvalidReplicaAssignment,
				"Reassigning %s-%d to %v needs broker %d, which is not in sync, to copy the partition; replication between brokers is not supported yet.",
				topic, rp.Partition, rp.Replicas, b)
		}
	}
	rec := &metadata.PartitionChangeRecord{TopicID: t.ID, Partition: rp.Partition, Leader: metadata.NoLeaderChange,
		Replicas: slices.Clone(rp.Replicas)}
	isr := make([]int32, 0, len(part.ISR))
	for _, b := range part.ISR {
		if slices.Contains(rp.Replicas, b) {
			isr = append(isr, b)
		}
	}
	if !slices.Equal(isr, part.ISR) {
		rec.ISR = isr
	}
	if !slices.Contains(rp.Replicas, part.Leader) {
		rec.Leader = rp.Replicas[0]
	}
	return rec, nil
}

// validateReassignment applies Kafka's validateManualPartitionAssignment
// (in its order: brokers sorted, registration checked before duplicates).
func validateReassignment(im *metadata.Image, replicas []int32) *Error {
	if len(replicas) == 0 {
		return errorf(kerr.InvalidReplicaAssignment, "The manual partition assignment includes an empty replica list.")
	}
	sorted := slices.Sorted(slices.Values(replicas))
	for i, b := range sorted {
		if _, ok := im.Brokers[b]; !ok {
			return errorf(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes broker %d, but no such broker is registered.", b)
		}
		if i > 0 && sorted[i-1] == b {
			return errorf(kerr.InvalidReplicaAssignment,
				"The manual partition assignment includes the broker %d more than once.", b)
		}
	}
	return nil
}

// Reassignment is an ongoing reassignment (ListPartitionReassignments).
type Reassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32
	Adding    []int32
	Removing  []int32
}

// ListPartitionReassignments returns the ongoing reassignments among the
// given topics' partitions (all topics when topics is nil); unknown topics
// and partitions are left out, as Kafka does. A reassignment is ongoing
// while replicas are still being added or removed; since
// AlterPartitionReassignments only accepts targets it can complete at
// once, none ever is, and the answer is always empty.
func (c *Controller) ListPartitionReassignments(topics []TopicPartitions) []Reassignment {
	return nil
}
