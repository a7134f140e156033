package broker

import (
	"context"

	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
)

// The leader's ISR changes (replica/isr_wiring.go decides them) go to the
// controller through AlterISR (alter_partition.go). A follower may join an
// ISR only while the image shows its broker registered, unfenced and not
// in controlled shutdown, as Kafka's leader checks before it proposes an
// expansion (the controller checks again: INELIGIBLE_REPLICA).

// startISR starts the partition manager's ISR changes.
func (b *Broker) startISR() {
	b.parts.StartISR(replica.ISRControl{
		Alter:       b.alterISRFor,
		Eligible:    b.isrEligible,
		BrokerEpoch: b.registeredEpoch,
		Logger:      b.logger.With("component", "isr"),
	})
}

// isrEligible reports whether broker id may join an ISR, by the image.
func (b *Broker) isrEligible(id int32) bool {
	br, ok := b.meta.Image().Brokers[id]
	return ok && !br.Fenced && !br.InControlledShutdown
}

// registeredEpoch is broker id's epoch in the image, -1 when unregistered.
func (b *Broker) registeredEpoch(id int32) int64 {
	if br, ok := b.meta.Image().Brokers[id]; ok {
		return br.Epoch
	}
	return -1
}

// alterISRFor sends one proposed ISR; members carry the broker epoch
// their fetches named (-1 for the leader itself and unknown ones: the
// request's own BrokerEpoch stands for this broker).
func (b *Broker) alterISRFor(ctx context.Context, c replica.ISRChange) (replica.ISRCommit, error) {
	u := ISRUpdate{TopicID: metadata.UUID(c.TopicID), Partition: c.Partition, LeaderEpoch: c.LeaderEpoch,
		PartitionEpoch: c.PartitionEpoch}
	for _, id := range c.ISR {
		e, ok := c.BrokerEpochs[id]
		if !ok || id == b.cfg.NodeID {
			e = -1
		}
		u.ISR = append(u.ISR, ISRMember{ID: id, Epoch: e})
	}
	st, err := b.AlterISR(ctx, u)
	if err != nil {
		return replica.ISRCommit{}, err
	}
	return replica.ISRCommit{ISR: st.ISR, LeaderEpoch: st.LeaderEpoch, PartitionEpoch: st.PartitionEpoch}, nil
}
