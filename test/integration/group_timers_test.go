package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// fastJoin is a JoinGroup with a one-second rebalance timeout.
func fastJoin(group, member, topic string) *kmsg.JoinGroupRequest {
	req := joinReq(group, member, topic)
	req.RebalanceTimeoutMillis = 1000
	return req
}

// newMemberID gets a member id from MEMBER_ID_REQUIRED.
func newMemberID(t *testing.T, cl *kgo.Client, group, topic string) string {
	t.Helper()
	r := groupReq[*kmsg.JoinGroupResponse](t, cl, fastJoin(group, "", topic))
	wantCode(t, "first join", r.ErrorCode, kerr.MemberIDRequired)
	return r.MemberID
}

// joinAsync sends a JoinGroup from another goroutine.
func joinAsync(cl *kgo.Client, req *kmsg.JoinGroupRequest) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	go func() {
		r, err := groupReqErr[*kmsg.JoinGroupResponse](cl, req)
		if err != nil {
			r = kmsg.NewPtrJoinGroupResponse()
			r.ErrorCode = -1
		}
		ch <- r
	}()
	return ch
}

// TestGroupRebalanceTimeout: a member that keeps heartbeating but does not
// rejoin a rebalance is removed when the rebalance timeout ends, and the
// rebalance completes without it.
func TestGroupRebalanceTimeout(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-rebalance-timeout"
	createTopic(t, adm, topic, 1, nil)
	cl1, cl2 := newClient(t, tb.Addr()), newClient(t, tb.Addr())
	waitCoordinator(t, cl1, group)

	m1 := newMemberID(t, cl1, group, topic)
	j1 := groupReq[*kmsg.JoinGroupResponse](t, cl1, fastJoin(group, m1, topic))
	wantCode(t, "join", j1.ErrorCode, nil)
	wantCode(t, "sync", groupReq[*kmsg.SyncGroupResponse](t, cl1, syncReq(group, m1, j1.Generation, nil)).ErrorCode, nil)

	m2 := newMemberID(t, cl2, group, topic)
	start := time.Now()
	joined := joinAsync(cl2, fastJoin(group, m2, topic))
	waitFor(t, 5*time.Second, "REBALANCE_IN_PROGRESS", func() error {
		return expectCode(groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, m1, j1.Generation)).ErrorCode, kerr.RebalanceInProgress)
	})
	var j2 *kmsg.JoinGroupResponse
	select {
	case j2 = <-joined:
	case <-time.After(10 * time.Second):
		t.Fatal("join not answered 10s after a 1s rebalance timeout")
	}
	t.Logf("join answered after %v", time.Since(start).Round(time.Millisecond))
	wantCode(t, "join after the rebalance timeout", j2.ErrorCode, nil)
	if j2.Generation != j1.Generation+1 || j2.LeaderID != m2 || len(j2.Members) != 1 {
		t.Errorf("join: generation %d leader %s members %d; want %d, %s alone", j2.Generation, j2.LeaderID, len(j2.Members), j1.Generation+1, m2)
	}
	wantCode(t, "heartbeat of the member that did not rejoin", groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, m1, j1.Generation)).ErrorCode, kerr.UnknownMemberID)
}

// TestGroupPendingSyncTimeout: a member that joined but never sends
// SyncGroup is removed once the rebalance timeout passes, and the group
// rebalances again.
func TestGroupPendingSyncTimeout(t *testing.T) {
	r := twoMemberRebalance(t, "g-pending-sync")
	topic, group, cl1, cl2, m1, m2, j1, j2 := r.topic, r.group, r.cl1, r.cl2, r.m1, r.m2, r.j1, r.j2
	wantCode(t, "leader rejoin", j1.ErrorCode, nil)
	wantCode(t, "follower join", j2.ErrorCode, nil)
	gen := j1.Generation

	// Only the leader syncs.
	s := groupReq[*kmsg.SyncGroupResponse](t, cl1, syncReq(group, m1, gen, map[string][]byte{m1: []byte("x"), m2: []byte("y")}))
	wantCode(t, "leader sync", s.ErrorCode, nil)
	start := time.Now()
	waitFor(t, 10*time.Second, "rebalance after the follower's sync timed out", func() error {
		return expectCode(groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, m1, gen)).ErrorCode, kerr.RebalanceInProgress)
	})
	t.Logf("rebalance %v after the leader's sync", time.Since(start).Round(time.Millisecond))
	j := groupReq[*kmsg.JoinGroupResponse](t, cl1, fastJoin(group, m1, topic))
	if j.ErrorCode != 0 || len(j.Members) != 1 || j.Generation != gen+1 {
		t.Errorf("rejoin: %v, %d members, generation %d; want alone in %d", kerr.ErrorForCode(j.ErrorCode), len(j.Members), j.Generation, gen+1)
	}
	wantCode(t, "heartbeat of the member that never synced", groupReq[*kmsg.HeartbeatResponse](t, cl2, heartbeatReq(group, m2, gen)).ErrorCode, kerr.UnknownMemberID)
}
