package coordinator

import (
	"bytes"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func syncError(code int16) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	r.ErrorCode = code
	r.MemberAssignment = []byte{}
	return r
}

func (g *group) syncResponse(m *member) *kmsg.SyncGroupResponse {
	r := kmsg.NewPtrSyncGroupResponse()
	if g.protocolType != "" {
		r.ProtocolType = kmsg.StringPtr(g.protocolType)
	}
	if g.protocolName != "" {
		r.Protocol = kmsg.StringPtr(g.protocolName)
	}
	r.MemberAssignment = m.assignment
	if r.MemberAssignment == nil {
		r.MemberAssignment = []byte{}
	}
	return r
}

// inconsistent: both given and different.
func inconsistent(given *string, have string) bool {
	return given != nil && have != "" && *given != have
}

// generationMember returns classic group id for a SyncGroup or Heartbeat
// once the member (member id, instance id) is in it at the group's
// generation; otherwise the error code to answer with.
func (s *shard) generationMember(id, memberID string, instanceID *string, generation int32) (*group, int16) {
	g := s.groups[id]
	if g == nil {
		return nil, kerr.UnknownMemberID.Code
	}
	if code := g.validateMember(memberID, instanceID); code != 0 {
		return nil, code
	}
	if generation != g.generation {
		return nil, kerr.IllegalGeneration.Code
	}
	return g, 0
}

// syncGroup is Kafka's classic SyncGroup: followers park until the leader's
// assignment is durable, then every member gets exactly the bytes the
// leader chose for it.
func (s *shard) syncGroup(r *kmsg.SyncGroupRequest, reply func(*kmsg.SyncGroupResponse)) {
	g, code := s.generationMember(r.Group, r.MemberID, r.InstanceID, r.Generation)
	if code != 0 {
		reply(syncError(code))
		return
	}
	if inconsistent(r.ProtocolType, g.protocolType) || inconsistent(r.Protocol, g.protocolName) {
		reply(syncError(kerr.InconsistentGroupProtocol.Code))
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case statePreparingRebalance:
		reply(syncError(kerr.RebalanceInProgress.Code))
	case stateCompletingRebalance:
		if m.sync != nil {
			m.sync.reply(syncError(kerr.RebalanceInProgress.Code))
		}
		m.sync = &syncWaiter{reply: reply}
		delete(g.pendSync, m.id)
		if m.id == g.leader {
			s.leaderSync(g, r)
		}
	case stateStable:
		delete(g.pendSync, m.id)
		if len(g.pendSync) == 0 {
			g.syncTimer.stop()
		}
		s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		reply(g.syncResponse(m))
	default:
		reply(syncError(kerr.UnknownMemberID.Code))
	}
}

// leaderSync stores the leader's assignment (members it left out get an
// empty one) and, once durable, makes the group Stable and answers every
// parked SyncGroup.
func (s *shard) leaderSync(g *group, r *kmsg.SyncGroupRequest) {
	assignment := make(map[string][]byte, len(g.members))
	for _, a := range r.GroupAssignment {
		if g.members[a.MemberID] != nil {
			assignment[a.MemberID] = bytes.Clone(a.MemberAssignment)
		}
	}
	missing := 0
	for id := range g.members {
		if assignment[id] == nil {
			assignment[id] = []byte{}
			missing++
		}
	}
	if missing > 0 {
		s.log.Warn("leader sent no assignment for some members; they get an empty one", "group", g.id, "members", missing)
	}
	gen := g.generation
	s.writeGroup(g, assignment, func(err error) {
		if !s.live(g) || g.state != stateCompletingRebalance || g.generation != gen {
			return // the group moved on; whoever moved it answered the syncs
		}
		if err != nil {
			s.log.Warn("failed to store group assignment", "group", g.id, "generation", gen, "err", err)
			s.resetAndPropagateAssignment(g, writeErrorCode(err))
			s.maybePrepareRebalanceOrCompleteJoin(g, "failed to store the assignment")
			return
		}
		// INVARIANT: each member of generation gen owns exactly the bytes
		// the leader sent for its member id (empty if none), nothing else.
		for id, m := range g.members {
			m.assignment = assignment[id]
		}
		g.transition(s, stateStable)
		s.log.Info("group assignment stored", "group", g.id, "generation", gen)
		for _, m := range g.orderedMembers() {
			if m.sync != nil {
				w := m.sync
				m.sync = nil
				w.reply(g.syncResponse(m))
				s.rescheduleHeartbeat(g, m, m.sessionTimeout)
			}
		}
	})
}

