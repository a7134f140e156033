package coordinator

import (
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/share"
)

// Share group administration: ShareGroupDescribe, and the share group
// offset APIs (DescribeShareGroupOffsets, AlterShareGroupOffsets,
// DeleteShareGroupOffsets). Group checks (type, existence, no members)
// run on the shard loop; the share-partition state is then read or
// changed through share.State off the loop, since its writes wait for
// their own durability.

// shareAssignor is the only share group server assignor, as in Kafka.
const shareAssignor = "simple"

func notShareGroupMsg(id string) string { return fmt.Sprintf("Group %s is not a share group.", id) }
func shareNotFoundMsg(id string) string { return fmt.Sprintf("Group %s not found.", id) }

// ShareGroupDescribe handles ShareGroupDescribe v1.
func (c *Coordinator) ShareGroupDescribe(r *kmsg.ShareGroupDescribeRequest) <-chan *kmsg.ShareGroupDescribeResponse {
	fail := func(id string, code int16) kmsg.ShareGroupDescribeResponseGroup {
		g := kmsg.NewShareGroupDescribeResponseGroup()
		g.GroupID, g.ErrorCode, g.AuthorizedOperations = id, code, -2147483648
		return g
	}
	groups := describeEach(c, r.GroupIDs, fail, func(s *shard, id string) kmsg.ShareGroupDescribeResponseGroup {
		return s.describeShareGroup(id)
	})
	out := make(chan *kmsg.ShareGroupDescribeResponse, 1)
	go func() {
		resp := kmsg.NewPtrShareGroupDescribeResponse()
		resp.Groups = <-groups
		out <- resp
	}()
	return out
}

func (s *shard) describeShareGroup(id string) kmsg.ShareGroupDescribeResponseGroup {
	out := kmsg.NewShareGroupDescribeResponseGroup()
	out.GroupID, out.AuthorizedOperations = id, -2147483648
	g := s.shares[id]
	if g == nil {
		out.ErrorCode = kerr.GroupIDNotFound.Code
		msg := shareNotFoundMsg(id)
		if s.groups[id] != nil {
			msg = notShareGroupMsg(id)
		}
		out.ErrorMessage = kmsg.StringPtr(msg)
		out.GroupState = "Dead"
		return out
	}
	out.GroupState = g.state()
	out.GroupEpoch, out.AssignmentEpoch, out.Assignor = g.groupEpoch, g.assignmentEpoch, shareAssignor
	var topics Topics
	if s.c != nil {
		topics = s.c.be.Topics()
	}
	for _, m := range g.sortedMembers() {
		dm := kmsg.NewShareGroupDescribeResponseGroupMember()
		dm.MemberID, dm.RackID, dm.MemberEpoch = m.id, m.rackID, m.epoch
		dm.ClientID, dm.ClientHost = m.clientID, m.clientHost
		dm.SubscribedTopicNames = slices.Clone(m.subscribed)
		if dm.SubscribedTopicNames == nil {
			dm.SubscribedTopicNames = []string{}
		}
		dm.Assignment.TopicPartitions = []kmsg.ShareGroupDescribeResponseGroupMemberAssignmentTopicPartition{}
		for _, tid := range sortedIDs(m.assigned) {
			tp := kmsg.NewShareGroupDescribeResponseGroupMemberAssignmentTopicPartition()
			tp.TopicID, tp.Partitions = tid, slices.Clone(m.assigned[tid])
			if topics != nil {
				if ti, ok := topics.ByID(tid); ok {
					tp.Topic = ti.Name
				}
			}
			dm.Assignment.TopicPartitions = append(dm.Assignment.TopicPartitions, tp)
		}
		out.Members = append(out.Members, dm)
	}
	return out
}

// shareCheck is the result of a share group check on the loop.
type shareCheck struct {
	code int16
	msg  string
}

// checkShareGroup runs on id's shard: 0 when id is a share group (created
// empty and persisted first when create is set and no group has the id),
// else GROUP_ID_NOT_FOUND; NON_EMPTY_GROUP when empty is required and
// members remain.
func (c *Coordinator) checkShareGroup(id string, create, empty bool) shareCheck {
	if id == "" {
		return shareCheck{code: kerr.InvalidGroupID.Code}
	}
	s, code := c.route(id, create)
	switch {
	case code != 0:
		return shareCheck{code: code}
	case s == nil:
		return shareCheck{code: kerr.GroupIDNotFound.Code, msg: shareNotFoundMsg(id)}
	}
	return <-call(s, func(code int16) shareCheck { return shareCheck{code: code} }, func(reply func(shareCheck)) {
		if s.groups[id] != nil {
			reply(shareCheck{kerr.GroupIDNotFound.Code, notShareGroupMsg(id)})
			return
		}
		g := s.shares[id]
		if g == nil {
			if !create {
				reply(shareCheck{kerr.GroupIDNotFound.Code, shareNotFoundMsg(id)})
				return
			}
			// Kafka creates the (empty) share group when its offsets
			// are altered before any member joined.
			g = newShareGroup(id, s.c.clock.Now())
			s.shares[id] = g
			s.log.Info("share group created by AlterShareGroupOffsets", "group", id)
			s.write([]record.Record{shareGroupRecord(g)}, func(err error) { reply(shareCheck{code: writeErrorCode(err)}) })
			return
		}
		if empty && len(g.members) > 0 {
			reply(shareCheck{kerr.NonEmptyGroup.Code, fmt.Sprintf("The group %s is not empty.", id)})
			return
		}
		reply(shareCheck{})
	})
}

