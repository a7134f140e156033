package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(30, 0, 3, handleCreateAcls) }

// handleCreateAcls stores ACLs through the controller
// (AccessControlEntryRecords in the metadata log). It needs ALTER on the
// cluster; without an authorizer every creation fails with
// SECURITY_DISABLED, as in Kafka.
func handleCreateAcls(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.CreateACLsRequest)
	resp := kmsg.NewPtrCreateACLsResponse()
	if code, msg := aclRefusal(e, req, auth.OpAlter); code != 0 {
		for range r.Creations {
			res := kmsg.NewCreateACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = code, msg
			resp.Results = append(resp.Results, res)
		}
		return reply(resp)
	}
	acls := make([]metadata.ACL, len(r.Creations))
	for i, c := range r.Creations {
		acls[i] = metadata.ACL{ResourceType: int8(c.ResourceType), ResourceName: c.ResourceName,
			PatternType: int8(c.ResourcePatternType), Principal: c.Principal, Host: c.Host,
			Operation: int8(c.Operation), PermissionType: int8(c.PermissionType)}
		if r.Version == 0 {
			acls[i].PatternType = auth.PatternLiteral
		}
	}
	for _, cerr := range e.Ctl.CreateACLs(acls) {
		res := kmsg.NewCreateACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = errorFields(cerr)
		resp.Results = append(resp.Results, res)
	}
	return reply(resp)
}
