package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(51, 0, 0, handleAlterUserScramCredentials) }

// handleAlterUserScramCredentials stores or deletes SCRAM credentials
// through the controller (UserScramCredentialRecord and
// RemoveUserScramCredentialRecord in the metadata log).
func handleAlterUserScramCredentials(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterUserSCRAMCredentialsRequest)
	if denied := authorizer(e, req).alterScramDenied(r); denied != nil {
		return reply(denied)
	}
	resp := kmsg.NewPtrAlterUserSCRAMCredentialsResponse()
	dels := make([]controller.ScramDeletion, 0, len(r.Deletions))
	for _, d := range r.Deletions {
		dels = append(dels, controller.ScramDeletion{Name: d.Name, Mechanism: d.Mechanism})
	}
	ups := make([]controller.ScramUpsertion, 0, len(r.Upsertions))
	for _, u := range r.Upsertions {
		ups = append(ups, controller.ScramUpsertion{Name: u.Name, Mechanism: u.Mechanism, Iterations: u.Iterations,
			Salt: u.Salt, SaltedPassword: u.SaltedPassword})
	}
	for _, res := range e.Ctl.AlterScramCredentials(dels, ups) {
		rr := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		rr.User = res.User
		rr.ErrorCode, rr.ErrorMessage = errorFields(res.Err)
		resp.Results = append(resp.Results, rr)
	}
	return server.Ready(&server.Response{Msg: resp})
}
