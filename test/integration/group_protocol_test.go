package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupJoinValidation: JoinGroup's own checks, as Kafka's
// GroupCoordinator makes them.
func TestGroupJoinValidation(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())
	g := formGroup(t, cl, "g-join", topic)

	join := func(what string, req *kmsg.JoinGroupRequest, want error) {
		t.Helper()
		wantCode(t, what, groupReq[*kmsg.JoinGroupResponse](t, cl, req).ErrorCode, want)
	}
	short := joinReq("g-other", "", topic)
	short.SessionTimeoutMillis = 1000
	join("session timeout below group.min.session.timeout.ms", short, kerr.InvalidSessionTimeout)
	long := joinReq("g-other", "", topic)
	long.SessionTimeoutMillis = 1800001
	join("session timeout above group.max.session.timeout.ms", long, kerr.InvalidSessionTimeout)

	other := joinReq(g.group, "", topic)
	other.Protocols[0].Name = "roundrobin"
	join("protocol the live group does not support", other, kerr.InconsistentGroupProtocol)
	connect := joinReq(g.group, "", topic)
	connect.ProtocolType = "connect"
	join("protocol type other than the live group's", connect, kerr.InconsistentGroupProtocol)
	none := joinReq("g-new", "", topic)
	none.Protocols = nil
	join("no protocols", none, kerr.InconsistentGroupProtocol)
	join("member id the group never gave", joinReq(g.group, "ghost", topic), kerr.UnknownMemberID)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = g.group
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = "ghost"
	leave.Members = append(leave.Members, lm)
	lresp := groupReq[*kmsg.LeaveGroupResponse](t, cl, leave)
	if lresp.Version >= 3 {
		wantCode(t, "LeaveGroup v3+", lresp.ErrorCode, nil)
		if len(lresp.Members) != 1 {
			t.Fatalf("LeaveGroup members: %+v", lresp.Members)
		}
		wantCode(t, "LeaveGroup v3+, unknown member", lresp.Members[0].ErrorCode, kerr.UnknownMemberID)
	}
	// The live member is untouched by all of the above.
	wantCode(t, "Heartbeat of the live member", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq(g.group, g.member, g.gen)).ErrorCode, nil)
}

