package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

// DescribeShareGroupOffsets v0-1 (v1 adds the lag, KIP-1226).
func init() { registerIf(90, 0, 1, handleDescribeShareGroupOffsets, shareGroupsEnabled) }

// handleDescribeShareGroupOffsets is answered by the group coordinator
// from the share-partition state. DESCRIBE on the group is required
// (GROUP_AUTHORIZATION_FAILED for the group); topics the principal may not
// DESCRIBE are answered TOPIC_AUTHORIZATION_FAILED when named, and left
// out when every topic was asked for (null topics).
func handleDescribeShareGroupOffsets(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeShareGroupOffsetsRequest)
	z := authorizer(e, req)
	denied := map[int]bool{}
	ask := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	ask.Version = r.Version
	for i, g := range r.Groups {
		if !z.group(auth.OpDescribe, g.GroupID) {
			denied[i] = true
			continue
		}
		ask.Groups = append(ask.Groups, g)
	}
	return awaitGroupThen(req, e.Groups.DescribeShareGroupOffsets(ask), func(resp *kmsg.DescribeShareGroupOffsetsResponse) {
		got := resp.Groups
		resp.Groups = nil
		for i, rg := range r.Groups {
			if denied[i] {
				g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
				g.GroupID, g.ErrorCode = rg.GroupID, groupDenied
				g.ErrorMessage = kmsg.StringPtr(kerr.GroupAuthorizationFailed.Message)
				g.Topics = []kmsg.DescribeShareGroupOffsetsResponseGroupTopic{}
				resp.Groups = append(resp.Groups, g)
				continue
			}
			g := got[0]
			got = got[1:]
			if z.on() {
				kept := g.Topics[:0]
				for _, t := range g.Topics {
					if z.topic(auth.OpDescribe, t.Topic) {
						kept = append(kept, t)
						continue
					}
					if rg.Topics == nil {
						continue // not disclosed
					}
					t.TopicID = [16]byte{}
					for j := range t.Partitions {
						p := &t.Partitions[j]
						p.StartOffset, p.LeaderEpoch, p.Lag = -1, -1, -1
						p.ErrorCode = kerr.TopicAuthorizationFailed.Code
						p.ErrorMessage = kmsg.StringPtr(kerr.TopicAuthorizationFailed.Message)
					}
					kept = append(kept, t)
				}
				g.Topics = kept
			}
			resp.Groups = append(resp.Groups, g)
		}
	})
}
