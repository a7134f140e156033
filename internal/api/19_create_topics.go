package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(19, 0, 7, handleCreateTopics) }

func handleCreateTopics(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.CreateTopicsRequest)
	resp := kmsg.NewPtrCreateTopicsResponse()
	z := authorizer(e, req)
	clusterCreate := z.cluster(auth.OpCreate)
	mq := newMutationQuota(e, req, r.Version >= 6)
	seen := map[string]int{}
	for _, rt := range r.Topics {
		seen[rt.Topic]++
	}
	for _, rt := range r.Topics {
		t := kmsg.NewCreateTopicsResponseTopic()
		t.Topic = rt.Topic
		if seen[rt.Topic] > 1 {
			// Kafka rejects a name given twice in one request.
			t.ErrorCode = 42 // INVALID_REQUEST
			msg := "topic appears more than once in the request"
			t.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, t)
			continue
		}
		if !clusterCreate && !z.topic(auth.OpCreate, rt.Topic) {
			t.ErrorCode, t.ErrorMessage = kerr.TopicAuthorizationFailed.Code, kmsg.StringPtr("Authorization failed.")
			resp.Topics = append(resp.Topics, t)
			continue
		}
		if !r.ValidateOnly && mq.refused() {
			t.ErrorCode, t.ErrorMessage = kerr.ThrottlingQuotaExceeded.Code, kmsg.StringPtr(throttlingMessage)
			resp.Topics = append(resp.Topics, t)
			continue
		}
		ct := controller.CreateTopicRequest{
			Name:              rt.Topic,
			NumPartitions:     rt.NumPartitions,
			ReplicationFactor: rt.ReplicationFactor,
			ValidateOnly:      r.ValidateOnly,
			Configs:           map[string]*string{},
		}
		if len(rt.ReplicaAssignment) > 0 {
			ct.Assignments = map[int32][]int32{}
			for _, a := range rt.ReplicaAssignment {
				ct.Assignments[a.Partition] = a.Replicas
			}
		}
		for _, c := range rt.Configs {
			ct.Configs[c.Name] = c.Value
		}
		res, cerr := e.Ctl.CreateTopic(ct)
		if cerr != nil {
			t.ErrorCode = cerr.Code
			msg := cerr.Message
			t.ErrorMessage = &msg
			resp.Topics = append(resp.Topics, t)
			continue
		}
		t.TopicID = res.ID
		if !r.ValidateOnly {
			mq.record(res.NumPartitions)
		}
		if !z.topic(auth.OpDescribeConfigs, rt.Topic) {
			// Kafka hides the new topic's settings without DESCRIBE_CONFIGS.
			t.ConfigErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, t)
			continue
		}
		t.NumPartitions = res.NumPartitions
		t.ReplicationFactor = res.ReplicationFactor
		for _, d := range res.Configs {
			c := kmsg.NewCreateTopicsResponseTopicConfig()
			c.Name = d.Name
			v := d.Value
			c.Value = &v
			c.ReadOnly, c.Source, c.IsSensitive = d.ReadOnly, d.Source, d.Sensitive
			t.Configs = append(t.Configs, c)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp, Throttle: mq.throttle()})
}
