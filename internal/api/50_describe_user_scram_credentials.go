package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(50, 0, 0, handleDescribeUserScramCredentials) }

// handleDescribeUserScramCredentials answers from the metadata image, as a
// KRaft broker answers from its metadata cache: mechanisms and iterations,
// never salts or keys.
func handleDescribeUserScramCredentials(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := kmsg.NewPtrDescribeUserSCRAMCredentialsResponse()
	if !authorizer(e, req).cluster(auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	users := make([]string, 0, len(r.Users))
	for _, u := range r.Users {
		users = append(users, u.Name)
	}
	for _, d := range controller.DescribeScramCredentials(e.Meta.Image(), users) {
		res := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		res.User = d.User
		res.ErrorCode, res.ErrorMessage = errorFields(d.Err)
		for _, c := range d.Credentials {
			ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
			ci.Mechanism, ci.Iterations = c.Mechanism, c.Iterations
			res.CredentialInfos = append(res.CredentialInfos, ci)
		}
		resp.Results = append(resp.Results, res)
	}
	return server.Ready(&server.Response{Msg: resp})
}
