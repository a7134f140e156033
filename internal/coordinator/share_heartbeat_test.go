package coordinator

import (
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/share"
)

func (h *harness) sghb(group, member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
	h.t.Helper()
	r := kmsg.NewPtrShareGroupHeartbeatRequest()
	r.Version = 1
	r.GroupID, r.MemberID, r.MemberEpoch = group, member, epoch
	if topics != nil {
		r.SubscribedTopicNames = topics
	}
	ch := h.c.ShareGroupHeartbeat(r, Client{ID: "client-" + member, Host: "/127.0.0.1"})
	h.settle()
	return recv(h.t, ch)
}

func shareRespParts(r *kmsg.ShareGroupHeartbeatResponse) parts {
	if r.Assignment == nil {
		return nil
	}
	out := parts{}
	for _, t := range r.Assignment.TopicPartitions {
		for _, p := range t.Partitions {
			out.add(t.TopicID, p)
		}
	}
	return out
}

func mustOK(t *testing.T, code int16, msg *string) {
	t.Helper()
	if code != 0 {
		m := ""
		if msg != nil {
			m = *msg
		}
		t.Fatalf("error %v: %s", kerr.ErrorForCode(code), m)
	}
}

func TestShareHeartbeatJoinAssignLeave(t *testing.T) {
	h := newHarness(t)
	r := h.sghb("sg", "m1", 0, "t")
	mustOK(t, r.ErrorCode, r.ErrorMessage)
	if r.MemberEpoch != 1 || *r.MemberID != "m1" || r.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("join: epoch %d id %s interval %d", r.MemberEpoch, *r.MemberID, r.HeartbeatIntervalMillis)
	}
	if got := shareRespParts(r); got.count() != 4 {
		t.Fatalf("alone, m1 should get all 4 partitions of t, got %v", got)
	}
	// A second member: partitions are split with no revocation step; m2
	// gets its share at once.
	r2 := h.sghb("sg", "m2", 0, "t")
	mustOK(t, r2.ErrorCode, r2.ErrorMessage)
	if r2.MemberEpoch != 2 || shareRespParts(r2).count() != 2 {
		t.Fatalf("m2: epoch %d parts %v", r2.MemberEpoch, shareRespParts(r2))
	}
	r = h.sghb("sg", "m1", 1)
	mustOK(t, r.ErrorCode, r.ErrorMessage)
	if r.MemberEpoch != 2 || shareRespParts(r).count() != 2 {
		t.Fatalf("m1 after m2 joined: epoch %d parts %v", r.MemberEpoch, shareRespParts(r))
	}
	// Unchanged: no assignment in the answer.
	if r = h.sghb("sg", "m1", 2); r.Assignment != nil || r.MemberEpoch != 2 {
		t.Fatalf("steady heartbeat: %+v", r)
	}
	// Stale epoch beyond the previous one is fenced.
	if r = h.sghb("sg", "m1", 7); r.ErrorCode != kerr.FencedMemberEpoch.Code {
		t.Fatalf("fenced epoch: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// Leave: m1 gets everything back on its next heartbeat.
	if r = h.sghb("sg", "m2", -1); r.ErrorCode != 0 || r.MemberEpoch != -1 {
		t.Fatalf("leave: %+v", r)
	}
	r = h.sghb("sg", "m1", 2)
	mustOK(t, r.ErrorCode, r.ErrorMessage)
	if r.MemberEpoch != 3 || shareRespParts(r).count() != 4 {
		t.Fatalf("m1 after m2 left: epoch %d parts %v", r.MemberEpoch, shareRespParts(r))
	}
	if r = h.sghb("sg", "m2", -1); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("second leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestShareHeartbeatSharesPartitions(t *testing.T) {
	h := newHarness(t)
	// u has 2 partitions; 3 members: every member gets one, so one
	// partition is shared by two members.
	epochs := map[string]int32{}
	for _, m := range []string{"a", "b", "c"} {
		r := h.sghb("sg", m, 0, "u")
		mustOK(t, r.ErrorCode, r.ErrorMessage)
		epochs[m] = r.MemberEpoch
	}
	counts := map[int32]int{}
	for _, m := range []string{"a", "b", "c"} {
		r := h.sghb("sg", m, epochs[m])
		mustOK(t, r.ErrorCode, r.ErrorMessage)
		a := shareRespParts(r)
		if r.Assignment == nil {
			a = h.memberAssignment("sg", m)
		}
		if a.count() != 1 {
			t.Fatalf("member %s: %v", m, a)
		}
		a.each(func(tp tpid) { counts[tp.p]++ })
	}
	if counts[0]+counts[1] != 3 || counts[0] == 0 || counts[1] == 0 {
		t.Fatalf("partition use %v", counts)
	}
}

func (h *harness) memberAssignment(group, member string) parts {
	h.t.Helper()
	d := recv(h.t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{group}}))
	for _, m := range d.Groups[0].Members {
		if m.MemberID == member {
			out := parts{}
			for _, t := range m.Assignment.TopicPartitions {
				for _, p := range t.Partitions {
					out.add(t.TopicID, p)
				}
			}
			return out
		}
	}
	h.t.Fatalf("member %s not in %s", member, group)
	return nil
}

