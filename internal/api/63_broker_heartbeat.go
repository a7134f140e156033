package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(63, 0, 2, handleBrokerHeartbeat) }

// handleBrokerHeartbeat renews a broker's lease with the active controller
// and moves it between fenced, unfenced and controlled shutdown (KRaft's
// BrokerHeartbeat, an inter-broker API: CLUSTER_ACTION on the cluster).
func handleBrokerHeartbeat(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.BrokerHeartbeatRequest)
	if !authorizer(e, req).cluster(auth.OpClusterAction) {
		resp := kmsg.NewPtrBrokerHeartbeatResponse()
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	// The connection's end tells the controller a dead broker's lease
	// is over before its session timeout (controller.lease.link).
	var link <-chan struct{}
	if req.Conn != nil {
		link = req.Conn.Done
	}
	return func() *server.Response { return &server.Response{Msg: AnswerBrokerHeartbeat(e.Ctl, r, link)} }
}

// AnswerBrokerHeartbeat answers r from ctl; link is closed when the
// connection r came over closes (nil for a local call).
func AnswerBrokerHeartbeat(ctl *controller.Controller, r *kmsg.BrokerHeartbeatRequest, link <-chan struct{}) *kmsg.BrokerHeartbeatResponse {
	resp := kmsg.NewPtrBrokerHeartbeatResponse()
	resp.Version = r.Version
	rep, err := ctl.BrokerHeartbeat(controller.BrokerHeartbeat{BrokerID: r.BrokerID, BrokerEpoch: r.BrokerEpoch,
		CurrentMetadataOffset: r.CurrentMetadataOffset, WantFence: r.WantFence, WantShutDown: r.WantShutdown, Link: link})
	if err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	resp.IsCaughtUp, resp.IsFenced, resp.ShouldShutdown = rep.IsCaughtUp, rep.IsFenced, rep.ShouldShutDown
	return resp
}
