package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

// handleOffsetFetch is answered by the group coordinator (v8+ may ask for several groups).
func handleOffsetFetch(e *Env, req *server.Request) server.Reply {
	return awaitGroup(req, e.Groups.OffsetFetch(req.Body.(*kmsg.OffsetFetchRequest)))
}
