package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(43, 0, 2, handleElectLeaders) }

// handleElectLeaders runs the elections in the controller. v0 has no
// election type (PREFERRED); null topics means every partition.
func handleElectLeaders(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ElectLeadersRequest)
	resp := kmsg.NewPtrElectLeadersResponse()
	if denied := authorizer(e, req).electLeadersDenied(r); denied != nil {
		return reply(denied)
	}
	var topics []controller.TopicPartitions
	if r.Topics != nil {
		topics = make([]controller.TopicPartitions, 0, len(r.Topics))
		for _, t := range r.Topics {
			topics = append(topics, controller.TopicPartitions{Topic: t.Topic, Partitions: t.Partitions})
		}
	}
	results, cerr := e.Ctl.ElectLeaders(r.ElectionType, topics)
	if cerr != nil {
		// As Kafka's ElectLeadersRequest.getErrorResponse: the error at the
		// top and on every requested partition.
		resp.ErrorCode = cerr.Code
		results = results[:0]
		for _, t := range topics {
			tr := controller.TopicResults{Topic: t.Topic}
			for _, p := range t.Partitions {
				tr.Partitions = append(tr.Partitions, controller.PartitionResult{Partition: p, Err: cerr})
			}
			results = append(results, tr)
		}
	}
	for _, t := range results {
		rt := kmsg.NewElectLeadersResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewElectLeadersResponseTopicPartition()
			rp.Partition = p.Partition
			rp.ErrorCode, rp.ErrorMessage = errorFields(p.Err)
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return server.Ready(&server.Response{Msg: resp})
}

// errorFields renders a controller error as a response's error code and
// nullable error message (0 and null for success).
func errorFields(cerr *controller.Error) (int16, *string) {
	if cerr == nil {
		return 0, nil
	}
	msg := cerr.Message
	return cerr.Code, &msg
}
