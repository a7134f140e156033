package api

import (
	"slices"

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
	resp.ClusterID, resp.ControllerID = e.ClusterID, e.NodeID
	for _, b := range e.Meta.Image().Brokers {
		// Each broker as reached on this request's listener; a broker
		// without an endpoint there is left out, as in Kafka.
		host, port, ok := b.Endpoint(listenerOf(req))
		if b.ID == e.NodeID {
			host, port = e.advertised(req)
		} else if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = b.ID, host, port, b.Rack
		resp.Brokers = append(resp.Brokers, rb)
	}
	slices.SortFunc(resp.Brokers, func(a, b kmsg.DescribeClusterResponseBroker) int { return int(a.NodeID - b.NodeID) })
	return server.Ready(&server.Response{Msg: resp})
}
