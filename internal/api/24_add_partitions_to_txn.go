package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(24, 0, 5, handleAddPartitionsToTxn) }

// handleAddPartitionsToTxn adds partitions to a transaction (v4+: several
// transactions, KIP-890 verify-only). Answered once the state is durable.
//
// The work starts when the request is read, not when the connection's
// replies reach it: a partition leader sends every KIP-890 verification
// for this coordinator over one connection, and replies run one at a time
// in request order, so each would wait for the writes (and their
// replication) of every request before it. Under load that queue outgrew
// the partition leaders' request timeout. The order of these requests
// does not matter (an add is idempotent, an older epoch's is fenced, and a
// transactional id's changes are serial under its shard's lock); the
// answers still leave in order. WriteTxnMarkers stays in order: see its
// handler.
func handleAddPartitionsToTxn(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AddPartitionsToTxnRequest)
	if denied := authorizer(e, req).addPartitionsToTxnDenied(r); denied != nil {
		return reply(denied)
	}
	done := make(chan *kmsg.AddPartitionsToTxnResponse, 1)
	go func() { done <- e.Txn.AddPartitionsToTxn(r) }()
	return func() *server.Response { return &server.Response{Msg: <-done} }
}
