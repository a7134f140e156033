package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(46, 0, 0, handleListPartitionReassignments) }

// handleListPartitionReassignments lists the ongoing reassignments the
// controller reports (null topics: all of them), grouped by topic.
func handleListPartitionReassignments(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ListPartitionReassignmentsRequest)
	resp := kmsg.NewPtrListPartitionReassignmentsResponse()
	if !authorizer(e, req).cluster(auth.OpDescribe) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	var topics []controller.TopicPartitions
	if r.Topics != nil {
		topics = make([]controller.TopicPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	for _, ra := range e.Ctl.ListPartitionReassignments(topics) {
		if n := len(resp.Topics); n == 0 || resp.Topics[n-1].Topic != ra.Topic {
			rt := kmsg.NewListPartitionReassignmentsResponseTopic()
			rt.Topic = ra.Topic
			resp.Topics = append(resp.Topics, rt)
		}
		rp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		rp.Partition, rp.Replicas, rp.AddingReplicas, rp.RemovingReplicas = ra.Partition, ra.Replicas, ra.Adding, ra.Removing
		last := &resp.Topics[len(resp.Topics)-1]
		last.Partitions = append(last.Partitions, rp)
	}
	return server.Ready(&server.Response{Msg: resp})
}
