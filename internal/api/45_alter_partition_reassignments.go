package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

// v0 is Kafka 3.9's range; v1 (KIP-860, allowReplicationFactorChange)
// came with Kafka 4.0.
func init() { register(45, 0, 0, handleAlterPartitionReassignments) }

// handleAlterPartitionReassignments reassigns through the controller;
// null replicas cancel a partition's reassignment.
func handleAlterPartitionReassignments(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := kmsg.NewPtrAlterPartitionAssignmentsResponse()
	if !authorizer(e, req).cluster(auth.OpAlter) {
		resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
		return reply(resp)
	}
	topics := make([]controller.ReassignTopic, 0, len(r.Topics))
	for _, t := range r.Topics {
		rt := controller.ReassignTopic{Topic: t.Topic}
		for _, p := range t.Partitions {
			rt.Partitions = append(rt.Partitions, controller.ReassignPartition{Partition: p.Partition, Replicas: p.Replicas})
		}
		topics = append(topics, rt)
	}
	for _, t := range e.Ctl.AlterPartitionReassignments(topics) {
		rt := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode, rp.ErrorMessage = errorFields(p.Err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return server.Ready(&server.Response{Msg: resp})
}
