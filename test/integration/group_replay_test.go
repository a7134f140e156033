package integration

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestGroupMembersAcrossBrokerRestart: a Stable group's members, generation
// and assignment come back after a broker restart: a heartbeat of the old
// generation is accepted, and a member that never comes back is expired
// after its session timeout, leaving the group to the one that does.
func TestGroupMembersAcrossBrokerRestart(t *testing.T) {
	t.Parallel()
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, group := topicName(t, ""), "g-replay"
	createTopic(t, adm, topic, 2, nil)
	cl1, cl2 := newClient(t, tb.Addr()), newClient(t, tb.Addr())
	g := formGroup(t, cl1, group, topic)
	// A second member: join (the first must rejoin for the join to end).
	first := groupReq[*kmsg.JoinGroupResponse](t, cl2, joinReq(group, "", topic))
	second := first.MemberID
	short := joinReq(group, second, topic)
	short.SessionTimeoutMillis = int32(groupSession / time.Millisecond)
	joined2 := make(chan error, 1)
	go func() {
		r, err := groupReqErr[*kmsg.JoinGroupResponse](cl2, short)
		if err == nil {
			err = kerr.ErrorForCode(r.ErrorCode)
		}
		joined2 <- err
	}()
	waitFor(t, 10*time.Second, "rebalance started", func() error {
		return expectCode(groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, g.member, g.gen)).ErrorCode, kerr.RebalanceInProgress)
	})
	j1 := groupReq[*kmsg.JoinGroupResponse](t, cl1, joinReq(group, g.member, topic))
	if err := <-joined2; err != nil || j1.ErrorCode != 0 {
		t.Fatalf("rebalance joins: %v / %v", err, kerr.ErrorForCode(j1.ErrorCode))
	}
	gen := j1.Generation
	synced := make(chan error, 1)
	go func() {
		r, err := groupReqErr[*kmsg.SyncGroupResponse](cl2, syncReq(group, second, gen, nil))
		if err == nil {
			err = kerr.ErrorForCode(r.ErrorCode)
		}
		synced <- err
	}()
	s1 := groupReq[*kmsg.SyncGroupResponse](t, cl1, syncReq(group, g.member, gen, map[string][]byte{g.member: []byte("a"), second: []byte("b")}))
	if err := <-synced; err != nil || s1.ErrorCode != 0 {
		t.Fatalf("syncs: %v / %v", err, kerr.ErrorForCode(s1.ErrorCode))
	}

	restarted := time.Now()
	tb.Restart()
	waitCoordinator(t, cl1, group)
	waitFor(t, 10*time.Second, "heartbeat of the pre-restart generation", func() error {
		return expectCode(groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, g.member, gen)).ErrorCode, nil)
	})
	dreq := kmsg.NewPtrDescribeGroupsRequest()
	dreq.Groups = []string{group}
	d := groupReq[*kmsg.DescribeGroupsResponse](t, cl1, dreq).Groups[0]
	if d.ErrorCode != 0 || d.State != "Stable" || len(d.Members) != 2 || d.Protocol != "range" {
		t.Fatalf("after restart: %v state %s protocol %s members %d, want Stable range 2", kerr.ErrorForCode(d.ErrorCode), d.State, d.Protocol, len(d.Members))
	}
	for _, m := range d.Members {
		if want := map[string]string{g.member: "a", second: "b"}[m.MemberID]; string(m.MemberAssignment) != want {
			t.Errorf("after restart member %s assignment %q, want %q", m.MemberID, m.MemberAssignment, want)
		}
	}

	// The second member never heartbeats again: it is expired after its
	// session timeout (counted from the load), and the first, still
	// heartbeating, is told to rejoin.
	start := time.Now()
	waitFor(t, groupSession+10*time.Second, "the silent member expired", func() error {
		code := groupReq[*kmsg.HeartbeatResponse](t, cl1, heartbeatReq(group, g.member, gen)).ErrorCode
		if code == 0 {
			return fmt.Errorf("heartbeat still NONE after %v", time.Since(start).Round(time.Millisecond))
		}
		return expectCode(code, kerr.RebalanceInProgress)
	})
	if took := time.Since(restarted); took < groupSession {
		t.Errorf("silent member expired %v after the restart, before its %v session timeout", took, groupSession)
	}
	var j *kmsg.JoinGroupResponse
	waitFor(t, 10*time.Second, "rejoin", func() (err error) {
		// Retries only transport errors: franz-go's join connection
		// still points at the broker before the restart.
		j, err = groupReqErr[*kmsg.JoinGroupResponse](cl1, joinReq(group, g.member, topic))
		return err
	})
	if j.ErrorCode != 0 || len(j.Members) != 1 || j.Generation != gen+1 {
		t.Errorf("rejoin after expiry: %v, %d members, generation %d; want alone in generation %d", kerr.ErrorForCode(j.ErrorCode), len(j.Members), j.Generation, gen+1)
	}
}

// expectCode turns a response code into nil when it is want.
func expectCode(code int16, want error) error {
	if got := kerr.ErrorForCode(code); got != want {
		return fmt.Errorf("got %v, want %v", got, want)
	}
	return nil
}

// TestGroupDeletesSurviveRestart: a deleted group, deleted offsets and
// overwritten offsets stay as they were left after a broker restart.
func TestGroupDeletesSurviveRestart(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, tb.Addr())
	for _, g := range []string{"g-deleted", "g-offset-deleted", "g-overwritten"} {
		waitCoordinator(t, cl, g)
		for p := range int32(2) {
			for _, at := range []int64{5, 7} {
				req := commitReq(g, "", -1, topic, p, "")
				req.Topics[0].Partitions[0].Offset = at
				wantCode(t, "commit "+g, commitCode(t, cl, req), nil)
			}
		}
	}
	ctx := testCtx(t, 30*time.Second)
	if r, err := adm.DeleteGroup(ctx, "g-deleted"); err != nil || r.Err != nil {
		t.Fatalf("delete group: %v / %v", err, r.Err)
	}
	delReq := kmsg.NewPtrOffsetDeleteRequest()
	delReq.Group = "g-offset-deleted"
	rt := kmsg.NewOffsetDeleteRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetDeleteRequestTopicPartition()
	rp.Partition = 1
	rt.Partitions = append(rt.Partitions, rp)
	delReq.Topics = append(delReq.Topics, rt)
	if r := groupReq[*kmsg.OffsetDeleteResponse](t, cl, delReq); r.ErrorCode != 0 || r.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("offset delete: %+v", r)
	}

	check := func(when string) {
		t.Helper()
		waitFor(t, 15*time.Second, "group state "+when, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			listed, err := adm.ListGroups(ctx)
			if err != nil {
				return err
			}
			if _, ok := listed["g-deleted"]; ok || len(listed) != 2 {
				return fmt.Errorf("listed %v, want g-offset-deleted and g-overwritten only", listed.Groups())
			}
			for g, want := range map[string]map[int32]int64{
				"g-deleted":        {},
				"g-offset-deleted": {0: 7},
				"g-overwritten":    {0: 7, 1: 7},
			} {
				got, err := committedOffsets(ctx, adm, g, topic)
				if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
					return err
				}
				if len(got) != len(want) {
					return fmt.Errorf("%s: committed %v, want %v", g, got, want)
				}
				for p, at := range want {
					if got[p].At != at {
						return fmt.Errorf("%s/%d: committed %d, want %d", g, p, got[p].At, at)
					}
				}
			}
			return nil
		})
	}
	check("before restart")
	tb.Restart()
	check("after restart")
}
