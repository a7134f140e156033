package api

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(10, 0, 6, handleFindCoordinator) }

// Coordinator key types.
const (
	coordinatorGroup       = 0
	coordinatorTransaction = 1
	coordinatorShare       = 2
)

// handleFindCoordinator names, for a group key, the leader of the group's
// __consumer_offsets partition (created here on first need, through the
// controller), as Kafka does; for transactional ids this broker (the
// transaction coordinator, which creates __transaction_state on first
// need); share groups are not supported.
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
		leader, code := e.Txn.Locate(key)
		if code != 0 {
			return fail(code, "transaction coordinator not available")
		}
		return nameLeader(e, req, c, leader, fail)
	case coordinatorShare:
		return fail(kerr.InvalidRequest.Code, "share groups are not supported")
	default:
		return fail(kerr.InvalidRequest.Code, "unknown coordinator key type")
	}
	if code, err := e.Groups.Ready(); code != 0 {
		return fail(code, err.Error())
	}
	// The group's coordinator is the leader of its partition: every
	// broker names the same one, and any other answers NOT_COORDINATOR.
	img := e.Meta.Image()
	leaders := coordinator.OffsetsLeadersIn(img)
	if leaders == nil {
		return fail(kerr.CoordinatorNotAvailable.Code, coordinator.OffsetsTopic+" is not in this broker's metadata yet")
	}
	p := coordinator.PartitionFor(key, int32(len(leaders)))
	leader := leaders[p].Leader
	if leader < 0 {
		return fail(kerr.CoordinatorNotAvailable.Code, fmt.Sprintf("partition %d of %s has no leader", p, coordinator.OffsetsTopic))
	}
	return nameLeader(e, req, c, leader, fail)
}

// nameLeader answers c with broker leader's endpoint on req's listener.
func nameLeader(e *Env, req *server.Request, c kmsg.FindCoordinatorResponseCoordinator, leader int32,
	fail func(int16, string) kmsg.FindCoordinatorResponseCoordinator) kmsg.FindCoordinatorResponseCoordinator {
	for _, b := range e.liveBrokers(req, e.Meta.Image()) {
		if b.ID == leader {
			c.NodeID, c.Host, c.Port = b.ID, b.Host, b.Port
			return c
		}
	}
	return fail(kerr.CoordinatorNotAvailable.Code, fmt.Sprintf("the coordinator, broker %d, has no endpoint on this listener", leader))
}
