package coordinator

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func (h *harness) cghb(group, member string, epoch int32, owned parts, topics ...string) *kmsg.ConsumerGroupHeartbeatResponse {
	h.t.Helper()
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version = 1
	r.Group, r.MemberID, r.MemberEpoch = group, member, epoch
	r.RebalanceTimeoutMillis = -1
	if epoch == 0 {
		r.RebalanceTimeoutMillis = 30000
	}
	if topics != nil {
		r.SubscribedTopicNames = topics
	}
	if owned != nil {
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, id := range sortedIDs(owned) {
			r.Topics = append(r.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: owned[id]})
		}
	}
	ch := h.c.ConsumerGroupHeartbeat(r, Client{ID: member, Host: "/127.0.0.1"})
	h.settle()
	return recv(h.t, ch)
}

func respParts(r *kmsg.ConsumerGroupHeartbeatResponse) parts {
	if r.Assignment == nil {
		return nil
	}
	out := parts{}
	for _, t := range r.Assignment.Topics {
		for _, p := range t.Partitions {
			out.add(t.TopicID, p)
		}
	}
	return out
}

// checkOwners verifies the one-owner invariant of every consumer group.
func (h *harness) checkOwners() {
	h.t.Helper()
	for _, s := range h.c.allShards() {
		recv(h.t, call(s, func(int16) struct{} { return struct{}{} }, func(reply func(struct{})) {
			for _, g := range s.groups {
				if g.cg == nil {
					continue
				}
				seen := map[tpid]string{}
				for _, m := range g.cg.members {
					visit := func(tp tpid) {
						if o, dup := seen[tp]; dup {
							h.t.Errorf("group %s: %v owned by %s and %s", g.id, tp, o, m.id)
						}
						seen[tp] = m.id
						if g.cg.owners[tp] != m.id {
							h.t.Errorf("group %s: owners[%v]=%q, want %s", g.id, tp, g.cg.owners[tp], m.id)
						}
					}
					m.assigned.each(visit)
					m.pending.each(visit)
				}
				if len(seen) != len(g.cg.owners) {
					h.t.Errorf("group %s: %d owners recorded, %d owned", g.id, len(g.cg.owners), len(seen))
				}
			}
			reply(struct{}{})
		}))
	}
}