func TestShareHeartbeatValidation(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		group, member string
		epoch         int32
		topics        []string
		want          int16
	}{
		{"", "m", 0, []string{"t"}, kerr.InvalidRequest.Code},
		{"sg", "", 0, []string{"t"}, kerr.InvalidRequest.Code},
		{"sg", "m", 0, nil, kerr.InvalidRequest.Code},
		{"sg", "m", 0, []string{}, kerr.InvalidRequest.Code},
		{"sg", "m", -2, nil, kerr.InvalidRequest.Code},
		{"nosuch", "m", 3, nil, kerr.GroupIDNotFound.Code},
		{"nosuch", "m", -1, nil, kerr.GroupIDNotFound.Code},
	}
	for _, c := range cases {
		if r := h.sghb(c.group, c.member, c.epoch, c.topics...); r.ErrorCode != c.want {
			t.Errorf("%+v: got %v want %v", c, kerr.ErrorForCode(r.ErrorCode), kerr.ErrorForCode(c.want))
		}
	}
	mustOK(t, h.sghb("sg", "m", 0, "t").ErrorCode, nil)
	if r := h.sghb("sg", "other", 4); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("unknown member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestShareGroupTypeExclusive(t *testing.T) {
	h := newHarness(t)
	// A classic group (simple commit) refuses share heartbeats.
	commit := kmsg.NewPtrOffsetCommitRequest()
	commit.Version, commit.Group, commit.Generation = 8, "classic", -1
	commit.Topics = []kmsg.OffsetCommitRequestTopic{{Topic: "t", Partitions: []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1}}}}
	h.settle()
	if resp := recv(t, h.c.OffsetCommit(commit)); resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("commit: %v", kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}
	if r := h.sghb("classic", "m", 0, "t"); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("share heartbeat on classic group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if got := h.c.GroupType("classic"); got != share.GroupTypeClassic {
		t.Fatalf("GroupType(classic) = %q", got)
	}

	mustOK(t, h.sghb("sg", "m", 0, "t").ErrorCode, nil)
	if got := h.c.GroupType("sg"); got != share.GroupTypeShare {
		t.Fatalf("GroupType(sg) = %q", got)
	}
	if got := h.c.GroupType("none"); got != share.GroupTypeNone {
		t.Fatalf("GroupType(none) = %q", got)
	}
	// Classic and consumer APIs on the share group.
	commit.Group = "sg"
	if resp := recv(t, h.c.OffsetCommit(commit)); resp.Topics[0].Partitions[0].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("commit on share group: %v", kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode))
	}
	join := kmsg.NewPtrJoinGroupRequest()
	join.Version, join.Group, join.ProtocolType = 9, "sg", "consumer"
	join.SessionTimeoutMillis, join.RebalanceTimeoutMillis = 10000, 10000
	join.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{0}}}
	if resp := recv(t, h.c.JoinGroup(join, Client{ID: "c", Host: "/h"})); resp.ErrorCode != kerr.InconsistentGroupProtocol.Code {
		t.Fatalf("join on share group: %v", kerr.ErrorForCode(resp.ErrorCode))
	}
	if r := h.cghb("sg", "x", 0, parts{}, "t"); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("consumer heartbeat on share group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// ListGroups: type and state, type filter honoured.
	lg := recv(t, h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5}))
	types := map[string]string{}
	for _, g := range lg.Groups {
		types[g.Group] = g.GroupType + "/" + g.GroupState + "/" + g.ProtocolType
	}
	if types["sg"] != "share/Stable/share" || types["classic"] != "classic/Empty/" {
		t.Fatalf("ListGroups: %v", types)
	}
	lg = recv(t, h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5, TypesFilter: []string{"share"}}))
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "sg" {
		t.Fatalf("ListGroups share filter: %+v", lg.Groups)
	}
	lg = recv(t, h.c.ListGroups(&kmsg.ListGroupsRequest{Version: 5, TypesFilter: []string{"classic"}}))
	if len(lg.Groups) != 1 || lg.Groups[0].Group != "classic" {
		t.Fatalf("ListGroups classic filter: %+v", lg.Groups)
	}
	// Describe: of the wrong type.
	d := recv(t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{"classic", "sg", "none"}}))
	if d.Groups[0].ErrorCode != kerr.GroupIDNotFound.Code || d.Groups[1].ErrorCode != 0 || d.Groups[2].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe codes: %d %d %d", d.Groups[0].ErrorCode, d.Groups[1].ErrorCode, d.Groups[2].ErrorCode)
	}
	sg := d.Groups[1]
	if sg.GroupState != "Stable" || sg.Assignor != "simple" || sg.GroupEpoch != 1 || len(sg.Members) != 1 || sg.Members[0].ClientID != "client-m" {
		t.Fatalf("describe: %+v", sg)
	}
}

