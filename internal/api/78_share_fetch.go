package api

import (
	"cmp"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/share"
)

// Version 2 of both share APIs is what kgo requires before it enables share
// groups; v1 adds MaxRecords/BatchSize, v2 ShareAcquireMode and renew
// acknowledgements (KIP-1206, KIP-1222).
func init() { registerIf(78, 0, 2, handleShareFetch, shareEnabled) }

// shareEnabled: the share APIs are served when the broker has a share
// manager and group.share.enable is not false.
func shareEnabled(e *Env) bool {
	return e.Share != nil && (e.Cfg == nil || e.Cfg.EffectiveValue("group.share.enable") != "false")
}

// defaultShareMaxRecords is what a ShareFetch without MaxRecords (v0)
// acquires at most, Kafka's share.max.fetch.records default.
const defaultShareMaxRecords = 500

// handleShareFetch runs in the Reply, like Fetch: acknowledgements wait for
// durability and an empty fetch long-polls up to MaxWaitMillis, woken by
// new data or by records of its share-partitions becoming acquirable
// again. It answers as soon as anything was acquired (MinBytes is met by
// any record: records acquired while waiting for more would sit locked),
// at once when the request carried acknowledgements, and at once on a
// partition error. Client quotas are not applied to share fetches yet.
func handleShareFetch(e *Env, req *server.Request) server.Reply {
	r := req.Body.(*kmsg.ShareFetchRequest)
	z := authorizer(e, req)
	return func() *server.Response { return shareFetch(e, req, r, z) }
}

func strOf(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// shareGroupCheck is the top-level check both share APIs make: READ on
// the group, a member id (Kafka's 36-character bound), and a group id
// that does not name a classic or consumer group.
func shareGroupCheck(e *Env, z authz, group, member string) int16 {
	if !z.group(auth.OpRead, group) {
		return kerr.GroupAuthorizationFailed.Code
	}
	if group == "" || member == "" || len(member) > 36 {
		return kerr.InvalidRequest.Code
	}
	switch e.Share.Groups().GroupType(group) {
	case share.GroupTypeClassic, share.GroupTypeConsumer:
		return kerr.GroupIDNotFound.Code
	}
	return 0
}

// shareTarget resolves topic ID and partition for a share API: the data
// partition, or the per-partition error (unknown ID, no READ on the
// topic, unknown partition).
func shareTarget(e *Env, img *metadata.Image, z authz, tid [16]byte, p int32) (*replica.Partition, int16) {
	t := img.TopicsByID[metadata.UUID(tid)]
	if t == nil {
		return nil, kerr.UnknownTopicID.Code
	}
	if !z.topic(auth.OpRead, t.Name) {
		return nil, kerr.TopicAuthorizationFailed.Code
	}
	part, code, _ := e.leaderOf(e.Meta.Image(), t.Name, p)
	if part == nil {
		return nil, code
	}
	return part, 0
}

// shareFetchOut collects one response's partitions, each once, in the
// order they first appear.
type shareFetchOut struct {
	resp  *kmsg.ShareFetchResponse
	out   *server.Response
	index map[share.TP][2]int
	rrs   []*log.ReadResult
	// spliced[i] is the partition whose Records hold out.Splices[i]'s
	// marker (see answer).
	spliced []share.TP
}

func newShareFetchOut(resp *kmsg.ShareFetchResponse) *shareFetchOut {
	o := &shareFetchOut{resp: resp, out: &server.Response{Msg: resp}, index: map[share.TP][2]int{}}
	o.out.Release = func() {
		for _, rr := range o.rrs {
			rr.Release()
		}
	}
	return o
}

func (o *shareFetchOut) part(tp share.TP) *kmsg.ShareFetchResponseTopicPartition {
	if at, ok := o.index[tp]; ok {
		return &o.resp.Topics[at[0]].Partitions[at[1]]
	}
	ti := -1
	for i := range o.resp.Topics {
		if o.resp.Topics[i].TopicID == tp.TopicID {
			ti = i
			break
		}
	}
	if ti < 0 {
		t := kmsg.NewShareFetchResponseTopic()
		t.TopicID = tp.TopicID
		o.resp.Topics = append(o.resp.Topics, t)
		ti = len(o.resp.Topics) - 1
	}
	sp := kmsg.NewShareFetchResponseTopicPartition()
	sp.Partition = tp.Partition
	// Kafka's schema default: no leader hint (0/0 would name node 0).
	sp.CurrentLeader.LeaderID, sp.CurrentLeader.LeaderEpoch = -1, -1
	o.resp.Topics[ti].Partitions = append(o.resp.Topics[ti].Partitions, sp)
	o.index[tp] = [2]int{ti, len(o.resp.Topics[ti].Partitions) - 1}
	return &o.resp.Topics[ti].Partitions[len(o.resp.Topics[ti].Partitions)-1]
}

// release drops every read held (before a retry of the long poll), with
// the splices and acquired records a pass put in the response: a pass
// can read batches and acquire nothing from them (the records taken by
// other members meanwhile), and the long poll then runs another pass. Left
// in place, that pass's splice kept a marker the next pass replaced in
// the partition's Records, so the response could not be encoded ("splice
// marker not found"), the connection was closed, and what the next pass
// acquired never reached the member: it came back only when its lock
// ran out, a delivery more each time.
func (o *shareFetchOut) release() {
	for _, rr := range o.rrs {
		rr.Release()
	}
	o.rrs = nil
	if len(o.out.Splices) == 0 {
		return
	}
	o.out.Splices, o.spliced = o.out.Splices[:0], o.spliced[:0]
	for ti := range o.resp.Topics {
		for pi := range o.resp.Topics[ti].Partitions {
			sp := &o.resp.Topics[ti].Partitions[pi]
			sp.Records, sp.AcquiredRecords = nil, nil
		}
	}
}

// answer is the response with its splices in the order their markers
// appear in the encoded message, which the server's encoder walks
// forward: a pass acquires in the session's rotated order, while the
// response lists topics and partitions in the order they were first
// added (acknowledged ones first). Out of order, the encoder missed a
// marker ("splice marker not found") and closed the connection, and the
// records the fetch acquired reached no one until their locks ran out.
func (o *shareFetchOut) answer() *server.Response {
	if len(o.spliced) > 1 {
		order := make([]int, len(o.spliced))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(a, b int) int {
			pa, pb := o.index[o.spliced[a]], o.index[o.spliced[b]]
			if c := cmp.Compare(pa[0], pb[0]); c != 0 {
				return c
			}
			return cmp.Compare(pa[1], pb[1])
		})
		sorted := make([]server.Splice, len(order))
		for i, k := range order {
			sorted[i] = o.out.Splices[k]
		}
		o.out.Splices = sorted
		o.spliced = nil
	}
	return o.out
}

