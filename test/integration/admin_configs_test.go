package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func strp(s string) *string { return &s }

// direct sends req to the broker itself, bypassing the client's routing
// of admin requests by resource.
func direct(t *testing.T, addr string, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := newClient(t, addr).Broker(brokerNodeID).Request(testCtx(t, 10*time.Second), req)
	if err != nil {
		t.Fatalf("%s: %v", kmsg.NameForKey(req.Key()), err)
	}
	return resp
}

// incAlter sends one IncrementalAlterConfigs request and returns its
// resources' error codes and messages.
func incAlter(t *testing.T, addr string, validate bool, res ...kmsg.IncrementalAlterConfigsRequestResource) []kmsg.IncrementalAlterConfigsResponseResource {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	req.Resources, req.ValidateOnly = res, validate
	return direct(t, addr, req).(*kmsg.IncrementalAlterConfigsResponse).Resources
}

func incRes(typ kmsg.ConfigResourceType, name string, ops ...kmsg.IncrementalAlterConfigsRequestResourceConfig) kmsg.IncrementalAlterConfigsRequestResource {
	r := kmsg.NewIncrementalAlterConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.Configs = typ, name, ops
	return r
}

func incOp(name string, op kmsg.IncrementalAlterConfigOp, value *string) kmsg.IncrementalAlterConfigsRequestResourceConfig {
	c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
	c.Name, c.Op, c.Value = name, op, value
	return c
}

// topicOverrides reads a topic's dynamic configs with DescribeConfigs.
func topicOverrides(t *testing.T, addr, topic string) map[string]string {
	t.Helper()
	rcs, err := newAdmin(t, addr).DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range rcs[0].Configs {
		if c.Source == kmsg.ConfigSourceDynamicTopicConfig && c.Value != nil {
			out[c.Key] = *c.Value
		}
	}
	return out
}

