package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(29, 0, 3, handleDescribeAcls) }

var noAuthorizer = "No Authorizer is configured."

// aclRefusal is the error every ACL API answers before looking at its
// request: SECURITY_DISABLED without an authorizer, CLUSTER_AUTHORIZATION_FAILED
// without op on the cluster; 0 when it may go ahead.
func aclRefusal(e *Env, req *server.Request, op int8) (int16, *string) {
	switch {
	case e.Auth == nil:
		return kerr.SecurityDisabled.Code, &noAuthorizer
	case !authorizer(e, req).cluster(op):
		return kerr.ClusterAuthorizationFailed.Code, nil
	}
	return 0, nil
}

// handleDescribeAcls lists the ACLs matching the request's filter from the
// metadata image, grouped by resource pattern, as Kafka's AclApis: it
// needs DESCRIBE on the cluster, and without an authorizer it answers
// SECURITY_DISABLED.
func handleDescribeAcls(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeACLsRequest)
	resp := kmsg.NewPtrDescribeACLsResponse()
	if resp.ErrorCode, resp.ErrorMessage = aclRefusal(e, req, auth.OpDescribe); resp.ErrorCode != 0 {
		return reply(resp)
	}
	f := auth.Filter{ResourceType: int8(r.ResourceType), Name: r.ResourceName, PatternType: int8(r.ResourcePatternType),
		Principal: r.Principal, Host: r.Host, Operation: int8(r.Operation), Permission: int8(r.PermissionType)}
	if r.Version == 0 && f.PatternType == auth.PatternAny {
		f.PatternType = auth.PatternLiteral // v0 knows only literal patterns
	}
	acls, cerr := controller.DescribeACLs(e.Meta.Image(), f)
	if cerr != nil {
		resp.ErrorCode, resp.ErrorMessage = errorFields(cerr)
		return reply(resp)
	}
	type pattern struct {
		rt   int8
		name string
		pt   int8
	}
	idx := map[pattern]int{}
	for _, a := range acls {
		k := pattern{a.ResourceType, a.ResourceName, a.PatternType}
		i, ok := idx[k]
		if !ok {
			res := kmsg.NewDescribeACLsResponseResource()
			res.ResourceType, res.ResourceName = kmsg.ACLResourceType(a.ResourceType), a.ResourceName
			res.ResourcePatternType = kmsg.ACLResourcePatternType(a.PatternType)
			i = len(resp.Resources)
			idx[k] = i
			resp.Resources = append(resp.Resources, res)
		}
		resp.Resources[i].ACLs = append(resp.Resources[i].ACLs, describedACL(a))
	}
	return reply(resp)
}

func describedACL(a metadata.ACL) kmsg.DescribeACLsResponseResourceACL {
	d := kmsg.NewDescribeACLsResponseResourceACL()
	d.Principal, d.Host = a.Principal, a.Host
	d.Operation, d.PermissionType = kmsg.ACLOperation(a.Operation), kmsg.ACLPermissionType(a.PermissionType)
	return d
}
