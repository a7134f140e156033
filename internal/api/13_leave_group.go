package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(13, 0, 5, handleLeaveGroup) }

// handleLeaveGroup is answered by the group coordinator (v3+ removes a batch of members).
func handleLeaveGroup(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.LeaveGroupRequest)
	if !authorizer(e, req).group(auth.OpRead, r.Group) {
		resp := kmsg.NewPtrLeaveGroupResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply(resp)
	}
	return awaitGroup(req, e.Groups.LeaveGroup(r))
}
