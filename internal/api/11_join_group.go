package api

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(11, 0, 9, handleJoinGroup) }

// handleJoinGroup hands the request to the group coordinator in the read
// loop (so a connection's group requests stay in order) and waits in the
// Reply: the answer may wait for the whole rebalance.
func handleJoinGroup(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.JoinGroupRequest)
	if !authorizer(e, req).group(auth.OpRead, r.Group) {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.ErrorCode, resp.Generation, resp.MemberID = kerr.GroupAuthorizationFailed.Code, -1, r.MemberID
		return reply(resp)
	}
	return awaitGroup(req, e.Groups.JoinGroup(r, clientOf(req)))
}

// awaitGroup waits for a coordinator answer; a dead connection needs none.
// (The coordinator answers everything it holds when it stops.)
func awaitGroup[T kmsg.Response](req *server.Request, ch <-chan T) server.Reply {
	return func() *server.Response {
		select {
		case resp := <-ch:
			return &server.Response{Msg: resp}
		case <-req.Conn.Done:
			return nil
		}
	}
}

// clientOf is the client id and host ("/ip", as Kafka shows it) of req.
func clientOf(req *server.Request) coordinator.Client {
	host := ""
	if req.Remote != nil {
		host = req.Remote.String()
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = "/" + host
	}
	return coordinator.Client{ID: req.ClientID, Host: host}
}
