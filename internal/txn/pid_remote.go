package txn

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/metadata"
)

// allocateWait bounds how long one block allocation keeps trying while
// the quorum has no leader or the leader moves.
const allocateWait = 10 * time.Second

// allocateBlock is the coordinator's BlockSource: the active controller
// (the metadata quorum's leader) hands out blocks. On that node it is a
// call into the controller; elsewhere it is AllocateProducerIds (67) to
// the leader over the inter-broker client, naming this broker and its
// registered broker epoch, tried again while the answer is NOT_CONTROLLER
// or STALE_BROKER_EPOCH (the leader moved, or its image and ours
// disagree for a moment) or the leader cannot be reached.
func (c *Coordinator) allocateBlock(n, atLeast int64) (int64, int64, error) {
	deadline := time.Now().Add(allocateWait)
	backoff := 50 * time.Millisecond
	var last error
	for {
		st := c.meta.QuorumStatus()
		switch {
		case st.IsLeader || c.peers == nil:
			start, err := c.ctl.AllocateProducerIDs(c.cfg.NodeID, n, atLeast)
			if err == nil {
				return start, n, nil
			}
			last = err
			if !errors.Is(err, metadata.ErrNotController) && !errors.Is(err, metadata.ErrTimeout) {
				return 0, 0, err
			}
		case st.Leader == 0:
			last = errors.New("the metadata quorum has no leader")
		case atLeast > 0:
			// Only a single node carries a legacy producer-ids file,
			// and it leads its own quorum.
			return 0, 0, fmt.Errorf("a legacy producer-ids file needs this node to be the active controller")
		default:
			start, size, err := c.requestBlock(metadata.NodeID(st.Leader))
			if err == nil {
				return start, size, nil
			}
			last = err
		}
		if time.Now().After(deadline) || c.closed.Load() {
			return 0, 0, last
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

// requestBlock sends AllocateProducerIds to the controller on node.
func (c *Coordinator) requestBlock(node int32) (int64, int64, error) {
	req := kmsg.NewPtrAllocateProducerIDsRequest()
	req.BrokerID, req.BrokerEpoch = c.cfg.NodeID, -1
	if b, ok := c.meta.Image().Brokers[c.cfg.NodeID]; ok {
		req.BrokerEpoch = b.Epoch
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.peers.Request(ctx, node, req)
	if err != nil {
		return 0, 0, fmt.Errorf("AllocateProducerIds to controller %d: %w", node, err)
	}
	r := resp.(*kmsg.AllocateProducerIDsResponse)
	if r.ErrorCode != 0 {
		return 0, 0, fmt.Errorf("AllocateProducerIds to controller %d: %w", node, kerr.ErrorForCode(r.ErrorCode))
	}
	if r.ProducerIDLen <= 0 || r.ProducerIDStart < 0 {
		return 0, 0, fmt.Errorf("AllocateProducerIds to controller %d: block [%d, +%d)", node, r.ProducerIDStart, r.ProducerIDLen)
	}
	return r.ProducerIDStart, int64(r.ProducerIDLen), nil
}
