package integration

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func qname(s string) *string { return &s }

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func quotaEntity(pairs ...*string) kadm.ClientQuotaEntity {
	var e kadm.ClientQuotaEntity
	for i := 0; i < len(pairs); i += 2 {
		e = append(e, kadm.ClientQuotaEntityComponent{Type: *pairs[i], Name: pairs[i+1]})
	}
	return e
}

func setQuota(key string, v float64) []kadm.AlterClientQuotaOp {
	return []kadm.AlterClientQuotaOp{{Key: key, Value: v}}
}

// alterQuotas alters and fails the test on any entity error.
func alterQuotas(t *testing.T, adm *kadm.Client, entries ...kadm.AlterClientQuotaEntry) {
	t.Helper()
	res, err := adm.AlterClientQuotas(testCtx(t, 10*time.Second), entries)
	if err != nil {
		t.Fatalf("AlterClientQuotas: %v", err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("AlterClientQuotas %s: %v (%s)", r.Entity, r.Err, r.ErrMessage)
		}
	}
}

// describeQuotas renders the answer to a filter as sorted
// "entity: key=value,..." lines, for comparisons.
func describeQuotas(t *testing.T, adm *kadm.Client, strict bool, comps ...kadm.DescribeClientQuotaComponent) []string {
	t.Helper()
	qs, err := adm.DescribeClientQuotas(testCtx(t, 10*time.Second), strict, comps)
	if err != nil {
		t.Fatalf("DescribeClientQuotas %+v: %v", comps, err)
	}
	var out []string
	for _, q := range qs {
		var ents, vals []string
		for _, c := range q.Entity {
			n := "<default>"
			if c.Name != nil {
				n = *c.Name
			}
			ents = append(ents, c.Type+"="+n)
		}
		sort.Strings(ents)
		for _, v := range q.Values {
			vals = append(vals, fmt.Sprintf("%s=%g", v.Key, v.Value))
		}
		out = append(out, strings.Join(ents, ",")+": "+strings.Join(vals, ","))
	}
	sort.Strings(out)
	return out
}

func TestClientQuotasAlterDescribe(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	user, client, ip := qname("user"), qname("client-id"), qname("ip")

	alterQuotas(t, adm,
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(client, qname("app")), Ops: setQuota("producer_byte_rate", 102400)},
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(user, nil), Ops: setQuota("consumer_byte_rate", 2048)},
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(user, qname("alice"), client, nil), Ops: []kadm.AlterClientQuotaOp{
			{Key: "request_percentage", Value: 12.5}, {Key: "controller_mutation_rate", Value: 3}}},
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(ip, qname("10.1.2.3")), Ops: setQuota("connection_creation_rate", 7)},
	)
	all := []string{
		"client-id=<default>,user=alice: controller_mutation_rate=3,request_percentage=12.5",
		"client-id=app: producer_byte_rate=102400",
		"ip=10.1.2.3: connection_creation_rate=7",
		"user=<default>: consumer_byte_rate=2048",
	}
	check := func(what string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n got %q\nwant %q", what, got, want)
		}
	}
	check("everything", describeQuotas(t, adm, false), all)
	check("exact client-id", describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchName: qname("app")}), all[1:2])
	check("default user", describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 1}), all[3:4])
	check("any user", describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 2}), []string{all[0], all[3]})
	check("any user, strict", describeQuotas(t, adm, true, kadm.DescribeClientQuotaComponent{Type: "user", MatchType: 2}), all[3:4])
	check("default client-id", describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "client-id", MatchType: 1}), all[0:1])
	check("any ip", describeQuotas(t, adm, false, kadm.DescribeClientQuotaComponent{Type: "ip", MatchType: 2}), all[2:3])
	check("strict, no filter", describeQuotas(t, adm, true), nil)

	// Bad filters are top-level errors.
	for _, c := range []struct {
		comps []kadm.DescribeClientQuotaComponent
		want  error
	}{
		{[]kadm.DescribeClientQuotaComponent{{Type: "group", MatchType: 2}}, kerr.UnsupportedVersion},
		{[]kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 0}}, kerr.InvalidRequest},
		{[]kadm.DescribeClientQuotaComponent{{Type: "user", MatchType: 1, MatchName: qname("x")}}, kerr.InvalidRequest},
		{[]kadm.DescribeClientQuotaComponent{{Type: "ip", MatchType: 2}, {Type: "user", MatchType: 2}}, kerr.InvalidRequest},
	} {
		if _, err := adm.DescribeClientQuotas(testCtx(t, 10*time.Second), false, c.comps); !errors.Is(err, c.want) {
			t.Errorf("describe %+v: %v, want %v", c.comps, err, c.want)
		}
	}

	// Invalid alterations: INVALID_REQUEST per entity, nothing written.
	bad := []kadm.AlterClientQuotaEntry{
		{Entity: quotaEntity(client, qname("x")), Ops: setQuota("producer_byte_rate", 10.5)},
		{Entity: quotaEntity(client, qname("y")), Ops: setQuota("connection_creation_rate", 1)},
		{Entity: quotaEntity(ip, nil), Ops: setQuota("producer_byte_rate", 1)},
		{Entity: quotaEntity(ip, nil, user, nil), Ops: setQuota("connection_creation_rate", 1)},
		{Entity: quotaEntity(qname("group"), qname("g")), Ops: setQuota("producer_byte_rate", 1)},
		{Entity: quotaEntity(user, qname("")), Ops: setQuota("producer_byte_rate", 1)},
		{Entity: quotaEntity(client, qname("z")), Ops: setQuota("no_such_quota", 1)},
		{Entity: quotaEntity(client, qname("w")), Ops: setQuota("consumer_byte_rate", -5)},
	}
	for _, b := range bad {
		res, err := adm.AlterClientQuotas(testCtx(t, 10*time.Second), []kadm.AlterClientQuotaEntry{b})
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !errors.Is(res[0].Err, kerr.InvalidRequest) {
			t.Errorf("alter %s %+v: %+v, want INVALID_REQUEST", b.Entity, b.Ops, res)
		}
	}
	// validate_only checks and writes nothing.
	res, err := adm.ValidateAlterClientQuotas(testCtx(t, 10*time.Second), []kadm.AlterClientQuotaEntry{
		{Entity: quotaEntity(client, qname("validate")), Ops: setQuota("producer_byte_rate", 1000)}})
	if err != nil || len(res) != 1 || res[0].Err != nil {
		t.Fatalf("validate only: %+v %v", res, err)
	}
	check("after failures and validate_only", describeQuotas(t, adm, false), all)

	// Remove one key of alice's entity, change app's value; restart keeps it.
	alterQuotas(t, adm,
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(user, qname("alice"), client, nil), Ops: []kadm.AlterClientQuotaOp{{Key: "controller_mutation_rate", Remove: true}}},
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(client, qname("app")), Ops: setQuota("producer_byte_rate", 204800)},
		kadm.AlterClientQuotaEntry{Entity: quotaEntity(ip, qname("10.1.2.3")), Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Remove: true}}},
	)
	want := []string{
		"client-id=<default>,user=alice: request_percentage=12.5",
		"client-id=app: producer_byte_rate=204800",
		"user=<default>: consumer_byte_rate=2048",
	}
	check("after removals", describeQuotas(t, adm, false), want)
	tb.Restart()
	adm = newAdmin(t, tb.Addr())
	check("after restart", describeQuotas(t, adm, false), want)
}

