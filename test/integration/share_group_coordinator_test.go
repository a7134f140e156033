package integration

// Share groups (KIP-932), the group coordinator's half: ShareGroupHeartbeat
// and ShareGroupDescribe as kmsg requests over TCP, group configs
// (ConfigResource GROUP) through kadm and kmsg, ListGroups, DescribeGroups,
// DeleteGroups, the share group offset APIs, and a restart keeping the
// group.

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func shareHeartbeat(t *testing.T, cl *kgo.Client, group, member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
	t.Helper()
	req := kmsg.NewPtrShareGroupHeartbeatRequest()
	req.GroupID, req.MemberID, req.MemberEpoch = group, member, epoch
	if topics != nil {
		req.SubscribedTopicNames = topics
	}
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("ShareGroupHeartbeat: %v", err)
	}
	return resp
}

// shareHeartbeatOK retries while the coordinator loads (after a restart)
// and fails on any other error.
func shareHeartbeatOK(t *testing.T, cl *kgo.Client, group, member string, epoch int32, topics ...string) *kmsg.ShareGroupHeartbeatResponse {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp := shareHeartbeat(t, cl, group, member, epoch, topics...)
		err := kerr.ErrorForCode(resp.ErrorCode)
		if err == nil {
			return resp
		}
		if !kerr.IsRetriable(err) || time.Now().After(deadline) {
			t.Fatalf("ShareGroupHeartbeat %s/%s epoch %d: %v", group, member, epoch, err)
		}
	}
}

func shareDescribe(t *testing.T, cl *kgo.Client, group string) kmsg.ShareGroupDescribeResponseGroup {
	t.Helper()
	req := kmsg.NewPtrShareGroupDescribeRequest()
	req.GroupIDs = []string{group}
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("ShareGroupDescribe: %v", err)
	}
	return resp.Groups[0]
}

func assignedCount(a *kmsg.ShareGroupHeartbeatResponseAssignment) int {
	n := 0
	if a != nil {
		for _, t := range a.TopicPartitions {
			n += len(t.Partitions)
		}
	}
	return n
}

// listGroupTypes lists groups (ListGroups v5, optionally filtered by
// type) as id -> "type/state/protocol type".
func listGroupTypes(t *testing.T, cl *kgo.Client, types ...string) map[string]string {
	t.Helper()
	req := kmsg.NewPtrListGroupsRequest()
	req.TypesFilter = types
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, g := range resp.Groups {
		out[g.Group] = g.GroupType + "/" + g.GroupState + "/" + g.ProtocolType
	}
	return out
}

