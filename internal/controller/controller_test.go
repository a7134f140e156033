package controller

import (
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

func sp(s string) *string { return &s }

type env struct {
	t     *testing.T
	dir   string
	store *metadata.Store
	c     *Controller
}

func newEnv(t *testing.T, props map[string]string, brokers ...int32) *env {
	t.Helper()
	cfg, err := config.Build(props)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := metadata.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := New(s, cfg, nil)
	for _, b := range brokers {
		if err := c.RegisterBroker(b, "127.0.0.1", 9092+b); err != nil {
			t.Fatal(err)
		}
	}
	return &env{t: t, dir: dir, store: s, c: c}
}

func wantCode(t *testing.T, what string, e *Error, k *kerr.Error) {
	t.Helper()
	switch {
	case k == nil && e != nil:
		t.Errorf("%s: unexpected error %v", what, e)
	case k != nil && e == nil:
		t.Errorf("%s: no error, want %s", what, k.Message)
	case k != nil && e.Code != k.Code:
		t.Errorf("%s: %v, want %s", what, e, k.Message)
	}
}

func TestRegisterBroker(t *testing.T) {
	e := newEnv(t, nil, 1)
	off := e.store.Image().Offset
	if err := e.c.RegisterBroker(1, "127.0.0.1", 9093); err != nil {
		t.Fatal(err)
	}
	if e.store.Image().Offset != off {
		t.Error("unchanged registration wrote a record")
	}
	inc := e.store.Image().Brokers[1].IncarnationID
	if err := e.c.RegisterBroker(1, "127.0.0.1", 9999); err != nil {
		t.Fatal(err)
	}
	b := e.store.Image().Brokers[1]
	if b.Port != 9999 || b.IncarnationID == inc || b.IncarnationID.IsZero() {
		t.Errorf("re-registration %+v", b)
	}
}

// TestRegisterBrokerEndpoints: a broker with named listeners registers
// them all (a version 1 record); the same list again writes nothing, a
// changed one re-registers.
func TestRegisterBrokerEndpoints(t *testing.T) {
	e := newEnv(t, nil, 1)
	eps := []metadata.BrokerEndpoint{
		{Name: "PLAINTEXT", Host: "127.0.0.1", Port: 9092, SecurityProtocol: metadata.SecurityPlaintext},
		{Name: "SASL_PLAINTEXT", Host: "127.0.0.1", Port: 9093, SecurityProtocol: metadata.SecuritySASLPlaintext},
	}
	if err := e.c.RegisterBrokerEndpoints(1, eps); err != nil {
		t.Fatal(err)
	}
	b := e.store.Image().Brokers[1]
	if len(b.Endpoints) != 2 || b.Host != "127.0.0.1" || b.Port != 9092 {
		t.Fatalf("registered %+v", b)
	}
	off := e.store.Image().Offset
	if err := e.c.RegisterBrokerEndpoints(1, eps); err != nil {
		t.Fatal(err)
	}
	if e.store.Image().Offset != off {
		t.Error("unchanged endpoints wrote a record")
	}
	eps[1].Port = 19093
	if err := e.c.RegisterBrokerEndpoints(1, eps); err != nil {
		t.Fatal(err)
	}
	if h, p, _ := e.store.Image().Brokers[1].Endpoint("SASL_PLAINTEXT"); h != "127.0.0.1" || p != 19093 {
		t.Errorf("re-registered SASL_PLAINTEXT at %s:%d", h, p)
	}
	if err := e.c.RegisterBrokerEndpoints(1, nil); err == nil {
		t.Error("registration without endpoints accepted")
	}
}

func TestCreateTopic(t *testing.T) {
	e := newEnv(t, map[string]string{"num.partitions": "3", "log.retention.ms": "5000"}, 1)
	res, ce := e.c.CreateTopic(CreateTopicRequest{Name: "orders", NumPartitions: -1, ReplicationFactor: -1,
		Configs: map[string]*string{"cleanup.policy": sp("compact")}})
	wantCode(t, "create", ce, nil)
	if res.NumPartitions != 3 || res.ReplicationFactor != 1 || res.ID.IsZero() || res.ID[6]>>4 != 4 {
		t.Errorf("result %+v", res)
	}
	cfgs := map[string]config.Entry{}
	for _, en := range res.Configs {
		cfgs[en.Name] = en
	}
	if cfgs["cleanup.policy"].Value != "compact" || cfgs["cleanup.policy"].Source != config.SourceDynamicTopic ||
		cfgs["retention.ms"].Value != "5000" || cfgs["retention.ms"].Source != config.SourceStaticBroker {
		t.Errorf("configs %+v %+v", cfgs["cleanup.policy"], cfgs["retention.ms"])
	}
	top, ok := e.store.Image().Topic("orders")
	if !ok || top.ID != res.ID || len(top.Partitions) != 3 || top.Configs["cleanup.policy"] != "compact" {
		t.Fatalf("image %+v", top)
	}
	for i, p := range top.Partitions {
		if p.Leader != 1 || p.LeaderEpoch != 0 || !reflect.DeepEqual(p.Replicas, []int32{1}) || !reflect.DeepEqual(p.ISR, []int32{1}) {
			t.Errorf("partition %d %+v", i, p)
		}
	}

	// Validate-only writes nothing.
	off := e.store.Image().Offset
	res, ce = e.c.CreateTopic(CreateTopicRequest{Name: "dry", NumPartitions: 2, ReplicationFactor: 1, ValidateOnly: true})
	wantCode(t, "validate only", ce, nil)
	if res.NumPartitions != 2 || e.store.Image().Offset != off {
		t.Errorf("validate-only: %+v offset %d", res, e.store.Image().Offset)
	}

	// Survives a restart.
	e.store.Close()
	s, err := metadata.Open(e.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if top2, ok := s.Image().Topic("orders"); !ok || !reflect.DeepEqual(top2, top) {
		t.Errorf("after reopen %+v", top2)
	}
}

func TestCreateTopicErrors(t *testing.T) {
	e := newEnv(t, nil, 1)
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1}); ce != nil {
		t.Fatal(ce)
	}
	cases := []struct {
		name string
		req  CreateTopicRequest
		want *kerr.Error
	}{
		{"empty name", CreateTopicRequest{Name: "", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dot", CreateTopicRequest{Name: ".", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"dotdot", CreateTopicRequest{Name: "..", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"bad char", CreateTopicRequest{Name: "a/b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"too long", CreateTopicRequest{Name: strings.Repeat("x", 250), NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"exists", CreateTopicRequest{Name: "a.b", NumPartitions: 1, ReplicationFactor: 1}, kerr.TopicAlreadyExists},
		{"collision", CreateTopicRequest{Name: "a_b", NumPartitions: 1, ReplicationFactor: 1}, kerr.InvalidTopicException},
		{"zero partitions", CreateTopicRequest{Name: "t", NumPartitions: 0, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"negative partitions", CreateTopicRequest{Name: "t", NumPartitions: -5, ReplicationFactor: 1}, kerr.InvalidPartitions},
		{"rf too big", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 3}, kerr.InvalidReplicationFactor},
		{"rf zero", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 0}, kerr.InvalidReplicationFactor},
		{"bad config", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"segment.bytes": sp("1")}}, kerr.InvalidConfig},
		{"unknown config", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"nope": sp("1")}}, kerr.InvalidConfig},
		{"null config", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: 1,
			Configs: map[string]*string{"retention.ms": nil}}, kerr.InvalidConfig},
		{"assignments and count", CreateTopicRequest{Name: "t", NumPartitions: 1, ReplicationFactor: -1,
			Assignments: map[int32][]int32{0: {1}}}, kerr.InvalidRequest},
		{"assignment gap", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: map[int32][]int32{0: {1}, 2: {1}}}, kerr.InvalidReplicaAssignment},
		{"unknown broker", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: map[int32][]int32{0: {7}}}, kerr.InvalidReplicaAssignment},
		{"duplicate broker", CreateTopicRequest{Name: "t", NumPartitions: -1, ReplicationFactor: -1,
			Assignments: map[int32][]int32{0: {1, 1}}}, kerr.InvalidReplicaAssignment},
	}
	off := e.store.Image().Offset
	for _, tc := range cases {
		_, ce := e.c.CreateTopic(tc.req)
		wantCode(t, tc.name, ce, tc.want)
	}
	if e.store.Image().Offset != off {
		t.Error("a failed create wrote records")
	}
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: strings.Repeat("x", 249), NumPartitions: -1, ReplicationFactor: -1,
		Assignments: map[int32][]int32{0: {1}, 1: {1}}}); ce != nil {
		t.Errorf("249-char name with assignments: %v", ce)
	}
}

