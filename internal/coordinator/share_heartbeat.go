package coordinator

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/share"
)

// ShareGroupHeartbeat (KIP-932) on the shard loop: Kafka's
// shareGroupHeartbeat without the revocation dance. (1) Create or update
// the member, bumping the group epoch when a member joins or leaves, a
// subscription changes or the subscribed topics' metadata changes; (2)
// when the group epoch is ahead of the assignment epoch, compute the
// target assignment with the simple assignor; (3) the member takes its
// target and the assignment epoch at once: partitions may be shared, so
// no other member has to release anything first. The answer waits until
// the group state it reports is durable.

func sghbError(code int16, msg string) *kmsg.ShareGroupHeartbeatResponse {
	r := kmsg.NewPtrShareGroupHeartbeatResponse()
	r.ErrorCode = code
	if msg != "" {
		r.ErrorMessage = kmsg.StringPtr(msg)
	}
	return r
}

// ShareGroupHeartbeat handles ShareGroupHeartbeat v1. Request validation
// (Kafka's throwIfShareGroupHeartbeatRequestIsInvalid) needs no group
// state and is answered here; the rest runs on the shard loop.
func (c *Coordinator) ShareGroupHeartbeat(r *kmsg.ShareGroupHeartbeatRequest, cl Client) <-chan *kmsg.ShareGroupHeartbeatResponse {
	if r.Version == 0 && r.MemberID == "" && r.MemberEpoch == 0 {
		// v0 (unstable in Kafka 4.0) let the coordinator name the member.
		r.MemberID = newConsumerMemberID()
	}
	if code, msg := validateShareHeartbeat(r); code != 0 {
		return ready(sghbError(code, msg))
	}
	s, code := c.route(r.GroupID, true)
	if code != 0 {
		return ready(sghbError(code, ""))
	}
	fail := func(code int16) *kmsg.ShareGroupHeartbeatResponse { return sghbError(code, "") }
	return call(s, fail, func(reply func(*kmsg.ShareGroupHeartbeatResponse)) { s.shareHeartbeat(r, cl, reply) })
}

func validateShareHeartbeat(r *kmsg.ShareGroupHeartbeatRequest) (int16, string) {
	invalid := kerr.InvalidRequest.Code
	switch {
	case r.GroupID == "":
		return invalid, "GroupId can't be empty."
	case r.RackID != nil && *r.RackID == "":
		return invalid, "RackId can't be empty."
	case r.MemberID == "":
		return invalid, "MemberId can't be empty."
	case len(r.MemberID) > 36:
		// Kafka bounds the client-generated member id (a UUID's text).
		return invalid, "MemberId can't be longer than 36 characters."
	case r.MemberEpoch < leaveEpoch:
		return invalid, "MemberEpoch is invalid."
	case r.MemberEpoch == 0 && len(r.SubscribedTopicNames) == 0:
		return invalid, "SubscribedTopicNames must be set in first request."
	}
	return 0, ""
}

func (s *shard) shareHeartbeat(r *kmsg.ShareGroupHeartbeatRequest, cl Client, reply func(*kmsg.ShareGroupHeartbeatResponse)) {
	if s.groups[r.GroupID] != nil {
		reply(sghbError(kerr.GroupIDNotFound.Code, fmt.Sprintf("Group %s is not a share group.", r.GroupID)))
		return
	}
	if r.MemberEpoch == leaveEpoch {
		s.shareLeave(r, reply)
		return
	}
	now := s.c.clock.Now()
	g := s.shares[r.GroupID]
	created := false
	if g == nil {
		if r.MemberEpoch != 0 {
			reply(sghbError(kerr.GroupIDNotFound.Code, fmt.Sprintf("Share group %s not found.", r.GroupID)))
			return
		}
		g = newShareGroup(r.GroupID, now)
		s.shares[r.GroupID] = g
		created = true
	}
	m := g.members[r.MemberID]
	if m == nil {
		if r.MemberEpoch != 0 {
			reply(sghbError(kerr.UnknownMemberID.Code, fmt.Sprintf("Member %s is not a member of group %s.", r.MemberID, r.GroupID)))
			return
		}
		if len(g.members) >= s.c.cfg.ShareMaxSize {
			if created {
				delete(s.shares, g.id)
			}
			reply(sghbError(kerr.GroupMaxSizeReached.Code, fmt.Sprintf("The share group has reached its maximum capacity of %d members.", s.c.cfg.ShareMaxSize)))
			return
		}
	} else if r.MemberEpoch != 0 && r.MemberEpoch != m.epoch && r.MemberEpoch != m.prevEpoch {
		// Kafka accepts the previous epoch too: the answer carrying
		// the new one may have been lost.
		reply(sghbError(kerr.FencedMemberEpoch.Code, "The share group member has an invalid member epoch."))
		return
	}

	// 1. The member.
	isNew := m == nil
	dirty := isNew
	bump := isNew || g.groupEpoch == 0
	if isNew {
		m = &smember{id: r.MemberID, assigned: parts{}}
		g.members[m.id] = m
		s.log.Info("share group member joined", "group", g.id, "member", m.id)
	}
	if r.RackID != nil && (m.rackID == nil || *m.rackID != *r.RackID) {
		m.rackID = r.RackID
		dirty = true
	}
	if updateSubscribed(&m.subscribed, r.SubscribedTopicNames) {
		bump, dirty = true, true
	}
	if m.clientID != cl.ID || m.clientHost != cl.Host {
		m.clientID, m.clientHost = cl.ID, cl.Host
		dirty = true
	}
	topics := s.c.be.Topics()
	if bump || topics.Version() != g.metaVersion {
		g.metaVersion = topics.Version()
		if meta := g.computeSubMeta(topics); !sameMeta(meta, g.subMeta) {
			g.subMeta = meta
			bump = true
		}
	}
	if bump {
		g.groupEpoch++
		dirty = true
		s.log.Info("share group epoch bumped", "group", g.id, "epoch", g.groupEpoch, "members", len(g.members))
	}

	// 2. The target assignment.
	if g.groupEpoch > g.assignmentEpoch {
		g.target = simpleAssign(g)
		g.assignmentEpoch = g.groupEpoch
		dirty = true
	}

	// 3. The member takes its target at the assignment epoch.
	before := m.assigned
	if m.epoch != g.assignmentEpoch {
		target := g.target[m.id]
		if target == nil {
			target = parts{}
		}
		m.prevEpoch, m.epoch = m.epoch, g.assignmentEpoch
		m.assigned = target.clone()
		dirty = true
	}
	session, interval := s.c.shareTimeouts(g.id)
	s.resetShareSession(g, m, session)

	resp := kmsg.NewPtrShareGroupHeartbeatResponse()
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(interval / time.Millisecond)
	if r.MemberEpoch == 0 || !before.equal(m.assigned) {
		resp.Assignment = shareHeartbeatAssignment(m.assigned)
	}
	if !dirty {
		s.whenDurable(func() { reply(resp) })
		return
	}
	s.write([]record.Record{shareGroupRecord(g)}, func(err error) {
		if err != nil {
			reply(sghbError(writeErrorCode(err), ""))
			return
		}
		reply(resp)
	})
}

