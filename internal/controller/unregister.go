package controller

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metadata"
)

// UnregisterBroker removes broker id's registration (UnregisterBroker, key
// 64; Kafka's ClusterControlManager.unregisterBroker and
// ReplicationControlManager.handleBrokerUnregistered). It takes the broker
// out of the ISR and leadership of its partitions as fencing does (the last
// ISR member stays: without eligible leader replicas Kafka keeps the ISR
// non-empty), then writes the UnregisterBrokerRecord, all in one batch.
// The partitions that still name it as a replica keep it there as an
// offline replica: moving them is a reassignment's job (decommission).
//
// As in Kafka, a broker that is still running may be unregistered: its
// next heartbeats carry an epoch no registration has and are answered
// STALE_BROKER_EPOCH until it restarts and registers again.
func (c *Controller) UnregisterBroker(id int32) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := c.store.Image()
	b, ok := im.Brokers[id]
	if !ok {
		return errorf(kerr.BrokerIDNotRegistered, "Broker ID %d is not currently registered", id)
	}
	recs := c.removeFromPartitions(im, id)
	recs = append(recs, metadata.UnregisterBrokerRecord{BrokerID: id, BrokerEpoch: b.Epoch})
	if err := c.store.Append(recs...); err != nil {
		return storeError(err)
	}
	c.leases.mu.Lock()
	delete(c.leases.byID, id)
	c.leases.mu.Unlock()
	c.logger.Info("broker unregistered", "id", id, "epoch", b.Epoch, "partitions.changed", len(recs)-1)
	return nil
}
