package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(69, 0, 1, handleConsumerGroupDescribe, consumerProtocolEnabled) }

// handleConsumerGroupDescribe is answered by the group coordinator; groups
// the principal may not DESCRIBE fail with GROUP_AUTHORIZATION_FAILED and
// disclose nothing.
func handleConsumerGroupDescribe(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ConsumerGroupDescribeRequest)
	z := authorizer(e, req)
	return awaitGroupThen(req, e.Groups.ConsumerGroupDescribe(r), func(resp *kmsg.ConsumerGroupDescribeResponse) {
		if z.a == nil {
			return
		}
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !z.group(auth.OpDescribe, g.Group) {
				d := kmsg.NewConsumerGroupDescribeResponseGroup()
				d.Group, d.ErrorCode, d.AuthorizedOperations = g.Group, groupDenied, -2147483648
				*g = d
				continue
			}
			if r.IncludeAuthorizedOperations {
				g.AuthorizedOperations = z.ops(auth.ResourceGroup, g.Group)
			}
		}
	})
}