// resetAndPropagateAssignment clears every assignment and answers parked
// SyncGroups with code.
func (s *shard) resetAndPropagateAssignment(g *group, code int16) {
	for _, m := range g.members {
		m.assignment = nil
		if m.sync != nil {
			w := m.sync
			m.sync = nil
			w.reply(syncError(code))
			// Its session runs again from here: a member that never
			// rejoins must still expire.
			s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		}
	}
}

func heartbeatResponse(code int16) *kmsg.HeartbeatResponse {
	r := kmsg.NewPtrHeartbeatResponse()
	r.ErrorCode = code
	return r
}

// heartbeat keeps a member's session alive; during a join phase it tells
// the member to rejoin (REBALANCE_IN_PROGRESS).
func (s *shard) heartbeat(r *kmsg.HeartbeatRequest, reply func(*kmsg.HeartbeatResponse)) {
	g, code := s.generationMember(r.Group, r.MemberID, r.InstanceID, r.Generation)
	if code != 0 {
		reply(heartbeatResponse(code))
		return
	}
	m := g.members[r.MemberID]
	switch g.state {
	case statePreparingRebalance:
		s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		reply(heartbeatResponse(kerr.RebalanceInProgress.Code))
	case stateCompletingRebalance, stateStable:
		s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		reply(heartbeatResponse(0))
	default:
		reply(heartbeatResponse(kerr.UnknownMemberID.Code))
	}
}

func leaveResponse(code int16) *kmsg.LeaveGroupResponse {
	resp := kmsg.NewPtrLeaveGroupResponse()
	resp.ErrorCode = code
	return resp
}

// leaveGroup removes members (v3+: a batch, by member id or, for
// administrative removal, by group.instance.id alone).
func (s *shard) leaveGroup(r *kmsg.LeaveGroupRequest, reply func(*kmsg.LeaveGroupResponse)) {
	g := s.groups[r.Group]
	if g == nil {
		reply(leaveResponse(kerr.UnknownMemberID.Code))
		return
	}
	ids := r.Members
	if r.Version < 3 {
		ids = []kmsg.LeaveGroupRequestMember{{MemberID: r.MemberID}}
	}
	resp := kmsg.NewPtrLeaveGroupResponse()
	removed := 0
	for _, lm := range ids {
		out := kmsg.NewLeaveGroupResponseMember()
		out.MemberID, out.InstanceID = lm.MemberID, lm.InstanceID
		out.ErrorCode = s.leaveOne(g, lm, &removed)
		resp.Members = append(resp.Members, out)
	}
	if r.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	if removed > 0 {
		switch g.state {
		case stateStable, stateCompletingRebalance:
			s.maybePrepareRebalanceOrCompleteJoin(g, "members left the group")
		case statePreparingRebalance:
			s.maybeCompleteJoinPhase(g)
		}
	}
	reply(resp)
}

func (s *shard) leaveOne(g *group, lm kmsg.LeaveGroupRequestMember, removed *int) int16 {
	if t, ok := g.pending[lm.MemberID]; ok {
		t.stop()
		delete(g.pending, lm.MemberID)
		s.maybeCompleteJoinPhase(g)
		return 0
	}
	var m *member
	if lm.MemberID == "" {
		id, ok := "", false
		if lm.InstanceID != nil {
			id, ok = g.static[*lm.InstanceID]
		}
		if !ok {
			return kerr.UnknownMemberID.Code
		}
		m = g.members[id]
	} else {
		if code := g.validateMember(lm.MemberID, lm.InstanceID); code != 0 {
			return code
		}
		m = g.members[lm.MemberID]
	}
	reason := ""
	if lm.Reason != nil {
		reason = *lm.Reason
	}
	s.log.Info("member leaves group", "group", g.id, "member", m.id, "reason", reason)
	s.dropMember(g, m, kerr.UnknownMemberID.Code)
	*removed++
	return 0
}
