package api

import (
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(25, 0, 4, handleAddOffsetsToTxn) }

// handleAddOffsetsToTxn adds the group's __consumer_offsets partition to
// the transaction (creating that topic on first need).
func handleAddOffsetsToTxn(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.AddOffsetsToTxnRequest)
	return func() *server.Response {
		resp := kmsg.NewPtrAddOffsetsToTxnResponse()
		if code, _ := e.Groups.Ready(); code != 0 {
			resp.ErrorCode = code
			return &server.Response{Msg: resp}
		}
		n := int32(1)
		if t, ok := e.Meta.Image().Topic(coordinator.OffsetsTopic); ok {
			n = int32(len(t.Partitions))
		}
		resp.ErrorCode = e.Txn.AddOffsetsToTxn(r, coordinator.PartitionFor(r.Group, n))
		return &server.Response{Msg: resp}
	}
}
