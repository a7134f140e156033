package api

import (
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/auth"
	"github.com/sluice-io/sluice/internal/log"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/quota"
	"github.com/sluice-io/sluice/internal/replica"
	"github.com/sluice-io/sluice/internal/server"
)

// A replica fetch is a Fetch from a follower broker (ReplicaID >= 0
// before v15, ReplicaState.ID >= 0 from v15). The leader answers it from
// the same zero-copy path as a consumer's, but up to its log end (LEO)
// rather than the HW; it records the follower's fetch offset (its durable
// LEO, replica/hw.go), which may move the HW; it parks a fetch with
// nothing new until the LEO grows (not the HW) or MaxWait passes; and it
// tells a follower whose last fetched epoch diverged from the leader's
// log where that epoch ends (DivergingEpoch, KIP-595). Only a broker in
// the partition's replica set may fetch it, with CLUSTER_ACTION. A
// follower's broker epoch (ReplicaState.Epoch, KIP-903) does not decide
// whether it is served, only whether it may join the ISR (replica/
// isr_wiring.go). Replication throttles (KIP-73) hold back the data of
// throttled partitions for followers outside the ISR (leaderThrottles).

// replicaIDOf is the fetching broker's id, or -1 for a consumer.
func replicaIDOf(r *kmsg.FetchRequest) int32 {
	if r.Version >= 15 {
		return r.ReplicaState.ID
	}
	return r.ReplicaID
}

func handleReplicaFetch(e *Env, req *server.Request, r *kmsg.FetchRequest, id int32) server.Reply {
	z := authorizer(e, req)
	return func() *server.Response {
		if !z.cluster(auth.OpClusterAction) {
			resp := kmsg.NewPtrFetchResponse()
			resp.ErrorCode = kerr.ClusterAuthorizationFailed.Code
			return &server.Response{Msg: resp}
		}
		img := e.Meta.Image()
		var deadline time.Time
		if r.MaxWaitMillis > 0 {
			deadline = time.Now().Add(time.Duration(r.MaxWaitMillis) * time.Millisecond)
		}
		wake := make(chan struct{}, 1)
		budget := int(r.MaxBytes)
		if budget <= 0 {
			budget = 1 << 30
		}
		for {
			resp, size, parts, errs, th := replicaFetchOnce(e, img, r, id, wake, budget)
			if size >= int(r.MinBytes) || errs || deadline.IsZero() || !time.Now().Before(deadline) {
				unwatchLEO(parts, wake)
				// Only what is sent counts (Kafka records the
				// response's throttled partitions).
				if e.LeaderThrottle != nil {
					e.LeaderThrottle.Record(th.bytes)
				}
				return resp
			}
			resp.Release()
			d := time.Until(deadline)
			if th.held {
				// Read again once the throttle lifts, not at MaxWait.
				d = min(d, max(e.LeaderThrottle.Delay(), time.Millisecond))
			}
			t := time.NewTimer(d)
			select {
			case <-wake:
			case <-t.C:
			case <-req.Conn.Done:
			}
			t.Stop()
			unwatchLEO(parts, wake)
			select {
			case <-req.Conn.Done:
				return nil
			default:
			}
		}
	}
}

func unwatchLEO(parts []*replica.Partition, ch chan struct{}) {
	for _, p := range parts {
		p.UnwatchLEO(ch)
	}
}

