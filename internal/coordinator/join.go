package coordinator

import (
	"crypto/rand"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Client identifies the connection a request came from.
type Client struct {
	ID   string // client.id
	Host string // "/ip", as Kafka reports it
}

func joinError(memberID string, code int16) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.ErrorCode = code
	r.MemberID = memberID
	return r
}

// joinResponse describes the current generation to member m; the leader
// gets every member's metadata when withMembers.
func (g *group) joinResponse(m *member, withMembers bool, leader string) *kmsg.JoinGroupResponse {
	r := kmsg.NewPtrJoinGroupResponse()
	r.MemberID = m.id
	r.Generation = g.generation
	r.LeaderID = leader
	if g.protocolType != "" {
		r.ProtocolType = kmsg.StringPtr(g.protocolType)
	}
	if g.protocolName != "" {
		r.Protocol = kmsg.StringPtr(g.protocolName)
	}
	if withMembers {
		r.Members = g.currentMembers()
	}
	return r
}

func newMemberID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%s-%x-%x-%x-%x-%x", prefix, b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// joinGroup is Kafka's classic JoinGroup: the two-step join for v4+
// dynamic members, static members replacing their previous incarnation,
// and rebalances that park every member's JoinGroup until the join phase
// completes.
func (s *shard) joinGroup(r *kmsg.JoinGroupRequest, cl Client, reply func(*kmsg.JoinGroupResponse)) {
	session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	if session < s.c.cfg.MinSessionTimeout || session > s.c.cfg.MaxSessionTimeout {
		reply(joinError(r.MemberID, kerr.InvalidSessionTimeout.Code))
		return
	}
	g := s.groups[r.Group]
	if g != nil && g.cg != nil {
		if code := s.classicJoinConsumerGroup(g, r); code != 0 {
			reply(joinError(r.MemberID, code))
			return
		}
	}
	created := false
	if g == nil {
		if r.MemberID != "" {
			reply(joinError(r.MemberID, kerr.UnknownMemberID.Code))
			return
		}
		g = newGroup(r.Group, s.c.clock.Now())
		s.groups[r.Group] = g
		created = true
	}
	w := &joinWaiter{version: r.Version, reply: reply}
	if !g.supportsProtocols(r.ProtocolType, r.Protocols) {
		reply(joinError(r.MemberID, kerr.InconsistentGroupProtocol.Code))
	} else if r.MemberID == "" {
		s.joinNewMember(g, r, cl, w)
	} else {
		s.joinExistingMember(g, r, cl, w)
	}
	if created && g.isEmptyShell() {
		delete(s.groups, g.id)
	}
}

func rebalanceTimeoutOf(r *kmsg.JoinGroupRequest) time.Duration {
	if r.Version == 0 || r.RebalanceTimeoutMillis < 0 {
		return time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	}
	return time.Duration(r.RebalanceTimeoutMillis) * time.Millisecond
}

func (s *shard) joinNewMember(g *group, r *kmsg.JoinGroupRequest, cl Client, w *joinWaiter) {
	prefix := cl.ID
	if r.InstanceID != nil {
		prefix = *r.InstanceID
	}
	id := newMemberID(prefix)
	if r.InstanceID != nil {
		if old, ok := g.static[*r.InstanceID]; ok {
			s.rejoinStaticMember(g, r, old, id, w)
			return
		}
		s.addMemberAndRebalance(g, r, cl, id, w)
		return
	}
	if r.Version >= 4 {
		// Two-step join: hand out the id and expect the member back with it
		// within its session timeout.
		session := time.Duration(r.SessionTimeoutMillis) * time.Millisecond
		g.pending[id] = s.after(session, func() { s.expirePending(g, id) })
		w.reply(joinError(id, kerr.MemberIDRequired.Code))
		return
	}
	s.addMemberAndRebalance(g, r, cl, id, w)
}

