package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(15, 0, 5, handleDescribeGroups) }

// handleDescribeGroups is answered by the group coordinator (unknown groups are reported Dead).
func handleDescribeGroups(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeGroupsRequest)
	return awaitGroupThen(req, e.Groups.DescribeGroups(r), authorizer(e, req).describeGroupsFix(r))
}