// replicaFetchOnce reads every requested partition once, registering wake
// for appends before each read so none is missed.
// It also reports on the partitions the leader throttles.
func replicaFetchOnce(e *Env, img *metadata.Image, r *kmsg.FetchRequest, id int32, wake chan struct{}, budget int) (*server.Response, int, []*replica.Partition, bool, throttleUse) {
	resp := kmsg.NewPtrFetchResponse()
	out := &server.Response{Msg: resp}
	var releases []*log.ReadResult
	out.Release = func() {
		for _, rr := range releases {
			rr.Release()
		}
	}
	size, anyErr := 0, false
	var th throttleUse
	var watched []*replica.Partition
	now := time.Now()
	brokerEpoch := int64(-1) // the follower's broker epoch (KIP-903), for AlterPartition
	if r.Version >= 15 {
		brokerEpoch = r.ReplicaState.Epoch
	}
	for _, rt := range r.Topics {
		t := kmsg.NewFetchResponseTopic()
		t.Topic, t.TopicID = rt.Topic, rt.TopicID
		name := rt.Topic
		if r.Version >= 13 {
			name = ""
			if ti := img.TopicsByID[metadata.UUID(rt.TopicID)]; ti != nil {
				name = ti.Name
			}
		}
		for _, rp := range rt.Partitions {
			fp := kmsg.NewFetchResponseTopicPartition()
			fp.Partition = rp.Partition
			fp.RecordBatches = []byte{}
			p, code, _ := e.leaderOf(img, name, rp.Partition)
			switch {
			case p == nil && r.Version >= 13 && name == "":
				code = kerr.UnknownTopicID.Code
			case p == nil:
			case !p.IsReplica(id):
				// Kafka: a broker outside the replica set is not a
				// follower of this partition.
				code = kerr.NotLeaderForPartition.Code
			default:
				code = checkLeaderEpoch(p, rp.CurrentLeaderEpoch)
			}
			if code != 0 {
				fp.ErrorCode, anyErr = code, true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			p.WatchLEO(wake)
			watched = append(watched, p)
			fp.LogStartOffset = p.LogStartOffset()
			if ep, end, ok := divergence(p, r.Version, rp.LastFetchedEpoch, rp.FetchOffset); ok {
				fp.DivergingEpoch.Epoch, fp.DivergingEpoch.EndOffset = ep, end
				fp.HighWatermark = p.HighWatermark()
				fp.LastStableOffset = min(p.LastStableOffset(), fp.HighWatermark)
				anyErr = true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			if rp.FetchOffset >= p.LogStartOffset() && rp.FetchOffset <= p.Log().EndOffset() {
				// Also the ISR decisions: caught-up bookkeeping and,
				// when the follower may join, an AlterPartition
				// (replica/isr_wiring.go; sent off this goroutine).
				fp.HighWatermark = p.UpdateFollower(id, brokerEpoch, rp.FetchOffset, now)
			} else {
				fp.HighWatermark = p.HighWatermark()
			}
			fp.LastStableOffset = min(p.LastStableOffset(), fp.HighWatermark)
			throttled := e.LeaderThrottle != nil && e.LeaderThrottle.IsThrottled(name, rp.Partition)
			if throttled && leaderThrottles(e.LeaderThrottle, p, id) {
				th.held = true
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			max := min(int(rp.PartitionMaxBytes), budget)
			if max <= 0 && size > 0 {
				t.Partitions = append(t.Partitions, fp)
				continue
			}
			rr, err := p.ReadReplica(rp.FetchOffset, max)
			switch {
			case errors.Is(err, log.ErrOffsetOutOfRange):
				fp.ErrorCode, anyErr = kerr.OffsetOutOfRange.Code, true
			case err != nil:
				fp.ErrorCode, anyErr = kerr.KafkaStorageError.Code, true
			case rr.Size > 0 && rr.Size > budget && size > 0:
				rr.Release()
			case rr.Size > 0:
				releases = append(releases, rr)
				spliceRecords(out, &fp, rr)
				size += rr.Size
				budget -= rr.Size
				if throttled {
					th.bytes += rr.Size
				}
			default:
				rr.Release()
			}
			t.Partitions = append(t.Partitions, fp)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return out, size, watched, anyErr, th
}

// throttleUse is what one read did with throttled partitions: the bytes
// it read for them, and whether it held one back.
type throttleUse struct {
	bytes int
	held  bool
}

// leaderThrottles is Kafka's shouldLeaderThrottle for a partition this
// leader throttles (leader.replication.throttled.replicas names it with
// this broker): a follower outside the ISR (a reassignment's new
// replica, one catching up) gets no data while the leader's throttled
// bytes are over leader.replication.throttled.rate. In-sync followers are
// never held back, so acks=all and the HW do not wait on the throttle.
func leaderThrottles(q *quota.Replication, p *replica.Partition, follower int32) bool {
	if t := p.ISRView(); t != nil && slices.Contains(t.Current(), follower) {
		return false
	}
	return q.Exceeded()
}

// divergence is KIP-595's check on the leader (Partition.DivergingEpoch,
// replica/diverge.go): Fetch v12+ only (LastFetchedEpoch); -1 skips it.
func divergence(p *replica.Partition, version int16, lastEpoch int32, offset int64) (int32, int64, bool) {
	if version < 12 {
		return 0, 0, false
	}
	return p.DivergingEpoch(lastEpoch, offset)
}
