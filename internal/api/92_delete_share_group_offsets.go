package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(92, 0, 0, handleDeleteShareGroupOffsets, shareGroupsEnabled) }

// handleDeleteShareGroupOffsets removes an empty share group's state for
// whole topics through the group coordinator. DELETE on the group is
// required; topics the principal may not READ are kept and answer
// TOPIC_AUTHORIZATION_FAILED.
func handleDeleteShareGroupOffsets(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DeleteShareGroupOffsetsRequest)
	z := authorizer(e, req)
	if !z.group(auth.OpDelete, r.GroupID) {
		resp := kmsg.NewPtrDeleteShareGroupOffsetsResponse()
		resp.ErrorCode = groupDenied
		resp.ErrorMessage = kmsg.StringPtr(kerr.GroupAuthorizationFailed.Message)
		return reply(resp)
	}
	ask := *r
	var denied map[int]bool
	ask.Topics, denied = splitAllowed(r.Topics, func(t kmsg.DeleteShareGroupOffsetsRequestTopic) bool {
		return z.topic(auth.OpRead, t.Topic)
	})
	return awaitGroupThen(req, e.Groups.DeleteShareGroupOffsets(&ask), func(resp *kmsg.DeleteShareGroupOffsetsResponse) {
		if len(denied) == 0 || resp.ErrorCode != 0 {
			return
		}
		resp.Topics = mergeRefused(len(r.Topics), denied, resp.Topics, func(i int) kmsg.DeleteShareGroupOffsetsResponseTopic {
			t := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
			t.Topic, t.ErrorCode = r.Topics[i].Topic, kerr.TopicAuthorizationFailed.Code
			t.ErrorMessage = kmsg.StringPtr(kerr.TopicAuthorizationFailed.Message)
			return t
		})
	})
}
