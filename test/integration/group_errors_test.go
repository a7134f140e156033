package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// groupReq sends req straight to the (only) broker, bypassing franz-go's
// coordinator lookup and retries, and returns the response.
func groupReq[R kmsg.Response](t *testing.T, cl *kgo.Client, req kmsg.Request) R {
	t.Helper()
	resp, err := groupReqErr[R](cl, req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// groupReqErr is groupReq for goroutines other than the test's.
func groupReqErr[R kmsg.Response](cl *kgo.Client, req kmsg.Request) (R, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	resp, err := cl.Broker(brokerNodeID).Request(ctx, req)
	if err != nil {
		var zero R
		return zero, fmt.Errorf("%T: %w", req, err)
	}
	return resp.(R), nil
}

// wantCode fails unless code is want.
func wantCode(t *testing.T, what string, code int16, want error) {
	t.Helper()
	if got := kerr.ErrorForCode(code); got != want {
		t.Errorf("%s: got %v, want %v", what, got, want)
	}
}

// waitCoordinator waits until FindCoordinator for group answers without
// error (the broker creates __consumer_offsets on first need; a restarted
// broker may still be loading it).
func waitCoordinator(t *testing.T, cl *kgo.Client, group string) {
	t.Helper()
	waitFor(t, 15*time.Second, "coordinator of "+group, func() error {
		req := kmsg.NewPtrFindCoordinatorRequest()
		req.CoordinatorKey = group
		req.CoordinatorKeys = []string{group}
		resp, err := groupReqErr[*kmsg.FindCoordinatorResponse](cl, req)
		if err != nil {
			return err // e.g. the connection of a broker since restarted
		}
		code := resp.ErrorCode
		if len(resp.Coordinators) > 0 {
			code = resp.Coordinators[0].ErrorCode
		}
		return kerr.ErrorForCode(code)
	})
}

func joinReq(group, memberID, topic string) *kmsg.JoinGroupRequest {
	req := kmsg.NewPtrJoinGroupRequest()
	req.Group = group
	req.MemberID = memberID
	req.SessionTimeoutMillis = 30000
	req.RebalanceTimeoutMillis = 10000
	req.ProtocolType = "consumer"
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Topics = []string{topic}
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name = "range"
	p.Metadata = meta.AppendTo(nil)
	req.Protocols = append(req.Protocols, p)
	return req
}

func syncReq(group, memberID string, gen int32, assign map[string][]byte) *kmsg.SyncGroupRequest {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group = group
	req.MemberID = memberID
	req.Generation = gen
	req.ProtocolType = kmsg.StringPtr("consumer")
	req.Protocol = kmsg.StringPtr("range")
	for m, a := range assign {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = m, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	return req
}

func heartbeatReq(group, memberID string, gen int32) *kmsg.HeartbeatRequest {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	return req
}

// commitReq commits offset 1 with metadata on topic/partition.
func commitReq(group, memberID string, gen int32, topic string, partition int32, metadata string) *kmsg.OffsetCommitRequest {
	req := kmsg.NewPtrOffsetCommitRequest()
	req.Group, req.MemberID, req.Generation = group, memberID, gen
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = partition, 1, -1, kmsg.StringPtr(metadata)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// commitCode returns the single partition error code of a commit.
func commitCode(t *testing.T, cl *kgo.Client, req *kmsg.OffsetCommitRequest) int16 {
	t.Helper()
	resp := groupReq[*kmsg.OffsetCommitResponse](t, cl, req)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("offset commit response: %+v", resp.Topics)
	}
	return resp.Topics[0].Partitions[0].ErrorCode
}

// liveGroup is a one-member group formed with raw requests.
type liveGroup struct {
	group, member string
	gen           int32
}

// formGroup joins (MEMBER_ID_REQUIRED first, as JoinGroup v4+ must) and
// syncs a single member that takes partition 0 of topic.
func formGroup(t *testing.T, cl *kgo.Client, group, topic string) liveGroup {
	t.Helper()
	waitCoordinator(t, cl, group)
	first := groupReq[*kmsg.JoinGroupResponse](t, cl, joinReq(group, "", topic))
	if first.Version < 4 {
		t.Fatalf("JoinGroup v%d: want v4+ (broker too old?)", first.Version)
	}
	wantCode(t, "JoinGroup v4+ with empty member id", first.ErrorCode, kerr.MemberIDRequired)
	if first.MemberID == "" {
		t.Fatal("MEMBER_ID_REQUIRED without a member id")
	}
	return joinAndSync(t, cl, group, first.MemberID, topic)
}

func joinAndSync(t *testing.T, cl *kgo.Client, group, member, topic string) liveGroup {
	t.Helper()
	join := groupReq[*kmsg.JoinGroupResponse](t, cl, joinReq(group, member, topic))
	wantCode(t, "JoinGroup with the returned member id", join.ErrorCode, nil)
	if join.MemberID != member || join.LeaderID != member || join.Generation < 1 || len(join.Members) != 1 {
		t.Fatalf("join: member %q leader %q generation %d members %d; want %q leading generation >= 1 alone",
			join.MemberID, join.LeaderID, join.Generation, len(join.Members), member)
	}
	if p := join.Protocol; p == nil || *p != "range" {
		t.Errorf("join: protocol %v, want range", p)
	}
	assign := kmsg.NewConsumerMemberAssignment()
	at := kmsg.NewConsumerMemberAssignmentTopic()
	at.Topic, at.Partitions = topic, []int32{0}
	assign.Topics = append(assign.Topics, at)
	bytes := assign.AppendTo(nil)
	sync := groupReq[*kmsg.SyncGroupResponse](t, cl, syncReq(group, member, join.Generation, map[string][]byte{member: bytes}))
	wantCode(t, "SyncGroup", sync.ErrorCode, nil)
	if string(sync.MemberAssignment) != string(bytes) {
		t.Errorf("sync: assignment %x, want %x", sync.MemberAssignment, bytes)
	}
	return liveGroup{group: group, member: member, gen: join.Generation}
}

// TestGroupRequestErrors: the group APIs answer bad input with Kafka's
// error codes.
func TestGroupRequestErrors(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, tb.Addr())

	g := formGroup(t, cl, "g-live", topic)
	// The leader rejoining a Stable group starts a new generation, so the
	// first one is stale.
	stale := g.gen
	g = joinAndSync(t, cl, g.group, g.member, topic)
	if g.gen != stale+1 {
		t.Fatalf("leader rejoin: generation %d, want %d", g.gen, stale+1)
	}

	// Heartbeat.
	wantCode(t, "Heartbeat", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq(g.group, g.member, g.gen)).ErrorCode, nil)
	wantCode(t, "Heartbeat, stale generation", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq(g.group, g.member, stale)).ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "Heartbeat, future generation", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq(g.group, g.member, g.gen+1)).ErrorCode, kerr.IllegalGeneration)
	wantCode(t, "Heartbeat, unknown member", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq(g.group, "nobody", g.gen)).ErrorCode, kerr.UnknownMemberID)
	wantCode(t, "SyncGroup, stale generation", groupReq[*kmsg.SyncGroupResponse](t, cl, syncReq(g.group, g.member, stale, nil)).ErrorCode, kerr.IllegalGeneration)

	// OffsetCommit.
	wantCode(t, "OffsetCommit", commitCode(t, cl, commitReq(g.group, g.member, g.gen, topic, 0, "ok")), nil)
	wantCode(t, "OffsetCommit, unknown topic", commitCode(t, cl, commitReq(g.group, g.member, g.gen, "no-such-topic", 0, "")), kerr.UnknownTopicOrPartition)
	wantCode(t, "OffsetCommit, unknown partition", commitCode(t, cl, commitReq(g.group, g.member, g.gen, topic, 7, "")), kerr.UnknownTopicOrPartition)
	wantCode(t, "OffsetCommit, stale generation", commitCode(t, cl, commitReq(g.group, g.member, stale, topic, 0, "")), kerr.IllegalGeneration)
	wantCode(t, "OffsetCommit, unknown member", commitCode(t, cl, commitReq(g.group, "nobody", g.gen, topic, 0, "")), kerr.UnknownMemberID)
	wantCode(t, "OffsetCommit, 4096 bytes of metadata", commitCode(t, cl, commitReq(g.group, g.member, g.gen, topic, 1, strings.Repeat("m", 4096))), nil)
	wantCode(t, "OffsetCommit, 4097 bytes of metadata", commitCode(t, cl, commitReq(g.group, g.member, g.gen, topic, 1, strings.Repeat("x", 4097))), kerr.OffsetMetadataTooLarge)
	wantCode(t, "OffsetCommit without a generation to a live group", commitCode(t, cl, commitReq(g.group, "", -1, topic, 0, "")), kerr.UnknownMemberID)
	wantCode(t, "OffsetCommit without a generation, unknown topic", commitCode(t, cl, commitReq("g-simple", "", -1, "no-such-topic", 0, "")), kerr.UnknownTopicOrPartition)
	wantCode(t, "OffsetCommit without a generation to a new group", commitCode(t, cl, commitReq("g-simple", "", -1, topic, 0, "")), nil)

	// Only the accepted commits are stored.
	fetched, err := adm.FetchOffsets(testCtx(t, 10*time.Second), g.group)
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	if o, _ := fetched.Lookup(topic, 0); o.At != 1 || o.Metadata != "ok" {
		t.Errorf("partition 0 committed %+v, want offset 1 metadata ok", o.Offset)
	}
	if o, _ := fetched.Lookup(topic, 1); o.At != 1 || o.Metadata != strings.Repeat("m", 4096) {
		t.Errorf("partition 1 committed offset %d with %d bytes of metadata, want 1 with the 4096 m's", o.At, len(o.Metadata))
	}

	// Empty group id.
	wantCode(t, "JoinGroup, empty group", groupReq[*kmsg.JoinGroupResponse](t, cl, joinReq("", "", topic)).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "SyncGroup, empty group", groupReq[*kmsg.SyncGroupResponse](t, cl, syncReq("", g.member, g.gen, nil)).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "Heartbeat, empty group", groupReq[*kmsg.HeartbeatResponse](t, cl, heartbeatReq("", g.member, g.gen)).ErrorCode, kerr.InvalidGroupID)
	wantCode(t, "OffsetCommit, empty group", commitCode(t, cl, commitReq("", "", -1, topic, 0, "")), kerr.InvalidGroupID)

	// ListGroups v4+ filters by state.
	listed := func(states ...string) map[string]string {
		req := kmsg.NewPtrListGroupsRequest()
		req.StatesFilter = states
		resp := groupReq[*kmsg.ListGroupsResponse](t, cl, req)
		wantCode(t, fmt.Sprintf("ListGroups %v", states), resp.ErrorCode, nil)
		if resp.Version < 4 {
			t.Fatalf("ListGroups v%d: states filter needs v4+", resp.Version)
		}
		out := map[string]string{}
		for _, lg := range resp.Groups {
			out[lg.Group] = lg.GroupState
		}
		return out
	}
	if got := listed(); got[g.group] != "Stable" || got["g-simple"] != "Empty" || len(got) != 2 {
		t.Errorf("ListGroups: %v, want g-live Stable and g-simple Empty", got)
	}
	if got := listed("Stable"); len(got) != 1 || got[g.group] != "Stable" {
		t.Errorf("ListGroups [Stable]: %v, want only g-live", got)
	}
	if got := listed("Empty", "PreparingRebalance"); len(got) != 1 || got["g-simple"] != "Empty" {
		t.Errorf("ListGroups [Empty PreparingRebalance]: %v, want only g-simple", got)
	}
	if got := listed("Dead"); len(got) != 0 {
		t.Errorf("ListGroups [Dead]: %v, want none", got)
	}

	// DeleteGroups: refused while the group has members.
	del := func(group string) int16 {
		req := kmsg.NewPtrDeleteGroupsRequest()
		req.Groups = []string{group}
		resp := groupReq[*kmsg.DeleteGroupsResponse](t, cl, req)
		if len(resp.Groups) != 1 || resp.Groups[0].Group != group {
			t.Fatalf("delete groups response: %+v", resp.Groups)
		}
		return resp.Groups[0].ErrorCode
	}
	wantCode(t, "DeleteGroups, live group", del(g.group), kerr.NonEmptyGroup)
	wantCode(t, "DeleteGroups, unknown group", del("g-unknown"), kerr.GroupIDNotFound)
	leave := kmsg.NewPtrLeaveGroupRequest()
	leave.Group = g.group
	lm := kmsg.NewLeaveGroupRequestMember()
	lm.MemberID = g.member
	leave.Members = append(leave.Members, lm)
	leave.MemberID = g.member
	lresp := groupReq[*kmsg.LeaveGroupResponse](t, cl, leave)
	wantCode(t, "LeaveGroup", lresp.ErrorCode, nil)
	if len(lresp.Members) == 1 {
		wantCode(t, "LeaveGroup member", lresp.Members[0].ErrorCode, nil)
	}
	wantCode(t, "DeleteGroups, after the last member left", del(g.group), nil)
	wantCode(t, "DeleteGroups, simple group", del("g-simple"), nil)
	if got := listed(); len(got) != 0 {
		t.Errorf("ListGroups after deleting: %v, want none", got)
	}
}
