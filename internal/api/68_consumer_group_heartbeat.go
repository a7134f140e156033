package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(68, 0, 1, handleConsumerGroupHeartbeat, consumerProtocolEnabled) }

// consumerProtocolEnabled: the KIP-848 keys (68, 69) are served and
// advertised only when group.coordinator.rebalance.protocols includes
// "consumer".
func consumerProtocolEnabled(e *Env) bool {
	return e.Groups != nil && e.Groups.ConsumerProtocolEnabled() && featureEnabled(e, "group.version")
}

// handleConsumerGroupHeartbeat is answered by the group coordinator
// (KIP-848 consumer groups) once the group's new state is durable. READ on
// the group is required, as for every group API.
func handleConsumerGroupHeartbeat(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ConsumerGroupHeartbeatRequest)
	if !authorizer(e, req).group(auth.OpRead, r.Group) {
		resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply(resp)
	}
	return awaitGroup(req, e.Groups.ConsumerGroupHeartbeat(r, clientOf(req)))
}
