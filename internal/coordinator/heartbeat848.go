package coordinator

import (
	"crypto/rand"
	"encoding/base64"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// ConsumerGroupHeartbeat on the shard loop: Kafka's consumerGroupHeartbeat
// in three parts — (1) create or update the member, bumping the group
// epoch when membership, a subscription or the subscribed topics'
// metadata changed; (2) compute a new target assignment when the group
// epoch is ahead of the assignment epoch; (3) reconcile the member towards
// its target (reconcile.go). The answer waits until the group's new state
// is durable.

func cghbError(code int16, msg string) *kmsg.ConsumerGroupHeartbeatResponse {
	r := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	r.ErrorCode = code
	if msg != "" {
		r.ErrorMessage = kmsg.StringPtr(msg)
	}
	return r
}

// newConsumerMemberID is a random Kafka Uuid as text (v0 requests, where
// the coordinator picks the member id).
func newConsumerMemberID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (s *shard) consumerHeartbeat(r *kmsg.ConsumerGroupHeartbeatRequest, cl Client, reply func(*kmsg.ConsumerGroupHeartbeatResponse)) {
	if r.MemberEpoch < 0 {
		s.consumerLeave(r, reply)
		return
	}
	cfg := &s.c.cfg
	now := s.c.clock.Now()
	g := s.groups[r.Group]
	var recs []record.Record
	if g == nil || g.cg == nil {
		if r.MemberEpoch != 0 {
			reply(cghbError(kerr.UnknownMemberID.Code, "consumer group "+r.Group+" not found"))
			return
		}
		if g != nil && !g.classicIsEmpty() {
			reply(cghbError(kerr.GroupIDNotFound.Code, "group "+r.Group+" is not a consumer group"))
			return
		}
		if g == nil {
			g = newGroup(r.Group, now)
			s.groups[r.Group] = g
		} else if g.generation > 0 || g.protocolType != "" {
			// An empty classic group becomes a consumer group; its
			// committed offsets stay.
			recs = append(recs, record.Record{Key: groupKey(g.id)})
			g.generation, g.protocolType, g.protocolName, g.leader = 0, "", "", ""
			g.computeSubscribed()
		}
		g.cg = newConsumerGroup(now)
	}
	cg := g.cg

	memberID := r.MemberID
	if memberID == "" { // v0 join: the coordinator names the member
		memberID = newConsumerMemberID()
	}
	staticHeld := false
	if r.InstanceID != nil {
		_, staticHeld = cg.static[*r.InstanceID]
	}
	// A new incarnation of a static member replaces it, so it does not
	// count against the limit.
	if len(cg.members) >= cfg.ConsumerMaxSize && cg.members[memberID] == nil && !staticHeld {
		reply(cghbError(kerr.GroupMaxSizeReached.Code, "the consumer group has reached its maximum size"))
		s.dropIfUnused(g)
		return
	}

	var (
		m        *cmember
		isNew    bool
		replaced *cmember
	)
	if r.MemberEpoch == 0 {
		if r.InstanceID != nil {
			if oldID, ok := cg.static[*r.InstanceID]; ok && oldID != memberID {
				old := cg.members[oldID]
				if old != nil && old.epoch != leaveStaticEpoch {
					reply(cghbError(kerr.UnreleasedInstanceID.Code, "instance id "+*r.InstanceID+" is still used by member "+oldID))
					return
				}
				replaced = old
			}
		}
		m = cg.members[memberID]
		if m == nil {
			m = &cmember{id: memberID, assigned: parts{}, pending: parts{}, assignedAt: map[tpid]int32{}}
			isNew = true
		} else if m.epoch == leaveStaticEpoch {
			// The static member is back under its own id.
			m.epoch, m.prevEpoch, m.state = 0, 0, memberStable
		}
	} else {
		if resp := cg.checkInstance(r.InstanceID, r.MemberID); resp != nil {
			reply(resp)
			return
		}
		m = cg.members[r.MemberID]
		if m == nil {
			reply(cghbError(kerr.UnknownMemberID.Code, "member "+r.MemberID+" is not in group "+r.Group))
			return
		}
		if !m.epochValid(r.MemberEpoch, ownedParts(requestOwned(r.Topics))) {
			reply(cghbError(kerr.FencedMemberEpoch.Code, "the member epoch is fenced; the member must abandon its partitions and rejoin"))
			return
		}
	}

	// 1. The member.
	dirty := len(recs) > 0 || isNew || r.MemberEpoch == 0
	bump := cg.groupEpoch == 0 || isNew && replaced == nil
	if replaced != nil {
		// The new incarnation of a static member takes over the old
		// one's partitions and target. The group epoch stays, as in
		// Kafka (only a changed subscription below bumps it): a new
		// target would be computed over a new member id, and the range
		// assignor, which orders members by id, would move the other
		// members' partitions, the rebalance static membership avoids.
		target := cg.target[replaced.id]
		assigned := replaced.assigned
		s.dropConsumerMember(cg, replaced)
		cg.target[m.id] = target
		m.assigned = parts{}
		cg.members[m.id] = m
		cg.setAssignment(m, assigned.clone(), parts{})
		for t := range replaced.assignedAt {
			m.assignedAt[t] = 0
		}
		// Its subscription is compared with the old incarnation's.
		m.subscribed, m.regex = replaced.subscribed, replaced.regex
	}
	if r.InstanceID != nil {
		m.instanceID = r.InstanceID
	}
	if r.RackID != nil {
		m.rackID = r.RackID
	}
	if r.RebalanceTimeoutMillis != -1 {
		m.rebalanceTimeout = time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
	}
	if r.ServerAssignor != nil {
		m.assignor = assignorName(*r.ServerAssignor)
	}
	if updateSubscribed(&m.subscribed, r.SubscribedTopicNames) {
		bump, dirty = true, true
	}
	if r.SubscribedTopicRegex != nil && *r.SubscribedTopicRegex != m.regex {
		m.regex = *r.SubscribedTopicRegex
		bump, dirty = true, true
	}
	m.clientID, m.clientHost = cl.ID, cl.Host
	cg.members[m.id] = m
	if m.instanceID != nil {
		cg.static[*m.instanceID] = m.id
	}

	topics := s.c.be.Topics()
	if bump || topics.Version() != cg.metaVersion || cg.groupEpoch > cg.assignmentEpoch {
		meta := cg.computeSubMeta(topics)
		if !sameMeta(meta, cg.subMeta) {
			cg.subMeta = meta
			bump = true
		}
	}
	if bump {
		cg.groupEpoch++
		dirty = true
		s.log.Info("consumer group epoch bumped", "group", g.id, "epoch", cg.groupEpoch, "members", len(cg.members))
	}

	// 2. The target assignment.
	if cg.groupEpoch > cg.assignmentEpoch {
		s.computeTarget(g, topics)
		dirty = true
	}

	// 3. Reconciliation.
	before := m.assigned
	if s.reconcileMember(g, m, ownedParts(requestOwned(r.Topics))) {
		dirty = true
	}
	s.resetSession(g, m)

	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = m.epoch
	resp.HeartbeatIntervalMillis = int32(cfg.ConsumerHeartbeatInterval / time.Millisecond)
	full := r.RebalanceTimeoutMillis != -1 && (r.SubscribedTopicNames != nil || r.SubscribedTopicRegex != nil) && r.Topics != nil
	if r.MemberEpoch == 0 || full || !before.equal(m.assigned) {
		resp.Assignment = heartbeatAssignment(m.assigned)
	}
	if !dirty {
		s.whenDurable(func() { reply(resp) })
		return
	}
	recs = append(recs, consumerGroupRecord(g))
	s.write(recs, func(err error) {
		if err != nil {
			reply(cghbError(writeErrorCode(err), ""))
			return
		}
		reply(resp)
	})
}

// requestOwned converts the request's owned partitions (nil stays nil).
func requestOwned(ts []kmsg.ConsumerGroupHeartbeatRequestTopic) []ownedTopic {
	if ts == nil {
		return nil
	}
	out := make([]ownedTopic, 0, len(ts))
	for _, t := range ts {
		out = append(out, ownedTopic{t.TopicID, t.Partitions})
	}
	return out
}

func heartbeatAssignment(a parts) *kmsg.ConsumerGroupHeartbeatResponseAssignment {
	out := kmsg.NewConsumerGroupHeartbeatResponseAssignment()
	out.Topics = []kmsg.ConsumerGroupHeartbeatResponseAssignmentTopic{}
	for _, id := range sortedIDs(a) {
		t := kmsg.NewConsumerGroupHeartbeatResponseAssignmentTopic()
		t.TopicID, t.Partitions = id, slices.Clone(a[id])
		out.Topics = append(out.Topics, t)
	}
	return &out
}

func sortedIDs(a parts) []uuid {
	ids := make([]uuid, 0, len(a))
	for id := range a {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareUUID)
	return ids
}

// checkInstance checks a static member's instance id (nil: not a static
// member, nothing to check) against the member id it came with; nil when
// it belongs to that member, else the error answer.
func (cg *consumerGroup) checkInstance(instanceID *string, memberID string) *kmsg.ConsumerGroupHeartbeatResponse {
	if instanceID == nil {
		return nil
	}
	id, ok := cg.static[*instanceID]
	if !ok {
		return cghbError(kerr.UnknownMemberID.Code, "instance id "+*instanceID+" is unknown")
	}
	if id != memberID {
		return cghbError(kerr.FencedInstanceID.Code, "instance id "+*instanceID+" is owned by member "+id)
	}
	return nil
}

// updateSubscribed sets *subscribed to names sorted and without
// duplicates and reports whether that changed it; nil names (not sent)
// change nothing.
func updateSubscribed(subscribed *[]string, names []string) bool {
	if names == nil {
		return false
	}
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	if slices.Equal(names, *subscribed) {
		return false
	}
	*subscribed = names
	return true
}

func sameMeta(a, b map[string]TopicInfo) bool {
	if len(a) != len(b) {
		return false
	}
	for n, t := range a {
		if b[n] != t {
			return false
		}
	}
	return true
}

// epochValid is Kafka's member epoch check: the current epoch, or the
// previous one when the member owns a subset of its assignment (the
// answer carrying the new epoch was lost).
func (m *cmember) epochValid(epoch int32, owned parts) bool {
	switch {
	case epoch == m.epoch:
		return true
	case epoch > m.epoch:
		return false
	case epoch != m.prevEpoch || owned == nil:
		return false
	}
	for id, ps := range owned {
		for _, p := range ps {
			if !m.assigned.has(id, p) {
				return false
			}
		}
	}
	return true
}

// classicIsEmpty: a classic group a consumer group may replace (no
// members, none joining).
func (g *group) classicIsEmpty() bool {
	return g.state == stateEmpty && len(g.members) == 0 && len(g.pending) == 0
}

// computeTarget runs the preferred assignor over the members' resolved
// subscriptions; the target is for the current group epoch.
func (s *shard) computeTarget(g *group, topics Topics) {
	cg := g.cg
	name := cg.preferredAssignor(s.c.cfg.ConsumerAssignors)
	spec := assignSpec{topics: cg.subMeta, prev: cg.target}
	for _, m := range cg.sortedMembers() {
		spec.members = append(spec.members, assignMember{id: m.id, topics: cg.memberTopics(m, topics)})
	}
	target := map[string]parts{}
	if len(spec.members) > 0 {
		target = assignors[name](spec)
	}
	cg.target = target
	cg.assignmentEpoch = cg.groupEpoch
	cg.assignorName = name
	s.log.Debug("consumer group target assignment", "group", g.id, "epoch", cg.groupEpoch, "assignor", name)
}

// reconcileMember applies one reconciliation step to m; it reports
// whether m changed. The rebalance timer runs while m has partitions to
// revoke.
func (s *shard) reconcileMember(g *group, m *cmember, owned parts) bool {
	cg := g.cg
	target := cg.target[m.id]
	if target == nil {
		target = parts{}
	}
	step, changed := reconcile(m, cg.assignmentEpoch, target, owned, cg.ownerOf)
	changed = changed && (step.epoch != m.epoch || step.state != m.state ||
		!step.assigned.equal(m.assigned) || !step.pending.equal(m.pending))
	if changed {
		old := m.assigned
		if !cg.setAssignment(m, step.assigned, step.pending) {
			// Unreachable: reconcile never hands out a partition
			// another member owns.
			s.log.Error("consumer group reconciliation would give a partition two owners", "group", g.id, "member", m.id)
			return false
		}
		if step.epoch != m.epoch {
			m.prevEpoch, m.epoch = m.epoch, step.epoch
		}
		m.state = step.state
		for t := range m.assignedAt {
			if !m.assigned.has(t.id, t.p) {
				delete(m.assignedAt, t)
			}
		}
		m.assigned.each(func(t tpid) {
			if !old.has(t.id, t.p) {
				m.assignedAt[t] = m.epoch
			}
		})
	}
	if m.state == memberUnrevokedPartitions {
		if changed || m.rebalance == nil {
			s.startRebalanceTimer(g, m)
		}
	} else {
		m.rebalance.stop()
		m.rebalance = nil
	}
	return changed
}

// startRebalanceTimer: a member that does not revoke its partitions within
// its rebalance timeout is removed from the group.
func (s *shard) startRebalanceTimer(g *group, m *cmember) {
	m.rebalance.stop()
	epoch := m.epoch
	d := m.rebalanceTimeout
	if d <= 0 {
		d = s.c.cfg.ConsumerSessionTimeout
	}
	m.rebalance = s.after(d, func() {
		if g.cg == nil || g.cg.members[m.id] != m || m.epoch != epoch || m.state != memberUnrevokedPartitions {
			return
		}
		s.log.Info("consumer group member did not revoke its partitions in time", "group", g.id, "member", m.id)
		s.removeConsumerMember(g, m)
	})
}

// resetSession restarts m's session timer.
func (s *shard) resetSession(g *group, m *cmember) {
	m.session.stop()
	m.session = s.after(s.c.cfg.ConsumerSessionTimeout, func() {
		if g.cg == nil || g.cg.members[m.id] != m {
			return
		}
		s.log.Info("consumer group member session expired", "group", g.id, "member", m.id)
		s.removeConsumerMember(g, m)
	})
}

// dropConsumerMember takes m out of cg (timers, partitions, target).
func (s *shard) dropConsumerMember(cg *consumerGroup, m *cmember) {
	m.session.stop()
	m.rebalance.stop()
	cg.release(m)
	delete(cg.members, m.id)
	delete(cg.target, m.id)
	if m.instanceID != nil && cg.static[*m.instanceID] == m.id {
		delete(cg.static, *m.instanceID)
	}
	if len(cg.members) == 0 {
		cg.emptySince = s.c.clock.Now()
	}
}

// removeConsumerMember removes m (leave, session or rebalance timeout),
// bumps the group epoch and persists the group. The next heartbeat of
// another member computes the new target assignment.
func (s *shard) removeConsumerMember(g *group, m *cmember) {
	s.dropConsumerMember(g.cg, m)
	g.cg.groupEpoch++
	s.write([]record.Record{consumerGroupRecord(g)}, func(err error) {
		if err != nil {
			s.log.Warn("persisting consumer group failed", "group", g.id, "err", err)
		}
	})
}

// consumerLeave handles member epochs -1 (leave) and -2 (a static member
// leaves for now: it keeps its partitions until it rejoins or its session
// expires).
func (s *shard) consumerLeave(r *kmsg.ConsumerGroupHeartbeatRequest, reply func(*kmsg.ConsumerGroupHeartbeatResponse)) {
	g := s.groups[r.Group]
	if g == nil || g.cg == nil {
		reply(cghbError(kerr.GroupIDNotFound.Code, "consumer group "+r.Group+" not found"))
		return
	}
	cg := g.cg
	if resp := cg.checkInstance(r.InstanceID, r.MemberID); resp != nil {
		reply(resp)
		return
	}
	m := cg.members[r.MemberID]
	if m == nil {
		reply(cghbError(kerr.UnknownMemberID.Code, "member "+r.MemberID+" is not in group "+r.Group))
		return
	}
	resp := kmsg.NewPtrConsumerGroupHeartbeatResponse()
	resp.MemberID = kmsg.StringPtr(m.id)
	resp.MemberEpoch = r.MemberEpoch
	if r.MemberEpoch == leaveStaticEpoch && m.instanceID != nil {
		cg.setAssignment(m, m.assigned, parts{})
		if m.epoch != leaveStaticEpoch {
			m.prevEpoch, m.epoch = m.epoch, leaveStaticEpoch
		}
		m.state = memberStable
		m.rebalance.stop()
		m.rebalance = nil
		s.log.Info("static consumer group member left for now", "group", g.id, "member", m.id)
		s.write([]record.Record{consumerGroupRecord(g)}, func(err error) {
			if err != nil {
				resp = cghbError(writeErrorCode(err), "")
			}
			reply(resp)
		})
		return
	}
	s.log.Info("consumer group member left", "group", g.id, "member", m.id)
	s.dropConsumerMember(cg, m)
	cg.groupEpoch++
	s.write([]record.Record{consumerGroupRecord(g)}, func(err error) {
		if err != nil {
			resp = cghbError(writeErrorCode(err), "")
		}
		reply(resp)
	})
}

// dropIfUnused removes a consumer group created by a request that then
// failed.
func (s *shard) dropIfUnused(g *group) {
	if g.cg != nil && len(g.cg.members) == 0 && g.cg.groupEpoch == 0 && len(g.offsets) == 0 && len(g.pendingCommits) == 0 {
		delete(s.groups, g.id)
	}
}

// whenDurable runs fn once every write appended so far is durable (at
// once when none is in flight), so an answer never reports state that a
// crash could still lose.
func (s *shard) whenDurable(fn func()) {
	if len(s.inflight) == 0 {
		fn()
		return
	}
	last := &s.inflight[len(s.inflight)-1]
	prev := last.done
	last.done = func(err error) {
		prev(err)
		fn()
	}
}
