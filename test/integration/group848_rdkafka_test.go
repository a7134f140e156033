package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// rdkafkaJoin848 is the first ConsumerGroupHeartbeat as librdkafka 2.10+
// sends it with group.protocol=consumer: v1, a member id it made itself,
// the topic names, an empty (not null) SubscribedTopicRegex, no server
// assignor and an empty owned-partitions list. The kcat on the test
// machines is built on librdkafka 2.0.2, which predates KIP-848, so the
// request is sent raw.
func rdkafkaJoin848(group, memberID string, names []string) *kmsg.ConsumerGroupHeartbeatRequest {
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Version = 1
	req.Group, req.MemberID, req.MemberEpoch = group, memberID, 0
	req.RebalanceTimeoutMillis = 300000
	req.SubscribedTopicNames = names
	req.SubscribedTopicRegex = kmsg.StringPtr("")
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	return req
}

func heartbeat848(t *testing.T, cl *kgo.Client, req *kmsg.ConsumerGroupHeartbeatRequest) *kmsg.ConsumerGroupHeartbeatResponse {
	t.Helper()
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != 0 {
		msg := ""
		if resp.ErrorMessage != nil {
			msg = *resp.ErrorMessage
		}
		t.Fatalf("heartbeat of %s: %v %s", req.MemberID, kerr.ErrorForCode(resp.ErrorCode), msg)
	}
	return resp
}

// TestGroup848EmptyRegexJoin: a member joining with topic names and an
// empty regex (librdkafka), and one joining with an empty name list and an
// empty regex, are accepted as Kafka accepts them; the first gets the
// topic's partitions, the second nothing. An empty regex later clears a
// regex subscription.
func TestGroup848EmptyRegexJoin(t *testing.T) {
	t.Parallel()
	_, _, raw, topic := start848Topic(t, 3)
	group := "g848-rdkafka"

	a := heartbeat848(t, raw, rdkafkaJoin848(group, "rdkafka-member-a", []string{topic}))
	if a.MemberEpoch <= 0 {
		t.Fatalf("member a epoch %d", a.MemberEpoch)
	}
	b := heartbeat848(t, raw, rdkafkaJoin848(group, "rdkafka-member-b", []string{}))
	if b.MemberEpoch <= 0 {
		t.Fatalf("member b epoch %d", b.MemberEpoch)
	}

	// Both keep heartbeating (owning what they were given) until the
	// group is stable with a holding all three partitions.
	owned := map[string][]kmsg.ConsumerGroupHeartbeatRequestTopic{}
	epochs := map[string]int32{"rdkafka-member-a": a.MemberEpoch, "rdkafka-member-b": b.MemberEpoch}
	beat := func(id string) {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version, req.Group, req.MemberID, req.MemberEpoch = 1, group, id, epochs[id]
		req.Topics = owned[id]
		if req.Topics == nil {
			req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
		}
		resp := heartbeat848(t, raw, req)
		epochs[id] = resp.MemberEpoch
		if resp.Assignment != nil {
			var ts []kmsg.ConsumerGroupHeartbeatRequestTopic
			for _, at := range resp.Assignment.Topics {
				rt := kmsg.NewConsumerGroupHeartbeatRequestTopic()
				rt.TopicID, rt.Partitions = at.TopicID, at.Partitions
				ts = append(ts, rt)
			}
			owned[id] = ts
		}
	}
	waitFor(t, 20*time.Second, "a owns the topic, b nothing", func() error {
		beat("rdkafka-member-a")
		beat("rdkafka-member-b")
		g, err := describe848(t, raw, group)
		if err != nil {
			return err
		}
		if g.State != "Stable" {
			return fmt.Errorf("state %s", g.State)
		}
		for _, m := range g.Members {
			n := 0
			for _, tp := range m.Assignment.TopicPartitions {
				n += len(tp.Partitions)
			}
			want := 0
			if m.MemberID == "rdkafka-member-a" {
				want = 3
			}
			if n != want {
				return fmt.Errorf("member %s holds %d partitions, want %d", m.MemberID, n, want)
			}
			if m.SubscribedTopicRegex != nil {
				t.Errorf("member %s has regex %q after joining with an empty one", m.MemberID, *m.SubscribedTopicRegex)
			}
		}
		return nil
	})

	// b subscribes by regex, then clears it with "" (and names): the
	// describe shows the regex, then none.
	regex := func(id string, re string, names []string) {
		req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
		req.Version, req.Group, req.MemberID, req.MemberEpoch = 1, group, id, epochs[id]
		req.SubscribedTopicRegex, req.SubscribedTopicNames = kmsg.StringPtr(re), names
		epochs[id] = heartbeat848(t, raw, req).MemberEpoch
	}
	memberRegex := func(id string) (*string, error) {
		g, err := describe848(t, raw, group)
		if err != nil {
			return nil, err
		}
		for _, m := range g.Members {
			if m.MemberID == id {
				return m.SubscribedTopicRegex, nil
			}
		}
		return nil, fmt.Errorf("member %s not in the group", id)
	}
	regex("rdkafka-member-b", topic+".*", nil)
	if re, err := memberRegex("rdkafka-member-b"); err != nil || re == nil || *re != topic+".*" {
		t.Fatalf("regex after subscribing: %v %v", re, err)
	}
	regex("rdkafka-member-b", "", []string{topic})
	if re, err := memberRegex("rdkafka-member-b"); err != nil || re != nil {
		t.Fatalf("regex after clearing: %v %v", re, err)
	}

	// Both null on a join is still INVALID_REQUEST.
	bad := rdkafkaJoin848(group, "rdkafka-member-c", nil)
	bad.SubscribedTopicRegex = nil
	resp, err := bad.RequestWith(testCtx(t, 10*time.Second), raw)
	if err != nil || resp.ErrorCode != kerr.InvalidRequest.Code {
		t.Fatalf("join without names or regex: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
}
