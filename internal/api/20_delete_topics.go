package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/controller"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(20, 0, 6, handleDeleteTopics) }

// handleDeleteTopics deletes by name (all versions) or by topic ID (v6+).
func handleDeleteTopics(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DeleteTopicsRequest)
	resp := kmsg.NewPtrDeleteTopicsResponse()
	z := authorizer(e, req)
	mq := newMutationQuota(e, req, r.Version >= 5)
	del := func(name *string, id [16]byte) {
		t := kmsg.NewDeleteTopicsResponseTopic()
		t.Topic, t.TopicID = name, id
		if z.deleteTopicDenied(e, name, id) {
			t.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.Topics = append(resp.Topics, t)
			return
		}
		if mq.refused() {
			t.ErrorCode, t.ErrorMessage = kerr.ThrottlingQuotaExceeded.Code, kmsg.StringPtr(throttlingMessage)
			resp.Topics = append(resp.Topics, t)
			return
		}
		parts := int32(0)
		img := e.Meta.Image()
		if ti, ok := img.TopicsByID[metadata.UUID(id)]; ok && name == nil {
			parts = int32(len(ti.Partitions))
		} else if ti, ok := img.Topic(derefOr(name)); ok {
			parts = int32(len(ti.Partitions))
		}
		var cerr *controller.Error
		if name != nil {
			var gone metadata.UUID
			gone, cerr = e.Ctl.DeleteTopic(*name)
			t.TopicID = gone
		} else {
			var n string
			n, cerr = e.Ctl.DeleteTopicByID(metadata.UUID(id))
			if cerr == nil {
				t.Topic = &n
			}
		}
		if cerr != nil {
			t.ErrorCode = cerr.Code
			msg := cerr.Message
			t.ErrorMessage = &msg
		} else {
			mq.record(parts)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.Version >= 6 {
		for _, rt := range r.Topics {
			del(rt.Topic, rt.TopicID)
		}
	} else {
		for _, name := range r.TopicNames {
			del(&name, [16]byte{})
		}
	}
	return server.Ready(&server.Response{Msg: resp, Throttle: mq.throttle()})
}

func derefOr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
