package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(66, 0, 1, handleListTransactions) }

// handleListTransactions lists transactional ids (state, producer id and
// v1's minimum duration filters).
func handleListTransactions(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ListTransactionsRequest)
	z := authorizer(e, req)
	return func() *server.Response {
		resp := e.Txn.ListTransactions(r)
		z.listTransactionsFix(resp)
		return &server.Response{Msg: resp}
	}
}
