package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(91, 0, 0, handleAlterShareGroupOffsets, shareGroupsEnabled) }

// handleAlterShareGroupOffsets sets share-partition start offsets of an
// empty share group through the group coordinator. READ on the group is
// required; topics the principal may not READ are not altered and answer
// TOPIC_AUTHORIZATION_FAILED, in their place in the response.
func handleAlterShareGroupOffsets(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AlterShareGroupOffsetsRequest)
	z := authorizer(e, req)
	if !z.group(auth.OpRead, r.GroupID) {
		resp := kmsg.NewPtrAlterShareGroupOffsetsResponse()
		resp.ErrorCode = groupDenied
		resp.ErrorMessage = kmsg.StringPtr(kerr.GroupAuthorizationFailed.Message)
		return reply(resp)
	}
	ask := *r
	var denied map[int]bool
	ask.Topics, denied = splitAllowed(r.Topics, func(t kmsg.AlterShareGroupOffsetsRequestTopic) bool {
		return z.topic(auth.OpRead, t.Topic)
	})
	return awaitGroupThen(req, e.Groups.AlterShareGroupOffsets(&ask), func(resp *kmsg.AlterShareGroupOffsetsResponse) {
		if len(denied) == 0 {
			return
		}
		resp.Topics = mergeRefused(len(r.Topics), denied, resp.Topics, func(i int) kmsg.AlterShareGroupOffsetsResponseTopic {
			t := kmsg.NewAlterShareGroupOffsetsResponseTopic()
			t.Topic = r.Topics[i].Topic
			for _, rp := range r.Topics[i].Partitions {
				p := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
				p.Partition, p.ErrorCode = rp.Partition, kerr.TopicAuthorizationFailed.Code
				p.ErrorMessage = kmsg.StringPtr(kerr.TopicAuthorizationFailed.Message)
				t.Partitions = append(t.Partitions, p)
			}
			return t
		})
	})
}