// DescribeShareGroupOffsets handles DescribeShareGroupOffsets v0-1.
func (c *Coordinator) DescribeShareGroupOffsets(r *kmsg.DescribeShareGroupOffsetsRequest) <-chan *kmsg.DescribeShareGroupOffsetsResponse {
	out := make(chan *kmsg.DescribeShareGroupOffsetsResponse, 1)
	go func() {
		resp := kmsg.NewPtrDescribeShareGroupOffsetsResponse()
		for _, rg := range r.Groups {
			resp.Groups = append(resp.Groups, c.describeShareOffsets(rg))
		}
		out <- resp
	}()
	return out
}

func (c *Coordinator) describeShareOffsets(rg kmsg.DescribeShareGroupOffsetsRequestGroup) kmsg.DescribeShareGroupOffsetsResponseGroup {
	g := kmsg.NewDescribeShareGroupOffsetsResponseGroup()
	g.GroupID = rg.GroupID
	g.Topics = []kmsg.DescribeShareGroupOffsetsResponseGroupTopic{}
	fail := func(code int16, msg string) kmsg.DescribeShareGroupOffsetsResponseGroup {
		g.ErrorCode = code
		if msg != "" {
			g.ErrorMessage = kmsg.StringPtr(msg)
		}
		return g
	}
	if chk := c.checkShareGroup(rg.GroupID, false, false); chk.code != 0 {
		return fail(chk.code, chk.msg)
	}
	st := c.state()
	if st == nil {
		return fail(kerr.CoordinatorNotAvailable.Code, "")
	}
	topics := c.be.Topics()
	addTopic := func(name string, id uuid, ps []int32) {
		t := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
		t.Topic, t.TopicID = name, id
		offs := st.Offsets(rg.GroupID, id, ps)
		for i, p := range ps {
			rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
			rp.Partition, rp.StartOffset, rp.LeaderEpoch, rp.Lag = p, -1, -1, -1
			if i < len(offs) {
				rp.StartOffset, rp.LeaderEpoch, rp.Lag = offs[i].StartOffset, offs[i].LeaderEpoch, offs[i].Lag
			}
			t.Partitions = append(t.Partitions, rp)
		}
		g.Topics = append(g.Topics, t)
	}
	if rg.Topics == nil {
		// Every share-partition with state, by topic name.
		init := st.Initialized(rg.GroupID)
		type named struct {
			name string
			id   uuid
		}
		var ts []named
		for id := range init {
			if ti, ok := topics.ByID(id); ok {
				ts = append(ts, named{ti.Name, id})
			}
		}
		slices.SortFunc(ts, func(a, b named) int {
			if a.name < b.name {
				return -1
			}
			if a.name > b.name {
				return 1
			}
			return 0
		})
		for _, t := range ts {
			ps := slices.Clone(init[t.id])
			slices.Sort(ps)
			addTopic(t.name, t.id, ps)
		}
		return g
	}
	for _, rt := range rg.Topics {
		ti, ok := topics.ByName(rt.Topic)
		if !ok {
			t := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopic()
			t.Topic = rt.Topic
			for _, p := range rt.Partitions {
				rp := kmsg.NewDescribeShareGroupOffsetsResponseGroupTopicPartition()
				rp.Partition, rp.StartOffset, rp.LeaderEpoch, rp.Lag = p, -1, -1, -1
				rp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				rp.ErrorMessage = kmsg.StringPtr(kerr.UnknownTopicOrPartition.Message)
				t.Partitions = append(t.Partitions, rp)
			}
			g.Topics = append(g.Topics, t)
			continue
		}
		addTopic(ti.Name, ti.ID, rt.Partitions)
		last := &g.Topics[len(g.Topics)-1]
		for i := range last.Partitions {
			if p := last.Partitions[i].Partition; p < 0 || p >= ti.Partitions {
				last.Partitions[i].StartOffset, last.Partitions[i].LeaderEpoch, last.Partitions[i].Lag = -1, -1, -1
				last.Partitions[i].ErrorCode = kerr.UnknownTopicOrPartition.Code
				last.Partitions[i].ErrorMessage = kmsg.StringPtr(kerr.UnknownTopicOrPartition.Message)
			}
		}
	}
	return g
}

