package api

import (
	"errors"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/coordinator"
	"github.com/sluice-io/sluice/internal/metadata"
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
// INVARIANT: markers are appended here, in the handler, which the
// connection's read loop runs one request at a time: a coordinator's
// WriteTxnMarkers on one connection apply in the order sent. A
// coordinator whose request timed out while it still waited here sends
// the marker again; in order, the copy lands right after the original,
// before the coordinator can complete the transaction. Were the appends
// concurrent, the original could land after the copy and after the
// producer's next transaction began in the partition, and end that one.
// Only the waits for replication run side by side (all partitions of the
// request, and the requests after it): one marker's ISR round trip no
// longer holds every request behind it on the connection.
func handleWriteTxnMarkers(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.WriteTxnMarkersRequest)
	if denied := authorizer(e, req).writeTxnMarkersDenied(r); denied != nil {
		return reply(denied)
	}
	img := e.Meta.Image()
	var ws []*markerWrite // in the response's order
	for i := range r.Markers {
		m := &r.Markers[i]
		for _, t := range m.Topics {
			for _, idx := range t.Partitions {
				ws = append(ws, appendMarker(e, img, t.Topic, idx, m))
			}
		}
	}
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, w := range ws {
			if w.p != nil && w.err == nil {
				wg.Add(1)
				go func() { defer wg.Done(); w.await(e) }()
			}
		}
		wg.Wait()
		close(done)
	}()
	return func() *server.Response {
		<-done
		next := 0
		resp := writeTxnMarkersResponse(r, func(*kmsg.WriteTxnMarkersRequestMarker, string, int32) int16 {
			w := ws[next]
			next++
			return w.code()
		})
		return &server.Response{Msg: resp}
	}
}

// markerWrite is one partition's marker of a WriteTxnMarkers request.
type markerWrite struct {
	p         *replica.Partition // nil: not led here (notLeader)
	notLeader int16
	topic     string
	idx       int32
	m         *kmsg.WriteTxnMarkersRequestMarker
	upTo      int64
	err       error
}

// appendMarker appends the marker to the partition's log, if this broker
// leads it.
func appendMarker(e *Env, img *metadata.Image, topic string, idx int32, m *kmsg.WriteTxnMarkersRequestMarker) *markerWrite {
	w := &markerWrite{topic: topic, idx: idx, m: m}
	p, code, _ := e.leaderOf(img, topic, idx)
	if p == nil {
		w.notLeader = code
		return w
	}
	w.p = p
	w.upTo, w.err = p.AppendMarker(m.ProducerID, m.ProducerEpoch, m.Committed, m.CoordinatorEpoch)
	return w
}

// await waits until the appended marker is on the ISR, as Kafka writes
// markers (acks=all, before the coordinator may complete the
// transaction; 5 s bound: inside the coordinator's request timeout), then
// completes the transaction's offsets in a __consumer_offsets partition
// (the group coordinator holds no lock for us).
func (w *markerWrite) await(e *Env) {
	w.err = replica.CommitReplicated(w.p, w.upTo, 0)
	if w.err == nil && w.topic == coordinator.OffsetsTopic && e.Groups != nil {
		e.Groups.CompleteTxn(w.idx, w.m.ProducerID, w.m.Committed, w.upTo-1)
	}
}

// code is the partition's answer.
func (w *markerWrite) code() int16 {
	if w.p == nil {
		return w.notLeader
	}
	var perr *replica.ProduceError
	switch err := w.err; {
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
