package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadProperties(t *testing.T) {
	in := "# comment\n" +
		"! bang comment \\\n" +
		"   \n" +
		"a=1\n" +
		"b: 2\n" +
		"c 3\n" +
		"  d  =  spaced value  \n" +
		"e = first \\\n    second \\\n  third\n" +
		"f\\=x\\:y = v\\tw\\u0041\\\\\n" +
		"g\r\n" +
		"h=\\\n" +
		"  i=crlf\r\nj=cr\rk=last\\"
	got, err := LoadProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "1", "b": "2", "c": "3", "d": "spaced value  ",
		"e": "first second third", "f=x:y": "v\twA\\", "g": "", "h": "i=crlf", "j": "cr", "k": "last",
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys %q, want %d", len(got), got, len(want))
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %q, want %q", k, got[k], v)
		}
	}
	if _, err := LoadProperties(strings.NewReader("x=\\u12")); err == nil {
		t.Error("malformed \\u escape accepted")
	}
}

func TestDefaultsAndBuild(t *testing.T) {
	b, err := Build(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.LogRetentionMs != 7*24*3600*1000 || b.LogFlushIntervalMessages != 1 || b.LogSegmentBytes != 1<<30 ||
		b.NumPartitions != 1 || !b.AutoCreateTopics || b.MessageMaxBytes != 1048588 || b.LogFlushIntervalMs != -1 {
		t.Errorf("unexpected defaults %+v", b)
	}
	b, err = Build(map[string]string{
		"node.id": " 7 ", "num.partitions": "3", "auto.create.topics.enable": "FALSE",
		"log.segment.bytes": "1048576", "log.cleanup.policy": "compact, delete", "some.unknown.key": "x",
	})
	if err != nil {
		t.Fatal(err)
	}
	if b.NodeID != 7 || b.NumPartitions != 3 || b.AutoCreateTopics || b.LogSegmentBytes != 1048576 ||
		b.Raw["some.unknown.key"] != "x" {
		t.Errorf("unexpected %+v", b)
	}
}

func TestRetentionPrecedence(t *testing.T) {
	cases := []struct {
		props map[string]string
		ms    int64
	}{
		{map[string]string{"log.retention.hours": "1"}, 3600000},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2"}, 120000},
		{map[string]string{"log.retention.hours": "1", "log.retention.minutes": "2", "log.retention.ms": "5"}, 5},
		{map[string]string{"log.retention.ms": "-5"}, -1},
	}
	for _, c := range cases {
		b, err := Build(c.props)
		if err != nil {
			t.Fatal(err)
		}
		if b.LogRetentionMs != c.ms {
			t.Errorf("%v: retention %d, want %d", c.props, b.LogRetentionMs, c.ms)
		}
	}
	b, _ := Build(map[string]string{"log.roll.hours": "2"})
	if b.LogRollMs != 2*3600000 {
		t.Errorf("roll %d", b.LogRollMs)
	}
	b, _ = Build(map[string]string{"log.roll.hours": "2", "log.roll.ms": "10"})
	if b.LogRollMs != 10 {
		t.Errorf("roll %d", b.LogRollMs)
	}
	b, _ = Build(map[string]string{"log.dir": "/x"})
	if b.LogDirs != "/x" {
		t.Errorf("log.dir fallback: %q", b.LogDirs)
	}
}

func TestBuildErrors(t *testing.T) {
	cases := map[string]string{
		"log.segment.bytes":          "not an integer",
		"auto.create.topics.enable":  "not a boolean",
		"log.message.timestamp.type": "must be one of",
		"num.partitions":             "must be at least 1",
	}
	bad := map[string]string{
		"log.segment.bytes": "x", "auto.create.topics.enable": "yes",
		"log.message.timestamp.type": "Now", "num.partitions": "0",
	}
	for k, frag := range cases {
		_, err := Build(map[string]string{k: bad[k]})
		if err == nil || !strings.Contains(err.Error(), k) || !strings.Contains(err.Error(), frag) {
			t.Errorf("%s=%s: err %v, want mention of %q", k, bad[k], err, frag)
		}
	}
	_, err := Build(map[string]string{"log.segment.bytes": "x"})
	if err.Error() != `invalid value "x" for log.segment.bytes: not an integer` {
		t.Errorf("message %q", err)
	}
	if _, err := Build(map[string]string{"log.segment.bytes": "10"}); err == nil {
		t.Error("segment bytes 10 accepted")
	}
}

func TestListeners(t *testing.T) {
	b, err := Build(map[string]string{"listeners": "PLAINTEXT://0.0.0.0:9093"})
	if err != nil {
		t.Fatal(err)
	}
	addr, _ := b.ListenAddr()
	host, port, _ := b.AdvertisedHostPort()
	if addr != "0.0.0.0:9093" || host != "127.0.0.1" || port != 9093 {
		t.Errorf("addr %s advertised %s:%d", addr, host, port)
	}
	b, _ = Build(map[string]string{"listeners": "PLAINTEXT://:9094", "advertised.listeners": "PLAINTEXT://kafka.example:19094"})
	addr, _ = b.ListenAddr()
	host, port, _ = b.AdvertisedHostPort()
	if addr != ":9094" || host != "kafka.example" || port != 19094 {
		t.Errorf("addr %s advertised %s:%d", addr, host, port)
	}
	b, _ = Build(map[string]string{"listeners": "PLAINTEXT://[::1]:9095"})
	if host, _, _ = b.AdvertisedHostPort(); host != "::1" {
		t.Errorf("ipv6 host %q", host)
	}
	for _, l := range []string{"PLAINTEXT://h", "h:9092", "PLAINTEXT://h:1,PLAINTEXT://h:2", "PLAINTEXT://h:99999", "",
		"CLIENT://h:1", "PLAINTEXT://h:1,SASL_PLAINTEXT://h:1"} {
		_, err := Build(map[string]string{"listeners": l})
		if err == nil {
			t.Errorf("listeners %q accepted", l)
			continue
		}
	}
	for _, l := range []string{"SSL://h:1", "SASL_SSL://h:1", "PLAINTEXT://h:1,SSL://h:2", "SASL_PLAINTEXT://h:1,SASL_SSL://h:2,SSL://h:3"} {
		if _, err := Build(map[string]string{"listeners": l}); err != nil {
			t.Errorf("listeners %q: %v", l, err)
		}
	}
	if _, err := Build(map[string]string{"advertised.listeners": "PLAINTEXT://0.0.0.0:9092"}); err == nil {
		t.Error("advertised 0.0.0.0 accepted")
	}
}

// TestMultipleListeners: several named listeners, their protocols from the
// map (Kafka's default or a custom one), advertised per name.
func TestMultipleListeners(t *testing.T) {
	b, err := Build(map[string]string{
		"listeners":                                    "PLAINTEXT://127.0.0.1:9092,SASL_PLAINTEXT://0.0.0.0:9093,CLIENT://:9094",
		"advertised.listeners":                         "SASL_PLAINTEXT://kafka.example:19093",
		"listener.security.protocol.map":               "PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,client:sasl_plaintext",
		"sasl.enabled.mechanisms":                      "SCRAM-SHA-256, PLAIN",
		"listener.name.client.sasl.enabled.mechanisms": "SCRAM-SHA-512",
	})
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := b.ListenerList()
	if len(ls) != 3 || ls[0].Protocol != ProtocolPlaintext || ls[1].Protocol != ProtocolSASLPlaintext || ls[2].Name != "CLIENT" || !ls[2].SASL() {
		t.Fatalf("listeners %+v", ls)
	}
	for name, want := range map[string]string{"PLAINTEXT": "127.0.0.1:9092", "SASL_PLAINTEXT": "kafka.example:19093", "CLIENT": "127.0.0.1:9094"} {
		h, p, err := b.AdvertisedEndpoint(name)
		if got := fmt.Sprintf("%s:%d", h, p); err != nil || got != want {
			t.Errorf("%s advertised %s (%v), want %s", name, got, err, want)
		}
	}
	if m := b.SASLMechanisms("SASL_PLAINTEXT"); !slices.Equal(m, []string{"SCRAM-SHA-256", "PLAIN"}) {
		t.Errorf("SASL_PLAINTEXT mechanisms %v", m)
	}
	if m := b.SASLMechanisms("CLIENT"); !slices.Equal(m, []string{"SCRAM-SHA-512"}) {
		t.Errorf("CLIENT mechanisms %v", m)
	}
	b, _ = Build(map[string]string{"listeners": "SASL_PLAINTEXT://:0", "listener.name.sasl_plaintext.plain.sasl.jaas.config": "x", "sasl.jaas.config": "y"})
	if m := b.SASLMechanisms("SASL_PLAINTEXT"); !slices.Equal(m, []string{"PLAIN"}) {
		t.Errorf("default mechanisms %v, want PLAIN", m)
	}
	if k, v := b.JAASConfig("SASL_PLAINTEXT", "PLAIN"); v != "x" || k != "listener.name.sasl_plaintext.plain.sasl.jaas.config" {
		t.Errorf("jaas %s=%s", k, v)
	}
	if _, v := b.JAASConfig("OTHER", "PLAIN"); v != "y" {
		t.Errorf("fallback jaas %s", v)
	}

	for _, bad := range []map[string]string{
		{"listeners": "SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms": "GSSAPI"},
		{"listeners": "SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms": "PLAIN,KERBEROS_V4"},
		{"listeners": "SASL_PLAINTEXT://:0", "sasl.enabled.mechanisms": ""},
		{"listeners": "SASL_PLAINTEXT://:0", "listener.name.sasl_plaintext.sasl.enabled.mechanisms": "SCRAM-SHA-1"},
		{"listeners": "SASL_PLAINTEXT://:0", "listener.name.sasl_plaintext.plain.connections.max.reauth.ms": "soon"},
		{"listeners": "PLAINTEXT://:0", "advertised.listeners": "SASL_PLAINTEXT://h:1"},
		{"listeners": "PLAINTEXT://:0", "listener.security.protocol.map": "PLAINTEXT:TLS"},
	} {
		if _, err := Build(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// connections.max.reauth.ms (KIP-368), overridden per listener and
	// mechanism; 0 or negative is no limit.
	rb, err := Build(map[string]string{"listeners": "SASL_PLAINTEXT://:0,OTHER://:0", "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,OTHER:SASL_PLAINTEXT",
		"connections.max.reauth.ms": "60000", "listener.name.other.plain.connections.max.reauth.ms": "-1"})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := rb.MaxReauth("SASL_PLAINTEXT", "PLAIN"); d != time.Minute {
		t.Errorf("connections.max.reauth.ms 60000: %v", d)
	}
	if d, _ := rb.MaxReauth("OTHER", "PLAIN"); d != 0 {
		t.Errorf("listener override -1: %v", d)
	}
	// Mechanisms only matter where a SASL listener exists, as in Kafka.
	if _, err := Build(map[string]string{"listeners": "PLAINTEXT://:0", "sasl.enabled.mechanisms": "GSSAPI"}); err != nil {
		t.Errorf("GSSAPI without a SASL listener: %v", err)
	}
}

func TestDescribeBroker(t *testing.T) {
	b, _ := Build(map[string]string{"num.partitions": "4", "log.retention.hours": "1", "compression.type": "zstd"})
	got := map[string]Entry{}
	for _, e := range b.Describe() {
		got[e.Name] = e
	}
	check := func(name, value string, src, typ int8) {
		t.Helper()
		e, ok := got[name]
		if !ok {
			t.Fatalf("%s missing", name)
		}
		if e.Value != value || e.Source != src || e.Type != typ {
			t.Errorf("%s = %+v, want %s src %d type %d", name, e, value, src, typ)
		}
	}
	check("num.partitions", "4", SourceStaticBroker, TypeInt)
	check("log.retention.hours", "1", SourceStaticBroker, TypeInt)
	// Kafka describes log.retention.ms as null when only another member
	// of its family is set, with no synonyms (none is log.retention.ms).
	if e := got["log.retention.ms"]; !e.Null || e.Source != SourceDefault || len(e.Synonyms) != 0 {
		t.Errorf("log.retention.ms = %+v, want null from DEFAULT_CONFIG without synonyms", e)
	}
	if tc := ResolveTopic(b, nil); tc.RetentionMs != 3600000 {
		t.Errorf("retention.ms resolved to %d", tc.RetentionMs)
	}
	check("log.segment.bytes", "1073741824", SourceDefault, TypeInt)
	check("compression.type", "zstd", SourceStaticBroker, TypeString)
	check("auto.create.topics.enable", "true", SourceDefault, TypeBoolean)
	check("log.flush.interval.messages", "1", SourceDefault, TypeLong)
	for _, name := range []string{"node.id", "listeners", "advertised.listeners", "log.dirs", "default.replication.factor",
		"log.retention.bytes", "log.roll.ms", "log.retention.check.interval.ms", "log.index.interval.bytes",
		"log.cleanup.policy", "log.flush.interval.ms", "message.max.bytes", "socket.request.max.bytes",
		"log.message.timestamp.type", "offsets.topic.num.partitions", "offsets.retention.minutes",
		"group.initial.rebalance.delay.ms", "group.min.session.timeout.ms", "group.max.session.timeout.ms"} {
		if _, ok := got[name]; !ok {
			t.Errorf("%s not described", name)
		}
	}
}

func TestValidateTopicConfig(t *testing.T) {
	s := func(v string) *string { return &v }
	good := map[string]string{
		"segment.bytes": "14", "cleanup.policy": "compact,delete", "compression.type": "zstd",
		"message.timestamp.type": "LogAppendTime", "retention.ms": "-1", "min.cleanable.dirty.ratio": "0.1",
		"unclean.leader.election.enable": "true", "leader.replication.throttled.replicas": "0:1,1:1",
		"remote.storage.enable": "false", "message.format.version": "2.8",
	}
	for k, v := range good {
		if err := ValidateTopicConfig(k, s(v)); err != nil {
			t.Errorf("%s=%s: %v", k, v, err)
		}
	}
	bad := map[string]string{
		"segment.bytes": "13", "cleanup.policy": "forever", "compression.type": "brotli",
		"message.timestamp.type": "Now", "retention.ms": "abc", "min.cleanable.dirty.ratio": "2",
		"preallocate": "maybe", "min.insync.replicas": "0", "max.message.bytes": "99999999999",
	}
	for k, v := range bad {
		err := ValidateTopicConfig(k, s(v))
		if !errors.Is(err, ErrInvalidValue) {
			t.Errorf("%s=%s: %v, want ErrInvalidValue", k, v, err)
		}
	}
	if err := ValidateTopicConfig("no.such", s("1")); !errors.Is(err, ErrUnknownConfig) {
		t.Errorf("unknown: %v", err)
	}
	if err := ValidateTopicConfig("retention.ms", nil); err != nil {
		t.Errorf("delete: %v", err)
	}
}

func TestResolveAndDescribeTopic(t *testing.T) {
	b, _ := Build(map[string]string{"log.retention.ms": "1000", "log.segment.bytes": "2048", "min.insync.replicas": "2"})
	tc := ResolveTopic(b, map[string]string{"segment.bytes": "4096", "cleanup.policy": "compact"})
	if tc.RetentionMs != 1000 || tc.SegmentBytes != 4096 || tc.CleanupPolicy != "compact" || tc.FlushMessages != 1 ||
		tc.MinInsyncReplicas != 2 || tc.CompressionType != "producer" || tc.FlushMs != 1<<63-1 ||
		tc.MaxMessageBytes != 1048588 || tc.TimestampType != "CreateTime" || tc.SegmentMs != 604800000 ||
		tc.IndexIntervalBytes != 4096 || tc.RetentionBytes != -1 {
		t.Errorf("resolved %+v", tc)
	}
	got := map[string]Entry{}
	for _, e := range DescribeTopic(b, map[string]string{"segment.bytes": "4096"}) {
		got[e.Name] = e
	}
	if e := got["segment.bytes"]; e.Value != "4096" || e.Source != SourceDynamicTopic || len(e.Synonyms) != 3 ||
		e.Synonyms[1].Name != "log.segment.bytes" || e.Synonyms[1].Source != SourceStaticBroker ||
		e.Synonyms[2].Value != "1073741824" || e.Synonyms[2].Source != SourceDefault {
		t.Errorf("segment.bytes %+v", e)
	}
	if e := got["retention.ms"]; e.Value != "1000" || e.Source != SourceStaticBroker {
		t.Errorf("retention.ms %+v", e)
	}
	if e := got["cleanup.policy"]; e.Value != "delete" || e.Source != SourceDefault || e.Type != TypeList {
		t.Errorf("cleanup.policy %+v", e)
	}
	if len(got) != len(TopicConfigNames()) {
		t.Errorf("described %d of %d", len(got), len(TopicConfigNames()))
	}
}

func TestAuthorizerConfig(t *testing.T) {
	b, err := Build(nil)
	if err != nil || b.AuthorizerEnabled() || b.AllowEveryoneIfNoACLFound || len(b.SuperUsers()) != 0 {
		t.Fatalf("defaults: %v %+v", err, b)
	}
	for _, class := range []string{StandardAuthorizerClass, AclAuthorizerClass, " " + StandardAuthorizerClass + " "} {
		b, err := Build(map[string]string{"authorizer.class.name": class, "super.users": "User:admin; User:ops;;",
			"allow.everyone.if.no.acl.found": "true"})
		if err != nil {
			t.Fatalf("%q: %v", class, err)
		}
		if !b.AuthorizerEnabled() || !b.AllowEveryoneIfNoACLFound {
			t.Errorf("%q: %+v", class, b)
		}
		if got := b.SuperUsers(); len(got) != 2 || got[0] != "User:admin" || got[1] != "User:ops" {
			t.Errorf("super users %q", got)
		}
	}
	_, err = Build(map[string]string{"authorizer.class.name": "com.example.MyAuthorizer"})
	if err == nil || !strings.Contains(err.Error(), "authorizer.class.name") || !strings.Contains(err.Error(), StandardAuthorizerClass) {
		t.Errorf("custom authorizer: %v", err)
	}
}

func TestConsumerGroupProperties(t *testing.T) {
	if _, err := Build(map[string]string{}); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, bad := range []map[string]string{
		{"group.coordinator.rebalance.protocols": "consumer"},
		{"group.coordinator.rebalance.protocols": "classic,streams"},
		{"group.consumer.assignors": "sticky"},
		{"group.consumer.session.timeout.ms": "3000"},
		{"group.consumer.min.heartbeat.interval.ms": "100", "group.consumer.heartbeat.interval.ms": "50000"},
	} {
		if _, err := Build(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	ok := map[string]string{
		"group.coordinator.rebalance.protocols": "classic",
		"group.consumer.min.session.timeout.ms": "1000", "group.consumer.session.timeout.ms": "3000",
		"group.consumer.min.heartbeat.interval.ms": "100", "group.consumer.heartbeat.interval.ms": "200",
	}
	if _, err := Build(ok); err != nil {
		t.Errorf("%v: %v", ok, err)
	}
}
