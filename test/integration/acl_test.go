package integration

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const standardAuthorizer = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"

func withAuthorizer() brokerOpt { return withProp("authorizer.class.name", standardAuthorizer) }

// TestACLSecurityDisabled: without authorizer.class.name the ACL APIs
// answer SECURITY_DISABLED, as Kafka does, and nothing is enforced.
func TestACLSecurityDisabled(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 15*time.Second)
	b := kadm.NewACLs().Allow("User:alice").Topics("t").Operations(kadm.OpRead)
	cr, err := adm.CreateACLs(ctx, b)
	if err != nil || len(cr) != 1 || !errors.Is(cr[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("create: %v %+v", err, cr)
	}
	f := kadm.NewACLs().AnyResource().Allow().AllowHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	dr, err := adm.DescribeACLs(ctx, f)
	if err != nil || len(dr) != 1 || !errors.Is(dr[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("describe: %v %+v", err, dr)
	}
	del, err := adm.DeleteACLs(ctx, f)
	if err != nil || len(del) != 1 || !errors.Is(del[0].Err, kerr.SecurityDisabled) {
		t.Fatalf("delete: %v %+v", err, del)
	}
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	produceSync(t, newClient(t, tb.Addr()), &kgo.Record{Topic: topic, Value: []byte("v")})
}

// TestACLCreateDescribeDelete manages ACLs with kadm and raw requests:
// Kafka's validation codes, describe filters (incl. MATCH), deletion by
// filter returning the matched ACLs, and ACLs surviving a restart.
func TestACLCreateDescribeDelete(t *testing.T) {
	tb := startBroker(t, withAuthorizer(), withProp("allow.everyone.if.no.acl.found", "true"))
	cl := newClient(t, tb.Addr())
	adm := kadm.NewClient(cl)
	ctx := testCtx(t, 30*time.Second)

	create := func(b *kadm.ACLBuilder) {
		t.Helper()
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create %+v: %v", r, r.Err)
			}
		}
	}
	create(kadm.NewACLs().Allow("User:alice").AllowHosts("*").Topics("orders").Operations(kadm.OpRead, kadm.OpWrite))
	create(kadm.NewACLs().Deny("User:bob").DenyHosts("10.0.0.1").Topics("ord").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpAll))
	create(kadm.NewACLs().Allow("User:*").Topics("*").Operations(kadm.OpDescribe))
	create(kadm.NewACLs().Allow("User:alice").Groups("g1").Operations(kadm.OpRead))
	// A duplicate succeeds and adds nothing.
	create(kadm.NewACLs().Allow("User:alice").Groups("g1").Operations(kadm.OpRead))

	describe := func(b *kadm.ACLBuilder) kadm.DescribedACLs {
		t.Helper()
		res, err := adm.DescribeACLs(ctx, b)
		if err != nil || len(res) != 1 || res[0].Err != nil {
			t.Fatalf("describe: %v %+v", err, res)
		}
		return res[0].Described
	}
	all := func() *kadm.ACLBuilder {
		return kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)
	}
	if got := describe(all()); len(got) != 5 {
		t.Fatalf("all ACLs: %d %+v", len(got), got)
	}
	// Literal name filter: only the exact literal ACLs.
	if got := describe(kadm.NewACLs().Topics("orders").Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternLiteral)); len(got) != 2 {
		t.Errorf("literal orders: %+v", got)
	}
	// MATCH: every ACL that applies to topic "orders": its literal ones, the
	// "*" one and the "ord" prefix.
	if got := describe(kadm.NewACLs().Topics("orders").Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternMatch)); len(got) != 4 {
		t.Errorf("match orders: %+v", got)
	}
	if got := describe(kadm.NewACLs().AnyResource().Deny("User:bob").DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny)); len(got) != 1 || got[0].Host != "10.0.0.1" || got[0].Pattern != kadm.ACLPatternPrefixed {
		t.Errorf("bob's: %+v", got)
	}

	// Kafka's validation, with raw requests (kadm refuses these itself).
	raw := kmsg.NewPtrCreateACLsRequest()
	bad := func(f func(c *kmsg.CreateACLsRequestCreation)) {
		c := kmsg.NewCreateACLsRequestCreation()
		c.ResourceType, c.ResourceName, c.ResourcePatternType = kmsg.ACLResourceTypeTopic, "x", kmsg.ACLResourcePatternTypeLiteral
		c.Principal, c.Host, c.Operation, c.PermissionType = "User:x", "*", kmsg.ACLOperationRead, kmsg.ACLPermissionTypeAllow
		f(&c)
		raw.Creations = append(raw.Creations, c)
	}
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypeMatch })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.ResourcePatternType = kmsg.ACLResourcePatternTypeAny })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceType = kmsg.ACLResourceTypeAny })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.Operation = kmsg.ACLOperationAny })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.Operation = kmsg.ACLOperationUnknown })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.PermissionType = kmsg.ACLPermissionTypeAny })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.Principal = "alice" })
	bad(func(c *kmsg.CreateACLsRequestCreation) { c.ResourceName = "" })
	bad(func(c *kmsg.CreateACLsRequestCreation) {
		c.ResourceType, c.ResourceName = kmsg.ACLResourceTypeCluster, "c"
	})
	bad(func(c *kmsg.CreateACLsRequestCreation) {}) // valid
	resp, err := raw.RequestWith(ctx, cl)
	if err != nil || len(resp.Results) != len(raw.Creations) {
		t.Fatalf("raw create: %v %+v", err, resp)
	}
	for i, r := range resp.Results {
		want := kerr.InvalidRequest.Code
		if i == len(resp.Results)-1 {
			want = 0
		}
		if r.ErrorCode != want {
			t.Errorf("creation %d: code %d, want %d", i, r.ErrorCode, want)
		}
	}
	rawDesc := kmsg.NewPtrDescribeACLsRequest()
	rawDesc.ResourceType, rawDesc.Operation, rawDesc.PermissionType = kmsg.ACLResourceTypeAny, kmsg.ACLOperationUnknown, kmsg.ACLPermissionTypeAny
	rawDesc.ResourcePatternType = kmsg.ACLResourcePatternTypeAny
	if dresp, err := rawDesc.RequestWith(ctx, cl); err != nil || dresp.ErrorCode != kerr.InvalidRequest.Code {
		t.Errorf("describe with UNKNOWN operation: %v %+v", err, dresp)
	}

	// Delete by filter: every ACL on topics named exactly "orders".
	dres, err := adm.DeleteACLs(ctx, kadm.NewACLs().Topics("orders").Allow().AllowHosts().Deny().DenyHosts().Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternLiteral))
	if err != nil || len(dres) != 1 || dres[0].Err != nil || len(dres[0].Deleted) != 2 {
		t.Fatalf("delete orders: %v %+v", err, dres)
	}
	for _, d := range dres[0].Deleted {
		if d.Name != "orders" || d.Principal != "User:alice" || d.Err != nil {
			t.Errorf("deleted %+v", d)
		}
	}
	if got := describe(all()); len(got) != 4 { // 3 left + the valid raw one
		t.Fatalf("after delete: %d %+v", len(got), got)
	}

	// ACLs live in the metadata log: a restart keeps them.
	tb.Restart()
	adm = newAdmin(t, tb.Addr())
	waitFor(t, 15*time.Second, "ACLs after restart", func() error {
		res, err := adm.DescribeACLs(ctx, all())
		if err != nil {
			return err
		}
		if res[0].Err != nil || len(res[0].Described) != 4 {
			return fmt.Errorf("%v %+v", res[0].Err, res[0].Described)
		}
		return nil
	})
}