func TestConsumerGroupRebalance(t *testing.T) {
	h := newHarness(t)
	tid := topicID("t")
	a := h.cghb("g", "a", 0, parts{}, "t")
	if a.ErrorCode != 0 || a.MemberEpoch != 1 || !respParts(a).equal(parts{tid: {0, 1, 2, 3}}) {
		t.Fatalf("a joins: %+v %v", a, respParts(a))
	}
	if a.HeartbeatIntervalMillis != 5000 {
		t.Errorf("heartbeat interval %d", a.HeartbeatIntervalMillis)
	}
	// b joins: epoch 2, its target is two of a's partitions, unreleased.
	b := h.cghb("g", "b", 0, parts{}, "t")
	if b.MemberEpoch != 2 || respParts(b).count() != 0 {
		t.Fatalf("b joins: epoch %d %v", b.MemberEpoch, respParts(b))
	}
	h.checkOwners()
	// a is asked to revoke two partitions, at its old epoch.
	a = h.cghb("g", "a", 1, parts{tid: {0, 1, 2, 3}}, "t")
	kept := respParts(a)
	if a.MemberEpoch != 1 || kept.count() != 2 {
		t.Fatalf("a revoking: epoch %d %v", a.MemberEpoch, kept)
	}
	// b still gets nothing: a has not revoked.
	if b = h.cghb("g", "b", 2, parts{}, "t"); respParts(b).count() != 0 {
		t.Fatalf("b got %v before a revoked", respParts(b))
	}
	// A keepalive (nothing reported) does not count as revoking.
	if a = h.cghb("g", "a", 1, nil); a.MemberEpoch != 1 {
		t.Fatalf("a moved on with a keepalive: %+v", a)
	}
	a = h.cghb("g", "a", 1, kept, "t")
	if a.MemberEpoch != 2 {
		t.Fatalf("a after revoking: epoch %d", a.MemberEpoch)
	}
	b = h.cghb("g", "b", 2, parts{}, "t")
	if respParts(b).count() != 2 || b.MemberEpoch != 2 {
		t.Fatalf("b after a revoked: %v", respParts(b))
	}
	h.checkOwners()
	d := recv(t, h.c.ConsumerGroupDescribe(&kmsg.ConsumerGroupDescribeRequest{Groups: []string{"g"}}))
	if g := d.Groups[0]; g.State != "Stable" || g.Epoch != 2 || g.AssignmentEpoch != 2 || g.AssignorName != "uniform" || len(g.Members) != 2 {
		t.Fatalf("describe: %+v", g)
	}

	// Fencing: a wrong epoch, an unknown member.
	if r := h.cghb("g", "a", 7, nil); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Errorf("epoch ahead: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := h.cghb("g", "zz", 2, nil); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// b's session expires (a keeps heartbeating): a gets everything back.
	h.advance(30 * time.Second)
	h.cghb("g", "a", 2, nil)
	h.cghb("g", "b", 2, nil)
	h.advance(30 * time.Second)
	a = h.cghb("g", "a", 2, respParts(a))
	h.advance(30 * time.Second)
	a = h.cghb("g", "a", a.MemberEpoch, nil)
	if a.MemberEpoch != 3 || respParts(a).count() != 4 {
		t.Fatalf("after b expired: epoch %d %v", a.MemberEpoch, respParts(a))
	}
	if r := h.cghb("g", "b", 2, nil); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("expired member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	h.checkOwners()
}

func TestConsumerGroupPersisted(t *testing.T) {
	h := newHarness(t)
	tid := topicID("t")
	h.cghb("g", "a", 0, parts{}, "t")
	b := h.cghb("g", "b", 0, parts{}, "t")
	h.cghb("g", "a", 1, parts{tid: {0, 1}}, "t")
	h.cghb("g", "b", b.MemberEpoch, parts{}, "t")
	before := recv(t, h.c.ConsumerGroupDescribe(&kmsg.ConsumerGroupDescribeRequest{Groups: []string{"g"}})).Groups[0]
	h.restart()
	after := recv(t, h.c.ConsumerGroupDescribe(&kmsg.ConsumerGroupDescribeRequest{Groups: []string{"g"}})).Groups[0]
	if after.Epoch != before.Epoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
		t.Fatalf("after restart %+v, before %+v", after, before)
	}
	for i := range before.Members {
		bm, am := before.Members[i], after.Members[i]
		if bm.MemberID != am.MemberID || bm.MemberEpoch != am.MemberEpoch || len(am.Assignment.TopicPartitions) != len(bm.Assignment.TopicPartitions) {
			t.Errorf("member %d: %+v, was %+v", i, am, bm)
		}
	}
	h.checkOwners()
	// Members heartbeat on with their epochs.
	if r := h.cghb("g", "a", before.Members[0].MemberEpoch, nil); r.ErrorCode != 0 {
		t.Errorf("heartbeat after restart: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// The group goes on being a consumer group: a classic join is refused.
	j := recv(t, h.join("g", ""))
	if j.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("classic join: %v", kerr.ErrorForCode(j.ErrorCode))
	}
}

func TestConsumerGroupCommitEpochs(t *testing.T) {
	h := newHarness(t)
	a := h.cghb("g", "a", 0, parts{}, "t")
	commit := func(member string, epoch int32, version int16) int16 {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.Version, r.Group, r.MemberID, r.Generation = version, "g", member, epoch
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rt.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 5}}
		r.Topics = append(r.Topics, rt)
		resp := recv(t, h.c.OffsetCommit(r))
		return resp.Topics[0].Partitions[0].ErrorCode
	}
	if code := commit("a", a.MemberEpoch, 9); code != 0 {
		t.Errorf("commit: %v", kerr.ErrorForCode(code))
	}
	if code := commit("a", a.MemberEpoch+1, 9); code != kerr.StaleMemberEpoch.Code {
		t.Errorf("commit ahead: %v", kerr.ErrorForCode(code))
	}
	if code := commit("a", a.MemberEpoch, 8); code != kerr.UnsupportedVersion.Code {
		t.Errorf("commit v8: %v", kerr.ErrorForCode(code))
	}
	if code := commit("x", 1, 9); code != kerr.UnknownMemberID.Code {
		t.Errorf("commit unknown member: %v", kerr.ErrorForCode(code))
	}
	if code := commit("", -1, 9); code != kerr.UnknownMemberID.Code {
		t.Errorf("admin commit to a non-empty group: %v", kerr.ErrorForCode(code))
	}
	// OffsetFetch with the member's epoch, a stale one, and as an admin.
	fetch := func(member *string, epoch int32) int16 {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.Version = 9
		rg := kmsg.NewOffsetFetchRequestGroup()
		rg.Group, rg.MemberID, rg.MemberEpoch = "g", member, epoch
		r.Groups = append(r.Groups, rg)
		return recv(t, h.c.OffsetFetch(r)).Groups[0].ErrorCode
	}
	id := "a"
	if code := fetch(&id, a.MemberEpoch); code != 0 {
		t.Errorf("fetch: %v", kerr.ErrorForCode(code))
	}
	if code := fetch(&id, a.MemberEpoch-1); code != kerr.StaleMemberEpoch.Code {
		t.Errorf("stale fetch: %v", kerr.ErrorForCode(code))
	}
	if code := fetch(nil, -1); code != 0 {
		t.Errorf("admin fetch: %v", kerr.ErrorForCode(code))
	}
	// The member leaves: the group is empty, admin commits are allowed and
	// the group may be deleted.
	if r := h.cghb("g", "a", leaveEpoch, nil); r.ErrorCode != 0 || r.MemberEpoch != leaveEpoch {
		t.Fatalf("leave: %+v", r)
	}
	if code := commit("", -1, 9); code != 0 {
		t.Errorf("admin commit to an empty group: %v", kerr.ErrorForCode(code))
	}
	del := recv(t, h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Groups: []string{"g"}}))
	if del.Groups[0].ErrorCode != 0 {
		t.Errorf("delete: %v", kerr.ErrorForCode(del.Groups[0].ErrorCode))
	}
}