func TestShareSessionTimeout(t *testing.T) {
	h := newHarness(t)
	h.be.setGroupConfig("sg", config.GroupShareSessionTimeout, "50000")
	h.be.setGroupConfig("sg", config.GroupShareHeartbeatInterval, "6000")
	r := h.sghb("sg", "m1", 0, "t")
	if r.HeartbeatIntervalMillis != 6000 {
		t.Fatalf("interval from group config: %d", r.HeartbeatIntervalMillis)
	}
	mustOK(t, h.sghb("sg", "m2", 0, "t").ErrorCode, nil)
	h.advance(40 * time.Second)
	mustOK(t, h.sghb("sg", "m2", 2).ErrorCode, nil)
	h.advance(11 * time.Second) // m1 silent for 51s > 50s
	d := recv(t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{"sg"}}))
	if len(d.Groups[0].Members) != 1 || d.Groups[0].Members[0].MemberID != "m2" {
		t.Fatalf("after m1's session expired: %+v", d.Groups[0].Members)
	}
	if r := h.sghb("sg", "m1", 2); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("expired member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestShareGroupMaxSize(t *testing.T) {
	cfg := testConfig()
	cfg.ShareMaxSize = 2
	h := newHarnessWith(t, cfg, newMemBackend(), newFakeClock())
	mustOK(t, h.sghb("sg", "a", 0, "t").ErrorCode, nil)
	mustOK(t, h.sghb("sg", "b", 0, "t").ErrorCode, nil)
	if r := h.sghb("sg", "c", 0, "t"); r.ErrorCode != kerr.GroupMaxSizeReached.Code {
		t.Fatalf("third member: %v", kerr.ErrorForCode(r.ErrorCode))
	}
}

func TestShareGroupPersisted(t *testing.T) {
	h := newHarness(t)
	mustOK(t, h.sghb("sg", "m1", 0, "t", "u").ErrorCode, nil)
	mustOK(t, h.sghb("sg", "m2", 0, "t").ErrorCode, nil)
	before := recv(t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{"sg"}})).Groups[0]
	h.restart()
	after := recv(t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{"sg"}})).Groups[0]
	if after.ErrorCode != 0 || after.GroupEpoch != before.GroupEpoch || after.AssignmentEpoch != before.AssignmentEpoch || len(after.Members) != 2 {
		t.Fatalf("after restart: %+v\nbefore: %+v", after, before)
	}
	for i := range before.Members {
		b, a := before.Members[i], after.Members[i]
		if a.MemberID != b.MemberID || a.MemberEpoch != b.MemberEpoch || len(a.Assignment.TopicPartitions) != len(b.Assignment.TopicPartitions) || a.ClientID != b.ClientID {
			t.Fatalf("member %d: %+v vs %+v", i, a, b)
		}
	}
	// The members keep heartbeating at their epoch.
	if r := h.sghb("sg", "m1", before.Members[0].MemberEpoch); r.ErrorCode != 0 {
		t.Fatalf("heartbeat after restart: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	// Loaded members that never come back expire.
	h.advance(46 * time.Second)
	after = recv(t, h.c.ShareGroupDescribe(&kmsg.ShareGroupDescribeRequest{Version: 1, GroupIDs: []string{"sg"}})).Groups[0]
	if len(after.Members) != 0 || after.GroupState != "Empty" {
		t.Fatalf("after sessions expired: %+v", after)
	}
	// Deleted, then gone after a restart too.
	h.c.SetShareState(newFakeState())
	if resp := recv(t, h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Groups: []string{"sg"}})); resp.Groups[0].ErrorCode != 0 {
		t.Fatalf("delete: %v", kerr.ErrorForCode(resp.Groups[0].ErrorCode))
	}
	h.restart()
	if got := h.c.GroupType("sg"); got != share.GroupTypeNone {
		t.Fatalf("deleted group came back as %q", got)
	}
}