func shareFetch(e *Env, req *server.Request, r *kmsg.ShareFetchRequest, z authz) *server.Response {
	group, member := strOf(r.GroupID), strOf(r.MemberID)
	resp := kmsg.NewPtrShareFetchResponse()
	settings := e.Share.Settings(group)
	resp.AcquisitionLockTimeoutMillis = int32(settings.RecordLockDuration / time.Millisecond)
	fail := func(code int16) *server.Response {
		resp.ErrorCode = code
		return &server.Response{Msg: resp}
	}
	if code := shareGroupCheck(e, z, group, member); code != 0 {
		return fail(code)
	}
	renew := r.Version >= 2 && r.IsRenewAck
	maxType := share.AckReject
	hasAcks := false
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) > 0 {
				hasAcks = true
			} else if renew {
				return fail(kerr.InvalidRequest.Code) // KIP-1222: a renew request only acknowledges
			}
		}
	}
	if renew {
		if r.MaxBytes != 0 || r.MinBytes != 0 || r.MaxRecords != 0 || r.MaxWaitMillis != 0 {
			return fail(kerr.InvalidRequest.Code)
		}
		maxType = share.AckRenew
	}
	if r.ShareSessionEpoch == 0 && hasAcks {
		// Nothing can be acknowledged before a session delivered it.
		return fail(kerr.InvalidRequest.Code)
	}
	var connDone <-chan struct{}
	if req.Conn != nil {
		connDone = req.Conn.Done
	}
	img := e.Meta.Image()
	o := newShareFetchOut(resp)

	if r.ShareSessionEpoch == -1 {
		if !e.Share.HasSession(group, member) {
			return fail(kerr.ShareSessionNotFound.Code)
		}
		shareFetchAcks(e, img, z, r, group, member, maxType, o)
		e.Share.CloseSession(group, member)
		return o.out
	}

	var add, forget []share.TP
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			add = append(add, share.TP{TopicID: t.TopicID, Partition: p.Partition})
		}
	}
	for _, t := range r.ForgottenTopicsData {
		for _, p := range t.Partitions {
			forget = append(forget, share.TP{TopicID: t.TopicID, Partition: p})
		}
	}
	parts, code := e.Share.FetchSession(group, member, r.ShareSessionEpoch, add, forget, connDone)
	if code != 0 {
		return fail(code)
	}
	// The session this fetch runs in: when it ends while the fetch is
	// parked (closed, replaced, or the member left the group), the fetch
	// stops acquiring.
	sess := e.Share.Session(group, member)
	shareFetchAcks(e, img, z, r, group, member, maxType, o)
	if renew || len(parts) == 0 {
		return o.out
	}

	maxRecords := int(r.MaxRecords)
	if r.Version < 1 || maxRecords <= 0 {
		maxRecords = defaultShareMaxRecords
	}
	strict := r.Version >= 2 && r.ShareAcquireMode == 1
	budget := int(r.MaxBytes)
	if budget <= 0 {
		budget = 1 << 30
	}
	// Rotate the start by the session epoch so that one busy partition
	// does not always take the whole record budget.
	if n := len(parts); n > 1 {
		at := int(r.ShareSessionEpoch) % n
		parts = append(parts[at:len(parts):len(parts)], parts[:at]...)
	}
	var deadline time.Time
	if r.MaxWaitMillis > 0 {
		deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
	}
	wake := make(chan struct{}, 1)
	for {
		got, errs, watched := shareFetchOnce(e, img, z, r, group, member, parts, share.FetchOpts{MaxRecords: maxRecords,
			Strict: strict, MaxBytes: budget, Session: &sess}, wake, o)
		if !sess.Live() {
			for _, w := range watched {
				w()
			}
			o.release()
			return fail(kerr.ShareSessionNotFound.Code)
		}
		done := got > 0 || errs || hasAcks || deadline.IsZero() || !time.Now().Before(deadline)
		if !done {
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-wake:
			case <-t.C:
			case <-connDone:
			}
			t.Stop()
		}
		for _, w := range watched {
			w()
		}
		if done {
			return o.answer()
		}
		if connDone != nil {
			select {
			case <-connDone:
				return nil
			default:
			}
		}
		img = e.Meta.Image()
	}
}

