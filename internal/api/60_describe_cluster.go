package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(60, 0, 2, handleDescribeCluster) }

// handleDescribeCluster answers the cluster id, the registered brokers and
// the controller (this node: single-node metadata).
func handleDescribeCluster(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeClusterRequest)
	resp := kmsg.NewPtrDescribeClusterResponse()
	resp.ClusterAuthorizedOperations = -2147483648
	if z := authorizer(e, req); z.on() && r.IncludeClusterAuthorizedOperations {
		resp.ClusterAuthorizedOperations = 0
		if z.cluster(auth.OpDescribe) {
			resp.ClusterAuthorizedOperations = z.ops(auth.ResourceCluster, auth.ClusterName)
		}
	}
	resp.EndpointType = r.EndpointType
	if r.Version >= 1 && r.EndpointType != 1 {
		resp.ErrorCode = kerr.MismatchedEndpointType.Code
		msg := "The request was sent to an endpoint of type BROKER, but we wanted an endpoint of another type"
		resp.ErrorMessage = &msg
		return server.Ready(&server.Response{Msg: resp})
	}
	resp.ClusterID, resp.ControllerID = e.ClusterID, e.controllerID()
	for _, lb := range e.liveBrokers(req, e.Meta.Image()) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	return server.Ready(&server.Response{Msg: resp})
}
