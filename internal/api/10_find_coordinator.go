package api

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
	coordinatorShare       = 2
)

// handleFindCoordinator answers with this broker for group keys (the single
// node hosts every __consumer_offsets partition, created here on first
// need) and for transactional ids (the transaction coordinator, which
// creates __transaction_state on first need); share groups are not
// supported.
func handleFindCoordinator(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.FindCoordinatorRequest)
	resp := kmsg.NewPtrFindCoordinatorResponse()
	keys := r.CoordinatorKeys
	if r.Version < 4 {
		keys = []string{r.CoordinatorKey}
	}
	z := authorizer(e, req)
	for _, key := range keys {
		if code := z.findCoordinatorDenied(r.CoordinatorType, key); code != 0 {
			c := kmsg.NewFindCoordinatorResponseCoordinator()
			c.Key, c.ErrorCode, c.NodeID, c.Port = key, code, -1, -1
			resp.Coordinators = append(resp.Coordinators, c)
			continue
		}
		resp.Coordinators = append(resp.Coordinators, findCoordinator(e, req, r.CoordinatorType, key))
	}
	if r.Version < 4 {
		c := resp.Coordinators[0]
		resp.Coordinators = nil
		resp.ErrorCode, resp.ErrorMessage = c.ErrorCode, c.ErrorMessage
		resp.NodeID, resp.Host, resp.Port = c.NodeID, c.Host, c.Port
	}
	return server.Ready(&server.Response{Msg: resp})
}

func findCoordinator(e *Env, req *server.Request, keyType int8, key string) kmsg.FindCoordinatorResponseCoordinator {
	c := kmsg.NewFindCoordinatorResponseCoordinator()
	c.Key = key
	fail := func(code int16, msg string) kmsg.FindCoordinatorResponseCoordinator {
		c.ErrorCode, c.ErrorMessage = code, kmsg.StringPtr(msg)
		c.NodeID, c.Host, c.Port = -1, "", -1
		return c
	}
	switch keyType {
	case coordinatorGroup:
	case coordinatorTransaction:
		if e.Txn == nil {
			return fail(kerr.CoordinatorNotAvailable.Code, "no transaction coordinator")
		}
		if code := e.Txn.Ready(); code != 0 {
			return fail(code, "transaction coordinator not available")
		}
		c.NodeID = e.NodeID
		c.Host, c.Port = e.advertised(req)
		return c
	case coordinatorShare:
		return fail(kerr.InvalidRequest.Code, "share groups are not supported")
	default:
		return fail(kerr.InvalidRequest.Code, "unknown coordinator key type")
	}
	if code, err := e.Groups.Ready(); code != 0 {
		return fail(code, err.Error())
	}
	c.NodeID = e.NodeID
	c.Host, c.Port = e.advertised(req)
	return c
}
