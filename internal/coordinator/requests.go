package coordinator

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The methods below are the coordinator's API for the request handlers.
// Each returns at once with a channel that receives exactly one response
// (JoinGroup and SyncGroup may take a whole rebalance). They run in the
// connection's read loop, so requests of one connection reach a shard in
// order. Group-level checks that need no group state (empty id, loading,
// unknown topics) are answered here; the rest runs on the shard loop.

// JoinGroup handles JoinGroup v0-9.
func (c *Coordinator) JoinGroup(r *kmsg.JoinGroupRequest, cl Client) <-chan *kmsg.JoinGroupResponse {
	fail := func(code int16) *kmsg.JoinGroupResponse { return joinError(r.MemberID, code) }
	if r.Group == "" {
		return ready(fail(kerr.InvalidGroupID.Code))
	}
	s, code := c.route(r.Group, true)
	if code != 0 {
		return ready(fail(code))
	}
	return call(s, fail, func(reply func(*kmsg.JoinGroupResponse)) {
		if s.shares[r.Group] != nil {
			// Kafka's classicGroupJoin for a group of another type.
			reply(joinError("", kerr.InconsistentGroupProtocol.Code))
			return
		}
		s.joinGroup(r, cl, reply)
	})
}

// SyncGroup handles SyncGroup v0-5.
func (c *Coordinator) SyncGroup(r *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	if r.Group == "" {
		return ready(syncError(kerr.InvalidGroupID.Code))
	}
	s, code := c.route(r.Group, true)
	if code == kerr.CoordinatorLoadInProgress.Code {
		// The rebalance state was lost with the old coordinator: rejoin.
		code = kerr.RebalanceInProgress.Code
	}
	if code != 0 {
		return ready(syncError(code))
	}
	return call(s, syncError, func(reply func(*kmsg.SyncGroupResponse)) {
		if s.shares[r.Group] != nil {
			reply(syncError(kerr.GroupIDNotFound.Code))
			return
		}
		s.syncGroup(r, reply)
	})
}

// Heartbeat handles Heartbeat v0-4.
func (c *Coordinator) Heartbeat(r *kmsg.HeartbeatRequest) <-chan *kmsg.HeartbeatResponse {
	if r.Group == "" {
		return ready(heartbeatResponse(kerr.InvalidGroupID.Code))
	}
	s, code := c.route(r.Group, true)
	if code == kerr.CoordinatorLoadInProgress.Code {
		return ready(heartbeatResponse(0)) // Kafka answers blindly while loading
	}
	if code != 0 {
		return ready(heartbeatResponse(code))
	}
	return call(s, heartbeatResponse, func(reply func(*kmsg.HeartbeatResponse)) {
		if s.shares[r.Group] != nil {
			reply(heartbeatResponse(kerr.GroupIDNotFound.Code))
			return
		}
		s.heartbeat(r, reply)
	})
}

// LeaveGroup handles LeaveGroup v0-5.
func (c *Coordinator) LeaveGroup(r *kmsg.LeaveGroupRequest) <-chan *kmsg.LeaveGroupResponse {
	if r.Group == "" {
		return ready(leaveResponse(kerr.InvalidGroupID.Code))
	}
	s, code := c.route(r.Group, true)
	if code != 0 {
		return ready(leaveResponse(code))
	}
	return call(s, leaveResponse, func(reply func(*kmsg.LeaveGroupResponse)) {
		if s.shares[r.Group] != nil {
			reply(leaveResponse(kerr.GroupIDNotFound.Code))
			return
		}
		s.leaveGroup(r, reply)
	})
}

