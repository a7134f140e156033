package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(37, 0, 3, handleCreatePartitions) }

func handleCreatePartitions(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.CreatePartitionsRequest)
	resp := kmsg.NewPtrCreatePartitionsResponse()
	z := authorizer(e, req)
	mq := newMutationQuota(e, req, r.Version >= 3)
	for _, rt := range r.Topics {
		t := kmsg.NewCreatePartitionsResponseTopic()
		t.Topic = rt.Topic
		before := int32(0)
		if ti, ok := e.Meta.Image().Topic(rt.Topic); ok {
			before = int32(len(ti.Partitions))
		}
		if !z.topic(auth.OpAlter, rt.Topic) {
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
		} else if !r.ValidateOnly && mq.refused() {
			t.ErrorCode, t.ErrorMessage = kerr.ThrottlingQuotaExceeded.Code, kmsg.StringPtr(throttlingMessage)
		} else if cerr := e.Ctl.CreatePartitions(rt.Topic, rt.Count, assignments(rt.Assignment), r.ValidateOnly); cerr != nil {
			t.ErrorCode = cerr.Code
			msg := cerr.Message
			t.ErrorMessage = &msg
		} else if !r.ValidateOnly {
			mq.record(rt.Count - before)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp, Throttle: mq.throttle()})
}

func assignments(in []kmsg.CreatePartitionsRequestTopicAssignment) [][]int32 {
	var out [][]int32
	for _, a := range in {
		out = append(out, a.Replicas)
	}
	return out
}