func TestConsumerGroupStaticAndLimits(t *testing.T) {
	cfg := testConfig()
	cfg.ConsumerMaxSize = 2
	h := newHarnessWith(t, cfg, newMemBackend(), newFakeClock())
	static := func(member string, epoch int32, inst string) *kmsg.ConsumerGroupHeartbeatResponse {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version, r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = 1, "g", member, epoch, &inst
		r.RebalanceTimeoutMillis = 30000
		r.SubscribedTopicNames = []string{"t"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		ch := h.c.ConsumerGroupHeartbeat(r, Client{ID: member})
		h.settle()
		return recv(t, ch)
	}
	s1 := static("s1", 0, "i1")
	if s1.ErrorCode != 0 {
		t.Fatal(kerr.ErrorForCode(s1.ErrorCode))
	}
	if r := static("s2", 0, "i1"); r.ErrorCode != kerr.UnreleasedInstanceID.Code {
		t.Errorf("second holder of i1: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	h.cghb("g", "d", 0, parts{}, "t")
	if r := h.cghb("g", "e", 0, parts{}, "t"); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Errorf("third member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// s1 leaves for now (-2), s2 takes over instance i1 and its partitions.
	before := respParts(h.cghb("g", "s1", s1.MemberEpoch, nil))
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version, r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = 1, "g", "s1", leaveStaticEpoch, kmsg.StringPtr("i1")
	if resp := recv(t, h.c.ConsumerGroupHeartbeat(r, Client{})); resp.ErrorCode != 0 || resp.MemberEpoch != leaveStaticEpoch {
		t.Fatalf("static leave: %+v", resp)
	}
	s2 := static("s2", 0, "i1")
	if s2.ErrorCode != 0 {
		t.Fatalf("s2 replaces s1: %v", kerr.ErrorForCode(s2.ErrorCode))
	}
	if before != nil && !respParts(s2).equal(before) {
		t.Errorf("s2 got %v, s1 had %v", respParts(s2), before)
	}
	h.checkOwners()
	// Bad requests.
	bad := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	bad.Version, bad.Group, bad.MemberID = 1, "g", "x"
	bad.RebalanceTimeoutMillis = 1000
	bad.SubscribedTopicRegex = kmsg.StringPtr("(")
	bad.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	if resp := recv(t, h.c.ConsumerGroupHeartbeat(bad, Client{})); resp.ErrorCode != kerr.InvalidRegularExpression.Code {
		t.Errorf("bad regex: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	bad.SubscribedTopicRegex, bad.ServerAssignor = nil, kmsg.StringPtr("sticky")
	bad.SubscribedTopicNames = []string{"t"}
	if resp := recv(t, h.c.ConsumerGroupHeartbeat(bad, Client{})); resp.ErrorCode != kerr.UnsupportedAssignor.Code {
		t.Errorf("bad assignor: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
}

func TestConsumerGroupTopicChanges(t *testing.T) {
	be := newMemBackend()
	h := newHarnessWith(t, testConfig(), be, newFakeClock())
	a := h.cghb("g", "a", 0, parts{}, "t", "new")
	if respParts(a).count() != 4 {
		t.Fatalf("%v", respParts(a))
	}
	be.setTopic("t", 6)
	be.setTopic("new", 2)
	a = h.cghb("g", "a", a.MemberEpoch, respParts(a))
	if a.MemberEpoch != 2 || respParts(a).count() != 8 {
		t.Fatalf("after new partitions and topic: epoch %d %v", a.MemberEpoch, respParts(a))
	}
	be.setTopic("new", 0)
	a = h.cghb("g", "a", a.MemberEpoch, respParts(a))
	// The deleted topic's partitions are revoked first.
	a = h.cghb("g", "a", a.MemberEpoch, parts{topicID("t"): {0, 1, 2, 3, 4, 5}})
	if a.MemberEpoch != 3 || a.Assignment != nil { // the assigned set did not change: no assignment sent
		t.Fatalf("after topic deletion: epoch %d %v", a.MemberEpoch, respParts(a))
	}
	ls := recv(t, h.c.ListGroups(&kmsg.ListGroupsRequest{TypesFilter: []string{"consumer"}}))
	if len(ls.Groups) != 1 || ls.Groups[0].GroupType != "consumer" || ls.Groups[0].GroupState != "Stable" {
		t.Errorf("list: %+v", ls.Groups)
	}
	if ls = recv(t, h.c.ListGroups(&kmsg.ListGroupsRequest{TypesFilter: []string{"classic"}})); len(ls.Groups) != 0 {
		t.Errorf("classic list: %+v", ls.Groups)
	}
}

// TestConsumerGroupStaticReplaceKeepsEpoch: a static member that comes
// back under a new member id (librdkafka picks a fresh id on every start)
// takes over its old incarnation's target assignment without a new group
// epoch, as Kafka's consumerGroupHeartbeat does (only a changed
// subscription bumps it), so the other members keep their partitions even
// with the range assignor, whose result depends on member-id order.
func TestConsumerGroupStaticReplaceKeepsEpoch(t *testing.T) {
	h := newHarnessWith(t, testConfig(), newMemBackend(), newFakeClock())
	hb := func(member string, epoch int32, inst *string, owned parts) *kmsg.ConsumerGroupHeartbeatResponse {
		r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		r.Version, r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = 1, "g", member, epoch, inst
		r.RebalanceTimeoutMillis, r.ServerAssignor = 30000, kmsg.StringPtr("range")
		r.SubscribedTopicNames = []string{"t"}
		r.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		for _, id := range sortedIDs(owned) {
			r.Topics = append(r.Topics, kmsg.ConsumerGroupHeartbeatRequestTopic{TopicID: id, Partitions: owned[id]})
		}
		ch := h.c.ConsumerGroupHeartbeat(r, Client{ID: member})
		h.settle()
		resp := recv(t, ch)
		if resp.ErrorCode != 0 {
			t.Fatalf("%s at epoch %d: %v", member, epoch, kerr.ErrorForCode(resp.ErrorCode))
		}
		return resp
	}
	type state struct {
		epoch int32
		owned parts
	}
	step := func(member string, inst *string, s *state) {
		resp := hb(member, s.epoch, inst, s.owned)
		s.epoch = resp.MemberEpoch
		if p := respParts(resp); p != nil {
			s.owned = p
		}
	}
	i1 := kmsg.StringPtr("i1")
	a, c := &state{owned: parts{}}, &state{owned: parts{}}
	step("m-a", i1, a)
	step("m-c", nil, c)
	for i := 0; i < 4; i++ {
		step("m-a", i1, a)
		step("m-c", nil, c)
	}
	if a.owned.count() != 2 || c.owned.count() != 2 || a.epoch != c.epoch {
		t.Fatalf("before: m-a %v at %d, m-c %v at %d", a.owned, a.epoch, c.owned, c.epoch)
	}
	groupEpoch := a.epoch

	// m-a leaves for now; its next incarnation, m-z, sorts after m-c.
	r := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	r.Version, r.Group, r.MemberID, r.MemberEpoch, r.InstanceID = 1, "g", "m-a", leaveStaticEpoch, i1
	if resp := recv(t, h.c.ConsumerGroupHeartbeat(r, Client{})); resp.ErrorCode != 0 {
		t.Fatalf("static leave: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	h.settle()
	z := &state{owned: parts{}}
	step("m-z", i1, z)
	if !z.owned.equal(a.owned) || z.epoch != groupEpoch {
		t.Errorf("m-z got %v at epoch %d, want m-a's %v at %d", z.owned, z.epoch, a.owned, groupEpoch)
	}
	before := c.owned
	step("m-c", nil, c)
	if !c.owned.equal(before) || c.epoch != groupEpoch {
		t.Errorf("m-c now %v at epoch %d, had %v at %d", c.owned, c.epoch, before, groupEpoch)
	}
	h.checkOwners()
}
