package api

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(60, 0, 2, handleDescribeCluster) }

// handleDescribeCluster answers the cluster id, the live brokers (and with
// IncludeFencedBrokers the fenced ones, IsFenced set) and the controller
// (the metadata quorum's leader).
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
	img := e.Meta.Image()
	for _, lb := range e.liveBrokers(req, img) {
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
		rb.IsFenced = img.Brokers[lb.ID].Fenced // this node, listed while fenced
		markShuttingDown(&rb, img.Brokers[lb.ID].InControlledShutdown)
		resp.Brokers = append(resp.Brokers, rb)
	}
	if r.IncludeFencedBrokers { // v2, KIP-1073: the fenced brokers too, marked
		resp.Brokers = append(resp.Brokers, fencedBrokers(req, img, resp.Brokers)...)
		slices.SortFunc(resp.Brokers, func(a, b kmsg.DescribeClusterResponseBroker) int { return int(a.NodeID - b.NodeID) })
	}
	return server.Ready(&server.Response{Msg: resp})
}

// fencedBrokers are the registered, fenced brokers not in listed, at their
// endpoint on req's listener.
func fencedBrokers(req *server.Request, img *metadata.Image, listed []kmsg.DescribeClusterResponseBroker) []kmsg.DescribeClusterResponseBroker {
	var out []kmsg.DescribeClusterResponseBroker
	for _, b := range img.Brokers {
		if !b.Fenced || slices.ContainsFunc(listed, func(l kmsg.DescribeClusterResponseBroker) bool { return l.NodeID == b.ID }) {
			continue
		}
		host, port, ok := b.Endpoint(listenerOf(req))
		if !ok {
			continue
		}
		rb := kmsg.NewDescribeClusterResponseBroker()
		rb.NodeID, rb.Host, rb.Port, rb.Rack, rb.IsFenced = b.ID, host, port, b.Rack, true
		out = append(out, rb)
	}
	return out
}
