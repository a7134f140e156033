package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(49, 0, 1, handleAlterClientQuotas) }

// handleAlterClientQuotas sets and removes client quotas through the
// controller (ClientQuotaRecords in the metadata log); validate_only
// validates and writes nothing. Each entry is answered with its entity as
// the request gave it.
func handleAlterClientQuotas(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterClientQuotasRequest)
	resp := kmsg.NewPtrAlterClientQuotasResponse()
	if !authorizer(e, req).cluster(auth.OpAlterConfigs) {
		for _, en := range r.Entries {
			re := kmsg.NewAlterClientQuotasResponseEntry()
			re.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			for _, d := range en.Entity {
				ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
				ent.Type, ent.Name = d.Type, d.Name
				re.Entity = append(re.Entity, ent)
			}
			resp.Entries = append(resp.Entries, re)
		}
		return server.Ready(&server.Response{Msg: resp})
	}
	alts := make([]controller.QuotaAlteration, 0, len(r.Entries))
	for _, en := range r.Entries {
		a := controller.QuotaAlteration{Entity: make([]metadata.QuotaEntityData, 0, len(en.Entity))}
		for _, d := range en.Entity {
			a.Entity = append(a.Entity, metadata.QuotaEntityData{Type: d.Type, Name: d.Name})
		}
		for _, op := range en.Ops {
			a.Ops = append(a.Ops, controller.QuotaOp{Key: op.Key, Value: op.Value, Remove: op.Remove})
		}
		alts = append(alts, a)
	}
	for _, res := range e.Ctl.AlterClientQuotas(alts, r.ValidateOnly) {
		re := kmsg.NewAlterClientQuotasResponseEntry()
		re.ErrorCode, re.ErrorMessage = errorFields(res.Err)
		for _, d := range res.Entity {
			ent := kmsg.NewAlterClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = d.Type, d.Name
			re.Entity = append(re.Entity, ent)
		}
		resp.Entries = append(resp.Entries, re)
	}
	return server.Ready(&server.Response{Msg: resp})
}
