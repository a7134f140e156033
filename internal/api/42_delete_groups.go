package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(42, 0, 2, handleDeleteGroups) }

// handleDeleteGroups is answered by the group coordinator (only Empty groups; their offsets go too).
func handleDeleteGroups(e *Env, req *server.Request) server.Reply {
	r, fix := authorizer(e, req).deleteGroupsSplit(req.Body.(*kmsg.DeleteGroupsRequest))
	return awaitGroupThen(req, e.Groups.DeleteGroups(r), fix)
}
