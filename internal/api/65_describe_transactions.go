package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(65, 0, 0, handleDescribeTransactions) }

// handleDescribeTransactions describes transactional ids from the
// transaction coordinator's state.
func handleDescribeTransactions(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.DescribeTransactionsRequest)
	z := authorizer(e, req)
	return func() *server.Response {
		resp := e.Txn.DescribeTransactions(r)
		z.describeTransactionsFix(resp)
		return &server.Response{Msg: resp}
	}
}