func TestShareGroupCoordinatorMembership(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 3, nil)
	cl := newClient(t, tb.Addr())
	const group = "share-membership"

	// The versions Kafka 4.2 advertises are served.
	versions, err := adm.ApiVersions(testCtx(t, 10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for _, bv := range versions {
		for key, want := range map[int16]int16{76: 1, 77: 1, 90: 1, 91: 0, 92: 0} {
			if v, ok := bv.KeyMaxVersion(key); !ok || v < want {
				t.Errorf("key %d: advertised max %d (%v), want >= %d", key, v, ok, want)
			}
		}
	}

	a := shareHeartbeatOK(t, cl, group, "member-a", 0, topic)
	if a.MemberEpoch != 1 || assignedCount(a.Assignment) != 3 || a.HeartbeatIntervalMillis != 5000 {
		t.Fatalf("first member: epoch %d assigned %d interval %d", a.MemberEpoch, assignedCount(a.Assignment), a.HeartbeatIntervalMillis)
	}
	b := shareHeartbeatOK(t, cl, group, "member-b", 0, topic)
	a = shareHeartbeatOK(t, cl, group, "member-a", a.MemberEpoch)
	if b.MemberEpoch != 2 || a.MemberEpoch != 2 || assignedCount(a.Assignment)+assignedCount(b.Assignment) != 3 {
		t.Fatalf("two members: epochs %d/%d assigned %d+%d", a.MemberEpoch, b.MemberEpoch, assignedCount(a.Assignment), assignedCount(b.Assignment))
	}

	d := shareDescribe(t, cl, group)
	if d.ErrorCode != 0 || d.GroupState != "Stable" || d.Assignor != "simple" || len(d.Members) != 2 || d.GroupEpoch != 2 {
		t.Fatalf("describe: %+v", d)
	}
	for _, m := range d.Members {
		for _, tp := range m.Assignment.TopicPartitions {
			if tp.Topic != topic {
				t.Errorf("member %s assigned topic %q, want %q", m.MemberID, tp.Topic, topic)
			}
		}
	}

	// ListGroups: type "share", state, type filter.
	if got := listGroupTypes(t, cl)[group]; got != "share/Stable/share" {
		t.Fatalf("ListGroups: %q", got)
	}
	if _, ok := listGroupTypes(t, cl, "classic")[group]; ok {
		t.Fatalf("classic filter listed the share group")
	}
	if _, ok := listGroupTypes(t, cl, "share")[group]; !ok {
		t.Fatalf("share filter did not list the share group")
	}

	// DescribeGroups (classic) does not know it; DeleteGroups refuses a
	// group with members; OffsetCommit and JoinGroup answer as Kafka.
	dg, err := adm.DescribeGroups(testCtx(t, 10*time.Second), group)
	if err != nil {
		t.Fatal(err)
	}
	if dg[group].State != "Dead" {
		t.Fatalf("DescribeGroups on a share group: %+v", dg[group])
	}
	if _, err := adm.DeleteGroup(testCtx(t, 10*time.Second), group); !errors.Is(err, kerr.NonEmptyGroup) {
		t.Fatalf("DeleteGroups with members: %v", err)
	}
	creq := kmsg.NewPtrOffsetCommitRequest()
	creq.Group, creq.Generation = group, -1
	ct := kmsg.NewOffsetCommitRequestTopic()
	ct.Topic = topic
	ct.Partitions = []kmsg.OffsetCommitRequestTopicPartition{{Partition: 0, Offset: 1, LeaderEpoch: -1}}
	creq.Topics = append(creq.Topics, ct)
	cresp, err := creq.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := cresp.Topics[0].Partitions[0].ErrorCode; code != kerr.GroupIDNotFound.Code {
		t.Fatalf("OffsetCommit on a share group: %v", kerr.ErrorForCode(code))
	}

	// A share heartbeat for a classic group id is refused.
	classic := "classic-" + group
	creq.Group = classic
	if _, err := creq.RequestWith(testCtx(t, 10*time.Second), cl); err != nil {
		t.Fatal(err)
	}
	if r := shareHeartbeat(t, cl, classic, "m", 0, topic); r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("share heartbeat on a classic group: %v", kerr.ErrorForCode(r.ErrorCode))
	}

	// Both leave; the group is empty and can be deleted.
	for _, m := range []struct {
		id    string
		epoch int32
	}{{"member-a", a.MemberEpoch}, {"member-b", b.MemberEpoch}} {
		if r := shareHeartbeat(t, cl, group, m.id, -1); r.ErrorCode != 0 || r.MemberEpoch != -1 {
			t.Fatalf("leave %s: %v", m.id, kerr.ErrorForCode(r.ErrorCode))
		}
	}
	if d := shareDescribe(t, cl, group); d.GroupState != "Empty" || len(d.Members) != 0 {
		t.Fatalf("after leaving: %+v", d)
	}
	if resp, err := adm.DeleteGroup(testCtx(t, 10*time.Second), group); err != nil || resp.Err != nil {
		t.Fatalf("DeleteGroups: %v %v", err, resp.Err)
	}
	if d := shareDescribe(t, cl, group); d.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("describe after delete: %v", kerr.ErrorForCode(d.ErrorCode))
	}
}

