package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rebalanced is a group of two members that both rejoined in a rebalance
// (raw protocol), with their JoinGroup answers not yet checked.
type rebalanced struct {
	topic, group string
	cl1, cl2     *kgo.Client
	m1, m2       string
	j1, j2       *kmsg.JoinGroupResponse
}

// twoMemberRebalance makes member 1 the Stable sole member of group, has
// member 2 join (which starts a rebalance: member 1's heartbeat says
// REBALANCE_IN_PROGRESS), and rejoins member 1 so the rebalance completes
// its join phase.
func twoMemberRebalance(t *testing.T, group string) rebalanced {
	t.Helper()
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	r := rebalanced{topic: topicName(t, ""), group: group}
	createTopic(t, adm, r.topic, 1, nil)
	r.cl1, r.cl2 = newClient(t, tb.Addr()), newClient(t, tb.Addr())
	waitCoordinator(t, r.cl1, group)
	r.m1 = newMemberID(t, r.cl1, group, r.topic)
	j1 := groupReq[*kmsg.JoinGroupResponse](t, r.cl1, fastJoin(group, r.m1, r.topic))
	wantCode(t, "sync", groupReq[*kmsg.SyncGroupResponse](t, r.cl1, syncReq(group, r.m1, j1.Generation, nil)).ErrorCode, nil)
	r.m2 = newMemberID(t, r.cl2, group, r.topic)
	joined2 := joinAsync(r.cl2, fastJoin(group, r.m2, r.topic))
	waitFor(t, 5*time.Second, "REBALANCE_IN_PROGRESS", func() error {
		return expectCode(groupReq[*kmsg.HeartbeatResponse](t, r.cl1, heartbeatReq(group, r.m1, j1.Generation)).ErrorCode, kerr.RebalanceInProgress)
	})
	r.j1 = groupReq[*kmsg.JoinGroupResponse](t, r.cl1, fastJoin(group, r.m1, r.topic))
	r.j2 = <-joined2
	return r
}
