package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

// handleOffsetDelete is answered by the group coordinator (not for topics an active consumer group subscribes to).
func handleOffsetDelete(e *Env, req *server.Request) server.Reply {
	r, code, fix := authorizer(e, req).offsetDeleteSplit(req.Body.(*kmsg.OffsetDeleteRequest))
	if code != 0 {
		resp := kmsg.NewPtrOffsetDeleteResponse()
		resp.ErrorCode = code
		return reply(resp)
	}
	return awaitGroupThen(req, e.Groups.OffsetDelete(r), fix)
}