func TestDeleteTopic(t *testing.T) {
	e := newEnv(t, nil, 1)
	res, _ := e.c.CreateTopic(CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1})
	res2, _ := e.c.CreateTopic(CreateTopicRequest{Name: ConsumerOffsetsTopic, NumPartitions: 2, ReplicationFactor: 1})
	id, ce := e.c.DeleteTopic("a")
	wantCode(t, "delete", ce, nil)
	if id != res.ID {
		t.Error("wrong id returned")
	}
	if _, ok := e.store.Image().Topic("a"); ok {
		t.Error("still there")
	}
	_, ce = e.c.DeleteTopic("a")
	wantCode(t, "delete missing", ce, kerr.UnknownTopicOrPartition)
	_, ce = e.c.DeleteTopicByID(res.ID)
	wantCode(t, "delete missing id", ce, kerr.UnknownTopicID)
	name, ce := e.c.DeleteTopicByID(res2.ID)
	wantCode(t, "delete internal by id", ce, nil)
	if name != ConsumerOffsetsTopic {
		t.Errorf("name %q", name)
	}
	// The name is free again.
	if _, ce := e.c.CreateTopic(CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1}); ce != nil {
		t.Error(ce)
	}

	d := newEnv(t, map[string]string{"delete.topic.enable": "false"}, 1)
	d.c.CreateTopic(CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1})
	_, ce = d.c.DeleteTopic("a")
	wantCode(t, "deletion disabled", ce, kerr.TopicDeletionDisabled)
}

