package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(8, 0, 9, handleOffsetCommit) }

// handleOffsetCommit is answered by the group coordinator (answered once the commit is fsynced).
func handleOffsetCommit(e *Env, req *server.Request) server.Reply {
	r, fix := authorizer(e, req).offsetCommitSplit(req.Body.(*kmsg.OffsetCommitRequest))
	if r == nil { // nothing authorized
		resp := kmsg.NewPtrOffsetCommitResponse()
		fix(resp)
		return reply(resp)
	}
	return awaitGroupThen(req, e.Groups.OffsetCommit(r), fix)
}
