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
// the current replicas (nothing ongoing) changes nothing; cancelling when
// nothing is ongoing gets NO_REASSIGNMENT_IN_PROGRESS.
//
// A target makes the replicas target ∪ current (target first), with
// AddingReplicas = target − current and RemovingReplicas = current −
// target: the adding brokers host the partition and fetch it from the
// leader, which admits them to the ISR through AlterPartition once caught
// up; the record that puts the last adding replica in the ISR completes
// the reassignment (partition_change.go). A target whose replicas are
// already in sync completes in the request that starts it. A new target
// while one is ongoing starts from the current (union) replicas, as Kafka
// does. Cancelling (Replicas nil) restores the replicas before the
// reassignment (replicas − adding) and drops the adding replicas from the
// ISR; when no original replica is in sync that would need an unclean
// election and gets INVALID_REPLICA_ASSIGNMENT. The records of all changed
// partitions are appended as one batch.
func (c *Controller) AlterPartitionReassignments(topics []ReassignTopic) []TopicResults {
	c.mu.Lock()
	defer c.mu.Unlock()
	b := changeBatch{im: c.store.Image()}
	out := make([]TopicResults, 0, len(topics))
	for _, rt := range topics {
		tr := TopicResults{Topic: rt.Topic}
		for _, rp := range rt.Partitions {
			rec, e := c.reassign(b.im, rt.Topic, rp)
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
func (c *Controller) reassign(im *metadata.Image, topic string, rp ReassignPartition) (*metadata.PartitionChangeRecord, *Error) {
	t, part, e := lookupPartition(im, topic, rp.Partition)
	if e != nil {
		return nil, e
	}
	pc := newPartitionChange(im, t, rp.Partition)
	if rp.Replicas == nil {
		if !part.Reassigning() {
			return nil, errorf(kerr.NoReassignmentInProgress, "No partition reassignment is in progress.")
		}
		isr := without(part.ISR, part.AddingReplicas)
		if len(isr) == 0 {
			return nil, errorf(kerr.InvalidReplicaAssignment,
				"Unable to revert partition assignment for %s-%d because it would require an unclean leader election.", topic, rp.Partition)
		}
		pc.replicas, pc.adding, pc.removing, pc.targetISR = without(part.Replicas, part.AddingReplicas), nil, nil, isr
		return pc.build(), nil
	}
	if e := validateReassignment(im, rp.Replicas); e != nil {
		return nil, e
	}
	if !part.Reassigning() && slices.Equal(rp.Replicas, part.Replicas) {
		return nil, nil
	}
	removing := without(part.Replicas, rp.Replicas)
	pc.replicas = append(slices.Clone(rp.Replicas), removing...)
	pc.adding, pc.removing = without(rp.Replicas, part.Replicas), removing
	return pc.build(), nil
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
// given topics' partitions (all topics when topics is nil), by topic name
// then partition; unknown topics and partitions are left out, as Kafka
// does. Replicas is the whole current set (target plus removing).
func (c *Controller) ListPartitionReassignments(topics []TopicPartitions) []Reassignment {
	im := c.store.Image()
	var out []Reassignment
	add := func(t *metadata.TopicImage, i int32) {
		if i < 0 || int(i) >= len(t.Partitions) || !t.Partitions[i].Reassigning() {
			return
		}
		p := t.Partitions[i]
		out = append(out, Reassignment{Topic: t.Name, Partition: i, Replicas: slices.Clone(p.Replicas),
			Adding: append([]int32{}, p.AddingReplicas...), Removing: append([]int32{}, p.RemovingReplicas...)})
	}
	if topics == nil {
		for _, name := range im.TopicNames() {
			t := im.TopicsByName[name]
			for i := range t.Partitions {
				add(t, int32(i))
			}
		}
		return out
	}
	for _, tp := range topics {
		if t, ok := im.Topic(tp.Topic); ok {
			for _, i := range tp.Partitions {
				add(t, i)
			}
		}
	}
	return out
}
