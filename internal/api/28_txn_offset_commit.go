package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(28, 0, 5, handleTxnOffsetCommit) }

// handleTxnOffsetCommit stores offsets with the transaction; they become
// the group's committed offsets when it commits (the transaction
// coordinator hands them to the group coordinator then). v5+ adds the
// group to the transaction itself (KIP-890 part 2), so the group
// coordinator must be ready to name the group's offsets partition.
func handleTxnOffsetCommit(e *Env, req *server.Request) server.Reply {
	r, code, fix := authorizer(e, req).txnOffsetCommitSplit(req.Body.(*kmsg.TxnOffsetCommitRequest))
	if code != 0 {
		return reply(txnOffsetCommitError(r, code))
	}
	return func() *server.Response {
		if r.Version >= 5 {
			if code, _ := e.Groups.Ready(); code != 0 {
				return &server.Response{Msg: txnOffsetCommitError(r, code)}
			}
		}
		resp := e.Txn.TxnOffsetCommit(r, offsetsPartitionFor(e, r.Group))
		fix(resp)
		return &server.Response{Msg: resp}
	}
}

// txnOffsetCommitError answers every partition of r with code.
func txnOffsetCommitError(r *kmsg.TxnOffsetCommitRequest, code int16) *kmsg.TxnOffsetCommitResponse {
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	for _, t := range r.Topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		resp.Topics = append(resp.Topics, rt)
	}
	return resp
}
