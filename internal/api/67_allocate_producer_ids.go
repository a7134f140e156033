package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/txn"
)

func init() { register(67, 0, 0, handleAllocateProducerIDs) }

// handleAllocateProducerIds hands a broker a block of producer ids (KRaft's
// AllocateProducerIds, an inter-broker API: CLUSTER_ACTION on the
// cluster). Only the active controller answers; elsewhere it is
// NOT_CONTROLLER. Kafka serves it on the controller listener; Sluice's
// controller listener carries raft, so it is served on broker listeners.
func handleAllocateProducerIDs(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AllocateProducerIDsRequest)
	resp := kmsg.NewPtrAllocateProducerIDsResponse()
	if !authorizer(e, req).cluster(auth.OpClusterAction) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	return func() *server.Response {
		resp.ErrorCode, resp.ProducerIDStart, resp.ProducerIDLen = allocateProducerIDs(e, r.BrokerID, r.BrokerEpoch)
		return &server.Response{Msg: resp}
	}
}

// allocateProducerIDs is the controller's answer: the broker must be
// registered with the epoch it names (else STALE_BROKER_EPOCH, as Kafka's
// checkBrokerEpoch), and the block is the broker's once its
// ProducerIdsRecord is committed.
func allocateProducerIDs(e *Env, broker int32, epoch int64) (code int16, start int64, n int32) {
	if st := e.Meta.QuorumStatus(); !st.IsLeader || !st.Ready {
		return kerr.NotController.Code, -1, 0
	}
	if b, ok := e.Meta.Image().Brokers[broker]; !ok || b.Epoch != epoch {
		return kerr.StaleBrokerEpoch.Code, -1, 0
	}
	start, err := e.Ctl.AllocateProducerIDs(broker, txn.ProducerIDBlockSize, 0)
	switch {
	case err == nil:
		return 0, start, txn.ProducerIDBlockSize
	case errors.Is(err, metadata.ErrNotController):
		return kerr.NotController.Code, -1, 0
	case errors.Is(err, metadata.ErrTimeout):
		return kerr.RequestTimedOut.Code, -1, 0
	}
	e.Log.Warn("allocate producer ids", "broker", broker, "err", err)
	return kerr.UnknownServerError.Code, -1, 0
}
