package integration

// KIP-848 consumer groups (ConsumerGroupHeartbeat): franz-go consumers
// with kgo.ServerSideBalancer against a real broker. An ownership ledger
// shared by the members checks, at every assignment callback, that no
// partition is owned by two members at once.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// start848Broker runs the consumer protocol with short timers (the
// minimums lowered so the test values are allowed).
func start848Broker(t *testing.T, opts ...brokerOpt) *testBroker {
	t.Helper()
	base := []brokerOpt{
		withProp("group.coordinator.rebalance.protocols", "classic,consumer"),
		withProp("group.consumer.min.heartbeat.interval.ms", "100"),
		withProp("group.consumer.heartbeat.interval.ms", "200"),
		withProp("group.consumer.min.session.timeout.ms", "1000"),
		withProp("group.consumer.session.timeout.ms", "3000"),
	}
	return startGroupBroker(t, append(base, opts...)...)
}

// start848Topic starts a consumer-protocol broker (start848Broker) and
// creates a topic of parts partitions on it; it returns the broker, an
// admin client, a raw client and the topic.
func start848Topic(t *testing.T, parts int32) (*testBroker, *kadm.Client, *kgo.Client, string) {
	t.Helper()
	tb := start848Broker(t)
	adm := newAdmin(t, tb.Addr())
	raw := newClient(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, parts, nil)
	return tb, adm, raw, topic
}

// ledger records which member owns each partition, failing the test when
// a member is given a partition another member still owns.
type ledger struct {
	t      *testing.T
	mu     sync.Mutex
	owner  map[string]string // "topic/p" -> member
	broken []string
}

func newLedger(t *testing.T) *ledger {
	l := &ledger{t: t, owner: map[string]string{}}
	t.Cleanup(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, b := range l.broken {
			t.Errorf("double ownership: %s", b)
		}
	})
	return l
}

func (l *ledger) assign(member string, a map[string][]int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, ps := range a {
		for _, p := range ps {
			k := topic + "/" + strconv.Itoa(int(p))
			if o, ok := l.owner[k]; ok && o != member {
				l.broken = append(l.broken, fmt.Sprintf("%s given to %s while %s owns it", k, member, o))
			}
			l.owner[k] = member
		}
	}
}

func (l *ledger) release(member string, r map[string][]int32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for topic, ps := range r {
		for _, p := range ps {
			k := topic + "/" + strconv.Itoa(int(p))
			if l.owner[k] == member {
				delete(l.owner, k)
			}
		}
	}
}

// member848 is a franz-go consumer using the consumer protocol.
type member848 struct {
	name string
	cl   *kgo.Client

	mu    sync.Mutex
	owned map[string][]int32
	recs  []*kgo.Record
	done  chan struct{}
	once  sync.Once
}

func startMember848(t *testing.T, l *ledger, addr, group, name string, extra ...kgo.Opt) *member848 {
	t.Helper()
	m := &member848{name: name, owned: map[string][]int32{}, done: make(chan struct{})}
	lose := func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
		m.mu.Lock()
		for topic, ps := range r {
			m.owned[topic] = slices.DeleteFunc(m.owned[topic], func(p int32) bool { return slices.Contains(ps, p) })
		}
		m.mu.Unlock()
		l.release(name, r)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.ConsumerGroup(group),
		kgo.ServerSideBalancer(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			l.assign(name, a)
			m.mu.Lock()
			for topic, ps := range a {
				m.owned[topic] = append(m.owned[topic], ps...)
				slices.Sort(m.owned[topic])
			}
			m.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			// Commit what was consumed before giving partitions up.
			_ = cl.CommitUncommittedOffsets(ctx)
			lose(ctx, cl, r)
		}),
		kgo.OnPartitionsLost(lose),
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	m.cl = cl
	go func() {
		defer close(m.done)
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			var got []*kgo.Record
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
			if len(got) == 0 {
				continue
			}
			m.mu.Lock()
			m.recs = append(m.recs, got...)
			m.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_ = cl.CommitRecords(ctx, got...)
			cancel()
		}
	}()
	t.Cleanup(m.Close)
	return m
}

func (m *member848) Close() {
	m.once.Do(func() {
		m.cl.Close()
		<-m.done
	})
}

func (m *member848) Owned(topic string) []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.owned[topic])
}

func (m *member848) Values() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.recs {
		out = append(out, string(r.Value))
	}
	return out
}

