package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(2, 0, 10, handleListOffsets) }

// Special timestamps of ListOffsets.
const (
	tsLatest        = -1
	tsEarliest      = -2
	tsMaxTimestamp  = -3 // KIP-734
	tsEarliestLocal = -4 // KIP-405: no tiered storage, so the log start
	tsTieredPending = -5 // KIP-1005: likewise
)

func handleListOffsets(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ListOffsetsRequest)
	resp := kmsg.NewPtrListOffsetsResponse()
	z := authorizer(e, req)
	for _, rt := range r.Topics {
		t := kmsg.NewListOffsetsResponseTopic()
		t.Topic = rt.Topic
		denied := !z.topic(auth.OpDescribe, rt.Topic)
		for _, rp := range rt.Partitions {
			op := kmsg.NewListOffsetsResponseTopicPartition()
			op.Partition = rp.Partition
			op.Timestamp, op.Offset = -1, -1
			if denied {
				op.ErrorCode = kerr.TopicAuthorizationFailed.Code
				t.Partitions = append(t.Partitions, op)
				continue
			}
			p, code, _ := e.leaderOf(e.Meta.Image(), rt.Topic, rp.Partition)
			if p == nil {
				op.ErrorCode = code
				t.Partitions = append(t.Partitions, op)
				continue
			}
			if code := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); code != 0 {
				op.ErrorCode = code
				t.Partitions = append(t.Partitions, op)
				continue
			}
			op.LeaderEpoch = p.LeaderEpoch()
			hw := p.HighWatermark()
			if r.IsolationLevel == 1 {
				hw = p.LastStableOffset() // read_committed sees up to the LSO
			}
			switch ts := rp.Timestamp; ts {
			case tsLatest:
				op.Offset = hw
			case tsEarliest, tsEarliestLocal, tsTieredPending:
				op.Offset = p.LogStartOffset()
			case tsMaxTimestamp:
				off, mts := p.Log().MaxTimestamp()
				if off >= 0 && off < hw {
					op.Offset, op.Timestamp = off, mts
				}
			default:
				if ts < 0 {
					op.ErrorCode = kerr.InvalidRequest.Code
					break
				}
				if off, fts, ok := p.Log().OffsetForTimestamp(ts); ok && off < hw {
					op.Offset, op.Timestamp = off, fts
				}
			}
			if r.Version == 0 {
				if op.Offset >= 0 {
					op.OldStyleOffsets = []int64{op.Offset}
				}
			}
			t.Partitions = append(t.Partitions, op)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return server.Ready(&server.Response{Msg: resp})
}