// TestIncrementalAlterConfigsErrors checks Kafka's error codes per resource.
func TestIncrementalAlterConfigsErrors(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "iac")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	topicT, brokerT := kmsg.ConfigResourceTypeTopic, kmsg.ConfigResourceTypeBroker
	set, del, app := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete, kmsg.IncrementalAlterConfigOpAppend

	for _, tc := range []struct {
		name string
		res  []kmsg.IncrementalAlterConfigsRequestResource
		want []*kerr.Error
	}{
		{"unknown topic", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, "no-such", incOp("retention.ms", set, strp("1")))}, []*kerr.Error{kerr.UnknownTopicOrPartition}},
		{"unknown key", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("no.such", set, strp("1")))}, []*kerr.Error{kerr.InvalidConfig}},
		{"bad value", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("retention.ms", set, strp("x")))}, []*kerr.Error{kerr.InvalidConfig}},
		{"append to a non-list", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("retention.ms", app, strp("1")))}, []*kerr.Error{kerr.InvalidConfig}},
		{"null set", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("retention.ms", set, nil))}, []*kerr.Error{kerr.InvalidRequest}},
		{"duplicate key", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("retention.ms", set, strp("1")), incOp("retention.ms", del, nil))}, []*kerr.Error{kerr.InvalidRequest}},
		{"duplicate resource", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, topic, incOp("retention.ms", set, strp("1"))), incRes(topicT, topic, incOp("segment.ms", set, strp("1000")))}, []*kerr.Error{kerr.InvalidRequest, kerr.InvalidRequest}},
		// Kafka's brokers refuse broker config changes with INVALID_REQUEST
		// (KAFKA-13609); unknown names are custom configs and accepted.
		{"static broker config", []kmsg.IncrementalAlterConfigsRequestResource{incRes(brokerT, "1", incOp("num.partitions", set, strp("3")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"per-broker config at the cluster default", []kmsg.IncrementalAlterConfigsRequestResource{incRes(brokerT, "", incOp("listeners", set, strp("PLAINTEXT://:9092")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"bad broker value", []kmsg.IncrementalAlterConfigsRequestResource{incRes(brokerT, "1", incOp("log.segment.bytes", set, strp("1")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"bad broker name", []kmsg.IncrementalAlterConfigsRequestResource{incRes(brokerT, "x", incOp("log.retention.ms", set, strp("1")))}, []*kerr.Error{kerr.InvalidRequest}},
		{"empty topic name", []kmsg.IncrementalAlterConfigsRequestResource{incRes(topicT, "", incOp("retention.ms", set, strp("1")))}, []*kerr.Error{kerr.InvalidRequest}},
	} {
		got := incAlter(t, tb.Addr(), false, tc.res...)
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d resources answered, want %d", tc.name, len(got), len(tc.want))
			continue
		}
		for i, r := range got {
			if r.ErrorCode != tc.want[i].Code || r.ErrorMessage == nil || *r.ErrorMessage == "" {
				t.Errorf("%s: resource %d: code %d (%v), want %s with a message", tc.name, i, r.ErrorCode, r.ErrorMessage, tc.want[i].Message)
			}
		}
	}
	if o := topicOverrides(t, tb.Addr(), topic); len(o) != 0 {
		t.Errorf("failed requests changed the topic: %v", o)
	}

	// validate_only changes nothing; then a real change, persisted across a restart.
	if r := incAlter(t, tb.Addr(), true, incRes(topicT, topic, incOp("retention.ms", set, strp("5000")))); r[0].ErrorCode != 0 {
		t.Fatalf("validate only: code %d", r[0].ErrorCode)
	}
	if o := topicOverrides(t, tb.Addr(), topic); len(o) != 0 {
		t.Errorf("validate_only changed the topic: %v", o)
	}
	if r := incAlter(t, tb.Addr(), false, incRes(topicT, topic, incOp("retention.ms", set, strp("5000")),
		incOp("cleanup.policy", app, strp("compact")))); r[0].ErrorCode != 0 {
		t.Fatalf("alter: code %d %v", r[0].ErrorCode, r[0].ErrorMessage)
	}
	tb.Restart()
	if o := topicOverrides(t, tb.Addr(), topic); o["retention.ms"] != "5000" || o["cleanup.policy"] != "delete,compact" {
		t.Errorf("after restart: %v", o)
	}
}

// TestAlterConfigsReplacesOverrides checks the legacy AlterConfigs: the
// given set replaces every override of the topic.
func TestAlterConfigsReplacesOverrides(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "ac")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, map[string]*string{"retention.ms": strp("1000"), "segment.ms": strp("60000")})
	send := func(validate bool, typ kmsg.ConfigResourceType, name string, kv ...string) []kmsg.AlterConfigsResponseResource {
		req := kmsg.NewPtrAlterConfigsRequest()
		req.ValidateOnly = validate
		r := kmsg.NewAlterConfigsRequestResource()
		r.ResourceType, r.ResourceName = typ, name
		for i := 0; i+1 < len(kv); i += 2 {
			c := kmsg.NewAlterConfigsRequestResourceConfig()
			c.Name, c.Value = kv[i], strp(kv[i+1])
			r.Configs = append(r.Configs, c)
		}
		req.Resources = append(req.Resources, r)
		return direct(t, tb.Addr(), req).(*kmsg.AlterConfigsResponse).Resources
	}
	if r := send(false, kmsg.ConfigResourceTypeTopic, topic, "retention.ms", "2000"); r[0].ErrorCode != 0 {
		t.Fatalf("alter: %d %v", r[0].ErrorCode, r[0].ErrorMessage)
	}
	if o := topicOverrides(t, tb.Addr(), topic); len(o) != 1 || o["retention.ms"] != "2000" {
		t.Errorf("overrides after AlterConfigs: %v (segment.ms must be gone)", o)
	}
	if r := send(false, kmsg.ConfigResourceTypeTopic, topic, "retention.ms", "abc"); r[0].ErrorCode != kerr.InvalidConfig.Code {
		t.Errorf("bad value: code %d", r[0].ErrorCode)
	}
	if r := send(false, kmsg.ConfigResourceTypeTopic, "no-such", "retention.ms", "1"); r[0].ErrorCode != kerr.UnknownTopicOrPartition.Code {
		t.Errorf("unknown topic: code %d", r[0].ErrorCode)
	}
	if r := send(false, kmsg.ConfigResourceTypeBroker, "1", "num.partitions", "3"); r[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("static broker config: code %d", r[0].ErrorCode)
	}
	if r := send(true, kmsg.ConfigResourceTypeTopic, topic, "segment.ms", "1000"); r[0].ErrorCode != 0 {
		t.Errorf("validate only: code %d", r[0].ErrorCode)
	}
	if o := topicOverrides(t, tb.Addr(), topic); len(o) != 1 || o["retention.ms"] != "2000" {
		t.Errorf("validate_only changed overrides: %v", o)
	}
}
