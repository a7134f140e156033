package coordinator

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf16"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// validateOffsetCommit is Kafka's ClassicGroup.validateOffsetCommit:
// simple consumers (generation < 0, no member) may commit to an empty
// group; members commit with their current generation, not while the
// group is completing a rebalance.
func (g *group) validateOffsetCommit(r *kmsg.OffsetCommitRequest) int16 {
	if g.cg != nil {
		return g.cg.validateCommit(r.MemberID, r.Generation, r.Version, false)
	}
	if r.Generation < 0 && g.state == stateEmpty {
		return 0
	}
	if r.Generation >= 0 || r.MemberID != "" || r.InstanceID != nil {
		if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
			return code
		}
		if r.Generation != g.generation {
			return kerr.IllegalGeneration.Code
		}
	} else if g.state != stateEmpty {
		return kerr.UnknownMemberID.Code
	}
	if g.state == stateCompletingRebalance {
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

func fillCommit(resp *kmsg.OffsetCommitResponse, code int16) {
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			if resp.Topics[i].Partitions[j].ErrorCode == 0 {
				resp.Topics[i].Partitions[j].ErrorCode = code
			}
		}
	}
}

func javaLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// commitOffsets stores the partitions of resp still without an error (the
// caller has already answered unknown topics). The answer waits for the
// fsync; only then do the offsets become visible to OffsetFetch.
func (s *shard) commitOffsets(r *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, reply func(*kmsg.OffsetCommitResponse)) {
	g := s.groups[r.Group]
	if g == nil {
		if r.Generation >= 0 {
			code := kerr.IllegalGeneration.Code
			if r.Version >= 9 {
				code = kerr.GroupIDNotFound.Code
			}
			fillCommit(resp, code)
			reply(resp)
			return
		}
		// A simple consumer: the group exists from its first commit.
		g = newGroup(r.Group, s.c.clock.Now())
		s.groups[r.Group] = g
	}
	if code := g.validateOffsetCommit(r); code != 0 {
		fillCommit(resp, code)
		s.dropIfShell(g)
		reply(resp)
		return
	}
	now := s.c.clock.Now().UnixMilli()
	expire := int64(-1)
	if r.RetentionTimeMillis >= 0 && r.Version >= 2 && r.Version <= 4 {
		expire = now + r.RetentionTimeMillis
	}
	var (
		tps     []tp
		vals    []offset
		answers []*kmsg.OffsetCommitResponseTopicPartition
	)
	stale := g.staleCommitCheck(s, r)
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			if out.ErrorCode != 0 {
				continue
			}
			if stale(rt.Topic, rp.Partition) {
				out.ErrorCode = kerr.StaleMemberEpoch.Code
				continue
			}
			meta := ""
			if rp.Metadata != nil {
				meta = *rp.Metadata
			}
			if javaLen(meta) > s.c.cfg.MetadataMaxBytes {
				out.ErrorCode = kerr.OffsetMetadataTooLarge.Code
				continue
			}
			o := offset{offset: rp.Offset, leaderEpoch: -1, metadata: meta, commitMs: now, expireMs: expire}
			if r.Version >= 6 {
				o.leaderEpoch = rp.LeaderEpoch
			}
			if r.Version == 1 && rp.Timestamp != -1 {
				o.commitMs = rp.Timestamp
			}
			tps, vals, answers = append(tps, tp{rt.Topic, rp.Partition}), append(vals, o), append(answers, out)
		}
	}
	if m := g.members[r.MemberID]; m != nil && g.is(stateStable, statePreparingRebalance) {
		s.rescheduleHeartbeat(g, m, m.sessionTimeout)
	}
	s.storeOffsets(g, tps, vals, func(err error) {
		if err != nil {
			for _, a := range answers {
				a.ErrorCode = writeErrorCode(err)
			}
		}
		reply(resp)
	})
}

