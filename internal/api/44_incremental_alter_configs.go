package api

import (
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(44, 0, 1, handleIncrementalAlterConfigs) }

// handleIncrementalAlterConfigs applies set/delete/append/subtract to topic
// configs and dynamic broker configs through the controller.
func handleIncrementalAlterConfigs(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.IncrementalAlterConfigsRequest)
	resp := kmsg.NewPtrIncrementalAlterConfigsResponse()
	dup := duplicateResources(len(r.Resources), func(i int) (int8, string) {
		return int8(r.Resources[i].ResourceType), r.Resources[i].ResourceName
	})
	z := authorizer(e, req)
	for i, rr := range r.Resources {
		res := kmsg.NewIncrementalAlterConfigsResponseResource()
		res.ResourceType, res.ResourceName = rr.ResourceType, rr.ResourceName
		ops := make([]controller.ConfigOp, len(rr.Configs))
		for j, c := range rr.Configs {
			ops[j] = controller.ConfigOp{Name: c.Name, Op: int8(c.Op), Value: c.Value}
		}
		cerr := alterConfigResource(z, dup[i], int8(rr.ResourceType), rr.ResourceName,
			func() *controller.Error {
				return e.Ctl.IncrementalAlterTopicConfigs(rr.ResourceName, ops, r.ValidateOnly)
			},
			func() *controller.Error {
				return e.Ctl.IncrementalAlterBrokerConfigs(rr.ResourceName, ops, r.ValidateOnly)
			},
			func() *controller.Error {
				return e.Ctl.IncrementalAlterGroupConfigs(rr.ResourceName, ops, r.ValidateOnly)
			})
		res.ErrorCode, res.ErrorMessage = errorFields(cerr)
		resp.Resources = append(resp.Resources, res)
	}
	return server.Ready(&server.Response{Msg: resp})
}

// alterConfigResource runs what AlterConfigs and IncrementalAlterConfigs
// share for one resource: a resource named twice, ALTER_CONFIGS, then the
// topic, broker or group alteration; other resource types are refused.
func alterConfigResource(z authz, dup bool, typ int8, name string, topic, broker, group func() *controller.Error) *controller.Error {
	if dup {
		return duplicateResourceError(name)
	}
	if code := z.configDenied(typ, name, auth.OpAlterConfigs); code != 0 {
		return &controller.Error{Code: code}
	}
	switch typ {
	case resourceTopic:
		return topic()
	case resourceBroker:
		return broker()
	case resourceGroup:
		return group()
	}
	return unsupportedConfigResource(typ)
}

// duplicateResources marks every resource named more than once in one
// request; Kafka answers all of them with INVALID_REQUEST.
func duplicateResources(n int, at func(int) (int8, string)) []bool {
	type key struct {
		t    int8
		name string
	}
	count := map[key]int{}
	for i := range n {
		t, name := at(i)
		count[key{t, name}]++
	}
	out := make([]bool, n)
	for i := range n {
		t, name := at(i)
		out[i] = count[key{t, name}] > 1
	}
	return out
}

func duplicateResourceError(name string) *controller.Error {
	return &controller.Error{Code: kerr.InvalidRequest.Code, Message: "Error due to duplicate config resource: " + name}
}

// unsupportedConfigResource answers alterations of resource types other
// than topics, brokers and groups (broker loggers, client metrics).
func unsupportedConfigResource(typ int8) *controller.Error {
	return &controller.Error{Code: kerr.InvalidRequest.Code, Message: "Unsupported resource type " + strconv.Itoa(int(typ))}
}
