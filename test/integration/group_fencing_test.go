package integration

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupStaticFencing: a JoinGroup with a group.instance.id already in
// the group replaces its member without a rebalance (same generation, the
// same assignment on sync, KIP-814's skip-assignment for a leader), and
// the replaced member id is fenced: FENCED_INSTANCE_ID on heartbeat,
// commit and leave.
func TestGroupStaticFencing(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-fenced"
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())
	waitCoordinator(t, cl, group)
	instance := kmsg.StringPtr("instance-1")
	staticJoin := func() *kmsg.JoinGroupResponse {
		req := joinReq(group, "", topic)
		req.InstanceID = instance
		r := groupReq[*kmsg.JoinGroupResponse](t, cl, req)
		wantCode(t, "static JoinGroup with no member id", r.ErrorCode, nil)
		return r
	}
	staticSync := func(member string, gen int32, assign map[string][]byte) *kmsg.SyncGroupResponse {
		req := syncReq(group, member, gen, assign)
		req.InstanceID = instance
		return groupReq[*kmsg.SyncGroupResponse](t, cl, req)
	}

	old := staticJoin()
	if old.MemberID == "" || old.LeaderID != old.MemberID {
		t.Fatalf("first static join: member %q leader %q", old.MemberID, old.LeaderID)
	}
	wantCode(t, "first sync", staticSync(old.MemberID, old.Generation, map[string][]byte{old.MemberID: []byte("assignment")}).ErrorCode, nil)

	renewed := staticJoin()
	if renewed.MemberID == old.MemberID || renewed.Generation != old.Generation {
		t.Errorf("static rejoin: member %q generation %d, want a new member id and generation %d", renewed.MemberID, renewed.Generation, old.Generation)
	}
	if renewed.Version >= 9 && (!renewed.SkipAssignment || renewed.LeaderID != renewed.MemberID) {
		t.Errorf("static leader rejoin v%d: skip assignment %v, leader %q; want true and itself", renewed.Version, renewed.SkipAssignment, renewed.LeaderID)
	}
	s := staticSync(renewed.MemberID, renewed.Generation, nil)
	wantCode(t, "sync of the renewed member", s.ErrorCode, nil)
	if string(s.MemberAssignment) != "assignment" {
		t.Errorf("renewed member's assignment %q, want the one it had", s.MemberAssignment)
	}

	hb := heartbeatReq(group, old.MemberID, old.Generation)
	hb.InstanceID = instance
	wantCode(t, "heartbeat of the replaced member", groupReq[*kmsg.HeartbeatResponse](t, cl, hb).ErrorCode, kerr.FencedInstanceID)
	commit := commitReq(group, old.MemberID, old.Generation, topic, 0, "")
	commit.InstanceID = instance
	wantCode(t, "commit of the replaced member", commitCode(t, cl, commit), kerr.FencedInstanceID)
	hb = heartbeatReq(group, renewed.MemberID, renewed.Generation)
	hb.InstanceID = instance
	wantCode(t, "heartbeat of the renewed member", groupReq[*kmsg.HeartbeatResponse](t, cl, hb).ErrorCode, nil)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = group
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID, lm.InstanceID = old.MemberID, instance
	leave.Members = append(leave.Members, lm)
	if lr := groupReq[*kmsg.LeaveGroupResponse](t, cl, leave); lr.Version >= 3 && len(lr.Members) == 1 {
		wantCode(t, "leave of the replaced member", lr.Members[0].ErrorCode, kerr.FencedInstanceID)
	}

	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	d := groupReq[*kmsg.DescribeGroupsResponse](t, cl, dreq).Groups[0]
	if d.State != "Stable" || len(d.Members) != 1 || d.Members[0].MemberID != renewed.MemberID ||
		d.Members[0].InstanceID == nil || *d.Members[0].InstanceID != *instance {
		t.Errorf("describe: state %s members %+v, want Stable with only %s (%s)", d.State, d.Members, renewed.MemberID, *instance)
	}
}
