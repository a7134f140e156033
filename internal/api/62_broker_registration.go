package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(62, 0, 4, handleBrokerRegistration) }

// handleBrokerRegistration registers a broker with the active controller
// (KRaft's BrokerRegistration, an inter-broker API: CLUSTER_ACTION on the
// cluster). Kafka serves it on the controller listener; Sluice's
// controller listener carries raft, so the combined node serves it on its
// broker listeners.
func handleBrokerRegistration(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.BrokerRegistrationRequest)
	if !authorizer(e, req).cluster(auth.OpClusterAction) {
		resp := kmsg.NewPtrBrokerRegistrationResponse()
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	return func() *server.Response {
		return &server.Response{Msg: AnswerBrokerRegistration(e.Ctl, e.ClusterID, r, false)}
	}
}

// AnswerBrokerRegistration answers r from ctl; self marks this node's own
// broker calling in-process (controller.BrokerRegistration.Self).
func AnswerBrokerRegistration(ctl *controller.Controller, clusterID string, r *kmsg.BrokerRegistrationRequest, self bool) *kmsg.BrokerRegistrationResponse {
	resp := kmsg.NewPtrBrokerRegistrationResponse()
	resp.Version = r.Version
	if r.ClusterID != clusterID {
		resp.ErrorCode = kerr.InconsistentClusterID.Code
		return resp
	}
	reg := controller.BrokerRegistration{BrokerID: r.BrokerID, IncarnationID: metadata.UUID(r.IncarnationID), Rack: r.Rack, Self: self}
	for _, l := range r.Listeners {
		reg.Endpoints = append(reg.Endpoints, metadata.BrokerEndpoint{Name: l.Name, Host: l.Host, Port: int32(l.Port), SecurityProtocol: l.SecurityProtocol})
	}
	epoch, err := ctl.RegisterBrokerLifecycle(reg)
	if err != nil {
		resp.ErrorCode = err.Code
		return resp
	}
	resp.BrokerEpoch = epoch
	return resp
}
