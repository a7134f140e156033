package api

import (
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

// ShareGroupHeartbeat v0-1. Kafka 4.2 advertises v1 only (4.0 marked v0
// unstable); v0 has the same fields, so it is accepted too, as every key
// here accepts everything from v0.
func init() { registerIf(76, 0, 1, handleShareGroupHeartbeat, shareGroupsEnabled) }

// shareGroupsEnabled: the share group coordinator APIs (76, 77, 90-92)
// are served and advertised unless group.share.enable is false (Kafka 4.2
// enables share groups by default).
func shareGroupsEnabled(e *Env) bool {
	return e.Groups != nil && e.Groups.ShareEnabled() && featureEnabled(e, "share.version")
}

// handleShareGroupHeartbeat is answered by the group coordinator once the
// group state it reports is durable. READ on the group is required, and
// DESCRIBE on every subscribed topic (Kafka answers
// TOPIC_AUTHORIZATION_FAILED naming the topics).
func handleShareGroupHeartbeat(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ShareGroupHeartbeatRequest)
	z := authorizer(e, req)
	if !z.group(auth.OpRead, r.GroupID) {
		resp := kmsg.NewPtrShareGroupHeartbeatResponse()
		resp.ErrorCode = kerr.GroupAuthorizationFailed.Code
		return reply(resp)
	}
	if z.on() {
		var denied []string
		for _, t := range r.SubscribedTopicNames {
			if !z.topic(auth.OpDescribe, t) {
				denied = append(denied, t)
			}
		}
		if len(denied) > 0 {
			slices.Sort(denied)
			resp := kmsg.NewPtrShareGroupHeartbeatResponse()
			resp.ErrorCode = kerr.TopicAuthorizationFailed.Code
			resp.ErrorMessage = kmsg.StringPtr("Unauthorized topics: " + strings.Join(slices.Compact(denied), ", "))
			return reply(resp)
		}
	}
	return awaitGroup(req, e.Groups.ShareGroupHeartbeat(r, clientOf(req)))
}
