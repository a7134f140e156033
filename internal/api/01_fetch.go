package api

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

func init() { register(1, 0, 17, handleFetch) }

// handleFetch runs entirely in the Reply: a long poll must not stop the read
// loop, and the bytes are read when the response is about to be written.
//
// Fetch sessions (KIP-227) are answered with session id 0, "no session",
// which every client handles by sending full requests.
//
// A fetch from a follower broker takes the replica path (fetch_replica.go).
func handleFetch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.FetchRequest)
	if id := replicaIDOf(r); id >= 0 {
		return handleReplicaFetch(e, req, r, id)
	}
	z := authorizer(e, req)
	return func() *server.Response {
		img := e.Meta.Image()
		var deadline time.Time
		if r.MaxWaitMillis > 0 {
			deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
		}
		wake := make(chan struct{}, 1)
		budget := int(r.MaxBytes)
		if r.Version < 3 || budget <= 0 {
			budget = 1 << 30
		}
		if r.Version < 4 {
			budget = min(budget, downConvertBudget)
		}
		budget = fetchQuotaBudget(e, req, budget)
		for {
			resp, size, parts, errs := fetchOnce(e, req, img, r, wake, z, budget)
			if size >= int(r.MinBytes) || errs || deadline.IsZero() {
				unwatch(parts, wake)
				return fetchQuota(e, req, resp, size)
			}
			wait := time.Until(deadline)
			if wait <= 0 {
				unwatch(parts, wake)
				return fetchQuota(e, req, resp, size)
			}
			resp.Release()
			t := time.NewTimer(wait)
			select {
			case <-wake:
			case <-t.C:
			case <-req.Conn.Done:
			}
			t.Stop()
			unwatch(parts, wake)
			select {
			case <-req.Conn.Done:
				return nil
			default:
			}
			if !time.Now().Before(deadline) {
				deadline = time.Now() // one last read, then answer
			}
		}
	}
}

func unwatch(parts []*replica.Partition, ch chan struct{}) {
	for _, p := range parts {
		p.Unwatch(ch)
	}
}

