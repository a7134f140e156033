package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/txn"
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
	resp.Topics = append(resp.Topics, txn.OffsetCommitErrors(r.Topics, code)...)
	return resp
}
