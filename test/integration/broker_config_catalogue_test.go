package integration

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// describeBroker describes resource name of the broker with synonyms and
// documentation and returns its configs by name.
func describeBroker(t *testing.T, addr, name string) map[string]kmsg.DescribeConfigsResponseResourceConfig {
	t.Helper()
	req := kmsg.NewPtrDescribeConfigsRequest()
	req.IncludeSynonyms, req.IncludeDocumentation = true, true
	r := kmsg.NewDescribeConfigsRequestResource()
	r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeBroker, name
	req.Resources = append(req.Resources, r)
	resp := direct(t, addr, req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 1 || resp.Resources[0].ErrorCode != 0 {
		t.Fatalf("describe broker %q: %+v", name, resp.Resources)
	}
	out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
	for _, c := range resp.Resources[0].Configs {
		out[c.Name] = c
	}
	return out
}

// TestBrokerConfigCatalogue: broker resources take Kafka's config names the
// way a Kafka broker does. Dynamic configs Sluice does not implement are
// accepted and described (documented as having no effect); read-only ones,
// per-broker ones at the cluster default and listener-only security
// configs are refused with INVALID_REQUEST and Kafka's messages; custom
// names are accepted.
func TestBrokerConfigCatalogue(t *testing.T) {
	t.Parallel()
	tb := startBroker(t)
	addr := tb.Addr()
	set := kmsg.IncrementalAlterConfigOpSet
	brokerT := kmsg.ConfigResourceTypeBroker

	ok := []struct{ resource, name, value string }{
		{"1", "sasl.kerberos.min.time.before.relogin", "30000"},
		{"1", "listener.name.external.ssl.keystore.location", "/etc/keystore.jks"},
		{"1", "num.network.threads", "6"},
		{"", "log.cleaner.io.max.bytes.per.second", "1048576"},
		{"", "num.io.threads", "16"},
		{"", "log.cleaner.backoff.ms", "20000"},
		{"", "my.custom.config", "anything"},
	}
	for _, c := range ok {
		if r := incAlter(t, addr, false, incRes(brokerT, c.resource, incOp(c.name, set, strp(c.value)))); r[0].ErrorCode != 0 {
			t.Errorf("set %s=%s on %q: %s %v", c.name, c.value, c.resource, kerr.ErrorForCode(r[0].ErrorCode), r[0].ErrorMessage)
		}
	}
	refused := []struct{ resource, name, value, msg string }{
		{"1", "num.partitions", "3", "Cannot update these configs dynamically: Set(num.partitions)"},
		{"1", "security.inter.broker.protocol", "SSL", "Cannot update these configs dynamically"},
		{"", "sasl.kerberos.min.time.before.relogin", "30000", "Cannot update these configs at default cluster level, broker id must be specified"},
		{"", "listeners", "PLAINTEXT://:9092", "broker id must be specified"},
		{"1", "ssl.keystore.location", "/k", "only per-listener using the listener prefix"},
		{"1", "num.io.threads", "many", "num.io.threads"},
		// Thread counts move within half and double of the current value.
		{"", "num.io.threads", "100", "value should not be greater than double the current value 16"},
		{"", "log.cleaner.threads", "0", "Log cleaner threads should be at least 1"},
	}
	for _, c := range refused {
		r := incAlter(t, addr, false, incRes(brokerT, c.resource, incOp(c.name, set, strp(c.value))))
		if r[0].ErrorCode != kerr.InvalidRequest.Code || r[0].ErrorMessage == nil || !strings.Contains(*r[0].ErrorMessage, c.msg) {
			t.Errorf("set %s=%s on %q: %s %v, want INVALID_REQUEST %q", c.name, c.value, c.resource,
				kerr.ErrorForCode(r[0].ErrorCode), r[0].ErrorMessage, c.msg)
		}
	}

	// The legacy AlterConfigs takes them too (kadm, as tools send it).
	adm := newAdmin(t, addr)
	resps, err := adm.AlterBrokerConfigsState(testCtx(t, 10*time.Second), []kadm.AlterConfig{
		{Name: "sasl.kerberos.min.time.before.relogin", Value: strp("45000")},
		{Name: "background.threads", Value: strp("12")},
	}, 1)
	if err != nil || resps[0].Err != nil {
		t.Fatalf("legacy AlterConfigs: %v %+v", err, resps)
	}

	got := describeBroker(t, addr, "1")
	c := got["sasl.kerberos.min.time.before.relogin"]
	if c.Value == nil || *c.Value != "45000" || c.Source != kmsg.ConfigSourceDynamicBrokerConfig || c.ReadOnly ||
		c.ConfigType != kmsg.ConfigTypeLong || c.Documentation == nil || !strings.Contains(*c.Documentation, "does not implement") {
		t.Errorf("sasl.kerberos.min.time.before.relogin: %+v (doc %v)", c, c.Documentation)
	}
	if c := got["security.inter.broker.protocol"]; c.Value == nil || *c.Value != "PLAINTEXT" || !c.ReadOnly || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("security.inter.broker.protocol: %+v", c)
	}
	if c := got["listeners"]; c.ReadOnly || c.Documentation == nil || !strings.Contains(*c.Documentation, "applies only the value it started with") {
		t.Errorf("listeners: %+v (doc %v)", c, c.Documentation)
	}
	if c := got["ssl.keystore.password"]; !c.IsSensitive || c.Value != nil || c.ConfigType != kmsg.ConfigTypePassword {
		t.Errorf("ssl.keystore.password: %+v", c)
	}
	// Custom names are reported as Kafka does: sensitive, type UNKNOWN.
	if c := got["my.custom.config"]; !c.IsSensitive || c.Value != nil || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("my.custom.config: %+v", c)
	}
	if c := got["num.io.threads"]; c.Value == nil || *c.Value != "16" || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig {
		t.Errorf("num.io.threads: %+v", c)
	}
	// The legacy AlterConfigs replaced broker 1's dynamic set.
	if c := got["num.network.threads"]; c.Value == nil || *c.Value != "3" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("num.network.threads after the replace: %+v", c)
	}

	defaults := describeBroker(t, addr, "")
	for _, name := range []string{"log.cleaner.io.max.bytes.per.second", "num.io.threads", "log.cleaner.backoff.ms", "my.custom.config"} {
		c, ok := defaults[name]
		if !ok || c.Source != kmsg.ConfigSourceDynamicDefaultBrokerConfig || len(c.ConfigSynonyms) != 1 {
			t.Errorf("default resource %s: %+v (listed %v)", name, c, ok)
		}
	}
	if _, ok := defaults["sasl.kerberos.min.time.before.relogin"]; ok {
		t.Errorf("the default resource lists a per-broker config")
	}
}

