package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

// handleOffsetFetch is answered by the group coordinator (v8+ may ask for
// several groups), which also applies require_stable (KIP-447) from its
// pending transactional offsets.
func handleOffsetFetch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	return awaitGroupThen(req, e.Groups.OffsetFetch(r), authorizer(e, req).offsetFetchFix(r))
}
