package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

// Versions 0-3 (Kafka 3.9's range): v1 adds the leader recovery state, v2
// topic ids, v3 the broker epoch of each new ISR member (KIP-903).
func init() { register(56, 0, 3, handleAlterPartition) }

// handleAlterPartition passes a partition leader's ISR change to the
// controller (an inter-broker API: CLUSTER_ACTION on the cluster). Only
// the active controller answers; elsewhere it is NOT_CONTROLLER. Kafka
// serves it on the controller listener; Sluice's carries raft, so it is
// served on broker listeners, like BrokerHeartbeat.
func handleAlterPartition(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterPartitionRequest)
	if !authorizer(e, req).cluster(auth.OpClusterAction) {
		resp := kmsg.NewPtrAlterPartitionResponse()
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	return func() *server.Response { return &server.Response{Msg: AnswerAlterPartition(e.Ctl, r)} }
}

// AnswerAlterPartition answers r from ctl (also the in-process path of a
// broker that is itself the active controller).
func AnswerAlterPartition(ctl *controller.Controller, r *kmsg.AlterPartitionRequest) *kmsg.AlterPartitionResponse {
	return ctl.AlterPartition(r)
}
