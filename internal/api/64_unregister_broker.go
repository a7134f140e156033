package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(64, 0, 0, handleUnregisterBroker) }

// handleUnregisterBroker removes a broker's registration through the
// controller (UnregisterBrokerRecord), ALTER on the cluster required; a
// broker that is not the active controller forwards it there (58_envelope).
func handleUnregisterBroker(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.UnregisterBrokerRequest)
	resp := kmsg.NewPtrUnregisterBrokerResponse()
	var cerr *controller.Error
	if !authorizer(e, req).cluster(auth.OpAlter) {
		cerr = &controller.Error{Code: kerr.ClusterAuthorizationFailed.Code}
	} else {
		cerr = e.Ctl.UnregisterBroker(r.BrokerID)
	}
	resp.ErrorCode, resp.ErrorMessage = errorFields(cerr)
	return server.Ready(&server.Response{Msg: resp})
}
