package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// brokerConfigSource describes one config of broker resource name ("" is
// the cluster default) and returns its value and source.
func brokerConfigSource(t *testing.T, addr, name, key string) (string, kmsg.ConfigSource, bool) {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeBroker, name, []string{key}
	req.Resources = append(req.Resources, r)
	resp := direct(t, addr, req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe broker %q: %+v", name, resp.Resources)
	}
	for _, c := range resp.Resources[0].Configs {
		if c.Name == key && c.Value != nil {
			return *c.Value, c.Source, true
		}
	}
	return "", 0, false
}

// TestDynamicBrokerConfigs checks that a dynamic broker config changes what
// the broker does at once (message.max.bytes bounds produce), that sources
// follow Kafka's precedence (per-broker, cluster default, static, default),
// that topic configs follow broker-level defaults, and that dynamic configs
// survive a restart.
func TestDynamicBrokerConfigs(t *testing.T) {
	tb := startBroker(t, withProp("log.retention.ms", "7200000"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "dyn")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.ProducerBatchMaxBytes(1<<20), kgo.RecordRetries(0))
	produce := func(size int) error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		v := make([]byte, size)
		rand.Read(v) // incompressible: the batch stays larger than the limit
		return cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: v}).FirstErr()
	}
	if err := produce(20000); err != nil {
		t.Fatalf("produce before: %v", err)
	}

	set, del := kmsg.IncrementalAlterConfigOpSet, kmsg.IncrementalAlterConfigOpDelete
	brokerT := kmsg.ConfigResourceTypeBroker
	if r := incAlter(t, tb.Addr(), false, incRes(brokerT, "1", incOp("message.max.bytes", set, strp("10000")))); r[0].ErrorCode != 0 {
		t.Fatalf("set message.max.bytes: %d %v", r[0].ErrorCode, r[0].ErrorMessage)
	}
	if err := produce(20000); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("produce over the dynamic message.max.bytes: %v, want MESSAGE_TOO_LARGE", err)
	}
	if v, src, _ := brokerConfigSource(t, tb.Addr(), "1", "message.max.bytes"); v != "10000" || src != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("message.max.bytes = %q from %v", v, src)
	}

	// The cluster default sits between per-broker and static; the topic's
	// retention.ms follows it and names it as the source.
	if r := incAlter(t, tb.Addr(), false, incRes(brokerT, "", incOp("log.retention.ms", set, strp("3600000")))); r[0].ErrorCode != 0 {
		t.Fatalf("set cluster default: %d %v", r[0].ErrorCode, r[0].ErrorMessage)
	}
	if v, src, ok := brokerConfigSource(t, tb.Addr(), "", "log.retention.ms"); !ok || v != "3600000" || src != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("default resource log.retention.ms = %q from %v (listed %v)", v, src, ok)
	}
	if _, _, ok := brokerConfigSource(t, tb.Addr(), "", "message.max.bytes"); ok {
		t.Errorf("the default resource lists a per-broker config")
	}
	checkTopicRetention := func(want string, wantSrc kmsg.ConfigSource) {
		t.Helper()
		rcs, err := adm.DescribeTopicConfigs(testCtx(t, 10*time.Second), topic)
		if err != nil {
			t.Fatal(err)
		}
		c, err := rcs.On(topic, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range c.Configs {
			if e.Key == "retention.ms" && (e.Value == nil || *e.Value != want || e.Source != wantSrc) {
				t.Errorf("topic retention.ms = %v from %v, want %s from %v", e.MaybeValue(), e.Source, want, wantSrc)
			}
		}
	}
	checkTopicRetention("3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)

	// validate_only changes nothing.
	if r := incAlter(t, tb.Addr(), true, incRes(brokerT, "1", incOp("log.retention.ms", set, strp("1000")))); r[0].ErrorCode != 0 {
		t.Fatalf("validate only: %d", r[0].ErrorCode)
	}
	checkTopicRetention("3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)

	tb.Restart()
	if err := produce(20000); !errors.Is(err, kerr.MessageTooLarge) {
		t.Fatalf("after restart, produce over the dynamic message.max.bytes: %v", err)
	}
	checkTopicRetention("3600000", kmsg.ConfigSourceDynamicDefaultBrokerConfig)

	// Deleting the dynamic values goes back to the static ones.
	incAlter(t, tb.Addr(), false, incRes(brokerT, "1", incOp("message.max.bytes", del, nil)))
	incAlter(t, tb.Addr(), false, incRes(brokerT, "", incOp("log.retention.ms", del, nil)))
	if err := produce(20000); err != nil {
		t.Fatalf("produce after delete: %v", err)
	}
	checkTopicRetention("7200000", kmsg.ConfigSourceStaticBrokerConfig)
}

// TestDynamicBrokerConfigsKadm checks kadm's broker config calls, as
// operators' tools use them, including the legacy full-replace AlterConfigs.
func TestDynamicBrokerConfigsKadm(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 20*time.Second)
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.cleanup.policy", Op: kadm.AppendConfig, Value: strp("compact")}}, 1)
	if err != nil || resps[0].Err != nil {
		t.Fatalf("append: %v %+v", err, resps)
	}
	if v, src, _ := brokerConfigSource(t, tb.Addr(), "1", "log.cleanup.policy"); v != "delete,compact" || src != kmsg.ConfigSourceDynamicBrokerConfig {
		t.Errorf("after append: %q from %v", v, src)
	}
	// AlterConfigs (legacy) replaces the resource's whole dynamic set.
	if _, err := adm.AlterBrokerConfigsState(ctx, []kadm.AlterConfig{{Name: "log.segment.bytes", Value: strp("1048576")}}, 1); err != nil {
		t.Fatal(err)
	}
	if v, src, _ := brokerConfigSource(t, tb.Addr(), "1", "log.cleanup.policy"); v != "delete" || src != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("after replace, log.cleanup.policy = %q from %v", v, src)
	}
	resps, err = adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{{Name: "log.dirs", Value: strp("/tmp/x")}}, 1)
	if err != nil || !errors.Is(resps[0].Err, kerr.InvalidRequest) || !strings.Contains(resps[0].ErrMessage, "dynamically") {
		t.Errorf("log.dirs: %v %+v", err, resps)
	}
}
