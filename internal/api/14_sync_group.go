package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(14, 0, 5, handleSyncGroup) }

// handleSyncGroup is answered by the group coordinator (waits until the leader's assignment is durable).
func handleSyncGroup(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.SyncGroupRequest)
	if !authorizer(e, req).group(auth.OpRead, r.Group) {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply(resp)
	}
	return awaitGroup(req, e.Groups.SyncGroup(r))
}
