package integration

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestGroupStaticMembership: a static member (group.instance.id) that
// closes without leaving and comes back within the session timeout gets
// its partitions back with no rebalance: the generation stays, the other
// member is not disturbed, and DescribeGroups shows the same assignment
// under the same instance id. Both the leader and a follower restart.
func TestGroupStaticMembership(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-static"
	createTopic(t, adm, topic, 4, nil)
	topics := []string{topic}
	// Range, not the default cooperative-sticky: a restarted kgo leader
	// recomputes the plan (KIP-814 workaround) and rejoins when it differs
	// from what the broker kept. Members' new join metadata carries no
	// owned partitions, so a sticky plan can differ and force a rebalance,
	// against Kafka too; range sorts by instance id and gives the same plan.
	static := func(id string) memberOpt {
		return withKgo(kgo.InstanceID(id), kgo.Balancers(kgo.RangeBalancer()))
	}

	// "a" joins first and leads; "b" follows.
	a := startGroupMember(t, tb.Addr(), group, "a", topics, static("a"))
	waitBalanced(t, adm, group, topic, 4, a)
	b := startGroupMember(t, tb.Addr(), group, "b", topics, static("b"))
	before := waitBalanced(t, adm, group, topic, 4, a, b)
	gen := b.Generation()
	if ga := a.Generation(); ga != gen || gen <= 0 {
		t.Fatalf("generations a=%d b=%d, want equal and positive", ga, gen)
	}

	// Restart the follower, then the leader, each within the session timeout.
	members := map[string]*groupMember{"a": a, "b": b}
	for _, ids := range [][2]string{{"b", "a"}, {"a", "b"}} {
		id, other := ids[0], members[ids[1]]
		otherAssigned, otherRevoked := other.Callbacks()
		start := time.Now()
		members[id].Close() // static: no LeaveGroup
		members[id] = startGroupMember(t, tb.Addr(), group, id, topics, static(id))
		after := waitBalanced(t, adm, group, topic, 4, members["a"], members["b"])
		if took := time.Since(start); took >= groupSession {
			t.Fatalf("restart of %s took %v, not within the session timeout", id, took)
		}
		if !slices.Equal(after[id], before[id]) {
			t.Errorf("restarted %s owns %v, had %v", id, after[id], before[id])
		}
		if g := members[id].Generation(); g != gen {
			t.Errorf("restarted %s is in generation %d, want unchanged %d", id, g, gen)
		}
		if g := other.Generation(); g != gen {
			t.Errorf("other member's generation moved from %d to %d", gen, g)
		}
		if as, rs := other.Callbacks(); as != otherAssigned || rs != otherRevoked {
			t.Errorf("other member saw a rebalance: assign/revoke callbacks %d/%d -> %d/%d", otherAssigned, otherRevoked, as, rs)
		}
		ds, err := adm.DescribeGroups(testCtx(t, 10*time.Second), group)
		if err != nil {
			t.Fatal(err)
		}
		ids := map[string]bool{}
		for _, m := range ds[group].Members {
			if m.InstanceID != nil {
				ids[*m.InstanceID] = true
			}
		}
		if !ids["a"] || !ids["b"] || len(ds[group].Members) != 2 {
			t.Errorf("after restarting %s: members %+v, want instance ids a and b", id, ds[group].Members)
		}
	}
}

// TestGroupStaticMemberExpires: a static member that closes (no LeaveGroup)
// and does not come back is removed when its session times out, and its
// partitions go to the member that stays.
func TestGroupStaticMemberExpires(t *testing.T) {
	t.Parallel()
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-static-expiry"
	createTopic(t, adm, topic, 2, nil)
	topics := []string{topic}
	a := startGroupMember(t, tb.Addr(), group, "a", topics, withKgo(kgo.InstanceID("a")))
	b := startGroupMember(t, tb.Addr(), group, "b", topics, withKgo(kgo.InstanceID("b")))
	waitBalanced(t, adm, group, topic, 2, a, b)
	closed := time.Now()
	b.Close()
	waitBalanced(t, adm, group, topic, 2, a)
	if took := time.Since(closed); took < groupSession-time.Second {
		t.Errorf("static member removed %v after it closed, before its %v session timeout", took, groupSession)
	}
}