// TestGroupRebalanceProtocol: a second member's JoinGroup waits until the
// first rejoins; meanwhile the first's heartbeat says
// REBALANCE_IN_PROGRESS. Both get the next generation, the leader the
// member list, and each its part of the leader's assignment.
func TestGroupRebalanceProtocol(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	cl1, cl2 := newClient(t, tb.Addr()), newClient(t, tb.Addr())
	g := formGroup(t, cl1, "g-rebalance", topic)

	first := groupReq[*kmsg.JoinGroupResponse](t, cl2, joinReq(g.group, "", topic))
	wantCode(t, "second member's first join", first.ErrorCode, kerr.MemberIDRequired)
	second := first.MemberID
	joined2 := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		r, err := groupReqErr[*kmsg.JoinGroupResponse](cl2, joinReq(g.group, second, topic))
		if err != nil {
			t.Error(err)
		}
		joined2 <- r
	}()

	waitFor(t, 10*time.Second, "heartbeat saying REBALANCE_IN_PROGRESS", func() error {
		code := groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(g.group, g.member, g.gen)).ErrorCode
		if err := kerr.ErrorForCode(code); err != kerr.RebalanceInProgress {
			return err
		}
		return nil
	})
	select {
	case r := <-joined2:
		t.Fatalf("second member's join answered before the first rejoined: %+v", r)
	default:
	}
	j1 := groupReq[*kmsg.JoinGroupResponse](t, cl1, joinReq(g.group, g.member, topic))
	var j2 *kmsg.JoinGroupResponse
	select {
	case j2 = <-joined2:
		if j2 == nil {
			t.FailNow()
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second member's join not answered after the first rejoined")
	}
	for _, r := range []*kmsg.JoinGroupResponse{j1, j2} {
		wantCode(t, "rebalance join", r.ErrorCode, nil)
		if r.Generation != g.gen+1 || r.LeaderID != g.member {
			t.Errorf("join of %s: generation %d leader %s, want %d and %s", r.MemberID, r.Generation, r.LeaderID, g.gen+1, g.member)
		}
	}
	if len(j1.Members) != 2 || len(j2.Members) != 0 {
		t.Errorf("leader got %d members, follower %d; want 2 and 0", len(j1.Members), len(j2.Members))
	}

	// The follower's SyncGroup waits for the leader's.
	synced2 := make(chan *kmsg.SyncGroupResponse, 1)
	go func() {
		r, err := groupReqErr[*kmsg.SyncGroupResponse](cl2, syncReq(g.group, second, j2.Generation, nil))
		if err != nil {
			t.Error(err)
			r = kmsg.NewPtrSyncGroupResponse()
		}
		synced2 <- r
	}()
	s1 := groupReq[*kmsg.SyncGroupResponse](t, cl1, syncReq(g.group, g.member, j1.Generation,
		map[string][]byte{g.member: []byte("for-leader"), second: []byte("for-follower")}))
	s2 := <-synced2
	wantCode(t, "leader sync", s1.ErrorCode, nil)
	wantCode(t, "follower sync", s2.ErrorCode, nil)
	if string(s1.MemberAssignment) != "for-leader" || string(s2.MemberAssignment) != "for-follower" {
		t.Errorf("assignments %q / %q, want for-leader / for-follower", s1.MemberAssignment, s2.MemberAssignment)
	}
	wantCode(t, "heartbeat of the previous generation", groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(g.group, g.member, g.gen)).ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "heartbeat of the new generation", groupReq[*kmsg.HeartbeatResponse](t, cl2, heartbeatReq(g.group, second, j2.Generation)).ErrorCode, nil)
}

// TestGroupOffsetDelete: OffsetDelete refuses a topic the group's members
// subscribe to, removes offsets of an empty group, and reports unknown
// groups.
func TestGroupOffsetDelete(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())
	g := formGroup(t, cl, "g-live", topic)
	wantCode(t, "commit", commitCode(t, cl, commitReq(g.group, g.member, g.gen, topic, 0, "")), nil)
	wantCode(t, "simple commit", commitCode(t, cl, commitReq("g-empty", "", -1, topic, 0, "")), nil)

	del := func(group string) (int16, int16) {
		req := kmsg.NewPtrOffsetDeleteRequest()
		req.Group = group
		rt := kmsg.NewOffsetDeleteRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewOffsetDeleteRequestTopicPartition()
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp := groupReq[*kmsg.OffsetDeleteResponse](t, cl, req)
		if resp.ErrorCode != 0 || len(resp.Topics) == 0 || len(resp.Topics[0].Partitions) == 0 {
			return resp.ErrorCode, 0
		}
		return resp.ErrorCode, resp.Topics[0].Partitions[0].ErrorCode
	}
	top, part := del(g.group)
	wantCode(t, "OffsetDelete, subscribed topic", top, nil)
	wantCode(t, "OffsetDelete, subscribed topic (partition)", part, kerr.GroupSubscribedToTopic)
	top, part = del("g-empty")
	wantCode(t, "OffsetDelete, empty group", top, nil)
	wantCode(t, "OffsetDelete, empty group (partition)", part, nil)
	top, _ = del("g-unknown")
	wantCode(t, "OffsetDelete, unknown group", top, kerr.GroupIDNotFound)

	ctx := testCtx(t, 10*time.Second)
	if got, err := committedOffsets(ctx, adm, "g-empty", topic); err != nil || len(got) != 0 {
		t.Errorf("g-empty after OffsetDelete: %v %v, want no offsets", got, err)
	}
	if got, err := committedOffsets(ctx, adm, g.group, topic); err != nil || got[0].At != 1 {
		t.Errorf("g-live after a refused OffsetDelete: %v %v, want offset 1", got, err)
	}
}
