package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(26, 0, 5, handleEndTxn) }

// handleEndTxn commits or aborts a transaction. It is answered once the
// Prepare record is durable (the markers follow asynchronously; a single
// node's, all local, are awaited first): txn.Coordinator.EndTxn.
func handleEndTxn(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.EndTxnRequest)
	if !authorizer(e, req).txnID(auth.OpWrite, r.TransactionalID) {
		resp := kmsg.NewPtrEndTxnResponse()
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = kerr.TransactionalIDAuthorizationFailed.Code, -1, -1
		return reply(resp)
	}
	return func() *server.Response { return &server.Response{Msg: e.Txn.EndTxn(r)} }
}
