package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(12, 0, 4, handleHeartbeat) }

// handleHeartbeat is answered by the group coordinator (REBALANCE_IN_PROGRESS tells a member to rejoin).
func handleHeartbeat(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.HeartbeatRequest)
	if !authorizer(e, req).group(auth.OpRead, r.Group) {
		resp := kmsg.NewPtrHeartbeatResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply(resp)
	}
	return awaitGroup(req, e.Groups.Heartbeat(r))
}
