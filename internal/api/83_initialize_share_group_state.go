package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(83, 0, 0, handleInitializeShareGroupState, shareEnabled) }

// handleInitializeShareGroupState sets share-partitions' start offsets at
// a new state epoch (AlterShareGroupOffsets at the group coordinator):
// share_state.go.
func handleInitializeShareGroupState(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.InitializeShareGroupStateRequest)
	denied := shareStateDenied(e, req)
	return func() *server.Response {
		img := e.Meta.Image()
		resp := kmsg.NewPtrInitializeShareGroupStateResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewInitializeShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewInitializeShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case denied:
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				default:
					if rp.ErrorCode = shareStateKey(img, r.GroupID, t.TopicID, p.Partition); rp.ErrorCode == 0 {
						rp.ErrorCode = e.Share.Coordinator().Initialize(r.GroupID, t.TopicID, p.Partition, p.StateEpoch, p.StartOffset)
					}
				}
				rp.ErrorMessage = shareStateMessage(rp.ErrorCode)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return &server.Response{Msg: resp}
	}
}