// AlterShareGroupOffsets handles AlterShareGroupOffsets v0: the group
// must have no members (NON_EMPTY_GROUP); a group that does not exist is
// created empty, as Kafka does.
func (c *Coordinator) AlterShareGroupOffsets(r *kmsg.AlterShareGroupOffsetsRequest) <-chan *kmsg.AlterShareGroupOffsetsResponse {
	out := make(chan *kmsg.AlterShareGroupOffsetsResponse, 1)
	go func() { out <- c.alterShareOffsets(r) }()
	return out
}

func (c *Coordinator) alterShareOffsets(r *kmsg.AlterShareGroupOffsetsRequest) *kmsg.AlterShareGroupOffsetsResponse {
	resp := kmsg.NewPtrAlterShareGroupOffsetsResponse()
	topics := c.be.Topics()
	for _, rt := range r.Topics {
		t := kmsg.NewAlterShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		if ti, ok := topics.ByName(rt.Topic); ok {
			t.TopicID = ti.ID
		}
		for _, rp := range rt.Partitions {
			p := kmsg.NewAlterShareGroupOffsetsResponseTopicPartition()
			p.Partition = rp.Partition
			t.Partitions = append(t.Partitions, p)
		}
		resp.Topics = append(resp.Topics, t)
	}
	failAll := func(code int16, msg string) *kmsg.AlterShareGroupOffsetsResponse {
		resp.ErrorCode = code
		if msg != "" {
			resp.ErrorMessage = kmsg.StringPtr(msg)
		}
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				resp.Topics[i].Partitions[j].ErrorCode = code
				if msg != "" {
					resp.Topics[i].Partitions[j].ErrorMessage = kmsg.StringPtr(msg)
				}
			}
		}
		return resp
	}
	if chk := c.checkShareGroup(r.GroupID, true, true); chk.code != 0 {
		return failAll(chk.code, chk.msg)
	}
	st := c.state()
	if st == nil {
		return failAll(kerr.CoordinatorNotAvailable.Code, "")
	}
	for i, rt := range r.Topics {
		ti, ok := topics.ByName(rt.Topic)
		for j, rp := range rt.Partitions {
			p := &resp.Topics[i].Partitions[j]
			switch {
			case !ok || rp.Partition < 0 || rp.Partition >= ti.Partitions:
				p.ErrorCode = kerr.UnknownTopicOrPartition.Code
				p.ErrorMessage = kmsg.StringPtr(kerr.UnknownTopicOrPartition.Message)
			case rp.StartOffset < -1:
				p.ErrorCode = kerr.InvalidRequest.Code
				p.ErrorMessage = kmsg.StringPtr("The start offset must not be negative.")
			default:
				p.ErrorCode = st.SetStartOffset(r.GroupID, ti.ID, rp.Partition, rp.StartOffset)
			}
		}
	}
	return resp
}

// DeleteShareGroupOffsets handles DeleteShareGroupOffsets v0: the group
// must have no members.
func (c *Coordinator) DeleteShareGroupOffsets(r *kmsg.DeleteShareGroupOffsetsRequest) <-chan *kmsg.DeleteShareGroupOffsetsResponse {
	out := make(chan *kmsg.DeleteShareGroupOffsetsResponse, 1)
	go func() { out <- c.deleteShareOffsets(r) }()
	return out
}

func (c *Coordinator) deleteShareOffsets(r *kmsg.DeleteShareGroupOffsetsRequest) *kmsg.DeleteShareGroupOffsetsResponse {
	resp := kmsg.NewPtrDeleteShareGroupOffsetsResponse()
	if chk := c.checkShareGroup(r.GroupID, false, true); chk.code != 0 {
		resp.ErrorCode = chk.code
		if chk.msg != "" {
			resp.ErrorMessage = kmsg.StringPtr(chk.msg)
		}
		return resp
	}
	st := c.state()
	if st == nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	topics := c.be.Topics()
	for _, rt := range r.Topics {
		t := kmsg.NewDeleteShareGroupOffsetsResponseTopic()
		t.Topic = rt.Topic
		if ti, ok := topics.ByName(rt.Topic); ok {
			t.TopicID = ti.ID
			t.ErrorCode = st.DeleteTopic(r.GroupID, ti.ID)
		} else {
			t.ErrorCode = kerr.UnknownTopicOrPartition.Code
			t.ErrorMessage = kmsg.StringPtr(kerr.UnknownTopicOrPartition.Message)
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp
}

// listShareGroups lists this shard's share groups matching the filters.
func (s *shard) listShareGroups(states, types []string) []kmsg.ListGroupsResponseGroup {
	if len(types) > 0 && !equalFoldAny(share.GroupTypeShare, types) {
		return nil
	}
	var out []kmsg.ListGroupsResponseGroup
	for _, id := range slices.Sorted(maps.Keys(s.shares)) {
		state := s.shares[id].state()
		if len(states) > 0 && !equalFoldAny(state, states) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = id, "share", state, share.GroupTypeShare
		out = append(out, lg)
	}
	return out
}
