package api

import (
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(48, 0, 1, handleDescribeClientQuotas) }

// handleDescribeClientQuotas answers from the metadata image, as a KRaft
// broker does; a bad filter is a top-level error with no entries.
func handleDescribeClientQuotas(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeClientQuotasRequest)
	resp := kmsg.NewPtrDescribeClientQuotasResponse()
	if !authorizer(e, req).cluster(auth.OpDescribeConfigs) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return server.Ready(&server.Response{Msg: resp})
	}
	filter := make([]controller.QuotaFilter, 0, len(r.Components))
	for _, c := range r.Components {
		filter = append(filter, controller.QuotaFilter{EntityType: c.EntityType, MatchType: int8(c.MatchType), Match: c.Match})
	}
	entries, cerr := controller.DescribeClientQuotas(e.Meta.Image(), filter, r.Strict)
	if cerr != nil {
		resp.ErrorCode, resp.ErrorMessage = errorFields(cerr)
		return server.Ready(&server.Response{Msg: resp})
	}
	for _, en := range entries {
		re := kmsg.NewDescribeClientQuotasResponseEntry()
		for _, d := range en.Entity.Data() {
			ent := kmsg.NewDescribeClientQuotasResponseEntryEntity()
			ent.Type, ent.Name = d.Type, d.Name
			re.Entity = append(re.Entity, ent)
		}
		for _, k := range slices.Sorted(maps.Keys(en.Values)) {
			v := kmsg.NewDescribeClientQuotasResponseEntryValue()
			v.Key, v.Value = k, en.Values[k]
			re.Values = append(re.Values, v)
		}
		resp.Entries = append(resp.Entries, re)
	}
	return server.Ready(&server.Response{Msg: resp})
}