func shareHeartbeatAssignment(a parts) *kmsg.ShareGroupHeartbeatResponseAssignment {
	out := kmsg.NewShareGroupHeartbeatResponseAssignment()
	out.TopicPartitions = []kmsg.ShareGroupHeartbeatResponseAssignmentTopicPartition{}
	for _, id := range sortedIDs(a) {
		t := kmsg.NewShareGroupHeartbeatResponseAssignmentTopicPartition()
		t.TopicID, t.Partitions = id, slices.Clone(a[id])
		out.TopicPartitions = append(out.TopicPartitions, t)
	}
	return &out
}

// shareLeave handles member epoch -1.
func (s *shard) shareLeave(r *kmsg.ShareGroupHeartbeatRequest, reply func(*kmsg.ShareGroupHeartbeatResponse)) {
	g := s.shares[r.GroupID]
	if g == nil {
		reply(sghbError(kerr.GroupIDNotFound.Code, fmt.Sprintf("Share group %s not found.", r.GroupID)))
		return
	}
	m := g.members[r.MemberID]
	if m == nil {
		reply(sghbError(kerr.UnknownMemberID.Code, fmt.Sprintf("Member %s is not a member of group %s.", r.MemberID, r.GroupID)))
		return
	}
	s.log.Info("share group member left", "group", g.id, "member", m.id)
	resp := kmsg.NewPtrShareGroupHeartbeatResponse()
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = leaveEpoch
	s.removeShareMember(g, m, func(err error) {
		if err != nil {
			resp = sghbError(writeErrorCode(err), "")
		}
		reply(resp)
	})
}

// resetShareSession restarts m's session timer.
func (s *shard) resetShareSession(g *shareGroup, m *smember, d time.Duration) {
	m.session.stop()
	m.session = s.after(d, func() {
		if s.shares[g.id] != g || g.members[m.id] != m {
			return
		}
		s.log.Info("share group member session expired", "group", g.id, "member", m.id)
		s.removeShareMember(g, m, func(err error) {
			if err != nil {
				s.log.Warn("persisting share group failed", "group", g.id, "err", err)
			}
		})
	})
}

// removeShareMember takes m out of g, bumps the group epoch (the next
// heartbeat of another member computes the new target), tells the
// share-partition side (its session ends and its records are released)
// and persists g.
func (s *shard) removeShareMember(g *shareGroup, m *smember, done func(error)) {
	m.session.stop()
	delete(g.members, m.id)
	delete(g.target, m.id)
	g.groupEpoch++
	if l, ok := s.c.state().(share.MemberListener); ok {
		l.MemberLeft(g.id, m.id) // does not block (see share.MemberListener)
	}
	s.write([]record.Record{shareGroupRecord(g)}, done)
}

// simpleAssign is Sluice's simple share assignor (Kafka's "simple"
// server assignor for share groups). Topic by topic, over the members
// subscribed to it (sorted by id): with at least as many partitions as
// members, partitions are dealt round robin, so each partition has one
// member and counts differ by at most one; with fewer partitions than
// members, members are dealt round robin over the partitions, so every
// member gets a partition and partitions are shared. The start of the
// deal rotates from topic to topic so single-partition topics do not all
// land on the same member. Members subscribed to nothing that exists get
// an empty assignment.
func simpleAssign(g *shareGroup) map[string]parts {
	out := make(map[string]parts, len(g.members))
	for id := range g.members {
		out[id] = parts{}
	}
	names := slices.Sorted(maps.Keys(g.subMeta))
	rot := 0
	for _, name := range names {
		ti := g.subMeta[name]
		var ms []string
		for _, m := range g.sortedMembers() {
			if _, ok := slices.BinarySearch(m.subscribed, name); ok {
				ms = append(ms, m.id)
			}
		}
		if len(ms) == 0 || ti.Partitions <= 0 {
			continue
		}
		n := int(ti.Partitions)
		if n >= len(ms) {
			for p := 0; p < n; p++ {
				out[ms[(p+rot)%len(ms)]].add(ti.ID, int32(p))
			}
		} else {
			for i, id := range ms {
				out[id].add(ti.ID, int32((i+rot)%n))
			}
		}
		rot++
	}
	for id, a := range out {
		for tid, ps := range a {
			if len(ps) == 0 {
				delete(a, tid)
			}
		}
		out[id] = a
	}
	return out
}
