package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// configOf finds key in a described resource.
func configOf(t *testing.T, rc kadm.ResourceConfig, key string) kadm.Config {
	t.Helper()
	for _, c := range rc.Configs {
		if c.Key == key {
			return c
		}
	}
	t.Errorf("%s: config %q not described", rc.Name, key)
	return kadm.Config{Key: key}
}

func checkConfig(t *testing.T, rc kadm.ResourceConfig, key, value string, source kmsg.ConfigSource) {
	t.Helper()
	c := configOf(t, rc, key)
	if c.Value == nil || *c.Value != value || c.Source != source {
		t.Errorf("%s: %s = %q (%v), want %q (%v)", rc.Name, key, c.MaybeValue(), c.Source, value, source)
	}
}

// TestDescribeConfigs: topic overrides are DYNAMIC_TOPIC_CONFIG, defaults
// are present (from the broker's static config when it sets the synonym),
// and the broker is described under resource name "1".
func TestDescribeConfigs(t *testing.T) {
	tb := startBroker(t, withProp("num.partitions", "3"), withProp("log.retention.ms", "86400000"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)

	over := topicName(t, "overrides")
	plain := topicName(t, "plain")
	createTopic(t, adm, over, 1, map[string]*string{
		"retention.ms":  kadm.StringPtr("3600000"),
		"segment.bytes": kadm.StringPtr("1048576"),
	})
	createTopic(t, adm, plain, 1, nil)

	rcs, err := adm.DescribeTopicConfigs(ctx, over, plain)
	if err != nil {
		t.Fatalf("describe topic configs: %v", err)
	}
	o, err := rcs.On(over, nil)
	if err != nil || o.Err != nil {
		t.Fatalf("describe %q: %v / %v", over, err, o.Err)
	}
	checkConfig(t, o, "retention.ms", "3600000", kmsg.ConfigSourceDynamicTopicConfig)
	checkConfig(t, o, "segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig)
	checkConfig(t, o, "max.message.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)
	checkConfig(t, o, "cleanup.policy", "delete", kmsg.ConfigSourceDefaultConfig)
	checkConfig(t, o, "compression.type", "producer", kmsg.ConfigSourceDefaultConfig)
	for _, key := range []string{"retention.bytes", "min.insync.replicas", "message.timestamp.type", "segment.ms", "flush.messages"} {
		configOf(t, o, key)
	}
	if c := configOf(t, o, "retention.ms"); len(c.Synonyms) == 0 || c.Synonyms[0].Source != kmsg.ConfigSourceDynamicTopicConfig {
		t.Errorf("retention.ms synonyms %+v: want the topic override first", c.Synonyms)
	}

	p, err := rcs.On(plain, nil)
	if err != nil || p.Err != nil {
		t.Fatalf("describe %q: %v / %v", plain, err, p.Err)
	}
	// The broker sets log.retention.ms, the synonym of retention.ms.
	checkConfig(t, p, "retention.ms", "86400000", kmsg.ConfigSourceStaticBrokerConfig)
	checkConfig(t, p, "segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig)

	// Only the requested config names come back.
	req := kmsg.NewPtrDescribeConfigsRequest()
	rr := kmsg.NewDescribeConfigsRequestResource()
	rr.ResourceType, rr.ResourceName = kmsg.ConfigResourceTypeTopic, over
	rr.ConfigNames = []string{"retention.ms", "cleanup.policy"}
	req.Resources = append(req.Resources, rr)
	resp, err := req.RequestWith(ctx, newClient(t, tb.Addr()))
	if err != nil {
		t.Fatalf("describe configs by name: %v", err)
	}
	var names []string
	for _, r := range resp.Resources {
		for _, c := range r.Configs {
			names = append(names, c.Name)
		}
	}
	if len(names) != 2 || !(names[0] == "retention.ms" && names[1] == "cleanup.policy" || names[1] == "retention.ms" && names[0] == "cleanup.policy") {
		t.Errorf("describe configs for [retention.ms cleanup.policy]: got %v", names)
	}

	missing := topicName(t, "missing")
	rcs, err = adm.DescribeTopicConfigs(ctx, missing)
	if err != nil {
		t.Fatalf("describe missing topic: %v", err)
	}
	if m, err := rcs.On(missing, nil); err != nil || !errors.Is(m.Err, kerr.UnknownTopicOrPartition) {
		t.Errorf("describe missing topic: %v / %v, want UNKNOWN_TOPIC_OR_PARTITION", err, m.Err)
	}

	brs, err := adm.DescribeBrokerConfigs(ctx, brokerNodeID)
	if err != nil {
		t.Fatalf("describe broker configs: %v", err)
	}
	b, err := brs.On("1", nil)
	if err != nil || b.Err != nil {
		t.Fatalf("describe broker \"1\": %v / %v", err, b.Err)
	}
	checkConfig(t, b, "num.partitions", "3", kmsg.ConfigSourceStaticBrokerConfig)
	checkConfig(t, b, "log.retention.ms", "86400000", kmsg.ConfigSourceStaticBrokerConfig)
	checkConfig(t, b, "message.max.bytes", "1048588", kmsg.ConfigSourceDefaultConfig)
	checkConfig(t, b, "auto.create.topics.enable", "true", kmsg.ConfigSourceDefaultConfig)
}