// storeOffsets writes vals as the committed offsets of tps (one record
// each, in order) and makes them the group's offsets once durable, not
// before; then it calls done with the write's error (nil at once when
// there is nothing to write). While the write is in flight the partitions
// count in g.pendingCommits.
func (s *shard) storeOffsets(g *group, tps []tp, vals []offset, done func(error)) {
	if len(tps) == 0 {
		s.dropIfShell(g)
		done(nil)
		return
	}
	recs := make([]record.Record, len(tps))
	for i, t := range tps {
		recs[i] = record.Record{Key: offsetKey(g.id, t), Value: offsetValue(vals[i])}
		g.pendingCommits[t]++
	}
	base := int64(-1)
	base = s.appendRecords(recs, nil, func(err error) {
		for i, t := range tps {
			if g.pendingCommits[t]--; g.pendingCommits[t] <= 0 {
				delete(g.pendingCommits, t)
			}
			if err != nil {
				continue
			}
			// A transaction's offsets completed meanwhile stay when
			// their record is the later one (txn_offsets.go).
			o := vals[i]
			o.logOff = base + int64(i)
			if cur, ok := g.offsets[t]; !ok || cur.logOff < o.logOff {
				g.offsets[t] = o
			}
		}
		if s.groups[g.id] == g {
			s.dropIfShell(g)
		}
		done(err)
	})
}

// fetchTopic is one topic of an OffsetFetch; nil partitions never occur
// (a nil topic list means every committed offset).
type fetchTopic struct {
	topic      string
	partitions []int32
}

// fetchOffsets answers one group of an OffsetFetch in the v8+ shape.
func (s *shard) fetchOffsets(group string, topics []fetchTopic, all bool) kmsg.OffsetFetchResponseGroup {
	out := kmsg.NewOffsetFetchResponseGroup()
	out.Group = group
	g := s.groups[group]
	if all {
		topics = nil
		if g != nil {
			byTopic := map[string][]int32{}
			for t := range g.offsets {
				byTopic[t.topic] = append(byTopic[t.topic], t.partition)
			}
			for _, name := range slices.Sorted(maps.Keys(byTopic)) {
				ps := byTopic[name]
				slices.Sort(ps)
				topics = append(topics, fetchTopic{name, ps})
			}
		}
	}
	for _, ft := range topics {
		rt := kmsg.NewOffsetFetchResponseGroupTopic()
		rt.Topic = ft.topic
		for _, p := range ft.partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition = p
			rp.Offset, rp.LeaderEpoch, rp.Metadata = -1, -1, kmsg.StringPtr("")
			if g != nil {
				if o, ok := g.offsets[tp{ft.topic, p}]; ok {
					rp.Offset, rp.LeaderEpoch, rp.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
				}
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out.Topics = append(out.Topics, rt)
	}
	return out
}

// deleteOffsets is OffsetDelete: offsets of topics the group is not
// consuming are removed (tombstones); an active consumer group keeps those
// of its subscribed topics (GROUP_SUBSCRIBED_TO_TOPIC).
func (s *shard) deleteOffsets(r *kmsg.OffsetDeleteRequest, resp *kmsg.OffsetDeleteResponse, reply func(*kmsg.OffsetDeleteResponse)) {
	g := s.groups[r.Group]
	if g == nil {
		reply(offsetDeleteError(kerr.GroupIDNotFound.Code))
		return
	}
	active := !g.isEmpty()
	if active && g.protocolType != "consumer" && g.cg == nil {
		reply(offsetDeleteError(kerr.NonEmptyGroup.Code))
		return
	}
	var recs []record.Record
	var gone []tp
	for i, rt := range r.Topics {
		for j, rp := range rt.Partitions {
			out := &resp.Topics[i].Partitions[j]
			if out.ErrorCode != 0 {
				continue
			}
			if active && g.isSubscribedTo(rt.Topic) {
				out.ErrorCode = kerr.GroupSubscribedToTopic.Code
				continue
			}
			t := tp{rt.Topic, rp.Partition}
			_, committed := g.offsets[t]
			if committed || g.pendingCommits[t] > 0 {
				recs = append(recs, record.Record{Key: offsetKey(g.id, t)})
				gone = append(gone, t)
			}
		}
	}
	if len(recs) == 0 {
		reply(resp)
		return
	}
	s.write(recs, func(err error) {
		if err != nil {
			resp = offsetDeleteError(writeErrorCode(err))
		} else {
			for _, t := range gone {
				delete(g.offsets, t)
			}
			if s.groups[g.id] == g {
				s.dropIfShell(g)
			}
		}
		reply(resp)
	})
}

func offsetDeleteError(code int16) *kmsg.OffsetDeleteResponse {
	r := kmsg.NewPtrOffsetDeleteResponse()
	r.ErrorCode = code
	return r
}

// equalFoldAny reports whether s matches one of list, ignoring case.
func equalFoldAny(s string, list []string) bool {
	for _, l := range list {
		if strings.EqualFold(s, l) {
			return true
		}
	}
	return false
}
