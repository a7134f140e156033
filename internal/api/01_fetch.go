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
// Fetch sessions (KIP-227, fetch_session.go): a consumer's incremental
// fetch reads every partition of its session and is answered with only
// those that have news.
//
// A fetch from a follower broker takes the replica path (fetch_replica.go).
func handleFetch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.FetchRequest)
	if id := replicaIDOf(r); id >= 0 {
		return handleReplicaFetch(e, req, r, id)
	}
	z := authorizer(e, req)
	return func() *server.Response {
		fc, code := e.FetchSessions.newContext(r)
		if code != 0 {
			resp := kmsg.NewPtrFetchResponse()
			resp.ErrorCode = code
			return &server.Response{Msg: resp}
		}
		defer fc.done()
		img := e.Meta.Image()
		var deadline time.Time
		if r.MaxWaitMillis > 0 {
			deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
		}
		// A sessionless or full fetch watches each partition for the
		// length of one pass; an incremental one parks on its session,
		// which is subscribed to its partitions for its whole life.
		wake := make(chan struct{}, 1)
		if fc.sess != nil {
			wake = fc.sess.wake
		}
		budget := int(r.MaxBytes)
		if r.Version < 3 || budget <= 0 {
			budget = 1 << 30
		}
		if r.Version < 4 {
			budget = min(budget, downConvertBudget)
		}
		budget = fetchQuotaBudget(e, req, budget)
		pass := &fetchPass{out: &server.Response{}}
		for {
			fetchOnce(e, req, img, r, fc, wake, z, budget, pass)
			done := pass.size >= int(r.MinBytes) || pass.anyErr || deadline.IsZero()
			if !done {
				if wait := time.Until(deadline); wait > 0 {
					pass.release()
					t := time.NewTimer(wait)
					select {
					case <-wake:
					case <-t.C:
					case <-req.Conn.Done:
					}
					t.Stop()
					unwatch(pass.watched, wake)
					select {
					case <-req.Conn.Done:
						return nil
					default:
					}
					if !time.Now().Before(deadline) {
						deadline = time.Now() // one last read, then answer
					}
					continue
				}
			}
			unwatch(pass.watched, wake)
			return fc.answer(e, req, r, img, pass)
		}
	}
}

func unwatch(parts []*replica.Partition, ch chan struct{}) {
	for _, p := range parts {
		p.Unwatch(ch)
	}
}

// fetchPass is one read of the partitions a fetch names: an entry per
// partition read, in the order of fc.items (an incremental fetch reads only
// the partitions that may have news).
type fetchPass struct {
	out      *server.Response // carries the splices and releases
	entries  []passEntry
	size     int
	anyErr   bool
	watched  []*replica.Partition
	hints    hintBrokers
	releases []*log.ReadResult
}

// passEntry is what a pass read of items[i].
type passEntry struct {
	i       int
	fp      kmsg.FetchResponseTopicPartition
	records bool // fp carries records
	again   bool // records remain past the item's offset
}

func (p *fetchPass) release() {
	for _, rr := range p.releases {
		rr.Release()
	}
	p.releases = p.releases[:0]
}

// reset empties p for another pass of the same fetch (a parked fetch
// reads again at every wake-up); the last pass released what it read.
func (p *fetchPass) reset() {
	*p.out = server.Response{}
	clear(p.entries)
	p.entries = p.entries[:0]
	p.size, p.anyErr = 0, false
	p.watched = p.watched[:0]
	clear(p.hints)
	p.releases = p.releases[:0]
}

// answer builds the response of the last pass: every partition for a full
// fetch, those with news for an incremental one (fc.answered), or an empty
// one with the throttle when the fetch is over its consumer_byte_rate
// quota (the session then stays as it was: nothing reached the client).
func (fc *fetchContext) answer(e *Env, req *server.Request, r *kmsg.FetchRequest, img *metadata.Image, pass *fetchPass) *server.Response {
	resp := kmsg.NewPtrFetchResponse()
	out := pass.out
	out.Msg = resp
	if d := fetchThrottle(e, req, pass.size); d > 0 {
		pass.release()
		if fc.sess != nil {
			resp.SessionID = fc.sess.id
		}
		return &server.Response{Msg: resp, Throttle: d}
	}
	idx, id := fc.answered(pass.entries)
	resp.SessionID = id
	var t *kmsg.FetchResponseTopic
	for _, k := range idx {
		it := &fc.items[pass.entries[k].i]
		if t == nil || t.Topic != it.key.name || t.TopicID != it.key.id {
			// Consecutive partitions of a topic share its entry, as
			// Kafka writes them; a session's order may name a topic
			// twice, which clients accept.
			resp.Topics = append(resp.Topics, kmsg.NewFetchResponseTopic())
			t = &resp.Topics[len(resp.Topics)-1]
			t.Topic, t.TopicID = it.key.name, it.key.id
		}
		t.Partitions = append(t.Partitions, pass.entries[k].fp)
	}
	if r.Version >= 16 {
		for _, lb := range pass.hints.endpoints(e, req, img) {
			b := kmsg.NewFetchResponseBroker()
			b.NodeID, b.Host, b.Port, b.Rack = lb.ID, lb.Host, lb.Port, lb.Rack
			resp.Brokers = append(resp.Brokers, b)
		}
	}
	out.Release = pass.release
	return out
}