// throttleCounter counts the throttles a client is told about.
type throttleCounter struct{ n, ms atomic.Int64 }

func (h *throttleCounter) OnBrokerThrottle(_ kgo.BrokerMetadata, d time.Duration, _ bool) {
	if d > 0 {
		h.n.Add(1)
		h.ms.Add(d.Milliseconds())
	}
}

// produceFor produces 10 KiB records as fast as cl accepts them (at most
// 32 outstanding) for d and returns the bytes acknowledged meanwhile.
func produceFor(t *testing.T, cl *kgo.Client, topic string, d time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	value := randomBytes(10 << 10)
	sem := make(chan struct{}, 32)
	var acked atomic.Int64
	var firstErr atomic.Pointer[error]
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		select {
		case sem <- struct{}{}:
		case <-time.After(time.Until(deadline)):
			continue
		}
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: value}, func(r *kgo.Record, err error) {
			<-sem
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					firstErr.CompareAndSwap(nil, &err)
				}
				return
			}
			if time.Now().Before(deadline) {
				acked.Add(int64(len(r.Value)))
			}
		})
	}
	if e := firstErr.Load(); e != nil {
		t.Fatalf("produce: %v", *e)
	}
	return acked.Load()
}

func TestProduceQuotaThrottles(t *testing.T) {
	// Three 1 s samples: the rate is measured over at least 2 s, so the
	// initial burst allowance stays small next to the test's 5 s.
	tb := startBroker(t, withProp("quota.window.num", "3"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	const quota = 100 << 10
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: quotaEntity(qname("client-id"), qname("limited")), Ops: setQuota("producer_byte_rate", quota)})

	var limitedHook, freeHook throttleCounter
	// Uncompressed: the quota counts wire bytes, the test counts values.
	limited := newClient(t, tb.Addr(), kgo.ClientID("limited"), kgo.WithHooks(&limitedHook), kgo.ProducerBatchCompression(kgo.NoCompression()))
	free := newClient(t, tb.Addr(), kgo.ClientID("free"), kgo.WithHooks(&freeHook), kgo.ProducerBatchCompression(kgo.NoCompression()))

	const d = 5 * time.Second
	start := time.Now()
	bytes := produceFor(t, limited, topic, d)
	rate := float64(bytes) / time.Since(start).Seconds()
	t.Logf("limited producer: %.0f B/s (quota %d), %d throttles, %d ms total", rate, quota, limitedHook.n.Load(), limitedHook.ms.Load())
	if limitedHook.n.Load() == 0 {
		t.Errorf("producer over its quota was never throttled")
	}
	if rate > 3*quota {
		t.Errorf("limited producer reached %.0f B/s, more than 3x its %d B/s quota", rate, quota)
	}

	// An unlimited client on the same broker moves far more, unthrottled.
	freeBytes := produceFor(t, free, topic, 2*time.Second)
	t.Logf("free producer: %d bytes in 2s", freeBytes)
	if n := freeHook.n.Load(); n != 0 {
		t.Errorf("unlimited producer throttled %d times", n)
	}
	if freeBytes < 2*3*quota {
		t.Errorf("unlimited producer only moved %d bytes in 2s", freeBytes)
	}
}

