package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(9, 0, 9, handleOffsetFetch) }

// handleOffsetFetch is answered by the group coordinator (v8+ may ask for
// several groups); require_stable is applied with the transaction
// coordinator (txn_offsets.go).
func handleOffsetFetch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.OffsetFetchRequest)
	return awaitGroupThen(req, stableOffsets(e, r, e.Groups.OffsetFetch(r)), authorizer(e, req).offsetFetchFix(r))
}