func TestShareGroupCoordinatorConfigs(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	cl := newClient(t, tb.Addr())
	const group = "share-configs"
	ctx := testCtx(t, 20*time.Second)

	// Defaults for a group that does not exist.
	describe := func() map[string]kmsg.DescribeConfigsResponseResourceConfig {
		t.Helper()
		req := kmsg.NewPtrDescribeConfigsRequest()
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil || resp.Resources[0].ErrorCode != 0 {
			t.Fatalf("DescribeConfigs: %v %+v", err, resp)
		}
		out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range resp.Resources[0].Configs {
			out[c.Name] = c
		}
		return out
	}
	want := map[string]string{
		"share.auto.offset.reset":       "latest",
		"share.isolation.level":         "read_uncommitted",
		"share.record.lock.duration.ms": "30000",
		"share.session.timeout.ms":      "45000",
		"share.heartbeat.interval.ms":   "5000",
		"consumer.session.timeout.ms":   "45000",
	}
	got := describe()
	for k, v := range want {
		if c, ok := got[k]; !ok || c.Value == nil || *c.Value != v || c.Source != kmsg.ConfigSourceDefaultConfig {
			t.Errorf("default %s: %+v (want %s)", k, c, v)
		}
	}

	// Set before the group exists, as kgo's tests do.
	set := func(kvs ...string) error {
		req := kmsg.NewPtrIncrementalAlterConfigsRequest()
		r := kmsg.NewIncrementalAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
		for i := 0; i < len(kvs); i += 2 {
			c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
			c.Name, c.Op, c.Value = kvs[i], kmsg.IncrementalAlterConfigOpSet, kmsg.StringPtr(kvs[i+1])
			r.Configs = append(r.Configs, c)
		}
		req.Resources = append(req.Resources, r)
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.Resources[0].ErrorCode)
	}
	if err := set("share.auto.offset.reset", "earliest", "share.record.lock.duration.ms", "15000"); err != nil {
		t.Fatalf("alter: %v", err)
	}
	for _, bad := range [][]string{
		{"share.auto.offset.reset", "sometimes"},
		{"share.isolation.level", "dirty"},
		{"share.record.lock.duration.ms", "10"},
		{"share.session.timeout.ms", "1000"}, // below group.share.min.session.timeout.ms
		{"no.such.config", "1"},
	} {
		if err := set(bad...); !errors.Is(err, kerr.InvalidConfig) {
			t.Errorf("alter %v: %v, want INVALID_CONFIG", bad, err)
		}
	}
	if err := set("share.auto.offset.reset", "by_duration:PT1H30M"); err != nil {
		t.Fatalf("by_duration: %v", err)
	}
	got = describe()
	if c := got["share.auto.offset.reset"]; *c.Value != "by_duration:PT1H30M" || c.Source != kmsg.ConfigSourceGroupConfig {
		t.Errorf("share.auto.offset.reset: %+v", c)
	}
	if c := got["share.record.lock.duration.ms"]; *c.Value != "15000" {
		t.Errorf("share.record.lock.duration.ms: %+v", c)
	}

	// Legacy AlterConfigs replaces the whole set.
	areq := kmsg.NewPtrAlterConfigsRequest()
	ar := kmsg.NewAlterConfigsRequestResource()
	ar.ResourceType, ar.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	ar.Configs = []kmsg.AlterConfigsRequestResourceConfig{{Name: "share.isolation.level", Value: kmsg.StringPtr("read_committed")}}
	areq.Resources = append(areq.Resources, ar)
	aresp, err := areq.RequestWith(ctx, cl)
	if err != nil || aresp.Resources[0].ErrorCode != 0 {
		t.Fatalf("AlterConfigs: %v %+v", err, aresp)
	}
	dreq := kmsg.NewPtrDescribeConfigsRequest()
	dr := kmsg.NewDescribeConfigsRequestResource()
	dr.ResourceType, dr.ResourceName = kmsg.ConfigResourceTypeGroupConfig, group
	dr.ConfigNames = []string{"share.isolation.level", "share.auto.offset.reset"}
	dreq.Resources = append(dreq.Resources, dr)
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, c := range dresp.Resources[0].Configs {
		vals[c.Name] = *c.Value
	}
	if vals["share.isolation.level"] != "read_committed" || vals["share.auto.offset.reset"] != "latest" || len(vals) != 2 {
		t.Fatalf("after AlterConfigs: %v", vals)
	}

	// The heartbeat interval follows the group config.
	if err := set("share.heartbeat.interval.ms", "6000"); err != nil {
		t.Fatal(err)
	}
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	if r := shareHeartbeatOK(t, cl, group, "m", 0, topic); r.HeartbeatIntervalMillis != 6000 {
		t.Fatalf("heartbeat interval %d, want 6000", r.HeartbeatIntervalMillis)
	}
}