func (s *shard) joinExistingMember(g *group, r *kmsg.JoinGroupRequest, cl Client, w *joinWaiter) {
	if t, ok := g.pending[r.MemberID]; ok {
		// Pending ids are handed to dynamic members only; one cannot take
		// an instance id another member holds.
		if r.InstanceID != nil && g.static[*r.InstanceID] != "" {
			w.reply(joinError(r.MemberID, kerr.FencedInstanceID.Code))
			return
		}
		t.stop()
		s.addMemberAndRebalance(g, r, cl, r.MemberID, w)
		return
	}
	if code := g.validateMember(r.MemberID, r.InstanceID); code != 0 {
		w.reply(joinError(r.MemberID, code))
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case statePreparingRebalance:
		s.updateMemberAndRebalance(g, m, r, w)
	case stateCompletingRebalance:
		if m.matches(r.Protocols) {
			// A retry of a JoinGroup whose answer was lost.
			w.reply(g.joinResponse(m, m.id == g.leader, g.leader))
			return
		}
		s.updateMemberAndRebalance(g, m, r, w)
	case stateStable:
		if m.id == g.leader || !m.matches(r.Protocols) {
			// The leader rejoins to have metadata changes (new partitions,
			// new topics matching a pattern) reassigned.
			s.updateMemberAndRebalance(g, m, r, w)
			return
		}
		w.reply(g.joinResponse(m, false, g.leader))
	default:
		w.reply(joinError(r.MemberID, kerr.UnknownMemberID.Code))
	}
}

// parkJoin makes w the member's pending JoinGroup; a JoinGroup it replaces
// is answered REBALANCE_IN_PROGRESS so its connection never hangs.
func parkJoin(m *member, w *joinWaiter) {
	if m.join != nil && m.join != w {
		m.join.reply(joinError(m.id, kerr.RebalanceInProgress.Code))
	}
	m.join = w
}

// answerJoin completes the member's parked JoinGroup, if any.
func answerJoin(m *member, r *kmsg.JoinGroupResponse) bool {
	w := m.join
	if w == nil {
		return false
	}
	m.join = nil
	w.reply(r)
	return true
}

func (s *shard) addMemberAndRebalance(g *group, r *kmsg.JoinGroupRequest, cl Client, id string, w *joinWaiter) {
	m := &member{
		id: id, clientID: cl.ID, clientHost: cl.Host, instanceID: r.InstanceID,
		rebalanceTimeout: rebalanceTimeoutOf(r),
		sessionTimeout:   time.Duration(r.SessionTimeoutMillis) * time.Millisecond,
		protocolType:     r.ProtocolType, protocols: toProtocols(r.Protocols),
		isNew: true,
	}
	if g.state == statePreparingRebalance && g.prevState == stateEmpty {
		g.newMemberAdded = true
	}
	g.add(m)
	parkJoin(m, w)
	s.log.Info("member joins group", "group", g.id, "member", id, "client", cl.ID, "state", g.state)
	s.rescheduleHeartbeat(g, m, newMemberJoinTimeout)
	s.maybePrepareRebalanceOrCompleteJoin(g, "new member "+id)
}

func (s *shard) updateMemberAndRebalance(g *group, m *member, r *kmsg.JoinGroupRequest, w *joinWaiter) {
	m.protocols = toProtocols(r.Protocols)
	m.rebalanceTimeout = rebalanceTimeoutOf(r)
	m.sessionTimeout = time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	parkJoin(m, w)
	s.maybePrepareRebalanceOrCompleteJoin(g, "member "+m.id+" rejoins")
}

// rejoinStaticMember: a known group.instance.id joins with no member id
// (typically a restarted consumer). The old member id is fenced and
// replaced; in a Stable group whose protocol would not change, the member
// gets the current generation back and keeps its assignment, with no
// rebalance (KIP-345).
func (s *shard) rejoinStaticMember(g *group, r *kmsg.JoinGroupRequest, oldID, newID string, w *joinWaiter) {
	prevLeader := g.leader
	m := s.replaceStaticMember(g, oldID, newID)
	s.rescheduleHeartbeat(g, m, m.sessionTimeout)
	oldProtocols, oldRebalance, oldSession := m.protocols, m.rebalanceTimeout, m.sessionTimeout
	m.protocols = toProtocols(r.Protocols)
	m.rebalanceTimeout = rebalanceTimeoutOf(r)
	m.sessionTimeout = time.Duration(r.SessionTimeoutMillis) * time.Millisecond
	parkJoin(m, w)
	s.log.Info("static member rejoins", "group", g.id, "instance", *r.InstanceID, "old", oldID, "member", newID, "state", g.state)
	switch g.state {
	case stateStable:
		if g.selectProtocol() != g.protocolName {
			s.maybePrepareRebalanceOrCompleteJoin(g, "static member "+newID+" changes the protocol")
			return
		}
		gen := g.generation
		s.writeGroup(g, nil, func(err error) {
			if m.join != w {
				return // a rebalance already answered it
			}
			if err != nil {
				if g.members[newID] == m && g.generation == gen {
					m.protocols, m.rebalanceTimeout, m.sessionTimeout = oldProtocols, oldRebalance, oldSession
					m.join = nil
					back := s.replaceStaticMember(g, newID, oldID)
					s.rescheduleHeartbeat(g, back, back.sessionTimeout)
				}
				w.reply(joinError(newID, writeErrorCode(err)))
				return
			}
			if w.version >= 9 {
				lead := m.id == g.leader
				resp := g.joinResponse(m, lead, g.leader)
				resp.SkipAssignment = lead
				answerJoin(m, resp)
				return
			}
			// Older clients: name the previous leader id so that a
			// rejoining leader does not compute an assignment a Stable
			// group would ignore.
			answerJoin(m, g.joinResponse(m, false, prevLeader))
		})
	case stateCompletingRebalance:
		// The leader may be assigning to the old member id: start over.
		s.prepareRebalance(g, "static member "+newID+" rejoins while completing a rebalance")
	default: // PreparingRebalance (an Empty group has no static members)
		s.maybeCompleteJoinPhase(g)
	}
}

