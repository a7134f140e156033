package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(28, 0, 4, handleTxnOffsetCommit) }

// handleTxnOffsetCommit stores offsets with the transaction; they become
// the group's committed offsets when it commits (the transaction
// coordinator hands them to the group coordinator then).
func handleTxnOffsetCommit(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.TxnOffsetCommitRequest)
	return func() *server.Response { return &server.Response{Msg: e.Txn.TxnOffsetCommit(r)} }
}
