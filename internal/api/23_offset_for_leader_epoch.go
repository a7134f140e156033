package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(23, 0, 4, handleOffsetForLeaderEpoch) }

// handleOffsetForLeaderEpoch answers the end offset of a leader epoch from
// the partition's leader epoch cache (replica/epochcache.go): the largest
// epoch at or below the one asked and where it ends, the log end for the
// current epoch. A client uses it to find where its log diverges after a
// leader change.
func handleOffsetForLeaderEpoch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.OffsetForLeaderEpochRequest)
	resp := kmsg.NewPtrOffsetForLeaderEpochResponse()
	z := authorizer(e, req)
	for _, rt := range r.Topics {
		denied := !z.topic(auth.OpDescribe, rt.Topic)
		t := kmsg.NewOffsetForLeaderEpochResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			op := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			op.Partition = rp.Partition
			op.LeaderEpoch, op.EndOffset = -1, -1
			p, code, _ := e.leaderOf(e.Meta.Image(), rt.Topic, rp.Partition)
			switch {
			case denied:
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
			case p == nil:
				op.ErrorCode = code
			case checkLeaderEpoch(p, rp.CurrentLeaderEpoch) != 0:
				op.ErrorCode = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			case rp.LeaderEpoch > p.LeaderEpoch():
				// Kafka answers an epoch newer than any it knows with
				// no error and undefined epoch/offset.
			default:
				op.LeaderEpoch, op.EndOffset = p.EndOffsetForEpoch(rp.LeaderEpoch)
			}
			t.Partitions = append(t.Partitions, op)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp})
}
