package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/share"
)

func init() { registerIf(85, 0, 1, handleWriteShareGroupState, shareEnabled) }

// handleWriteShareGroupState stores share-partitions' state for their data
// partition's leader, answered once durable; a writer with an older
// leader epoch or state epoch than stored is FENCED_LEADER_EPOCH /
// FENCED_STATE_EPOCH. Sluice's writers send the whole state each time
// (Kafka's send deltas the coordinator merges): share_state.go.
func handleWriteShareGroupState(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.WriteShareGroupStateRequest)
	denied := shareStateDenied(e, req)
	return func() *server.Response {
		img := e.Meta.Image()
		resp := kmsg.NewPtrWriteShareGroupStateResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewWriteShareGroupStateResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewWriteShareGroupStateResponseTopicPartition()
				rp.Partition = p.Partition
				switch {
				case denied:
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				default:
					if rp.ErrorCode = shareStateKey(img, r.GroupID, t.TopicID, p.Partition); rp.ErrorCode == 0 {
						ps := share.PartitionState{StateEpoch: p.StateEpoch, LeaderEpoch: p.LeaderEpoch, StartOffset: p.StartOffset}
						for _, b := range p.StateBatches {
							ps.Batches = append(ps.Batches, share.StateBatch{First: b.FirstOffset, Last: b.LastOffset, State: b.DeliveryState, Count: b.DeliveryCount})
						}
						rp.ErrorCode = e.Share.Coordinator().Write(r.GroupID, t.TopicID, p.Partition, ps)
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
