package controller

import (
	"fmt"

	"github.com/sluice-io/sluice/internal/metadata"
)

// AllocateProducerIDs hands broker a block of n producer ids, as Kafka's
// controller answers AllocateProducerIds: a ProducerIdsRecord moves the
// cluster's next id past the block, and the block is the broker's once the
// record is durable. atLeast raises the block's start (a broker carrying
// ids from an older allocation scheme names its first unused one).
func (c *Controller) AllocateProducerIDs(broker int32, n, atLeast int64) (start int64, err error) {
	if n <= 0 {
		return 0, fmt.Errorf("controller: producer id block of %d", n)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	start = max(c.store.Image().NextProducerID, atLeast)
	if err := c.store.Append(metadata.ProducerIdsRecord{BrokerID: broker, BrokerEpoch: -1, NextProducerID: start + n}); err != nil {
		return 0, err
	}
	return start, nil
}