// TestACLEnforcement: with allow.everyone.if.no.acl.found=false the
// anonymous PLAINTEXT principal can do nothing until ACLs allow it;
// super.users bypasses ACLs; DENY beats ALLOW; prefixed ACLs apply.
func TestACLEnforcement(t *testing.T) {
	tb := startBroker(t, withAuthorizer(), withProp("super.users", "User:ANONYMOUS"), withProp("group.initial.rebalance.delay.ms", "0"))
	adm := newAdmin(t, tb.Addr())
	ctx := testCtx(t, 60*time.Second)
	topic, pre, other := topicName(t, "t"), "pre-"+topicName(t, ""), topicName(t, "other")
	topicID := createTopic(t, adm, topic, 1, nil).ID
	createTopic(t, adm, pre, 1, nil)
	createTopic(t, adm, other, 1, nil)
	// As a super user, ANONYMOUS produces with no ACLs at all.
	produceSync(t, newClient(t, tb.Addr()), &kgo.Record{Topic: topic, Value: []byte("super")})
	// Let ANONYMOUS manage ACLs once it is no longer a super user.
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:ANONYMOUS").Clusters().Operations(kadm.OpAlter, kadm.OpDescribe)); err != nil || res[0].Err != nil {
		t.Fatalf("cluster ACLs: %v %+v", err, res)
	}
	delete(tb.props, "super.users")
	tb.Restart()

	cl := newClient(t, tb.Addr())
	adm = kadm.NewClient(cl)

	// No ACL for the topic: Metadata, Produce, Fetch, ListOffsets and
	// InitProducerId are refused with Kafka's codes.
	mreq := kmsg.NewPtrMetadataRequest()
	mt := kmsg.NewMetadataRequestTopic()
	mt.Topic = kmsg.StringPtr(topic)
	mreq.Topics = append(mreq.Topics, mt)
	mresp, err := mreq.RequestWith(ctx, cl)
	if err != nil || len(mresp.Topics) != 1 || mresp.Topics[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("metadata: %v %+v", err, mresp)
	}
	all := kmsg.NewPtrMetadataRequest()
	all.Topics = nil
	if aresp, err := all.RequestWith(ctx, cl); err != nil || len(aresp.Topics) != 0 {
		t.Fatalf("metadata of all topics lists unauthorized topics: %v %+v", err, aresp)
	}
	freq := kmsg.NewPtrFetchRequest()
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = topic, topicID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	freq.Topics = append(freq.Topics, ft)
	freq.MaxBytes = 1 << 20
	fresp, err := freq.RequestWith(ctx, cl)
	if err != nil || len(fresp.Topics) != 1 || fresp.Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("fetch: %v %+v", err, fresp)
	}
	ipreq := kmsg.NewPtrInitProducerIDRequest()
	ipreq.TransactionTimeoutMillis = 60000
	if ipresp, err := ipreq.RequestWith(ctx, cl); err != nil || ipresp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("idempotent InitProducerId without WRITE anywhere: %v %+v", err, ipresp)
	}
	plain := newClient(t, tb.Addr(), kgo.DisableIdempotentWrite())
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce without ACLs: %v", err)
	}
	loreq := kmsg.NewPtrListOffsetsRequest()
	lt := kmsg.NewListOffsetsRequestTopic()
	lt.Topic = topic
	lp := kmsg.NewListOffsetsRequestTopicPartition()
	lp.Timestamp = -1
	lt.Partitions = append(lt.Partitions, lp)
	loreq.Topics = append(loreq.Topics, lt)
	// Straight to the broker: kgo would stop at the Metadata refusal.
	if raw, err := cl.Broker(1).Request(ctx, loreq); err != nil || raw.(*kmsg.ListOffsetsResponse).Topics[0].Partitions[0].ErrorCode != kerr.TopicAuthorizationFailed.Code {
		t.Fatalf("list offsets without ACLs: %v %+v", err, raw)
	}

	// Client quotas need DESCRIBE_CONFIGS / ALTER_CONFIGS on the cluster,
	// which DESCRIBE and ALTER do not imply.
	dq := kmsg.NewPtrDescribeClientQuotasRequest()
	if dresp, err := dq.RequestWith(ctx, cl); err != nil || dresp.ErrorCode != kerr.ClusterAuthorizationFailed.Code {
		t.Fatalf("describe client quotas without DESCRIBE_CONFIGS: %v %+v", err, dresp)
	}
	altered, err := adm.AlterClientQuotas(ctx, []kadm.AlterClientQuotaEntry{{
		Entity: []kadm.ClientQuotaEntityComponent{{Type: "client-id", Name: kmsg.StringPtr("c")}},
		Ops:    []kadm.AlterClientQuotaOp{{Key: "producer_byte_rate", Value: 1000}},
	}})
	if err != nil || len(altered) != 1 || !errors.Is(altered[0].Err, kerr.ClusterAuthorizationFailed) {
		t.Fatalf("alter client quotas without ALTER_CONFIGS: %v %+v", err, altered)
	}

	// Grant WRITE and READ on the topic and READ on a group: the default
	// (idempotent) producer and a group consumer work.
	group := topicName(t, "group")
	res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:ANONYMOUS").AllowHosts("*").Topics(topic).Operations(kadm.OpWrite, kadm.OpRead))
	if err == nil && res[0].Err == nil {
		res, err = adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:ANONYMOUS").Groups(group).Operations(kadm.OpRead))
	}
	if err != nil || res[0].Err != nil {
		t.Fatalf("grant: %v %+v", err, res)
	}
	produceSync(t, newClient(t, tb.Addr()), &kgo.Record{Topic: topic, Value: []byte("allowed")})
	cons := newClient(t, tb.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))
	var got []string
	for len(got) < 2 {
		fetches := cons.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %q before the deadline", got)
		}
		if errs := fetches.Errors(); len(errs) > 0 {
			t.Fatalf("consume: %+v", errs)
		}
		fetches.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if got[0] != "super" || got[1] != "allowed" {
		t.Errorf("consumed %q", got)
	}
	if err := cons.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}

	// DENY beats ALLOW: WRITE is refused again, READ still works.
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Deny("User:ANONYMOUS").DenyHosts("*").Topics(topic).Operations(kadm.OpWrite)); err != nil || res[0].Err != nil {
		t.Fatalf("deny: %v %+v", err, res)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("denied")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce with a DENY: %v", err)
	}
	if off, err := adm.FetchOffsets(ctx, group); err != nil || off.Error() != nil {
		t.Fatalf("offset fetch with READ: %v %v", err, off.Error())
	}

	// A prefixed ALLOW covers every topic starting with it, nothing else.
	if res, err := adm.CreateACLs(ctx, kadm.NewACLs().Allow("User:ANONYMOUS").Topics("pre-").ResourcePatternType(kadm.ACLPatternPrefixed).Operations(kadm.OpWrite)); err != nil || res[0].Err != nil {
		t.Fatalf("prefixed: %v %+v", err, res)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: pre, Value: []byte("p")}).FirstErr(); err != nil {
		t.Fatalf("produce under a prefixed ACL: %v", err)
	}
	if err := plain.ProduceSync(ctx, &kgo.Record{Topic: other, Value: []byte("o")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to a topic outside the prefix: %v", err)
	}

	// Without CREATE, topic creation is refused.
	if cr, _ := adm.CreateTopic(ctx, 1, 1, nil, topicName(t, "new")); !errors.Is(cr.Err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("create topic without CREATE: %+v", cr)
	}
}