// describe848 is ConsumerGroupDescribe of one group.
func describe848(t *testing.T, cl *kgo.Client, group string) (kmsg.ConsumerGroupDescribeResponseGroup, error) {
	t.Helper()
	req := kmsg.NewPtrConsumerGroupDescribeRequest()
	req.Groups = []string{group}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return kmsg.ConsumerGroupDescribeResponseGroup{}, err
	}
	g := resp.Groups[0]
	return g, kerr.ErrorForCode(g.ErrorCode)
}

// waitSplit waits until the described group is Stable, each partition of
// topic assigned to exactly one member, and each member's own view equal
// to the broker's.
func waitSplit(t *testing.T, cl *kgo.Client, group, topic string, partitions int32, members ...*member848) {
	t.Helper()
	waitFor(t, 30*time.Second, "group "+group+" split over "+topic, func() error {
		g, err := describe848(t, cl, group)
		if err != nil {
			return err
		}
		if g.State != "Stable" {
			return fmt.Errorf("state %s", g.State)
		}
		if len(g.Members) != len(members) {
			return fmt.Errorf("%d members, want %d", len(g.Members), len(members))
		}
		byClient := map[string][]int32{}
		seen := map[int32]string{}
		for _, dm := range g.Members {
			var ps []int32
			for _, tp := range dm.Assignment.TopicPartitions {
				if tp.Topic == topic {
					ps = append(ps, tp.Partitions...)
				}
			}
			slices.Sort(ps)
			byClient[dm.ClientID] = ps
			for _, p := range ps {
				if o, dup := seen[p]; dup {
					t.Errorf("broker assigns %s/%d to %s and %s", topic, p, o, dm.ClientID)
				}
				seen[p] = dm.ClientID
			}
		}
		if len(seen) != int(partitions) {
			return fmt.Errorf("%d of %d partitions assigned: %v", len(seen), partitions, byClient)
		}
		for _, m := range members {
			if own := m.Owned(topic); !slices.Equal(own, byClient[m.name]) {
				return fmt.Errorf("%s owns %v, broker says %v", m.name, own, byClient[m.name])
			}
		}
		return nil
	})
}