// fakeState is an in-memory share.State.
type fakeState struct {
	mu      sync.Mutex
	starts  map[string]map[uuid]map[int32]int64
	deleted []string
}

func newFakeState() *fakeState { return &fakeState{starts: map[string]map[uuid]map[int32]int64{}} }

func (f *fakeState) Offsets(group string, id [16]byte, ps []int32) []share.PartitionOffset {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]share.PartitionOffset, len(ps))
	for i, p := range ps {
		out[i] = share.PartitionOffset{StartOffset: -1, LeaderEpoch: -1, Lag: -1}
		if o, ok := f.starts[group][id][p]; ok {
			out[i].StartOffset, out[i].LeaderEpoch, out[i].Lag = o, 0, 0
		}
	}
	return out
}

func (f *fakeState) Initialized(group string) map[[16]byte][]int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[[16]byte][]int32{}
	for id, ps := range f.starts[group] {
		for p := range ps {
			out[id] = append(out[id], p)
		}
	}
	return out
}

func (f *fakeState) SetStartOffset(group string, id [16]byte, p int32, off int64) int16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.starts[group] == nil {
		f.starts[group] = map[uuid]map[int32]int64{}
	}
	if f.starts[group][id] == nil {
		f.starts[group][id] = map[int32]int64{}
	}
	f.starts[group][id][p] = off
	return 0
}

func (f *fakeState) DeleteTopic(group string, id [16]byte) int16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.starts[group], id)
	return 0
}

func (f *fakeState) DeleteGroup(group string) int16 {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.starts, group)
	f.deleted = append(f.deleted, group)
	return 0
}

func TestShareOffsetsAdmin(t *testing.T) {
	h := newHarness(t)
	st := newFakeState()
	// Without state: COORDINATOR_NOT_AVAILABLE.
	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = "sg"
	alter.Topics = []kmsg.AlterShareGroupOffsetsRequestTopic{
		{Topic: "t", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 1, StartOffset: 8}, {Partition: 9, StartOffset: 1}}},
		{Topic: "nosuch", Partitions: []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0, StartOffset: 1}}},
	}
	if r := recv(t, h.c.AlterShareGroupOffsets(alter)); r.ErrorCode != kerr.CoordinatorNotAvailable.Code {
		t.Fatalf("alter without state: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	h.c.SetShareState(st)
	// The group was created empty by the first alter.
	r := recv(t, h.c.AlterShareGroupOffsets(alter))
	if r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 ||
		r.Topics[0].Partitions[1].ErrorCode != kerr.UnknownTopicOrPartition.Code ||
		r.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("alter: %+v", r)
	}
	if h.c.GroupType("sg") != share.GroupTypeShare {
		t.Fatalf("alter did not create the share group")
	}
	describe := func(topics []kmsg.DescribeShareGroupOffsetsRequestGroupTopic) kmsg.DescribeShareGroupOffsetsResponseGroup {
		req := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
		req.Version = 1
		req.Groups = []kmsg.DescribeShareGroupOffsetsRequestGroup{{GroupID: "sg", Topics: topics}}
		return recv(t, h.c.DescribeShareGroupOffsets(req)).Groups[0]
	}
	all := describe(nil)
	if all.ErrorCode != 0 || len(all.Topics) != 1 || all.Topics[0].Topic != "t" || all.Topics[0].Partitions[0].StartOffset != 8 {
		t.Fatalf("describe all: %+v", all)
	}
	one := describe([]kmsg.DescribeShareGroupOffsetsRequestGroupTopic{{Topic: "t", Partitions: []int32{1, 2}}, {Topic: "nosuch", Partitions: []int32{0}}})
	if one.Topics[0].Partitions[0].StartOffset != 8 || one.Topics[0].Partitions[1].StartOffset != -1 ||
		one.Topics[1].Partitions[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("describe topics: %+v", one)
	}
	// A member makes alter and delete fail with NON_EMPTY_GROUP.
	mustOK(t, h.sghb("sg", "m", 0, "t").ErrorCode, nil)
	if r := recv(t, h.c.AlterShareGroupOffsets(alter)); r.ErrorCode != kerr.NonEmptyGroup.Code || r.Topics[0].Partitions[0].ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("alter non-empty: %+v", r)
	}
	del := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
	del.GroupID = "sg"
	del.Topics = []kmsg.DeleteShareGroupOffsetsRequestTopic{{Topic: "t"}, {Topic: "nosuch"}}
	if r := recv(t, h.c.DeleteShareGroupOffsets(del)); r.ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete non-empty: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := recv(t, h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Groups: []string{"sg"}})); r.Groups[0].ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("DeleteGroups non-empty: %v", kerr.ErrorForCode(r.Groups[0].ErrorCode))
	}
	mustOK(t, h.sghb("sg", "m", -1).ErrorCode, nil)
	dr := recv(t, h.c.DeleteShareGroupOffsets(del))
	if dr.ErrorCode != 0 || dr.Topics[0].ErrorCode != 0 || dr.Topics[1].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Fatalf("delete offsets: %+v", dr)
	}
	if all := describe(nil); len(all.Topics) != 0 {
		t.Fatalf("after delete: %+v", all)
	}
	// Unknown group and a group of another type.
	del.GroupID = "nosuch"
	if r := recv(t, h.c.DeleteShareGroupOffsets(del)); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete unknown group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := recv(t, h.c.DeleteGroups(&kmsg.DeleteGroupsRequest{Groups: []string{"sg"}})); r.Groups[0].ErrorCode != 0 {
		t.Fatalf("DeleteGroups: %v", kerr.ErrorForCode(r.Groups[0].ErrorCode))
	}
	if len(st.deleted) != 1 || st.deleted[0] != "sg" {
		t.Fatalf("State.DeleteGroup calls: %v", st.deleted)
	}
}

