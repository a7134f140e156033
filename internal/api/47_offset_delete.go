package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(47, 0, 0, handleOffsetDelete) }

// handleOffsetDelete is answered by the group coordinator (not for topics an active consumer group subscribes to).
func handleOffsetDelete(e *Env, req *server.Request) server.Reply {
	return awaitGroup(req, e.Groups.OffsetDelete(req.Body.(*kmsg.OffsetDeleteRequest)))
}