func TestGroup848SplitLeaveCommit(t *testing.T) {
	tb, adm, raw, topic := start848Topic(t, 6)
	group := "g848-split"
	l := newLedger(t)

	var vals []*kgo.Record
	for i := range 60 {
		vals = append(vals, &kgo.Record{Topic: topic, Partition: int32(i % 6), Value: []byte(strconv.Itoa(i))})
	}
	prod := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	produceSync(t, prod, vals...)

	a := startMember848(t, l, tb.Addr(), group, "a", kgo.ConsumeTopics(topic))
	waitSplit(t, raw, group, topic, 6, a)
	b := startMember848(t, l, tb.Addr(), group, "b", kgo.ConsumeTopics(topic))
	c := startMember848(t, l, tb.Addr(), group, "c", kgo.ConsumeTopics(topic))
	waitSplit(t, raw, group, topic, 6, a, b, c)
	for _, m := range []*member848{a, b, c} {
		if n := len(m.Owned(topic)); n != 2 {
			t.Errorf("%s owns %d partitions, want 2 (uniform assignor)", m.name, n)
		}
	}

	// ListGroups reports the type; DescribeGroups answers for it too.
	lg, err := adm.ListGroups(testCtx(t, 5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if d, ok := lg[group]; !ok || d.ProtocolType != "consumer" {
		t.Errorf("ListGroups: %+v", lg[group])
	}
	lreq := kmsg.NewPtrListGroupsRequest()
	lreq.TypesFilter = []string{"consumer"}
	lresp, err := lreq.RequestWith(testCtx(t, 5*time.Second), raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(lresp.Groups) != 1 || lresp.Groups[0].Group != group || lresp.Groups[0].GroupType != "consumer" {
		t.Errorf("ListGroups(types=consumer) = %+v", lresp.Groups)
	}

	// b leaves: a and c take its partitions.
	b.Close()
	waitSplit(t, raw, group, topic, 6, a, c)

	// Everything is consumed once the group settles, and committed.
	waitFor(t, 30*time.Second, "all records consumed", func() error {
		n := len(a.Values()) + len(b.Values()) + len(c.Values())
		if n < 60 {
			return fmt.Errorf("%d of 60", n)
		}
		return nil
	})
	waitFor(t, 30*time.Second, "offsets committed", func() error {
		offs, err := adm.FetchOffsets(testCtx(t, 5*time.Second), group)
		if err != nil {
			return err
		}
		for p := int32(0); p < 6; p++ {
			o, ok := offs.Lookup(topic, p)
			if !ok || o.At != 10 {
				return fmt.Errorf("partition %d at %+v", p, o)
			}
		}
		return nil
	})

	// A classic member may not join the consumer group.
	classic := newClient(t, tb.Addr(), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic))
	jreq := kmsg.NewPtrJoinGroupRequest()
	jreq.Group, jreq.ProtocolType, jreq.SessionTimeoutMillis, jreq.RebalanceTimeoutMillis = group, "consumer", 10000, 10000
	jreq.Protocols = []kmsg.JoinGroupRequestProtocol{{Name: "range", Metadata: []byte{}}}
	jresp, err := jreq.RequestWith(testCtx(t, 5*time.Second), classic)
	if err != nil {
		t.Fatal(err)
	}
	if jresp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Errorf("classic JoinGroup on a consumer group: %v", kerr.ErrorForCode(jresp.ErrorCode))
	}
}

// A member that stops heartbeating is removed after the session timeout
// and its partitions move; until then nobody else gets them.
func TestGroup848SessionTimeout(t *testing.T) {
	tb, _, raw, topic := start848Topic(t, 4)
	group := "g848-session"

	// A raw member joins, takes every partition, and goes silent.
	req := kmsg.NewPtrConsumerGroupHeartbeatRequest()
	req.Group, req.MemberID, req.MemberEpoch = group, "silent-member-0000000", 0
	req.RebalanceTimeoutMillis = 60000
	req.SubscribedTopicNames = []string{topic}
	req.Topics = []kmsg.ConsumerGroupHeartbeatRequestTopic{}
	resp, err := req.RequestWith(testCtx(t, 5*time.Second), raw)
	if err != nil || resp.ErrorCode != 0 {
		t.Fatalf("join: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
	if resp.Assignment == nil || len(resp.Assignment.Topics) != 1 || len(resp.Assignment.Topics[0].Partitions) != 4 {
		t.Fatalf("silent member assignment %+v", resp.Assignment)
	}
	joined := time.Now()

	l := newLedger(t)
	a := startMember848(t, l, tb.Addr(), group, "a", kgo.ConsumeTopics(topic))
	waitFor(t, 30*time.Second, "a owns every partition", func() error {
		if own := a.Owned(topic); len(own) != 4 {
			return fmt.Errorf("a owns %v", own)
		}
		return nil
	})
	if d := time.Since(joined); d < 3*time.Second {
		t.Errorf("a got the silent member's partitions after %v, before its 3s session timeout", d)
	}
	g, err := describe848(t, raw, group)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Members) != 1 || g.Members[0].ClientID != "a" {
		t.Errorf("members after the session timeout: %+v", g.Members)
	}
	// The silent member is fenced for good.
	req.MemberEpoch = resp.MemberEpoch
	req.Topics = nil
	if resp, err = req.RequestWith(testCtx(t, 5*time.Second), raw); err != nil || resp.ErrorCode != kerr.UnknownMemberID.Code {
		t.Errorf("heartbeat of an expired member: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
	}
}

// A regex subscription follows topics created later.
func TestGroup848RegexNewTopic(t *testing.T) {
	tb := start848Broker(t)
	adm := newAdmin(t, tb.Addr())
	prefix := "rx848-"
	createTopic(t, adm, prefix+"one", 2, nil)
	l := newLedger(t)
	m := startMember848(t, l, tb.Addr(), "g848-regex", "a", kgo.ConsumeRegex(), kgo.ConsumeTopics(prefix+".*"))
	waitFor(t, 30*time.Second, "first topic assigned", func() error {
		if own := m.Owned(prefix + "one"); len(own) != 2 {
			return fmt.Errorf("owns %v", own)
		}
		return nil
	})
	createTopic(t, adm, prefix+"two", 3, nil)
	prod := newClient(t, tb.Addr())
	produceSync(t, prod, &kgo.Record{Topic: prefix + "two", Value: []byte("late")})
	waitFor(t, 30*time.Second, "second topic assigned and consumed", func() error {
		if own := m.Owned(prefix + "two"); len(own) != 3 {
			return fmt.Errorf("owns %v of the new topic", own)
		}
		if !slices.Contains(m.Values(), "late") {
			return fmt.Errorf("record of the new topic not consumed")
		}
		return nil
	})
}

// The group survives a broker restart: the members keep their epochs and
// partitions, and consumption goes on.
func TestGroup848Restart(t *testing.T) {
	tb, _, raw, topic := start848Topic(t, 4)
	group := "g848-restart"
	l := newLedger(t)
	a := startMember848(t, l, tb.Addr(), group, "a", kgo.ConsumeTopics(topic))
	b := startMember848(t, l, tb.Addr(), group, "b", kgo.ConsumeTopics(topic))
	waitSplit(t, raw, group, topic, 4, a, b)
	before, err := describe848(t, raw, group)
	if err != nil {
		t.Fatal(err)
	}

	tb.Restart()

	after, err := describe848(t, raw, group)
	for i := 0; err != nil && i < 100; i++ { // the shard may still be loading
		time.Sleep(50 * time.Millisecond)
		after, err = describe848(t, raw, group)
	}
	if err != nil {
		t.Fatal(err)
	}
	if after.Epoch != before.Epoch || len(after.Members) != 2 {
		t.Errorf("after restart: epoch %d (was %d), %d members", after.Epoch, before.Epoch, len(after.Members))
	}
	prod := newClient(t, tb.Addr())
	for p := int32(0); p < 4; p++ {
		produceSync(t, prod, &kgo.Record{Topic: topic, Partition: p, Value: []byte("after-" + strconv.Itoa(int(p)))})
	}
	waitFor(t, 30*time.Second, "records produced after the restart consumed", func() error {
		got := append(a.Values(), b.Values()...)
		for p := 0; p < 4; p++ {
			if !slices.Contains(got, "after-"+strconv.Itoa(p)) {
				return fmt.Errorf("after-%d not consumed (%d records)", p, len(got))
			}
		}
		return nil
	})
	waitSplit(t, raw, group, topic, 4, a, b)
}

// With the consumer protocol off, keys 68 and 69 are neither advertised
// nor served.
func TestGroup848Disabled(t *testing.T) {
	tb := startGroupBroker(t, withProp("group.coordinator.rebalance.protocols", "classic"))
	cl := newClient(t, tb.Addr())
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t, 5*time.Second), cl)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == 68 || k.ApiKey == 69 {
			t.Errorf("key %d advertised with the consumer protocol off", k.ApiKey)
		}
	}
	if lvl, ok := finalizedFeature(resp, "group.version"); ok {
		t.Errorf("group.version finalized at %d with the consumer protocol off", lvl)
	}
}

