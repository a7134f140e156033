package api

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(27, 0, 1, handleWriteTxnMarkers) }

// handleWriteTxnMarkers writes commit/abort markers to partitions this
// broker leads, as a transaction coordinator on another broker asks its
// partition leaders to (a coordinator writes its own broker's markers
// directly; txn/markers.go). A partition led elsewhere is
// NOT_LEADER_OR_FOLLOWER; a marker whose coordinator epoch is older than
// the producer's last marker's is TRANSACTION_COORDINATOR_FENCED
// (replica.AppendMarker). Answered once the markers are durable and, in
// __consumer_offsets partitions, the transaction's offsets completed.
//
// INVARIANT: markers are written in the reply, so a coordinator's
// WriteTxnMarkers on one connection apply in the order sent. A
// coordinator whose request timed out while it still waited here sends
// the marker again; in order, the copy lands right after the original,
// before the coordinator can complete the transaction. Run concurrently,
// the original could land after the copy and after the producer's next
// transaction began in the partition, and end that one.
func handleWriteTxnMarkers(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.WriteTxnMarkersRequest)
	if denied := authorizer(e, req).writeTxnMarkersDenied(r); denied != nil {
		return reply(denied)
	}
	return func() *server.Response {
		resp := writeTxnMarkersResponse(r, func(m *kmsg.WriteTxnMarkersRequestMarker, topic string, idx int32) int16 {
			return writeMarker(e, topic, idx, m)
		})
		return &server.Response{Msg: resp}
	}
}

func writeMarker(e *Env, topic string, idx int32, m *kmsg.WriteTxnMarkersRequestMarker) int16 {
	p, code, _ := e.leaderOf(e.Meta.Image(), topic, idx)
	if p == nil {
		return code
	}
	upTo, err := p.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
	if err == nil {
		// acks=all, as Kafka writes markers: on the ISR before the
		// coordinator may complete the transaction (5 s bound: inside
		// the coordinator's request timeout).
		err = replica.CommitReplicated(p, upTo, 0)
	}
	if err == nil && topic == coordinator.OffsetsTopic && e.Groups != nil {
		// Durable: the transaction's offsets in this partition
		// complete (the group coordinator holds no lock for us).
		e.Groups.CompleteTxn(idx, m.ProducerID, m.Committed, upTo-1)
	}
	var perr *replica.ProduceError
	switch {
	case errors.As(err, &perr):
		return perr.Err.Code
	case errors.Is(err, replica.ErrNotLeader):
		return kerr.NotLeaderForPartition.Code
	case errors.Is(err, replica.ErrNotEnoughReplicasAfterAppend):
		return kerr.NotEnoughReplicasAfterAppend.Code
	case errors.Is(err, replica.ErrReplicationTimeout):
		return kerr.RequestTimedOut.Code
	case err != nil:
		return kerr.KafkaStorageError.Code
	}
	return 0
}
