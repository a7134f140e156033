package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(14, 0, 5, handleSyncGroup) }

// handleSyncGroup is answered by the group coordinator (waits until the leader's assignment is durable).
func handleSyncGroup(e *Env, req *server.Request) server.Reply {
	return awaitGroup(req, e.Groups.SyncGroup(req.Body.(*kmsg.SyncGroupRequest)))
}
