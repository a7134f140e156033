package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(26, 0, 5, handleEndTxn) }

// handleEndTxn commits or aborts a transaction. The answer waits until the
// markers of every partition and the group offsets are durable.
func handleEndTxn(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.EndTxnRequest)
	if !authorizer(e, req).txnID(auth.OpWrite, r.TransactionalID) {
		resp := kmsg.NewPtrEndTxnResponse()
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = kerr.TransactionalIDAuthorizationFailed.Code, -1, -1
		return reply(resp)
	}
	return func() *server.Response { return &server.Response{Msg: e.Txn.EndTxn(r)} }
}
