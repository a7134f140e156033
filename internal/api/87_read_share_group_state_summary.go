package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { registerIf(87, 0, 1, handleReadShareGroupStateSummary, shareEnabled) }

// handleReadShareGroupStateSummary reports share-partitions' state epoch,
// leader epoch, start offset (-1: no state) and, v1, how many in-flight
// records are Acknowledged or Archived (DescribeShareGroupOffsets' lag).
// It fences nothing. share_state.go.
func handleReadShareGroupStateSummary(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ReadShareGroupStateSummaryRequest)
	denied := shareStateDenied(e, req)
	return func() *server.Response {
		img := e.Meta.Image()
		resp := kmsg.NewPtrReadShareGroupStateSummaryResponse()
		for _, t := range r.Topics {
			rt := kmsg.NewReadShareGroupStateSummaryResponseTopic()
			rt.TopicID = t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewReadShareGroupStateSummaryResponseTopicPartition()
				rp.Partition, rp.StartOffset, rp.LeaderEpoch = p.Partition, -1, -1
				switch {
				case denied:
					rp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
				default:
					if rp.ErrorCode = shareStateKey(img, r.GroupID, t.TopicID, p.Partition); rp.ErrorCode == 0 {
						s, code := e.Share.Coordinator().Summary(r.GroupID, t.TopicID, p.Partition)
						rp.ErrorCode = code
						if code == 0 {
							rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = s.StateEpoch, s.LeaderEpoch, s.StartOffset
							if s.StartOffset >= 0 {
								rp.DeliveryCompleteCount = s.DeliveryComplete
							}
						}
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
