package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(16, 0, 5, handleListGroups) }

// handleListGroups is answered by the group coordinator (v4 filters by state, v5 by type).
func handleListGroups(e *Env, req *server.Request) server.Reply {
	return awaitGroupThen(req, e.Groups.ListGroups(req.Body.(*kmsg.ListGroupsRequest)), authorizer(e, req).listGroupsFix)
}
