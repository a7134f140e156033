package controller

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
)

// AlterPartition handles an AlterPartition request (key 56): a partition
// leader asks the active controller to change its ISR (shrinking it when
// a follower falls behind, expanding it when one catches up) and, after
// an unclean election, to mark itself RECOVERED. Kafka's
// ReplicationControlManager.alterPartition, check by check:
//
//   - the request: NOT_CONTROLLER off the active controller;
//     STALE_BROKER_EPOCH unless the sender is registered with the broker
//     epoch it names (top-level errors, nothing else answered);
//   - a topic: by id from v2 (UNKNOWN_TOPIC_ID), by name before
//     (UNKNOWN_TOPIC_OR_PARTITION);
//   - a partition, in this order: UNKNOWN_TOPIC_OR_PARTITION; a leader or
//     partition epoch ahead of the image NOT_CONTROLLER (this controller is
//     behind: the sender looks for the new one); a leader epoch behind
//     FENCED_LEADER_EPOCH; a sender that is not the leader INVALID_REQUEST;
//     a partition epoch behind INVALID_UPDATE_VERSION (the sender's view of
//     the ISR is stale); an ISR with a duplicate, a non-replica or without
//     the leader INVALID_REQUEST; RECOVERING with more than the leader, or
//     RECOVERED back to RECOVERING, INVALID_REQUEST; an ISR member that is
//     not registered, fenced, in controlled shutdown or (v3) registered
//     with another broker epoch INELIGIBLE_REPLICA (OPERATION_NOT_ATTEMPTED
//     before v2).
//
// A valid partition gets a PartitionChangeRecord when anything changes
// (partition epoch +1, leader epoch unchanged) and is answered with its
// state after it: leader, ISR, recovery state, leader and partition epoch.
// The records of one request are appended as one batch.
func (c *Controller) AlterPartition(r *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	resp := kmsg.NewPtrAlterPartitionResponse()
	resp.Version = r.Version
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.active() {
		resp.ErrorCode = kerr.NotController.Code
		return resp
	}
	b := changeBatch{im: c.store.Image()}
	if br, ok := b.im.Brokers[r.BrokerID]; !ok || br.Epoch != r.BrokerEpoch {
		resp.ErrorCode = kerr.StaleBrokerEpoch.Code
		return resp
	}
	changed := 0
	for _, rt := range r.Topics {
		st := kmsg.NewAlterPartitionResponseTopic()
		st.Topic, st.TopidID = rt.Topic, rt.TopicID
		var t *metadata.TopicImage
		var unknown int16
		if r.Version >= 2 {
			t, _ = b.im.TopicByID(metadata.UUID(rt.TopicID))
			unknown = kerr.UnknownTopicID.Code
		} else {
			t, _ = b.im.Topic(rt.Topic)
			unknown = kerr.UnknownTopicOrPartition.Code
		}
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionResponseTopicPartition()
			sp.Partition = rp.Partition
			if t == nil {
				sp.ErrorCode = unknown
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			code, did := c.alterOne(&b, r, t.ID, rp)
			if code != 0 {
				sp.ErrorCode = code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if did {
				changed++
			}
			// The topic in the batch's image: the change just applied.
			p := b.im.TopicsByID[t.ID].Partitions[rp.Partition]
			sp.LeaderID, sp.LeaderEpoch, sp.PartitionEpoch = p.Leader, p.LeaderEpoch, p.PartitionEpoch
			sp.ISR, sp.LeaderRecoveryState = slices.Clone(p.ISR), int8(p.LeaderRecoveryState)
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	if err := c.store.Append(b.recs...); err != nil {
		// As Kafka's AlterPartitionRequest.getErrorResponse: the error at
		// the top, no partition answered.
		resp.ErrorCode, resp.Topics = storeError(err).Code, nil
		return resp
	}
	if changed > 0 {
		c.logger.Info("partitions altered by their leader", "broker", r.BrokerID, "partitions", changed)
	}
	return resp
}

// alterOne validates one partition of r against the batch's image and
// adds its change to the batch; it returns the partition's error code and
// whether a record was added.
func (c *Controller) alterOne(b *changeBatch, r *kmsg.AlterPartitionRequest, topicID metadata.UUID, rp kmsg.AlterPartitionRequestTopicPartition) (int16, bool) {
	t := b.im.TopicsByID[topicID]
	if rp.Partition < 0 || int(rp.Partition) >= len(t.Partitions) {
		return kerr.UnknownTopicOrPartition.Code, false
	}
	p := t.Partitions[rp.Partition]
	switch {
	case rp.LeaderEpoch > p.LeaderEpoch, rp.PartitionEpoch > p.PartitionEpoch:
		return kerr.NotController.Code, false
	case rp.LeaderEpoch < p.LeaderEpoch:
		return kerr.FencedLeaderEpoch.Code, false
	case r.BrokerID != p.Leader:
		return kerr.InvalidRequest.Code, false
	case rp.PartitionEpoch < p.PartitionEpoch:
		return kerr.InvalidUpdateVersion.Code, false
	}
	isr, epochs := requestedISR(r.Version, rp)
	if !validISR(p.Replicas, isr) || !slices.Contains(isr, p.Leader) {
		return kerr.InvalidRequest.Code, false
	}
	recovery := metadata.LeaderRecoveryState(rp.LeaderRecoveryState)
	switch {
	case recovery != metadata.Recovered && recovery != metadata.Recovering:
		return kerr.InvalidRequest.Code, false
	case recovery == metadata.Recovering && len(isr) > 1:
		return kerr.InvalidRequest.Code, false
	case p.LeaderRecoveryState == metadata.Recovered && recovery == metadata.Recovering:
		return kerr.InvalidRequest.Code, false
	}
	for i, id := range isr {
		br, ok := b.im.Brokers[id]
		if !ok || br.InControlledShutdown || br.Fenced || epochs[i] != -1 && epochs[i] != br.Epoch {
			if r.Version > 1 {
				return kerr.IneligibleReplica.Code, false
			}
			return kerr.OperationNotAttempted.Code, false
		}
	}
	pc := newPartitionChange(b.im, t, rp.Partition)
	pc.election, pc.targetISR, pc.recovery = c.topicElection(t), isr, recovery
	rec := pc.build()
	if rec == nil {
		return 0, false
	}
	if e := b.add(*rec); e != nil {
		return e.Code, false
	}
	return 0, true
}

// requestedISR returns the new ISR of rp and each member's broker epoch
// (-1: not checked, all of them before v3, which names no epochs).
func requestedISR(version int16, rp kmsg.AlterPartitionRequestTopicPartition) (isr []int32, epochs []int64) {
	if version < 3 {
		for _, id := range rp.NewISR {
			isr, epochs = append(isr, id), append(epochs, -1)
		}
		return isr, epochs
	}
	for _, m := range rp.NewEpochISR {
		isr, epochs = append(isr, m.BrokerID), append(epochs, m.BrokerEpoch)
	}
	return isr, epochs
}

// validISR is Kafka's Replicas.validateIsr: every member a replica, none
// twice.
func validISR(replicas, isr []int32) bool {
	for i, id := range isr {
		if !slices.Contains(replicas, id) || slices.Contains(isr[:i], id) {
			return false
		}
	}
	return true
}