// fetchOnce reads the partitions of fc once: every one, or for an
// incremental fetch those that may have news (sessionPart.dirty, an error
// last time, a new image, or the session's periodic full read). A
// sessionless or full fetch registers wake on each partition before
// reading it, and a session is subscribed to its partitions before it
// reads them, so an append between read and wait is never missed.
func fetchOnce(e *Env, req *server.Request, img *metadata.Image, r *kmsg.FetchRequest, fc *fetchContext, wake chan struct{}, z authz, budget int, pass *fetchPass) {
	items := fc.items
	pass.reset()
	if fc.sess == nil && pass.entries == nil {
		pass.entries = make([]passEntry, 0, len(items))
	}
	var lastName string
	var lastAllowed bool
	for i := range items {
		it := &items[i]
		sp := it.part
		// Swapped before the read: a move after it marks the
		// partition again.
		if sp != nil && !sp.dirty.Swap(false) && !fc.fullRead && sp.hw >= 0 && sp.resolvedAt.Load() == img {
			continue
		}
		name := it.key.name
		if r.Version >= 13 {
			name = ""
			if ti := img.TopicsByID[metadata.UUID(it.key.id)]; ti != nil {
				name = ti.Name
			}
		}
		if sp != nil && sp.resolvedAt.Load() != img {
			fc.sess.resolve(e, img, sp, name)
		}
		pass.entries = append(pass.entries, passEntry{i: i, fp: kmsg.NewFetchResponseTopicPartition()})
		pe := &pass.entries[len(pass.entries)-1]
		fp := &pe.fp
		fp.Partition = it.key.partition
		// Kafka always sends an empty record set, never null:
		// librdkafka rejects a null one as a parse failure.
		fp.RecordBatches = []byte{}
		if name != "" && name != lastName {
			lastName, lastAllowed = name, z.topic(auth.OpRead, name)
		}
		if name != "" && !lastAllowed {
			fp.ErrorCode, pass.anyErr = kerr.TopicAuthorizationFailed.Code, true
			continue
		}
		p, code, hint := e.leaderOf(img, name, it.key.partition)
		if p == nil {
			fp.ErrorCode = code
			if r.Version >= 13 && name == "" {
				fp.ErrorCode = kerr.UnknownTopicID.Code
			}
			if code == kerr.NotLeaderForPartition.Code && r.Version >= 12 {
				fp.CurrentLeader.LeaderID, fp.CurrentLeader.LeaderEpoch = hint.ID, hint.Epoch
				pass.hints.add(hint)
			}
			pass.anyErr = true
			continue
		}
		if fc.sess == nil {
			p.Watch(wake)
			pass.watched = append(pass.watched, p)
		}
		readPartition(e, img, p, r, it, pe, pass, &budget)
	}
	if fc.sess != nil {
		for _, pe := range pass.entries {
			if pe.again {
				// Its records are not all with the client yet:
				// read it next time too.
				items[pe.i].part.dirty.Store(true)
			}
		}
	}
}

// readPartition answers it in pe from its leader partition p, within the
// pass's budget.
func readPartition(e *Env, img *metadata.Image, p *replica.Partition, r *kmsg.FetchRequest, it *fetchItem, pe *passEntry, pass *fetchPass, budget *int) {
	fp := &pe.fp
	fp.HighWatermark = p.HighWatermark()
	// The HW may move between the two reads; the answer keeps
	// LSO <= HW.
	lso := min(p.LastStableOffset(), fp.HighWatermark)
	fp.LastStableOffset = lso
	fp.LogStartOffset = p.LogStartOffset()
	if code := checkLeaderEpoch(p, it.leaderEpoch); code != 0 {
		fp.ErrorCode, pass.anyErr = code, true
		return
	}
	if r.IsolationLevel == 1 {
		// read_committed: nothing at or past the LSO, and the
		// aborted transactions whose records the client may
		// get, so it can drop them.
		fp.AbortedTransactions = []kmsg.FetchResponseTopicPartitionAbortedTransaction{}
		for _, a := range p.AbortedTxns(it.offset, lso) {
			at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
			at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
			fp.AbortedTransactions = append(fp.AbortedTransactions, at)
		}
	}
	limit := fp.HighWatermark
	if r.IsolationLevel == 1 {
		limit = lso
	}
	pe.again = it.offset < limit
	max := min(int(it.maxBytes), *budget)
	if max <= 0 && pass.size > 0 {
		return
	}
	if r.Version < 10 && p.Config().CompressionType == "zstd" {
		unsupportedCompression(fp)
		pass.anyErr = true
		return
	}
	if r.Version < 4 && downConversionDisabled(e, img, p.Topic) {
		unreadable(fp, kerr.UnsupportedVersion.Code)
		pass.anyErr = true
		return
	}
	rr, err := p.ReadUpTo(it.offset, max, limit)
	switch {
	case errors.Is(err, log.ErrOffsetOutOfRange):
		fp.ErrorCode, pass.anyErr = kerr.OffsetOutOfRange.Code, true
		fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = -1, -1, -1
		if r.Version >= 5 {
			fp.HighWatermark, fp.LastStableOffset, fp.LogStartOffset = p.HighWatermark(), p.LastStableOffset(), p.LogStartOffset()
		}
	case err != nil:
		fp.ErrorCode, pass.anyErr = kerr.KafkaStorageError.Code, true
	case rr.Size > 0 && rr.Size > *budget && pass.size > 0:
		// Only the first partition with data may exceed the
		// response limit (KIP-74); later ones wait their turn.
		rr.Release()
	case rr.Size > 0 && r.Version < 4:
		n, code := downConvertRecords(fp, rr, r.Version, it.offset)
		fp.ErrorCode, pass.anyErr = code, pass.anyErr || code != 0
		pe.records = n > 0
		pass.size += n
		*budget -= n
	case rr.Size > 0:
		pass.releases = append(pass.releases, rr)
		spliceRecords(pass.out, fp, rr)
		pe.records = true
		pass.size += rr.Size
		*budget -= rr.Size
	default:
		rr.Release()
	}
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
