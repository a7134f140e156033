package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

// v0-1 (v0 as for key 76).
func init() { registerIf(77, 0, 1, handleShareGroupDescribe, shareGroupsEnabled) }

// handleShareGroupDescribe is answered by the group coordinator; a group
// the principal may not DESCRIBE fails with GROUP_AUTHORIZATION_FAILED and
// discloses nothing.
func handleShareGroupDescribe(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ShareGroupDescribeRequest)
	z := authorizer(e, req)
	return awaitGroupThen(req, e.Groups.ShareGroupDescribe(r), func(resp *kmsg.ShareGroupDescribeResponse) {
		for i := range resp.Groups {
			g := &resp.Groups[i]
			if !z.group(auth.OpDescribe, g.GroupID) {
				d := kmsg.NewShareGroupDescribeResponseGroup()
				d.GroupID, d.ErrorCode, d.AuthorizedOperations = g.GroupID, groupDenied, -2147483648
				*g = d
				continue
			}
			if r.IncludeAuthorizedOperations && g.ErrorCode == 0 {
				g.AuthorizedOperations = z.ops(auth.ResourceGroup, g.GroupID)
			}
		}
	})
}
