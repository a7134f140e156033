package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/txn"
)

func init() { register(28, 0, 5, handleTxnOffsetCommit) }

// handleTxnOffsetCommit is answered by the group's coordinator (clients
// send it there): it appends the offsets to the group's
// __consumer_offsets partition as the producer's transactional batch,
// after KIP-890's check with the transaction coordinator (v5+ adds the
// partition to the transaction); they become committed offsets at the
// transaction's marker (coordinator/txn_offsets.go).
func handleTxnOffsetCommit(e *Env, req *server.Request) server.Reply {
	r, code, fix := authorizer(e, req).txnOffsetCommitSplit(req.Body.(*kmsg.TxnOffsetCommitRequest))
	if code != 0 {
		return reply(txnOffsetCommitError(r, code))
	}
	return func() *server.Response {
		var txns coordinator.Transactions // a nil *txn.Coordinator must stay a nil interface
		if e.Txn != nil {
			txns = e.Txn
		}
		resp := e.Groups.TxnOffsetCommit(r, txns)
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
