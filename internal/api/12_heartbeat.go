package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(12, 0, 4, handleHeartbeat) }

// handleHeartbeat is answered by the group coordinator (REBALANCE_IN_PROGRESS tells a member to rejoin).
func handleHeartbeat(e *Env, req *server.Request) server.Reply {
	return awaitGroup(req, e.Groups.Heartbeat(req.Body.(*kmsg.HeartbeatRequest)))
}
