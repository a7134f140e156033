package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(33, 0, 2, handleAlterConfigs) }

// handleAlterConfigs is the legacy, non-incremental AlterConfigs: the given
// configs replace all of a topic's overrides, all of a broker resource's
// dynamic configs, or all of a group's configs.
func handleAlterConfigs(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterConfigsRequest)
	resp := kmsg.NewPtrAlterConfigsResponse()
	dup := duplicateResources(len(r.Resources), func(i int) (int8, string) {
		return int8(r.Resources[i].ResourceType), r.Resources[i].ResourceName
	})
	z := authorizer(e, req)
	for i, rr := range r.Resources {
		res := kmsg.NewAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		configs := make(map[string]*string, len(rr.Configs))
		for _, c := range rr.Configs {
			configs[c.Name] = c.Value
		}
		cerr := alterConfigResource(z, dup[i], int8(rr.ResourceType), rr.ResourceName,
			func() *controller.Error { return e.Ctl.AlterTopicConfigs(rr.ResourceName, configs, r.ValidateOnly) },
			func() *controller.Error { return e.Ctl.AlterBrokerConfigs(rr.ResourceName, configs, r.ValidateOnly) },
			func() *controller.Error { return e.Ctl.AlterGroupConfigs(rr.ResourceName, configs, r.ValidateOnly) })
		res.ErrorCode, res.ErrorMessage = errorFields(cerr)
		resp.Resources = append(resp.Resources, res)
	}
	return server.Ready(&server.Response{Msg: resp})
}