// finalizedFeature is the finalized level of name in an ApiVersions answer.
func finalizedFeature(resp *kmsg.ApiVersionsResponse, name string) (int16, bool) {
	for _, f := range resp.FinalizedFeatures {
		if f.Name == name {
			return f.MaxVersionLevel, true
		}
	}
	return 0, false
}

// By default the broker reports the features a Kafka 4.2 cluster
// finalizes for what it serves: transactions v2, the KIP-848 consumer
// protocol (group.version 1) and share groups (share.version 1).
func TestApiVersionsFeatures(t *testing.T) {
	tb := startBroker(t)
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(testCtx(t, 5*time.Second), newClient(t, tb.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int16{"transaction.version": 2, "group.version": 1, "share.version": 1} {
		if lvl, ok := finalizedFeature(resp, name); !ok || lvl != want {
			t.Errorf("%s finalized at %d (listed %v), want %d", name, lvl, ok, want)
		}
	}
}

// `sluice group describe` shows a consumer group's type, epochs and members.
func TestGroup848CLIDescribe(t *testing.T) {
	tb, _, raw, topic := start848Topic(t, 2)
	group := "g848-cli"
	a := startMember848(t, newLedger(t), tb.Addr(), group, "cli-848", kgo.ConsumeTopics(topic))
	waitSplit(t, raw, group, topic, 2, a)
	var d struct {
		Type       string `json:"type"`
		State      string `json:"state"`
		GroupEpoch *int32 `json:"group_epoch"`
		Members    []struct {
			ClientID    string `json:"client_id"`
			MemberEpoch *int32 `json:"member_epoch"`
			Assignments []struct {
				Topic      string  `json:"topic"`
				Partitions []int32 `json:"partitions"`
			} `json:"assignments"`
		} `json:"members"`
	}
	cliJSON(t, tb.Addr(), &d, "group", "describe", group)
	if d.Type != "consumer" || d.State != "Stable" || d.GroupEpoch == nil || len(d.Members) != 1 {
		t.Fatalf("describe: %+v", d)
	}
	m := d.Members[0]
	if m.ClientID != "cli-848" || m.MemberEpoch == nil || *m.MemberEpoch != *d.GroupEpoch ||
		len(m.Assignments) != 1 || !slices.Equal(m.Assignments[0].Partitions, []int32{0, 1}) {
		t.Errorf("member: %+v", m)
	}
	rows := tableRows(cliOK(t, tb.Addr(), "group", "describe", group))
	if !hasRow(rows, group, "consumer", "Stable", "consumer", "uniform", strconv.Itoa(int(*d.GroupEpoch)), "1") {
		t.Errorf("describe table:\n%v", rows)
	}
}