// OffsetCommit handles OffsetCommit v0-9.
func (c *Coordinator) OffsetCommit(r *kmsg.OffsetCommitRequest) <-chan *kmsg.OffsetCommitResponse {
	resp := kmsg.NewPtrOffsetCommitResponse()
	for _, rt := range r.Topics {
		t := kmsg.NewOffsetCommitResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetCommitResponseTopicPartition()
			p.Partition = rp.Partition
			if !c.be.PartitionExists(rt.Topic, rp.Partition) {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	fail := func(code int16) *kmsg.OffsetCommitResponse {
		fillCommit(resp, code)
		return resp
	}
	if r.Group == "" {
		return ready(fail(kerr.InvalidGroupID.Code))
	}
	s, code := c.route(r.Group, true)
	if code != 0 {
		return ready(fail(code))
	}
	return call(s, fail, func(reply func(*kmsg.OffsetCommitResponse)) {
		if s.shares[r.Group] != nil {
			// A share group has no committed offsets (Kafka's
			// ShareGroup.validateOffsetCommit).
			reply(fail(kerr.GroupIDNotFound.Code))
			return
		}
		s.commitOffsets(r, resp, reply)
	})
}

// OffsetFetch handles OffsetFetch v0-9 (v8+: several groups at once).
func (c *Coordinator) OffsetFetch(r *kmsg.OffsetFetchRequest) <-chan *kmsg.OffsetFetchResponse {
	type query struct {
		group    string
		topics   []fetchTopic
		all      bool
		memberID *string // v9+
		epoch    int32
	}
	var qs []query
	if r.Version >= 8 {
		for _, rg := range r.Groups {
			q := query{group: rg.Group, all: rg.Topics == nil, epoch: -1}
			if r.Version >= 9 {
				q.memberID, q.epoch = rg.MemberID, rg.MemberEpoch
			}
			for _, t := range rg.Topics {
				q.topics = append(q.topics, fetchTopic{t.Topic, t.Partitions})
			}
			qs = append(qs, q)
		}
	} else {
		q := query{group: r.Group, all: r.Topics == nil && r.Version >= 2, epoch: -1}
		for _, t := range r.Topics {
			q.topics = append(q.topics, fetchTopic{t.Topic, t.Partitions})
		}
		qs = append(qs, q)
	}
	parts := make([]<-chan kmsg.OffsetFetchResponseGroup, len(qs))
	for i, q := range qs {
		fail := func(code int16) kmsg.OffsetFetchResponseGroup {
			g := kmsg.NewOffsetFetchResponseGroup()
			g.Group, g.ErrorCode = q.group, code
			if r.Version < 2 { // no group-level error field: put it on each partition
				g = emptyShard.fetchOffsets(q.group, q.topics, false)
				for i := range g.Topics {
					for j := range g.Topics[i].Partitions {
						g.Topics[i].Partitions[j].ErrorCode = code
					}
				}
			}
			return g
		}
		if q.group == "" {
			parts[i] = ready(fail(kerr.InvalidGroupID.Code))
			continue
		}
		s, code := c.route(q.group, false)
		switch {
		case code != 0:
			parts[i] = ready(fail(code))
		case s == nil:
			parts[i] = ready(emptyShard.fetchOffsets(q.group, q.topics, q.all))
		default:
			parts[i] = call(s, fail, func(reply func(kmsg.OffsetFetchResponseGroup)) {
				if g := s.groups[q.group]; g != nil && g.cg != nil {
					if code := g.cg.validateFetch(q.memberID, q.epoch); code != 0 {
						reply(fail(code))
						return
					}
				}
				reply(s.unstable(r.RequireStable, s.fetchOffsets(q.group, q.topics, q.all)))
			})
		}
	}
	out := make(chan *kmsg.OffsetFetchResponse, 1)
	go func() {
		resp := kmsg.NewPtrOffsetFetchResponse()
		for _, ch := range parts {
			resp.Groups = append(resp.Groups, <-ch)
		}
		if r.Version < 8 {
			g := resp.Groups[0]
			resp.Groups = nil
			resp.ErrorCode = g.ErrorCode
			for _, gt := range g.Topics {
				t := kmsg.NewOffsetFetchResponseTopic()
				t.Topic = gt.Topic
				for _, gp := range gt.Partitions {
					p := kmsg.NewOffsetFetchResponseTopicPartition()
					p.Partition, p.Offset, p.LeaderEpoch, p.Metadata, p.ErrorCode = gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode
					t.Partitions = append(t.Partitions, p)
				}
				resp.Topics = append(resp.Topics, t)
			}
		}
		out <- resp
	}()
	return out
}

// emptyShard answers reads for groups that cannot exist yet.
var emptyShard = &shard{groups: map[string]*group{}}

// DescribeGroups handles DescribeGroups v0-5.
func (c *Coordinator) DescribeGroups(r *kmsg.DescribeGroupsRequest) <-chan *kmsg.DescribeGroupsResponse {
	fail := func(id string, code int16) kmsg.DescribeGroupsResponseGroup {
		g := kmsg.NewDescribeGroupsResponseGroup()
		g.Group, g.ErrorCode = id, code
		return g
	}
	groups := describeEach(c, r.Groups, fail, func(s *shard, id string) kmsg.DescribeGroupsResponseGroup {
		return s.describeGroup(id, r.IncludeAuthorizedOperations)
	})
	out := make(chan *kmsg.DescribeGroupsResponse, 1)
	go func() {
		resp := kmsg.NewPtrDescribeGroupsResponse()
		resp.Groups = <-groups
		out <- resp
	}()
	return out
}

// describeEach asks every group's shard (or the empty shard, for a group
// no shard holds) to describe it, concurrently across shards, and delivers
// the descriptions in request order.
func describeEach[G any](c *Coordinator, ids []string, fail func(id string, code int16) G, describe func(s *shard, id string) G) <-chan []G {
	parts := make([]<-chan G, len(ids))
	for i, id := range ids {
		failID := func(code int16) G { return fail(id, code) }
		if id == "" {
			parts[i] = ready(failID(kerr.InvalidGroupID.Code))
			continue
		}
		s, code := c.route(id, false)
		switch {
		case code != 0:
			parts[i] = ready(failID(code))
		case s == nil:
			parts[i] = ready(describe(emptyShard, id))
		default:
			parts[i] = call(s, failID, func(reply func(G)) { reply(describe(s, id)) })
		}
	}
	out := make(chan []G, 1)
	go func() {
		all := make([]G, 0, len(parts))
		for _, ch := range parts {
			all = append(all, <-ch)
		}
		out <- all
	}()
	return out
}

// ListGroups handles ListGroups v0-5 (v4 state filter, v5 type filter).
// As in Kafka it lists the groups of the partitions this broker leads
// (clients ask every broker); a partition still loading makes the answer
// COORDINATOR_LOAD_IN_PROGRESS, with the groups of the others.
func (c *Coordinator) ListGroups(r *kmsg.ListGroupsRequest) <-chan *kmsg.ListGroupsResponse {
	type part struct {
		groups []kmsg.ListGroupsResponseGroup
		code   int16
	}
	var parts []<-chan part
	for _, s := range c.allShards() {
		code := s.code()
		if code == kerr.NotCoordinator.Code {
			continue // led elsewhere, or it moved away since the snapshot
		}
		if code != 0 {
			parts = append(parts, ready(part{code: code}))
			continue
		}
		parts = append(parts, call(s, func(code int16) part {
			if code == kerr.NotCoordinator.Code {
				return part{}
			}
			return part{code: code}
		}, func(reply func(part)) {
			reply(part{groups: append(s.listGroups(r.StatesFilter, r.TypesFilter), s.listShareGroups(r.StatesFilter, r.TypesFilter)...)})
		}))
	}
	out := make(chan *kmsg.ListGroupsResponse, 1)
	go func() {
		resp := kmsg.NewPtrListGroupsResponse()
		for _, ch := range parts {
			p := <-ch
			resp.Groups = append(resp.Groups, p.groups...)
			if p.code != 0 && resp.ErrorCode == 0 {
				resp.ErrorCode = p.code
			}
		}
		out <- resp
	}()
	return out
}

// DeleteGroups handles DeleteGroups v0-2.
func (c *Coordinator) DeleteGroups(r *kmsg.DeleteGroupsRequest) <-chan *kmsg.DeleteGroupsResponse {
	parts := make([]<-chan int16, len(r.Groups))
	for i, id := range r.Groups {
		if id == "" {
			parts[i] = ready(kerr.InvalidGroupID.Code)
			continue
		}
		s, code := c.route(id, false)
		switch {
		case code != 0:
			parts[i] = ready(code)
		case s == nil:
			parts[i] = ready(kerr.GroupIDNotFound.Code)
		default:
			parts[i] = call(s, func(code int16) int16 { return code }, func(reply func(int16)) { s.deleteGroup(id, reply) })
		}
	}
	out := make(chan *kmsg.DeleteGroupsResponse, 1)
	go func() {
		resp := kmsg.NewPtrDeleteGroupsResponse()
		for i, ch := range parts {
			g := kmsg.NewDeleteGroupsResponseGroup()
			g.Group, g.ErrorCode = r.Groups[i], <-ch
			resp.Groups = append(resp.Groups, g)
		}
		out <- resp
	}()
	return out
}

// OffsetDelete handles OffsetDelete v0.
func (c *Coordinator) OffsetDelete(r *kmsg.OffsetDeleteRequest) <-chan *kmsg.OffsetDeleteResponse {
	if r.Group == "" {
		return ready(offsetDeleteError(kerr.InvalidGroupID.Code))
	}
	resp := kmsg.NewPtrOffsetDeleteResponse()
	for _, rt := range r.Topics {
		t := kmsg.NewOffsetDeleteResponseTopic()
		t.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			p := kmsg.NewOffsetDeleteResponseTopicPartition()
			p.Partition = rp.Partition
			if !c.be.PartitionExists(rt.Topic, rp.Partition) {
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	s, code := c.route(r.Group, false)
	switch {
	case code != 0:
		return ready(offsetDeleteError(code))
	case s == nil:
		return ready(offsetDeleteError(kerr.GroupIDNotFound.Code))
	}
	return call(s, offsetDeleteError, func(reply func(*kmsg.OffsetDeleteResponse)) { s.deleteOffsets(r, resp, reply) })
}