// replaceStaticMember moves the member of oldID to newID, fencing requests
// parked under the old id.
func (s *shard) replaceStaticMember(g *group, oldID, newID string) *member {
	old := g.members[oldID]
	if old.join != nil {
		answerJoin(old, joinError(oldID, kerr.FencedInstanceID.Code))
	}
	if old.sync != nil {
		w := old.sync
		old.sync = nil
		w.reply(syncError(kerr.FencedInstanceID.Code))
	}
	old.heartbeat.stop()
	m := &member{}
	*m = *old
	m.id, m.heartbeat = newID, nil
	delete(g.members, oldID)
	g.members[newID] = m
	for i, id := range g.order {
		if id == oldID {
			g.order[i] = newID
		}
	}
	if g.leader == oldID {
		g.leader = newID
	}
	if _, ok := g.pendSync[oldID]; ok {
		delete(g.pendSync, oldID)
		g.pendSync[newID] = struct{}{}
	}
	g.static[*m.instanceID] = newID
	return m
}

func (s *shard) maybePrepareRebalanceOrCompleteJoin(g *group, reason string) {
	if g.canRebalance() {
		s.prepareRebalance(g, reason)
	} else {
		s.maybeCompleteJoinPhase(g)
	}
}

// prepareRebalance starts a join phase. From Empty it waits
// group.initial.rebalance.delay.ms (extended while members keep arriving,
// up to the rebalance timeout) so a starting fleet lands in one generation.
func (s *shard) prepareRebalance(g *group, reason string) {
	if g.state == stateCompletingRebalance {
		s.resetAndPropagateAssignment(g, kerr.RebalanceInProgress.Code)
	}
	g.syncTimer.stop()
	clear(g.pendSync)
	initial := g.state == stateEmpty
	g.transition(s, statePreparingRebalance)
	s.log.Info("preparing to rebalance group", "group", g.id, "generation", g.generation, "reason", reason)
	if initial {
		delay := s.c.cfg.InitialRebalanceDelay
		remaining := max(g.rebalanceTimeout()-delay, 0)
		g.newMemberAdded = false
		g.joinTimer.stop()
		g.joinTimer = s.after(delay, func() { s.tryCompleteInitialJoin(g, delay, remaining) })
		return
	}
	if g.hasAllMembersJoined() {
		s.completeJoin(g)
		return
	}
	g.joinTimer.stop()
	g.joinTimer = s.after(g.rebalanceTimeout(), func() { s.completeJoin(g) })
}

func (s *shard) tryCompleteInitialJoin(g *group, delay, remaining time.Duration) {
	if !s.live(g) || g.state != statePreparingRebalance {
		return
	}
	if g.newMemberAdded && remaining > 0 {
		g.newMemberAdded = false
		next := min(s.c.cfg.InitialRebalanceDelay, remaining)
		left := max(remaining-delay, 0)
		g.joinTimer = s.after(next, func() { s.tryCompleteInitialJoin(g, next, left) })
		return
	}
	s.completeJoin(g)
}

