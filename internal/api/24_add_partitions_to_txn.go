package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(24, 0, 5, handleAddPartitionsToTxn) }

// handleAddPartitionsToTxn adds partitions to a transaction (v4+: several
// transactions, KIP-890 verify-only). Answered once the state is durable.
func handleAddPartitionsToTxn(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AddPartitionsToTxnRequest)
	if denied := authorizer(e, req).addPartitionsToTxnDenied(r); denied != nil {
		return reply(denied)
	}
	return func() *server.Response { return &server.Response{Msg: e.Txn.AddPartitionsToTxn(r)} }
}
