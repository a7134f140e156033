package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// setClientQuota sets (or with remove, removes) key for client-id id.
func setClientQuota(t *testing.T, adm *kadm.Client, id, key string, value float64, remove bool) {
	t.Helper()
	res, err := adm.AlterClientQuotas(testCtx(t, 10*time.Second), []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kmsg.StringPtr(id)}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: key, Value: value, Remove: remove}},
	}})
	if err == nil && len(res) == 1 {
		err = res[0].Err
	}
	if err != nil {
		t.Fatalf("quota %s=%v for %s: %v", key, value, id, err)
	}
}

// createTopicsV sends CreateTopics at version v for one topic.
func createTopicsV(t *testing.T, cl *kgo.Client, v int16, topic string, partitions int32) kmsg.CreateTopicsResponse {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.SetVersion(v)
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, partitions, 1
	req.Topics = append(req.Topics, rt)
	resp, err := cl.Broker(brokerNodeID).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatal(err)
	}
	return *resp.(*kmsg.CreateTopicsResponse)
}

// TestControllerMutationQuota: with controller_mutation_rate a strict
// (v6+) CreateTopics passes the request that crosses the quota and refuses
// the next with THROTTLING_QUOTA_EXCEEDED; an older version is never
// refused, only throttled; other clients are not affected.
func TestControllerMutationQuota(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	setClientQuota(t, adm, "mutator", "controller_mutation_rate", 1, false)
	// A throttled connection is muted (and franz-go also waits out the
	// throttle), so each request goes on a new connection of the same
	// client id: the quota is per client id, not per connection.
	mutator := func() *kgo.Client { return newClient(t, tb.Addr(), kgo.ClientID("mutator")) }

	first := createTopicsV(t, mutator(), 7, topicName(t, "a"), 20)
	if first.Topics[0].ErrorCode != 0 || first.ThrottleMillis <= 0 {
		t.Fatalf("first create: code %d, throttle %d ms (want accepted and throttled)", first.Topics[0].ErrorCode, first.ThrottleMillis)
	}
	second := createTopicsV(t, mutator(), 7, topicName(t, "b"), 1)
	if second.Topics[0].ErrorCode != kerr.ThrottlingQuotaExceeded.Code || second.ThrottleMillis <= 0 {
		t.Fatalf("second create: code %d, throttle %d ms (want THROTTLING_QUOTA_EXCEEDED)", second.Topics[0].ErrorCode, second.ThrottleMillis)
	}
	v5 := kversion.Stable()
	v5.SetMaxKeyVersion(int16(kmsg.CreateTopics), 5)
	old := createTopicsV(t, newClient(t, tb.Addr(), kgo.ClientID("mutator"), kgo.MaxVersions(v5)), 5, topicName(t, "c"), 1)
	if old.Topics[0].ErrorCode != 0 || old.ThrottleMillis <= 0 {
		t.Fatalf("v5 create: code %d, throttle %d ms (want accepted and throttled)", old.Topics[0].ErrorCode, old.ThrottleMillis)
	}
	other := createTopicsV(t, newClient(t, tb.Addr(), kgo.ClientID("someone-else")), 7, topicName(t, "d"), 20)
	if other.Topics[0].ErrorCode != 0 || other.ThrottleMillis != 0 {
		t.Fatalf("unlimited client: code %d, throttle %d ms", other.Topics[0].ErrorCode, other.ThrottleMillis)
	}
	// DeleteTopics v5+ is strict too.
	dreq := kmsg.NewPtrDeleteTopicsRequest()
	dreq.SetVersion(6)
	dt := kmsg.NewDeleteTopicsRequestTopic()
	dt.Topic = kmsg.StringPtr(topicName(t, "d"))
	dreq.Topics = append(dreq.Topics, dt)
	dresp, err := mutator().Broker(brokerNodeID).Request(testCtx(t, 10*time.Second), dreq)
	if err != nil {
		t.Fatal(err)
	}
	if code := dresp.(*kmsg.DeleteTopicsResponse).Topics[0].ErrorCode; code != kerr.ThrottlingQuotaExceeded.Code {
		t.Fatalf("delete while over the quota: code %d", code)
	}
	setClientQuota(t, adm, "mutator", "controller_mutation_rate", 0, true)
	if r := createTopicsV(t, mutator(), 7, topicName(t, "e"), 1); r.Topics[0].ErrorCode != 0 || r.ThrottleMillis != 0 {
		t.Fatalf("after removing the quota: code %d, throttle %d ms", r.Topics[0].ErrorCode, r.ThrottleMillis)
	}
}

// TestRequestPercentageQuota: a client over request_percentage gets
// throttle times on its responses; an unlimited client does not.
func TestRequestPercentageQuota(t *testing.T) {
	tb := startBroker(t)
	setClientQuota(t, newAdmin(t, tb.Addr()), "busy", "request_percentage", 1e-9, false)
	metadata := func(id string) int32 {
		t.Helper()
		req := kmsg.NewPtrMetadataRequest()
		resp, err := newClient(t, tb.Addr(), kgo.ClientID(id)).Broker(brokerNodeID).Request(testCtx(t, 10*time.Second), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.(*kmsg.MetadataResponse).ThrottleMillis
	}
	if ms := metadata("busy"); ms <= 0 {
		t.Fatalf("client over request_percentage: throttle %d ms", ms)
	}
	if ms := metadata("idle"); ms != 0 {
		t.Fatalf("unlimited client: throttle %d ms", ms)
	}
}