// TestDynamicLogCleanerConfigs: the log cleaner's settings apply at
// runtime. A broker started with a one-hour log.cleaner.backoff.ms leaves a
// dirty compacted topic alone; a dynamic log.cleaner.backoff.ms (and
// log.cleaner.threads) at the cluster default wakes the cleaner, which
// compacts it to one record per key.
func TestDynamicLogCleanerConfigs(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withProp("log.cleaner.backoff.ms", "3600000"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, map[string]*string{
		"cleanup.policy":            kadm.StringPtr("compact"),
		"segment.bytes":             kadm.StringPtr("1024"),
		"min.cleanable.dirty.ratio": kadm.StringPtr("0.01"),
	})
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	const keys, rounds = 5, 40
	for round := range rounds {
		var rs []*kgo.Record
		for k := range keys {
			rs = append(rs, &kgo.Record{Key: []byte(fmt.Sprintf("key-%d", k)), Value: []byte(fmt.Sprintf("value-%d-%d", k, round))})
		}
		if err := cl.ProduceSync(testCtx(t, 10*time.Second), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if recs, err := consumeCompacted(t, tb.Addr(), topic); err != nil || len(recs) != keys*rounds {
		t.Fatalf("before the change: %d records (%v), want all %d: the cleaner should be asleep", len(recs), err, keys*rounds)
	}

	brokerT, set := kmsg.ConfigResourceTypeBroker, kmsg.IncrementalAlterConfigOpSet
	if r := incAlter(t, tb.Addr(), false, incRes(brokerT, "",
		incOp("log.cleaner.backoff.ms", set, strp("50")), incOp("log.cleaner.threads", set, strp("2")))); r[0].ErrorCode != 0 {
		t.Fatalf("set log.cleaner.*: %s %v", kerr.ErrorForCode(r[0].ErrorCode), r[0].ErrorMessage)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		recs, err := consumeCompacted(t, tb.Addr(), topic)
		// Only the active segment keeps duplicates.
		if err == nil && len(recs) < keys*rounds/2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted after the dynamic change: %d records (%v)", len(recs), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := incAlter(t, tb.Addr(), false, incRes(brokerT, "", incOp("log.cleaner.threads", set, strp("0")))); r[0].ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("log.cleaner.threads=0: %s, want INVALID_REQUEST", kerr.ErrorForCode(r[0].ErrorCode))
	}
}

// TestDescribeConfigsSynonymsLikeKafka: synonyms as Kafka lists them, in
// its order: a topic config's override, then its broker synonym's layers
// from the first entry for that synonym itself (so retention.ms has none
// when only log.retention.hours is set, and no DEFAULT log.retention.ms
// ever); the broker's own entries the same way.
func TestDescribeConfigsSynonymsLikeKafka(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withProp("log.retention.hours", "2"), withProp("log.segment.bytes", "4194304"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "syn")
	createTopic(t, adm, topic, 1, map[string]*string{"segment.bytes": kadm.StringPtr("1048576")})

	type syn struct {
		name, value string
		src         kmsg.ConfigSource
	}
	check := func(what string, c kmsg.DescribeConfigsResponseResourceConfig, want []syn) {
		t.Helper()
		var got []syn
		for _, s := range c.ConfigSynonyms {
			v := ""
			if s.Value != nil {
				v = *s.Value
			}
			got = append(got, syn{s.Name, v, s.Source})
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s synonyms %v, want %v", what, got, want)
		}
	}
	describeTopic := func() map[string]kmsg.DescribeConfigsResponseResourceConfig {
		req := kmsg.NewPtrDescribeConfigsRequest()
		req.IncludeSynonyms = true
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName = kmsg.ConfigResourceTypeTopic, topic
		req.Resources = append(req.Resources, r)
		resp := direct(t, tb.Addr(), req).(*kmsg.DescribeConfigsResponse)
		out := map[string]kmsg.DescribeConfigsResponseResourceConfig{}
		for _, c := range resp.Resources[0].Configs {
			out[c.Name] = c
		}
		return out
	}
	got := describeTopic()
	if c := got["retention.ms"]; c.Value == nil || *c.Value != "7200000" || c.Source != kmsg.ConfigSourceDefaultConfig {
		t.Errorf("retention.ms %+v", c)
	}
	check("retention.ms", got["retention.ms"], nil)
	check("segment.bytes", got["segment.bytes"], []syn{
		{"segment.bytes", "1048576", kmsg.ConfigSourceDynamicTopicConfig},
		{"log.segment.bytes", "4194304", kmsg.ConfigSourceStaticBrokerConfig},
		{"log.segment.bytes", "1073741824", kmsg.ConfigSourceDefaultConfig},
	})
	check("remote.storage.enable", got["remote.storage.enable"], nil)

	brokerT, set := kmsg.ConfigResourceTypeBroker, kmsg.IncrementalAlterConfigOpSet
	if r := incAlter(t, tb.Addr(), false, incRes(brokerT, "", incOp("log.retention.ms", set, strp("60000")))); r[0].ErrorCode != 0 {
		t.Fatalf("set log.retention.ms: %s", kerr.ErrorForCode(r[0].ErrorCode))
	}
	got = describeTopic()
	check("retention.ms after a dynamic default", got["retention.ms"], []syn{
		{"log.retention.ms", "60000", kmsg.ConfigSourceDynamicDefaultBrokerConfig},
		{"log.retention.hours", "2", kmsg.ConfigSourceStaticBrokerConfig},
		{"log.retention.hours", "168", kmsg.ConfigSourceDefaultConfig},
	})
	b := describeBroker(t, tb.Addr(), "1")
	check("broker log.retention.hours", b["log.retention.hours"], []syn{
		{"log.retention.hours", "2", kmsg.ConfigSourceStaticBrokerConfig},
		{"log.retention.hours", "168", kmsg.ConfigSourceDefaultConfig},
	})
	if c := b["log.retention.minutes"]; c.Value != nil || c.Source != kmsg.ConfigSourceDefaultConfig || len(c.ConfigSynonyms) != 0 {
		t.Errorf("log.retention.minutes %+v, want null from DEFAULT_CONFIG", c)
	}
}

// TestDescribeConfigsDeniedLast: as Kafka, DescribeConfigs answers the
// resources the client may describe first, in request order, then the
// denied ones.
func TestDescribeConfigsDeniedLast(t *testing.T) {
	t.Parallel()
	tb := startBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 30*time.Second)
	open, closed := topicName(t, "open"), topicName(t, "closed")
	createTopic(t, adm, open, 1, nil)
	createTopic(t, adm, closed, 1, nil)
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:ANONYMOUS").Topics(open).Operations(kadm.OpDescribeConfigs)); err != nil || res[0].Err != nil {
		t.Fatalf("topic ACL: %v %+v", err, res)
	}
	delete(tb.props, "super.users")
	tb.Restart()

	req := kmsg.NewPtrDescribeConfigsRequest()
	for _, name := range []string{closed, open} {
		r := kmsg.NewDescribeConfigsRequestResource()
		r.ResourceType, r.ResourceName, r.ConfigNames = kmsg.ConfigResourceTypeTopic, name, []string{"retention.ms"}
		req.Resources = append(req.Resources, r)
	}
	resp := direct(t, tb.Addr(), req).(*kmsg.DescribeConfigsResponse)
	if len(resp.Resources) != 2 || resp.Resources[0].ResourceName != open || resp.Resources[0].ErrorCode != 0 ||
		resp.Resources[1].ResourceName != closed || resp.Resources[1].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Errorf("resources %+v, want %s described then %s denied", resp.Resources, open, closed)
	}
}
