package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestShareACLs: the share group APIs (76-79, 90-92) with an authorizer,
// answered as KafkaApis does: READ on the group for heartbeat, fetch,
// acknowledge and AlterShareGroupOffsets, DESCRIBE for the describes,
// DELETE for DeleteShareGroupOffsets (GROUP_AUTHORIZATION_FAILED without
// it); topics the principal may not use fail alone with
// TOPIC_AUTHORIZATION_FAILED.
func TestShareACLs(t *testing.T) {
	tb := startBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 60*time.Second)
	okTopic, noTopic := topicName(t, "ok"), topicName(t, "no")
	okID := createTopic(t, adm, okTopic, 1, nil).ID
	noID := createTopic(t, adm, noTopic, 1, nil).ID
	okGroup, noGroup := topicName(t, "gok"), topicName(t, "gno")
	for _, b := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:ANONYMOUS").Topics(okTopic).Operations(kadm.OpRead, kadm.OpDescribe),
		// Every group named okGroup...: heartbeat and fetch in okGroup,
		// offsets admin in okGroup-admin (which must stay empty).
		kadm.NewACLs().Allow("User:ANONYMOUS").Groups(okGroup).ResourcePatternType(kadm.ACLPatternPrefixed).
			Operations(kadm.OpRead, kadm.OpDescribe, kadm.OpDelete),
	} {
		if res, err := adm.CreateACLs(ctx, b); err != nil || res[0].Err != nil {
			t.Fatalf("create ACLs: %v %+v", err, res)
		}
	}
	delete(tb.props, "super.users")
	tb.Restart()
	cl := newClient(t, tb.Addr())
	send := func(req kmsg.Request) kmsg.Response {
		t.Helper()
		resp, err := cl.Broker(1).Request(ctx, req) // straight to the broker: no metadata step
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	const member = "0123456789abcdef0123456789abcdef"

	// 76 ShareGroupHeartbeat.
	hb := func(group string, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
		r := kmsg.NewPtrShareGroupHeartbeatRequest()
		r.GroupID, r.MemberID, r.SubscribedTopicNames = group, member, topics
		return send(r).(*kmsg.ShareGroupHeartbeatResponse)
	}
	if r := hb(noGroup, okTopic); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("heartbeat without READ on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := hb(okGroup, okTopic, noTopic); r.ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("heartbeat subscribing to a topic without DESCRIBE: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := hb(okGroup, okTopic); r.ErrorCode != 0 || r.MemberEpoch != 1 {
		t.Fatalf("authorized heartbeat: %v epoch %d", kerr.ErrorForCode(r.ErrorCode), r.MemberEpoch)
	}

	// 77 ShareGroupDescribe: per group.
	dreq := kmsg.NewPtrShareGroupDescribeRequest()
	dreq.GroupIDs = []string{okGroup, noGroup}
	d := send(dreq).(*kmsg.ShareGroupDescribeResponse)
	if len(d.Groups) != 2 || d.Groups[0].ErrorCode != 0 || len(d.Groups[0].Members) != 1 ||
		d.Groups[1].ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("describe: %+v", d.Groups)
	}

	// 78 ShareFetch: the group first, then each partition.
	fetch := func(group string, ids ...[16]byte) *kmsg.ShareFetchResponse {
		r := kmsg.NewPtrShareFetchRequest()
		r.GroupID, r.MemberID = kmsg.StringPtr(group), kmsg.StringPtr(member)
		r.MaxBytes, r.MaxRecords, r.BatchSize = 1<<20, 10, 10
		for _, id := range ids {
			ft := kmsg.NewShareFetchRequestTopic()
			ft.TopicID = id
			ft.Partitions = []kmsg.ShareFetchRequestTopicPartition{kmsg.NewShareFetchRequestTopicPartition()}
			r.Topics = append(r.Topics, ft)
		}
		return send(r).(*kmsg.ShareFetchResponse)
	}
	if r := fetch(noGroup, okID); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("share fetch without READ on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	f := fetch(okGroup, okID, noID)
	if f.ErrorCode != 0 {
		t.Fatalf("share fetch: %v", kerr.ErrorForCode(f.ErrorCode))
	}
	codes := map[[16]byte]int16{}
	for _, rt := range f.Topics {
		for _, p := range rt.Partitions {
			codes[rt.TopicID] = p.ErrorCode
		}
	}
	if codes[okID] != 0 || codes[noID] != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("share fetch partition errors: ok %v, no %v", kerr.ErrorForCode(codes[okID]), kerr.ErrorForCode(codes[noID]))
	}

	// 79 ShareAcknowledge.
	ack := kmsg.NewPtrShareAcknowledgeRequest()
	ack.GroupID, ack.MemberID, ack.ShareSessionEpoch = kmsg.StringPtr(noGroup), kmsg.StringPtr(member), 1
	if r := send(ack).(*kmsg.ShareAcknowledgeResponse); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("share acknowledge without READ on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	admin := okGroup + "-admin" // created (empty) by the first authorized alter
	// 91 AlterShareGroupOffsets.
	alter := func(group string) *kmsg.AlterShareGroupOffsetsResponse {
		r := kmsg.NewPtrAlterShareGroupOffsetsRequest()
		r.GroupID = group
		for _, name := range []string{okTopic, noTopic} {
			rt := kmsg.NewAlterShareGroupOffsetsRequestTopic()
			rt.Topic = name
			rp := kmsg.NewAlterShareGroupOffsetsRequestTopicPartition()
			rp.StartOffset = 0
			rt.Partitions = append(rt.Partitions, rp)
			r.Topics = append(r.Topics, rt)
		}
		return send(r).(*kmsg.AlterShareGroupOffsetsResponse)
	}
	if r := alter(noGroup); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("alter offsets without READ on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := alter(admin); r.ErrorCode != 0 || len(r.Topics) != 2 || r.Topics[0].Partitions[0].ErrorCode != 0 ||
		r.Topics[1].Topic != noTopic || r.Topics[1].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("alter offsets: %+v", r)
	}
	// okGroup has a member: the coordinator refuses the whole request, and
	// the topic refused by the authorizer is still answered as such.
	if r := alter(okGroup); r.ErrorCode != kerr.NonEmptyGroup.Code || len(r.Topics) == 0 ||
		r.Topics[len(r.Topics)-1].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("alter offsets of a group with members: %+v", r)
	}

	// 90 DescribeShareGroupOffsets (of the group the alter created): per
	// group; a named topic without DESCRIBE fails alone.
	desc := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	for _, g := range []string{admin, noGroup} {
		rg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
		rg.GroupID = g
		for _, name := range []string{okTopic, noTopic} {
			rt := kmsg.NewDescribeShareGroupOffsetsRequestGroupTopic()
			rt.Topic, rt.Partitions = name, []int32{0}
			rg.Topics = append(rg.Topics, rt)
		}
		desc.Groups = append(desc.Groups, rg)
	}
	do := send(desc).(*kmsg.DescribeShareGroupOffsetsResponse)
	if len(do.Groups) != 2 || do.Groups[1].ErrorCode != kerr.GroupAuthorizationFailed.Code || do.Groups[0].ErrorCode != 0 {
		t.Fatalf("describe offsets: %+v", do.Groups)
	}
	for _, rt := range do.Groups[0].Topics {
		want := int16(0)
		if rt.Topic == noTopic {
			want = kerr.TopicAuthorizationFailed.Code
		}
		if len(rt.Partitions) != 1 || rt.Partitions[0].ErrorCode != want {
			t.Fatalf("describe offsets of %s: %+v", rt.Topic, rt.Partitions)
		}
	}

	// 92 DeleteShareGroupOffsets.
	del := func(group string) *kmsg.DeleteShareGroupOffsetsResponse {
		r := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
		r.GroupID = group
		for _, name := range []string{okTopic, noTopic} {
			rt := kmsg.NewDeleteShareGroupOffsetsRequestTopic()
			rt.Topic = name
			r.Topics = append(r.Topics, rt)
		}
		return send(r).(*kmsg.DeleteShareGroupOffsetsResponse)
	}
	if r := del(noGroup); r.ErrorCode != kerr.GroupAuthorizationFailed.Code {
		t.Fatalf("delete offsets without DELETE on the group: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	if r := del(admin); r.ErrorCode != 0 || len(r.Topics) != 2 || r.Topics[0].ErrorCode != 0 ||
		r.Topics[1].Topic != noTopic || r.Topics[1].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("delete offsets: %+v", r)
	}
}