// fetchOnce reads every requested partition once. It registers wake on each
// partition before reading it, so an append between read and wait is never
// missed.
func fetchOnce(e *Env, req *server.Request, img *metadata.Image, r *kmsg.FetchRequest, wake chan struct{}, z authz, budget int) (*server.Response, int, []*replica.Partition, bool) {
	resp := kmsg.NewPtrFetchResponse()
	out := &server.Response{Msg: resp}
	var releases []*log.ReadResult
	out.Release = func() {
		for _, rr := range releases {
			rr.Release()
		}
	}
	size, anyErr := 0, false
	var watched []*replica.Partition
	hints := hintBrokers{}
	for _, rt := range r.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name := rt.Topic
		if r.Version >= 13 {
			if ti := img.TopicsByID[metadata.UUID(rt.TopicID)]; ti != nil {
				name = ti.Name
			} else {
				name = ""
			}
		}
		for _, rp := range rt.Partitions {
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition = rp.Partition
			// Kafka always sends an empty record set, never null:
			// librdkafka rejects a null one as a parse failure.
			fp.RecordBatches = []byte{}
			if name != "" && !z.topic(auth.OpRead, name) {
				fp.ErrorCode, anyErr = kerr.TopicAuthorizationFailed.Code, true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			p, code, hint := e.leaderOf(img, name, rp.Partition)
			if p == nil {
				fp.ErrorCode = code
				if r.Version >= 13 && name == "" {
					fp.ErrorCode = kerr.UnknownTopicID.Code
				}
				if code == kerr.NotLeaderForPartition.Code && r.Version >= 12 {
					fp.CurrentLeader.LeaderID, fp.CurrentLeader.LeaderEpoch = hint.ID, hint.Epoch
					hints.add(hint)
				}
				anyErr = true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			p.Watch(wake)
			watched = append(watched, p)
			fp.HighWatermark = p.HighWatermark()
			// The HW may move between the two reads; the answer keeps
			// LSO <= HW.
			lso := min(p.LastStableOffset(), fp.HighWatermark)
			fp.LastStableOffset = lso
			fp.LogStartOffset = p.LogStartOffset()
			if code := checkLeaderEpoch(p, rp.CurrentLeaderEpoch); code != 0 {
				fp.ErrorCode, anyErr = code, true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			if r.IsolationLevel == 1 {
				// read_committed: nothing at or past the LSO, and the
				// aborted transactions whose records the client may
				// get, so it can drop them.
				fp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
				for _, a := range p.AbortedTxns(rp.FetchOffset, lso) {
					at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
					at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
					fp.AbortedTransactions = append(fp.AbortedTransactions, at)
				}
			}
			max := int(rp.PartitionMaxBytes)
			if max > budget {
				max = budget
			}
			if max <= 0 && size > 0 {
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			if r.Version < 10 && p.Config().CompressionType == "zstd" {
				unsupportedCompression(&fp)
				anyErr = true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			if r.Version < 4 && downConversionDisabled(e, img, name) {
				unreadable(&fp, kerr.UnsupportedVersion.Code)
				anyErr = true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			limit := fp.HighWatermark
			if r.IsolationLevel == 1 {
				limit = lso
			}
			rr, err := p.ReadUpTo(rp.FetchOffset, max, limit)
			switch {
			case errors.Is(err, log.ErrOffsetOutOfRange):
				fp.ErrorCode, anyErr = kerr.OffsetOutOfRange.Code, true
				fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = -1, -1, -1
				if r.Version >= 5 {
					fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
				}
			case err != nil:
				fp.ErrorCode, anyErr = kerr.KafkaStorageError.Code, true
			case rr.Size > 0 && rr.Size > budget && size > 0:
				// Only the first partition with data may exceed the
				// response limit (KIP-74); later ones wait their turn.
				rr.Release()
			case rr.Size > 0 && r.Version < 4:
				n, code := downConvertRecords(&fp, rr, r.Version, rp.FetchOffset)
				fp.ErrorCode, anyErr = code, anyErr || code != 0
				size += n
				budget -= n
			case rr.Size > 0:
				releases = append(releases, rr)
				spliceRecords(out, &fp, rr)
				size += rr.Size
				budget -= rr.Size
			default:
				rr.Release()
			}
			t.Partitions = append(t.Partitions, fp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	if r.Version >= 16 {
		for _, lb := range hints.endpoints(e, req, img) {
			b := kmsg.NewFetchResponseBroker()
			b.NodeID, b.Host, b.Port, b.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	return out, size, watched, anyErr
}

// checkLeaderEpoch applies KIP-320: a client ahead of us gets
// UNKNOWN_LEADER_EPOCH, one behind gets FENCED_LEADER_EPOCH; -1 skips it.
func checkLeaderEpoch(p *replica.Partition, epoch int32) int16 {
	if epoch < 0 {
		return 0
	}
	cur := p.LeaderEpoch()
	switch {
	case epoch > cur:
		return kerr.UnknownLeaderEpoch.Code
	case epoch < cur:
		return kerr.FencedLeaderEpoch.Code
	}
	return 0
}

// Markers stand in for record bytes in the encoded response (see
// server.Splice). A random per-process prefix makes a collision with real
// response bytes vanishingly unlikely.
var markerPrefix = func() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}()

var markerSeq atomic.Uint64

// spliceRecords makes rr's batches fp's records, sent from the segment
// files with sendfile (server.Splice) rather than copied.
func spliceRecords(out *server.Response, fp *kmsg.FetchResponseTopicPartition, rr *log.ReadResult) {
	marker := newMarker()
	fp.RecordBatches = marker
	parts := make([]server.FilePart, len(rr.Slices))
	for i, s := range rr.Slices {
		parts[i] = server.FilePart{File: s.File, Pos: s.Pos, Len: s.Len}
	}
	out.Splices = append(out.Splices, server.Splice{Marker: marker, Parts: parts, Records: rr.Records})
}

func newMarker() []byte {
	m := make([]byte, 16)
	binary.BigEndian.PutUint64(m, markerPrefix)
	binary.BigEndian.PutUint64(m[8:], markerSeq.Add(1))
	return m
}
