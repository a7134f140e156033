package api

import (
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/share"
)

func init() { registerIf(79, 0, 2, handleShareAcknowledge, shareEnabled) }

// handleShareAcknowledge acknowledges records a ShareFetch of the same
// share session acquired; the answer waits until the new state is durable
// in __share_group_state. Epoch -1 acknowledges and then closes the
// session, releasing what the member still holds.
func handleShareAcknowledge(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ShareAcknowledgeRequest)
	z := authorizer(e, req)
	return func() *server.Response { return shareAcknowledge(e, r, z) }
}

func shareAcknowledge(e *Env, r *kmsg.ShareAcknowledgeRequest, z authz) *server.Response {
	group, member := strOf(r.GroupID), strOf(r.MemberID)
	resp := kmsg.NewPtrShareAcknowledgeResponse()
	resp.AcquisitionLockTimeoutMillis = int32(e.Share.Settings(group).RecordLockDuration / time.Millisecond)
	out := &server.Response{Msg: resp}
	if code := shareGroupCheck(e, z, group, member); code != 0 {
		resp.ErrorCode = code
		return out
	}
	maxType := share.AckReject
	if r.Version >= 2 && r.IsRenewAck {
		maxType = share.AckRenew
	}
	if r.ShareSessionEpoch == -1 {
		if !e.Share.HasSession(group, member) {
			resp.ErrorCode = kerr.ShareSessionNotFound.Code
			return out
		}
	} else if code := e.Share.AckSession(group, member, r.ShareSessionEpoch); code != 0 {
		resp.ErrorCode = code
		return out
	}
	img := e.Meta.Image()
	for _, t := range r.Topics {
		rt := kmsg.NewShareAcknowledgeResponseTopic()
		rt.TopicID = t.TopicID
		for _, p := range t.Partitions {
			rp := kmsg.NewShareAcknowledgeResponseTopicPartition()
			rp.Partition = p.Partition
			rp.CurrentLeader.LeaderID, rp.CurrentLeader.LeaderEpoch = -1, -1
			_, code := shareTarget(e, img, z, t.TopicID, p.Partition)
			if code == 0 {
				acks := make([]share.AckBatch, len(p.AcknowledgementBatches))
				for i, b := range p.AcknowledgementBatches {
					acks[i] = share.AckBatch{First: b.FirstOffset, Last: b.LastOffset, Types: b.AcknowledgeTypes}
				}
				code = e.Share.Acknowledge(group, member, t.TopicID, p.Partition, acks, maxType)
			}
			rp.ErrorCode = code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	if r.ShareSessionEpoch == -1 {
		e.Share.CloseSession(group, member)
	}
	return out
}
