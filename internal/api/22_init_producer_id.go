package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(22, 0, 5, handleInitProducerID) }

// handleInitProducerID allocates a producer id (idempotent producers) or
// initializes a transactional id, fencing its older instances. A
// transactional init may write markers and state, so it runs in the Reply.
func handleInitProducerID(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.InitProducerIDRequest)
	if code := authorizer(e, req).initProducerIDCode(r.TransactionalID); code != 0 {
		resp := kmsg.NewPtrInitProducerIDResponse()
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = code, -1, -1
		return reply(resp)
	}
	return func() *server.Response {
		res := e.Txn.InitProducerID(r.Version, r.TransactionalID, r.TransactionTimeoutMillis, r.ProducerID, r.ProducerEpoch)
		resp := kmsg.NewPtrInitProducerIDResponse()
		resp.ErrorCode, resp.ProducerID, resp.ProducerEpoch = res.Code, res.ProducerID, res.Epoch
		return &server.Response{Msg: resp}
	}
}