func TestFetchQuotaThrottles(t *testing.T) {
	tb := startBroker(t, withProp("quota.window.num", "3"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	// 4 MiB of data for the consumers.
	// Batches well below what the quota allows per fetch (rate x
	// (samples-1) windows = 400 KiB): as in Kafka, a batch larger than
	// that would be throttled on every fetch.
	producer := newClient(t, tb.Addr(), kgo.ClientID("loader"), kgo.ProducerBatchCompression(kgo.NoCompression()),
		kgo.ProducerBatchMaxBytes(100<<10))
	value := randomBytes(16 << 10)
	recs := make([]*kgo.Record, 256)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: value}
	}
	produceSync(t, producer, recs...)

	const quota = 200 << 10
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: quotaEntity(qname("client-id"), qname("slow-reader")), Ops: setQuota("consumer_byte_rate", quota)})

	consume := func(clientID string, hook *throttleCounter, d time.Duration) int64 {
		cl := newClient(t, tb.Addr(), kgo.ClientID(clientID), kgo.WithHooks(hook), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		var got int64
		deadline := time.Now().Add(d)
		for time.Now().Before(deadline) && got < int64(len(recs)*len(value)) {
			ctx, cancel := context.WithDeadline(context.Background(), deadline)
			fs := cl.PollFetches(ctx)
			cancel()
			fs.EachRecord(func(r *kgo.Record) { got += int64(len(r.Value)) })
		}
		return got
	}
	var slowHook, fastHook throttleCounter
	start := time.Now()
	got := consume("slow-reader", &slowHook, 5*time.Second)
	rate := float64(got) / time.Since(start).Seconds()
	t.Logf("limited consumer: %.0f B/s (quota %d), %d throttles, %d ms total", rate, quota, slowHook.n.Load(), slowHook.ms.Load())
	if slowHook.n.Load() == 0 {
		t.Errorf("consumer over its quota was never throttled")
	}
	if rate > 3*quota {
		t.Errorf("limited consumer reached %.0f B/s, more than 3x its %d B/s quota", rate, quota)
	}
	if got == 0 {
		t.Errorf("limited consumer read nothing")
	}

	all := int64(len(recs) * len(value))
	if got := consume("fast-reader", &fastHook, 30*time.Second); got != all {
		t.Errorf("unlimited consumer read %d of %d bytes", got, all)
	}
	if n := fastHook.n.Load(); n != 0 {
		t.Errorf("unlimited consumer throttled %d times", n)
	}
}

// TestConnectionCreationRateQuota opens connections faster than the ip's
// connection_creation_rate: the ones over the rate are closed unanswered.
func TestConnectionCreationRateQuota(t *testing.T) {
	tb := startBroker(t, withProp("quota.window.num", "3"))
	adm := newAdmin(t, tb.Addr())
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: quotaEntity(qname("ip"), qname("127.0.0.1")), Ops: setQuota("connection_creation_rate", 2)})

	answered, refused := 0, 0
	for i := 0; i < 10; i++ {
		rc := dialRaw(t, tb.Addr())
		req := kmsg.NewPtrApiVersionsRequest()
		rc.send(1, req)
		if _, err := rc.readFrame(time.Second); err != nil {
			refused++
		} else {
			answered++
		}
		rc.c.Close()
	}
	t.Logf("answered %d, refused %d", answered, refused)
	if answered == 0 || refused == 0 {
		t.Errorf("10 connections at once under 2/s: %d answered, %d refused; want some of each", answered, refused)
	}

	// Removing the quota lets connections through again.
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: quotaEntity(qname("ip"), qname("127.0.0.1")),
		Ops: []kadm.AlterClientQuotaOp{{Key: "connection_creation_rate", Remove: true}}})
	for i := 0; i < 5; i++ {
		rc := dialRaw(t, tb.Addr())
		rc.roundTrip(1, kmsg.NewPtrApiVersionsRequest())
		rc.c.Close()
	}
}
