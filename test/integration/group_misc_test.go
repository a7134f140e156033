package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupMidRebalance: while a group is CompletingRebalance (joined, not
// yet synced) a heartbeat of the new generation is fine but a commit is
// REBALANCE_IN_PROGRESS; once Stable, the leader leaving starts a
// rebalance for the member that stays.
func TestGroupMidRebalance(t *testing.T) {
	r := twoMemberRebalance(t, "g-mid")
	topic, group, cl1, cl2, m1, m2, j1, j2 := r.topic, r.group, r.cl1, r.cl2, r.m1, r.m2, r.j1, r.j2
	wantCode(t, "joins", j1.ErrorCode|j2.ErrorCode, nil)
	gen := j1.Generation

	wantCode(t, "heartbeat while CompletingRebalance", groupReq[*kmsg.HeartbeatResponse](t, cl2, heartbeatReq(group, m2, gen)).ErrorCode, nil)
	wantCode(t, "commit while CompletingRebalance", commitCode(t, cl2, commitReq(group, m2, gen, topic, 0, "")), kerr.RebalanceInProgress)
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	if d := groupReq[*kmsg.DescribeGroupsResponse](t, cl1, dreq).Groups[0]; d.State != "CompletingRebalance" {
		t.Errorf("state %s, want CompletingRebalance", d.State)
	}

	synced2 := make(chan error, 1)
	go func() {
		r, err := groupReqErr[*kmsg.SyncGroupResponse](cl2, syncReq(group, m2, gen, nil))
		if err == nil {
			err = kerr.ErrorForCode(r.ErrorCode)
		}
		synced2 <- err
	}()
	wantCode(t, "leader sync", groupReq[*kmsg.SyncGroupResponse](t, cl1, syncReq(group, m1, gen, map[string][]byte{m1: nil, m2: nil})).ErrorCode, nil)
	if err := <-synced2; err != nil {
		t.Fatalf("follower sync: %v", err)
	}
	wantCode(t, "commit when Stable", commitCode(t, cl2, commitReq(group, m2, gen, topic, 0, "")), nil)

	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group, leave.MemberID = group, m1
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = m1
	leave.Members = append(leave.Members, lm)
	wantCode(t, "leader leaves", groupReq[*kmsg.LeaveGroupResponse](t, cl1, leave).ErrorCode, nil)
	wantCode(t, "heartbeat after the leader left", groupReq[*kmsg.HeartbeatResponse](t, cl2, heartbeatReq(group, m2, gen)).ErrorCode, kerr.RebalanceInProgress)
	j := groupReq[*kmsg.JoinGroupResponse](t, cl2, fastJoin(group, m2, topic))
	if j.ErrorCode != 0 || j.LeaderID != m2 || j.Generation != gen+1 || len(j.Members) != 1 {
		t.Errorf("rejoin: %v leader %s generation %d members %d; want %s leading %d alone", kerr.ErrorForCode(j.ErrorCode), j.LeaderID, j.Generation, len(j.Members), m2, gen+1)
	}
}

// TestGroupAdminReads: the batched and filtered forms of the read APIs:
// OffsetFetch of several groups at once (v8+), committed leader epochs,
// DescribeGroups of several groups with an unknown one, ListGroups types.
func TestGroupAdminReads(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, tb.Addr())
	for i, g := range []string{"g-one", "g-two"} {
		waitCoordinator(t, cl, g)
		req := commitReq(g, "", -1, topic, int32(i), "meta-"+g)
		req.Topics[0].Partitions[0].Offset = int64(10 + i)
		req.Topics[0].Partitions[0].LeaderEpoch = int32(i) - 1 // -1, then 0
		wantCode(t, "commit "+g, commitCode(t, cl, req), nil)
	}

	ctx := testCtx(t, 15*time.Second)
	many := adm.FetchManyOffsets(ctx, "g-one", "g-two", "g-none")
	for g, want := range map[string]struct {
		p      int32
		at     int64
		epoch  int32
		exists bool
	}{"g-one": {0, 10, -1, true}, "g-two": {1, 11, 0, true}, "g-none": {}} {
		r, ok := many[g]
		if !ok || r.Err != nil {
			t.Errorf("FetchManyOffsets %s: present %v err %v", g, ok, r.Err)
			continue
		}
		n := 0
		r.Fetched.Each(func(o kadm.OffsetResponse) {
			if o.At >= 0 {
				n++
			}
		})
		if !want.exists {
			if n != 0 {
				t.Errorf("%s: %d committed offsets, want none", g, n)
			}
			continue
		}
		o, _ := r.Fetched.Lookup(topic, want.p)
		if n != 1 || o.At != want.at || o.LeaderEpoch != want.epoch || o.Metadata != "meta-"+g {
			t.Errorf("%s: %d offsets, %s/%d = %+v; want offset %d epoch %d metadata meta-%s", g, n, topic, want.p, o.Offset, want.at, want.epoch, g)
		}
	}

	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{"g-one", "g-unknown"}
	dresp := groupReq[*kmsg.DescribeGroupsResponse](t, cl, dreq)
	if len(dresp.Groups) != 2 {
		t.Fatalf("DescribeGroups of 2 groups: %+v", dresp.Groups)
	}
	for _, d := range dresp.Groups {
		want := map[string]string{"g-one": "Empty", "g-unknown": "Dead"}[d.Group]
		if d.State != want || (d.ErrorCode != 0 && !(d.Group == "g-unknown" && dresp.Version >= 6)) {
			t.Errorf("DescribeGroups v%d %s: state %s error %v, want %s", dresp.Version, d.Group, d.State, kerr.ErrorForCode(d.ErrorCode), want)
		}
	}

	lreq := kmsg.NewPtrListGroupsRequest()
	lresp := groupReq[*kmsg.ListGroupsResponse](t, cl, lreq)
	if lresp.Version >= 5 {
		for _, lg := range lresp.Groups {
			if lg.GroupType != "classic" {
				t.Errorf("ListGroups v%d: %s has type %q, want classic", lresp.Version, lg.Group, lg.GroupType)
			}
		}
		lreq.TypesFilter = []string{"consumer"}
		if r := groupReq[*kmsg.ListGroupsResponse](t, cl, lreq); len(r.Groups) != 0 {
			t.Errorf("ListGroups types [consumer]: %+v, want none (all are classic)", r.Groups)
		}
		lreq.TypesFilter = []string{"classic"}
		if r := groupReq[*kmsg.ListGroupsResponse](t, cl, lreq); len(r.Groups) != 2 {
			t.Errorf("ListGroups types [classic]: %+v, want both groups", r.Groups)
		}
	}
	all, err := adm.DescribeGroups(ctx) // lists by type classic, then describes
	if err != nil || len(all) != 2 {
		t.Errorf("kadm DescribeGroups of every group: %v, %v; want g-one and g-two", all.Names(), err)
	}
}