func TestShareGroupCoordinatorRestart(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 2, nil)
	cl := newClient(t, tb.Addr())
	const group = "share-restart"

	a := shareHeartbeatOK(t, cl, group, "member-a", 0, topic)
	b := shareHeartbeatOK(t, cl, group, "member-b", 0, topic)
	before := shareDescribe(t, cl, group)

	tb.Restart()
	cl2 := newClient(t, tb.Addr())
	// The members keep their epochs: a heartbeat at the last epoch is
	// accepted (retrying while the coordinator loads).
	a2 := shareHeartbeatOK(t, cl2, group, "member-a", a.MemberEpoch)
	shareHeartbeatOK(t, cl2, group, "member-b", b.MemberEpoch)
	after := shareDescribe(t, cl2, group)
	if after.GroupEpoch != before.GroupEpoch || len(after.Members) != 2 || a2.MemberEpoch != before.GroupEpoch {
		t.Fatalf("after restart: %+v\nbefore: %+v", after, before)
	}
	if got := listGroupTypes(t, cl2)[group]; got != "share/Stable/share" {
		t.Fatalf("ListGroups after restart: %q", got)
	}
}

func TestShareGroupCoordinatorOffsets(t *testing.T) {
	tb := startGroupBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	for range 10 {
		produceSync(t, cl, &kgo.Record{Value: []byte("v")})
	}
	const group = "share-offsets"
	ctx := testCtx(t, 20*time.Second)

	alter := kmsg.NewPtrAlterShareGroupOffsetsRequest()
	alter.GroupID = group
	at := kmsg.NewAlterShareGroupOffsetsRequestTopic()
	at.Topic = topic
	at.Partitions = []kmsg.AlterShareGroupOffsetsRequestTopicPartition{{Partition: 0, StartOffset: 4}}
	alter.Topics = append(alter.Topics, at)
	var aresp *kmsg.AlterShareGroupOffsetsResponse
	deadline := time.Now().Add(15 * time.Second)
	for {
		var err error
		if aresp, err = alter.RequestWith(ctx, cl); err != nil {
			t.Fatal(err)
		}
		if e := kerr.ErrorForCode(aresp.ErrorCode); e == nil || !kerr.IsRetriable(e) || time.Now().After(deadline) {
			break
		}
	}
	if aresp.ErrorCode != 0 || aresp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("alter: %+v", aresp)
	}
	// The alter created the (empty) share group.
	if d := shareDescribe(t, cl, group); d.ErrorCode != 0 || d.GroupState != "Empty" {
		t.Fatalf("describe after alter: %+v", d)
	}
	dreq := kmsg.NewPtrDescribeShareGroupOffsetsRequest()
	dg := kmsg.NewDescribeShareGroupOffsetsRequestGroup()
	dg.GroupID = group
	dreq.Groups = append(dreq.Groups, dg)
	dresp, err := dreq.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	g := dresp.Groups[0]
	if g.ErrorCode != 0 || len(g.Topics) != 1 || g.Topics[0].Topic != topic || g.Topics[0].Partitions[0].StartOffset != 4 {
		t.Fatalf("describe offsets: %+v", g)
	}

	// With a member: NON_EMPTY_GROUP.
	m := shareHeartbeatOK(t, cl, group, "m", 0, topic)
	if r, _ := alter.RequestWith(ctx, cl); r == nil || r.ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("alter with a member: %+v", r)
	}
	del := kmsg.NewPtrDeleteShareGroupOffsetsRequest()
	del.GroupID = group
	del.Topics = []kmsg.DeleteShareGroupOffsetsRequestTopic{{Topic: topic}}
	if r, _ := del.RequestWith(ctx, cl); r == nil || r.ErrorCode != kerr.NonEmptyGroup.Code {
		t.Fatalf("delete with a member: %+v", r)
	}
	if r := shareHeartbeat(t, cl, group, "m", -1); r.ErrorCode != 0 {
		t.Fatalf("leave: %v", kerr.ErrorForCode(r.ErrorCode))
	}
	_ = m
	dr, err := del.RequestWith(ctx, cl)
	if err != nil || dr.ErrorCode != 0 || dr.Topics[0].ErrorCode != 0 {
		t.Fatalf("delete offsets: %v %+v", err, dr)
	}
	// Unknown group.
	del.GroupID = "no-such-share-group"
	if r, _ := del.RequestWith(context.Background(), cl); r == nil || r.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete offsets of an unknown group: %+v", r)
	}
}
