package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(84, 0, 0, handleReadShareGroupState, shareEnabled) }

// handleReadShareGroupState hands a data partition's leader the state of
// its share-partitions (start offset -1, state epoch 0 when there is
// none), fencing a leader older than one that read before
// (FENCED_LEADER_EPOCH): share_state.go.
func handleReadShareGroupState(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ReadShareGroupStateRequest)
	denied := shareStateDenied(e, req)
	return func() *server.Response {
		img := e.Meta.Image()
		resp := kmsg.NewPtrReadShareGroupStateResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateResponseTopicPartition()
				rp.Partition, rp.StartOffset = p.Partition, -1
				switch {
				case denied:
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				default:
					if rp.ErrorCode = shareStateKey(img, r.GroupID, t.TopicID, p.Partition); rp.ErrorCode == 0 {
						ps, code := e.Share.Coordinator().Read(r.GroupID, t.TopicID, p.Partition, p.LeaderEpoch)
						rp.ErrorCode, rp.StateEpoch, rp.StartOffset = code, ps.StateEpoch, ps.StartOffset
						for _, b := range ps.Batches {
							sb := kmsg.NewReadShareGroupStateResponseTopicPartitionStateBatch()
							sb.FirstOffset, sb.LastOffset, sb.DeliveryState, sb.DeliveryCount = b.First, b.Last, b.State, b.Count
							rp.StateBatches = append(rp.StateBatches, sb)
						}
					}
				}
				if rp.ErrorCode != 0 {
					rp.StartOffset, rp.StateBatches = -1, nil
				}
				rp.ErrorMessage = shareStateMessage(rp.ErrorCode)
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return &server.Response{Msg: resp}
	}
}
