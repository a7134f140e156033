package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(31, 0, 3, handleDeleteAcls) }

// handleDeleteAcls deletes the ACLs matching each filter through the
// controller (RemoveAccessControlEntryRecords) and returns, per filter,
// the ACLs it matched. It needs ALTER on the cluster; without an
// authorizer every filter fails with SECURITY_DISABLED, as in Kafka.
func handleDeleteAcls(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DeleteACLsRequest)
	resp := kmsg.NewPtrDeleteACLsResponse()
	if code, msg := aclRefusal(e, req, auth.OpAlter); code != 0 {
		for range r.Filters {
			res := kmsg.NewDeleteACLsResponseResult()
			res.ErrorCode, res.ErrorMessage = code, msg
			resp.Results = append(resp.Results, res)
		}
		return reply(resp)
	}
	filters := make([]auth.Filter, len(r.Filters))
	for i, f := range r.Filters {
		filters[i] = auth.Filter{ResourceType: int8(f.ResourceType), Name: f.ResourceName, PatternType: int8(f.ResourcePatternType),
			Principal: f.Principal, Host: f.Host, Operation: int8(f.Operation), Permission: int8(f.PermissionType)}
		if r.Version == 0 && filters[i].PatternType == auth.PatternAny {
			filters[i].PatternType = auth.PatternLiteral
		}
	}
	for _, d := range e.Ctl.DeleteACLs(filters) {
		res := kmsg.NewDeleteACLsResponseResult()
		res.ErrorCode, res.ErrorMessage = errorFields(d.Err)
		for _, a := range d.Matching {
			m := kmsg.NewDeleteACLsResponseResultMatchingACL()
			m.ResourceType, m.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			m.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			m.Principal, m.Host = a.Principal, a.Host
			m.Operation, m.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.PermissionType)
			res.MatchingACLs = append(res.MatchingACLs, m)
		}
		resp.Results = append(resp.Results, res)
	}
	return reply(resp)
}
