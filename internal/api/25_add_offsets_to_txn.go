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
	if code := authorizer(e, req).addOffsetsToTxnCode(r); code != 0 {
		resp := kmsg.NewPtrAddOffsetsToTxnResponse()
		resp.ErrorCode = code
		return reply(resp)
	}
	return func() *server.Response {
		resp := kmsg.NewPtrAddOffsetsToTxnResponse()
		if code, _ := e.Groups.Ready(); code != 0 {
			resp.ErrorCode = code
			return &server.Response{Msg: resp}
		}
		resp.ErrorCode = e.Txn.AddOffsetsToTxn(r, offsetsPartitionFor(e, r.Group))
		return &server.Response{Msg: resp}
	}
}

// offsetsPartitionFor is the group's __consumer_offsets partition.
func offsetsPartitionFor(e *Env, group string) int32 {
	n := int32(1)
	if t, ok := e.Meta.Image().Topic(coordinator.OffsetsTopic); ok {
		n = int32(len(t.Partitions))
	}
	return coordinator.PartitionFor(group, n)
}