func TestCreatePartitions(t *testing.T) {
	e := newEnv(t, nil, 1, 2)
	e.c.CreateTopic(CreateTopicRequest{Name: "a", NumPartitions: 2, ReplicationFactor: 2})
	wantCode(t, "missing", e.c.CreatePartitions("nope", 3, nil, false), kerr.UnknownTopicOrPartition)
	wantCode(t, "same", e.c.CreatePartitions("a", 2, nil, false), kerr.InvalidPartitions)
	wantCode(t, "fewer", e.c.CreatePartitions("a", 1, nil, false), kerr.InvalidPartitions)
	wantCode(t, "validate", e.c.CreatePartitions("a", 5, nil, true), nil)
	if n := len(e.store.Image().TopicsByName["a"].Partitions); n != 2 {
		t.Errorf("validate-only grew to %d", n)
	}
	wantCode(t, "wrong assignment count", e.c.CreatePartitions("a", 4, [][]int32{{1, 2}}, false), kerr.InvalidReplicaAssignment)
	wantCode(t, "wrong rf", e.c.CreatePartitions("a", 3, [][]int32{{1}}, false), kerr.InvalidReplicaAssignment)
	wantCode(t, "grow", e.c.CreatePartitions("a", 4, nil, false), nil)
	wantCode(t, "grow assigned", e.c.CreatePartitions("a", 5, [][]int32{{2, 1}}, false), nil)
	ps := e.store.Image().TopicsByName["a"].Partitions
	if len(ps) != 5 || len(ps[3].Replicas) != 2 || ps[4].Leader != 2 {
		t.Errorf("partitions %+v", ps)
	}
}

func TestAlterConfigs(t *testing.T) {
	e := newEnv(t, nil, 1)
	e.c.CreateTopic(CreateTopicRequest{Name: "a", NumPartitions: 1, ReplicationFactor: 1,
		Configs: map[string]*string{"retention.ms": sp("1000"), "segment.bytes": sp("2048")}})
	configs := func() map[string]string { return e.store.Image().TopicsByName["a"].Configs }

	wantCode(t, "missing topic", e.c.AlterTopicConfigs("nope", nil, false), kerr.UnknownTopicOrPartition)
	wantCode(t, "bad value", e.c.AlterTopicConfigs("a", map[string]*string{"retention.ms": sp("x")}, false), kerr.InvalidConfig)
	wantCode(t, "legacy alter", e.c.AlterTopicConfigs("a", map[string]*string{"retention.ms": sp("7")}, false), nil)
	if !reflect.DeepEqual(configs(), map[string]string{"retention.ms": "7"}) {
		t.Errorf("after legacy alter %v", configs())
	}

	ops := []ConfigOp{
		{Name: "cleanup.policy", Op: OpAppend, Value: sp("compact")},
		{Name: "retention.ms", Op: OpDelete},
		{Name: "max.message.bytes", Op: OpSet, Value: sp("100")},
	}
	wantCode(t, "incremental", e.c.IncrementalAlterTopicConfigs("a", ops, false), nil)
	want := map[string]string{"cleanup.policy": "delete,compact", "max.message.bytes": "100"}
	if !reflect.DeepEqual(configs(), want) {
		t.Errorf("after incremental %v", configs())
	}
	wantCode(t, "subtract", e.c.IncrementalAlterTopicConfigs("a",
		[]ConfigOp{{Name: "cleanup.policy", Op: OpSubtract, Value: sp("delete")}}, false), nil)
	if configs()["cleanup.policy"] != "compact" {
		t.Errorf("after subtract %v", configs())
	}
	off := e.store.Image().Offset
	for name, ops := range map[string][]ConfigOp{
		"append to non-list": {{Name: "retention.ms", Op: OpAppend, Value: sp("1")}},
		"unknown":            {{Name: "nope", Op: OpSet, Value: sp("1")}},
		"invalid":            {{Name: "compression.type", Op: OpSet, Value: sp("brotli")}},
		"subtract to empty":  {{Name: "cleanup.policy", Op: OpSubtract, Value: sp("compact")}},
	} {
		if ce := e.c.IncrementalAlterTopicConfigs("a", ops, false); ce == nil || ce.Code != kerr.InvalidConfig.Code {
			t.Errorf("%s: %v", name, ce)
		}
	}
	wantCode(t, "null set", e.c.IncrementalAlterTopicConfigs("a", []ConfigOp{{Name: "retention.ms", Op: OpSet}}, false), kerr.InvalidRequest)
	wantCode(t, "validate only", e.c.IncrementalAlterTopicConfigs("a", []ConfigOp{{Name: "retention.ms", Op: OpSet, Value: sp("5")}}, true), nil)
	wantCode(t, "no-op", e.c.IncrementalAlterTopicConfigs("a", []ConfigOp{{Name: "max.message.bytes", Op: OpSet, Value: sp("100")}}, false), nil)
	if e.store.Image().Offset != off {
		t.Error("failed, validate-only or no-op alter wrote records")
	}
}
