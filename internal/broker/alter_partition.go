package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
)

// The leader's half of AlterPartition (Kafka's AlterPartitionManager): the
// data path, deciding as a partition's leader that its ISR must shrink or
// expand, calls AlterISR; the request goes to the active controller like
// the heartbeats (lifecycle.go's sender: in-process on the active
// controller, else the inter-broker client) with this broker's id and
// epoch, and the answer is the partition's state after the change.
//
// For the replication data path (repl-data):
//
//	st, err := b.AlterISR(ctx, broker.ISRUpdate{TopicID: id, Partition: p,
//		LeaderEpoch: le, PartitionEpoch: pe,
//		ISR: []broker.ISRMember{{ID: 1, Epoch: -1}, {ID: 2, Epoch: e2}}})
//
// LeaderEpoch and PartitionEpoch are the ones the leader has from the
// metadata image (PartitionImage); ISR must hold the leader. A member's
// Epoch is the broker epoch its fetches carried (Fetch ReplicaState, KIP-903),
// -1 when not known (not checked). On success st holds the new ISR and
// epochs: the leader uses them at once, before its image shows them. The
// request always says RECOVERED: Sluice's leader has no recovery work
// after an unclean election, so its first ISR change ends RECOVERING, as
// Kafka's leader does.
//
// Errors: transport failures and NOT_CONTROLLER (leadership of the quorum
// moving) are retried with backoff until ctx ends; the partition's own
// errors come back as *kerr.Error for the caller to act on, as Kafka's
// Partition does: FENCED_LEADER_EPOCH, INVALID_UPDATE_VERSION,
// UNKNOWN_TOPIC_ID (stale view: wait for the next image, do not retry),
// INELIGIBLE_REPLICA (a member is fenced, shutting down or restarted:
// drop it and try again), INVALID_REQUEST (a bug), STALE_BROKER_EPOCH
// (this broker was re-registered).

// ISRMember is one member of a requested ISR.
type ISRMember struct {
	ID    int32
	Epoch int64 // broker epoch seen in its fetches; -1: unknown
}

// ISRUpdate asks for a new ISR of one partition.
type ISRUpdate struct {
	TopicID        metadata.UUID
	Partition      int32
	LeaderEpoch    int32
	PartitionEpoch int32
	ISR            []ISRMember
}

// ISRState is a partition's state after an AlterISR.
type ISRState struct {
	Leader         int32
	ISR            []int32
	LeaderEpoch    int32
	PartitionEpoch int32
	Recovering     bool // the leader recovery state is still RECOVERING
}

// AlterISR sends u to the active controller and returns the partition's
// new state. It may be called from any goroutine between Start and Close.
func (b *Broker) AlterISR(ctx context.Context, u ISRUpdate) (ISRState, error) {
	life, send := b.life, b.lifeSender
	if life == nil || send == nil {
		return ISRState{}, errors.New("broker: AlterISR before the broker registered")
	}
	req := kmsg.NewPtrAlterPartitionRequest()
	req.BrokerID = b.cfg.NodeID
	rt := kmsg.NewAlterPartitionRequestTopic()
	rt.TopicID = u.TopicID
	rp := kmsg.NewAlterPartitionRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch, rp.PartitionEpoch = u.Partition, u.LeaderEpoch, u.PartitionEpoch
	rp.LeaderRecoveryState = int8(metadata.Recovered)
	for _, m := range u.ISR {
		// Both forms: the version negotiated with the controller picks
		// one (NewISR before v3).
		rp.NewISR = append(rp.NewISR, m.ID)
		e := kmsg.NewAlterPartitionRequestTopicPartitionNewEpochISR()
		e.BrokerID, e.BrokerEpoch = m.ID, m.Epoch
		rp.NewEpochISR = append(rp.NewEpochISR, e)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)

	backoff := 50 * time.Millisecond
	for {
		req.Version = 3 // the in-process path answers the version it is given
		req.BrokerEpoch = life.epoch.Load()
		st, retry, err := alterISROnce(ctx, send, req, u)
		if !retry {
			return st, err
		}
		select {
		case <-ctx.Done():
			return ISRState{}, fmt.Errorf("broker: AlterISR of %s-%d: %w (last: %v)", u.TopicID, u.Partition, ctx.Err(), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// alterISROnce sends req once; retry says the failure is the transport's
// or the quorum's, not the partition's.
func alterISROnce(ctx context.Context, send controllerSender, req *kmsg.AlterPartitionRequest, u ISRUpdate) (ISRState, bool, error) {
	resp, err := send.Request(ctx, req)
	if err != nil {
		return ISRState{}, true, err
	}
	r := resp.(*kmsg.AlterPartitionResponse)
	if r.ErrorCode != 0 {
		err := kerr.ErrorForCode(r.ErrorCode)
		return ISRState{}, r.ErrorCode == kerr.NotController.Code || r.ErrorCode == kerr.RequestTimedOut.Code, err
	}
	if len(r.Topics) != 1 || len(r.Topics[0].Partitions) != 1 || r.Topics[0].Partitions[0].Partition != u.Partition {
		return ISRState{}, false, errors.New("broker: AlterPartition answered another partition")
	}
	p := r.Topics[0].Partitions[0]
	if p.ErrorCode != 0 {
		return ISRState{}, p.ErrorCode == kerr.NotController.Code, kerr.ErrorForCode(p.ErrorCode)
	}
	return ISRState{Leader: p.LeaderID, ISR: p.ISR, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
		Recovering: p.LeaderRecoveryState == int8(metadata.Recovering)}, false, nil
}

// BrokerEpoch is the epoch the active controller gave this broker's
// registration (-1 before it registered): what AlterPartition and the
// replica fetches (Fetch ReplicaState) carry.
func (b *Broker) BrokerEpoch() int64 {
	if b.life == nil {
		return -1
	}
	return b.life.epoch.Load()
}