func TestShareSettings(t *testing.T) {
	h := newHarness(t)
	s := h.c.ShareSettings("sg")
	if s.AutoOffsetReset != "latest" || s.RecordLockDuration != 30*time.Second || s.ReadCommitted || s.DeliveryAttemptLimit != 5 {
		t.Fatalf("defaults: %+v", s)
	}
	h.be.setGroupConfig("sg", config.GroupShareAutoOffsetReset, "earliest")
	h.be.setGroupConfig("sg", config.GroupShareRecordLockDuration, "15000")
	h.be.setGroupConfig("sg", config.GroupShareIsolationLevel, "read_committed")
	s = h.c.ShareSettings("sg")
	if s.AutoOffsetReset != "earliest" || s.RecordLockDuration != 15*time.Second || !s.ReadCommitted {
		t.Fatalf("configured: %+v", s)
	}
}

// listeningState is a fakeState that also hears about members leaving.
type listeningState struct {
	*fakeState
	left []string // "group/member", in call order
}

func (l *listeningState) MemberLeft(group, member string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.left = append(l.left, group+"/"+member)
}

func (l *listeningState) lefts() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.left...)
}

// The share-partition side is told when a member leaves (epoch -1) and
// when it is fenced by its session timeout, and not otherwise.
func TestShareMemberLeftNotified(t *testing.T) {
	h := newHarness(t)
	st := &listeningState{fakeState: newFakeState()}
	h.c.SetShareState(st)
	mustOK(t, h.sghb("sg", "m1", 0, "t").ErrorCode, nil)
	mustOK(t, h.sghb("sg", "m2", 0, "t").ErrorCode, nil)
	mustOK(t, h.sghb("sg", "m3", 0, "t").ErrorCode, nil)
	if got := st.lefts(); len(got) != 0 {
		t.Fatalf("joins notified a leave: %v", got)
	}
	if r := h.sghb("sg", "m1", leaveEpoch); r.ErrorCode != 0 || r.MemberEpoch != leaveEpoch {
		t.Fatalf("leave: %v epoch %d", kerr.ErrorForCode(r.ErrorCode), r.MemberEpoch)
	}
	if got := st.lefts(); len(got) != 1 || got[0] != "sg/m1" {
		t.Fatalf("after m1 left: %v", got)
	}
	// m2 keeps heartbeating, m3 goes silent past the 45s default.
	h.advance(30 * time.Second)
	mustOK(t, h.sghb("sg", "m2", 2).ErrorCode, nil)
	h.advance(20 * time.Second)
	if got := st.lefts(); len(got) != 2 || got[1] != "sg/m3" {
		t.Fatalf("after m3's session expired: %v", got)
	}
	// An unknown member leaving is refused and notifies nothing.
	if r := h.sghb("sg", "m9", leaveEpoch); r.ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("unknown member leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if got := st.lefts(); len(got) != 2 {
		t.Fatalf("unknown member notified: %v", got)
	}
}