// shareFetchAcks applies a ShareFetch's piggybacked acknowledgements;
// every partition that carried some appears in the response with its
// AcknowledgeErrorCode.
func shareFetchAcks(e *Env, img *metadata.Image, z authz, r *kmsg.ShareFetchRequest, group, member string, maxType int8, o *shareFetchOut) {
	for _, t := range r.Topics {
		for _, p := range t.Partitions {
			if len(p.AcknowledgementBatches) == 0 {
				continue
			}
			acks := make([]share.AckBatch, len(p.AcknowledgementBatches))
			for i, b := range p.AcknowledgementBatches {
				acks[i] = share.AckBatch{First: b.FirstOffset, Last: b.LastOffset, Types: b.AcknowledgeTypes}
			}
			tp := share.TP{TopicID: t.TopicID, Partition: p.Partition}
			_, code := shareTarget(e, img, z, t.TopicID, p.Partition)
			if code == 0 {
				code = e.Share.Acknowledge(group, member, t.TopicID, p.Partition, acks, maxType)
			}
			o.part(tp).AcknowledgeErrorCode = code
		}
	}
}

// shareFetchOnce acquires from every session partition once, within the
// record and byte budgets. It registers wake on each data partition and
// share-partition before acquiring from it, so a change between the
// acquisition and the wait is never missed; the returned functions undo
// that.
func shareFetchOnce(e *Env, img *metadata.Image, z authz, r *kmsg.ShareFetchRequest, group, member string, parts []share.TP,
	opts share.FetchOpts, wake chan struct{}, o *shareFetchOut) (got int, errs bool, watched []func()) {
	o.release()
	maxRecords, strict, budget := opts.MaxRecords, opts.Strict, opts.MaxBytes
	for _, tp := range parts {
		part, code := shareTarget(e, img, z, tp.TopicID, tp.Partition)
		if code != 0 {
			o.part(tp).ErrorCode = code
			errs = true
			continue
		}
		if got >= maxRecords || budget <= 0 {
			continue
		}
		part.Watch(wake)
		e.Share.Watch(group, tp.TopicID, tp.Partition, wake)
		watched = append(watched, func() {
			part.Unwatch(wake)
			e.Share.Unwatch(group, tp.TopicID, tp.Partition, wake)
		})
		acq, code := e.Share.Acquire(group, member, tp.TopicID, tp.Partition, part,
			share.FetchOpts{MaxRecords: maxRecords - got, Strict: strict, MaxBytes: budget, Session: opts.Session})
		if code != 0 {
			o.part(tp).ErrorCode = code
			errs = true
			continue
		}
		if acq.Read == nil {
			continue
		}
		sp := o.part(tp)
		marker := newMarker()
		sp.Records = marker
		fps := make([]server.FilePart, len(acq.Read.Slices))
		for i, s := range acq.Read.Slices {
			fps[i] = server.FilePart{File: s.File, Pos: s.Pos, Len: s.Len}
		}
		o.out.Splices = append(o.out.Splices, server.Splice{Marker: marker, Parts: fps, Records: acq.Read.Records})
		o.spliced = append(o.spliced, tp)
		o.rrs = append(o.rrs, acq.Read)
		budget -= acq.Read.Size
		batch := 0
		if r.Version >= 1 && !strict && r.BatchSize > 0 {
			batch = int(r.BatchSize)
		}
		for _, rg := range acq.Ranges {
			got += int(rg.Last - rg.First + 1)
			for first := rg.First; first <= rg.Last; {
				last := rg.Last
				if batch > 0 && last-first+1 > int64(batch) {
					last = first + int64(batch) - 1
				}
				ar := kmsg.NewShareFetchResponseTopicPartitionAcquiredRecord()
				ar.FirstOffset, ar.LastOffset, ar.DeliveryCount = first, last, rg.Count
				sp.AcquiredRecords = append(sp.AcquiredRecords, ar)
				first = last + 1
			}
		}
	}
	return got, errs, watched
}