// maybeCompleteJoinPhase ends the join phase early once everyone is in,
// except during the initial delay.
func (s *shard) maybeCompleteJoinPhase(g *group) {
	if g.state == statePreparingRebalance && g.hasAllMembersJoined() && g.prevState != stateEmpty {
		s.completeJoin(g)
	}
}

// completeJoin ends the join phase: dynamic members that did not rejoin
// are dropped, the generation advances, and every parked JoinGroup is
// answered (the leader's with all members' metadata).
func (s *shard) completeJoin(g *group) {
	if !s.live(g) || g.state != statePreparingRebalance {
		return
	}
	g.joinTimer.stop()
	for _, m := range g.orderedMembers() {
		if m.join == nil && m.instanceID == nil {
			s.log.Info("member did not rejoin, removing it", "group", g.id, "member", m.id)
			g.remove(m.id)
		}
	}
	if !g.maybeElectNewJoinedLeader() && len(g.members) > 0 {
		// Only static members remain and none rejoined: wait for them or
		// for their sessions to expire.
		g.joinTimer = s.after(g.rebalanceTimeout(), func() { s.completeJoin(g) })
		return
	}
	g.initNextGeneration(s)
	if g.state == stateEmpty {
		s.log.Info("group is now empty", "group", g.id, "generation", g.generation)
		s.writeGroup(g, nil, func(err error) {
			if err != nil {
				s.log.Warn("failed to write empty group metadata", "group", g.id, "err", err)
			}
		})
		return
	}
	s.log.Info("stabilized group", "group", g.id, "generation", g.generation, "protocol", g.protocolName,
		"leader", g.leader, "members", len(g.members))
	for _, m := range g.orderedMembers() {
		answerJoin(m, g.joinResponse(m, m.id == g.leader, g.leader))
		s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		m.isNew = false
		g.pendSync[m.id] = struct{}{}
	}
	gen := g.generation
	g.syncTimer = s.after(g.rebalanceTimeout(), func() { s.expirePendingSync(g, gen) })
}

// expirePendingSync drops members that never sent SyncGroup for gen and
// rebalances without them.
func (s *shard) expirePendingSync(g *group, gen int32) {
	if !s.live(g) || g.generation != gen || !g.is(stateCompletingRebalance, stateStable) || len(g.pendSync) == 0 {
		return
	}
	for id := range g.pendSync {
		s.log.Info("member did not sync in time, removing it", "group", g.id, "member", id)
		s.dropMember(g, g.members[id], kerr.UnknownMemberID.Code)
	}
	s.prepareRebalance(g, "members did not sync in time")
}

// expirePending forgets a member id handed out by MEMBER_ID_REQUIRED that
// never came back.
func (s *shard) expirePending(g *group, id string) {
	if !s.live(g) {
		return
	}
	if _, ok := g.pending[id]; !ok {
		return
	}
	delete(g.pending, id)
	s.maybeCompleteJoinPhase(g)
}

func (s *shard) rescheduleHeartbeat(g *group, m *member, d time.Duration) {
	m.heartbeat.stop()
	m.heartbeat = s.after(d, func() { s.expireHeartbeat(g, m) })
}

// expireHeartbeat removes a member whose session ran out.
func (s *shard) expireHeartbeat(g *group, m *member) {
	if !s.live(g) || g.members[m.id] != m || m.hasSatisfiedHeartbeat() {
		return
	}
	s.log.Info("member session expired, removing it", "group", g.id, "member", m.id, "state", g.state)
	s.removeMemberAndUpdate(g, m, kerr.UnknownMemberID.Code)
}

// dropMember answers m's parked requests with code and removes it.
func (s *shard) dropMember(g *group, m *member, code int16) {
	if m == nil {
		return
	}
	answerJoin(m, joinError("", code))
	if m.sync != nil {
		w := m.sync
		m.sync = nil
		w.reply(syncError(code))
	}
	g.remove(m.id)
}

// removeMemberAndUpdate drops m and moves the group on.
func (s *shard) removeMemberAndUpdate(g *group, m *member, code int16) {
	s.dropMember(g, m, code)
	switch g.state {
	case stateStable, stateCompletingRebalance:
		s.maybePrepareRebalanceOrCompleteJoin(g, "member "+m.id+" left")
	case statePreparingRebalance:
		s.maybeCompleteJoinPhase(g)
	}
}

// live reports whether g is still the shard's group of that id.
func (s *shard) live(g *group) bool { return s.groups[g.id] == g && g.state != stateDead }
