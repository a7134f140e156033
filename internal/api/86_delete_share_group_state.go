package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(86, 0, 0, handleDeleteShareGroupState, shareEnabled) }

// handleDeleteShareGroupState deletes share-partitions' state (a
// tombstone, durable before the answer; nothing to do for a key without
// state): DeleteShareGroupOffsets and DeleteGroups at the group
// coordinator. share_state.go.
func handleDeleteShareGroupState(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DeleteShareGroupStateRequest)
	denied := shareStateDenied(e, req)
	return func() *server.Response {
		resp := kmsg.NewPtrDeleteShareGroupStateResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewDeleteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewDeleteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case denied:
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				case r.GroupID == "" || t.TopicID == ([16]byte{}) || p.Partition < 0:
					rp.ErrorCode = kerr.InvalidRequest.Code
				default:
					// A deleted topic's state is deleted too: no
					// metadata check here.
					rp.ErrorCode = e.Share.Coordinator().Delete(r.GroupID, t.TopicID, p.Partition)
				}
				rp.ErrorMessage = shareStateMessage(rp.ErrorCode)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return &server.Response{Msg: resp}
	}
}
