package integration

// Helpers for the consumer-group tests: a broker tuned for them, franz-go
// group members that record what they own and what they consume, and
// checks of the group's assignment as DescribeGroups reports it.

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// groupSession is the session timeout of every group member in the tests
// (the broker's default group.min.session.timeout.ms).
const groupSession = 6 * time.Second

// startGroupBroker starts a broker whose groups rebalance at once
// (group.initial.rebalance.delay.ms=0) and whose __consumer_offsets has
// few partitions, so a fresh broker is quick to serve groups.
func startGroupBroker(t *testing.T, opts ...brokerOpt) *testBroker {
	t.Helper()
	base := []brokerOpt{
		withProp("group.initial.rebalance.delay.ms", "0"),
		withProp("offsets.topic.num.partitions", "3"),
	}
	return startBroker(t, append(base, opts...)...)
}

// groupMember is a franz-go consumer-group member in this process. A
// goroutine polls; what it owns is kept from the OnPartitions callbacks.
type groupMember struct {
	t    *testing.T
	name string // also its client id
	cl   *kgo.Client

	mu          sync.Mutex
	owned       map[string]map[int32]bool
	recs        []*kgo.Record
	assignCalls int // OnPartitionsAssigned calls
	revokeCalls int // OnPartitionsRevoked and OnPartitionsLost calls

	commitEachPoll bool // commit each poll's records after recording them
	done           chan struct{}
	closeOnce      sync.Once
}

// memberOpt tunes a groupMember before it starts.
type memberOpt func(m *groupMember, opts *[]kgo.Opt)

// withKgo adds client options (balancers, instance id, ...).
func withKgo(o ...kgo.Opt) memberOpt {
	return func(_ *groupMember, opts *[]kgo.Opt) { *opts = append(*opts, o...) }
}

// committingEachPoll makes the member commit after recording each poll.
func committingEachPoll() memberOpt {
	return func(m *groupMember, _ *[]kgo.Opt) { m.commitEachPoll = true }
}

// startGroupMember joins group as a consumer of topics, starting at the
// earliest offset where the group has no commit. Autocommit is off. It is
// closed (leaving the group) at test end unless closed before.
func startGroupMember(t *testing.T, addr, group, name string, topics []string, mopts ...memberOpt) *groupMember {
	t.Helper()
	m := &groupMember{t: t, name: name, owned: map[string]map[int32]bool{}, done: make(chan struct{})}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ClientID(name),
		kgo.DialTimeout(5 * time.Second),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(groupSession),
		kgo.HeartbeatInterval(300 * time.Millisecond),
		kgo.RebalanceTimeout(15 * time.Second),
		kgo.FetchMaxWait(200 * time.Millisecond),
		kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.assignCalls++
			for tp, ps := range a {
				if m.owned[tp] == nil {
					m.owned[tp] = map[int32]bool{}
				}
				for _, p := range ps {
					m.owned[tp][p] = true
				}
			}
		}),
		kgo.OnPartitionsRevoked(m.lose),
		kgo.OnPartitionsLost(m.lose),
	}
	for _, o := range mopts {
		o(m, &opts)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatalf("member %s: kgo.NewClient: %v", name, err)
	}
	m.cl = cl
	go m.poll()
	t.Cleanup(m.Close)
	return m
}

func (m *groupMember) lose(_ context.Context, _ *kgo.Client, r map[string][]int32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.revokeCalls++
	for tp, ps := range r {
		for _, p := range ps {
			delete(m.owned[tp], p)
		}
	}
}

func (m *groupMember) poll() {
	defer close(m.done)
	for {
		fs := m.cl.PollFetches(context.Background())
		if fs.IsClientClosed() {
			return
		}
		var got []*kgo.Record
		fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		m.mu.Lock()
		m.recs = append(m.recs, got...)
		m.mu.Unlock()
		if m.commitEachPoll && len(got) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			// An error (e.g. a rebalance in between) leaves the records
			// uncommitted, which is what at-least-once allows.
			m.cl.CommitRecords(ctx, got...)
			cancel()
		}
	}
}

// Close closes the client (a dynamic member leaves the group; a static one
// does not) and waits for the poll loop to end.
func (m *groupMember) Close() {
	m.closeOnce.Do(func() {
		m.cl.Close()
		<-m.done
	})
}

// Owned returns the partitions of topic the member owns now, sorted.
func (m *groupMember) Owned(topic string) []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned[topic] {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// Records returns a copy of every record the member has polled.
func (m *groupMember) Records() []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs)
}

// Callbacks returns how many assign and revoke/lost callbacks ran.
func (m *groupMember) Callbacks() (assigned, revoked int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.assignCalls, m.revokeCalls
}

// Generation is the generation of the member's last completed join.
func (m *groupMember) Generation() int32 {
	_, gen := m.cl.GroupMetadata()
	return gen
}

// describedAssignment returns the group's state and, by client id, the
// sorted partitions of topic each member is assigned per DescribeGroups.
func describedAssignment(ctx context.Context, adm *kadm.Client, group, topic string) (string, map[string][]int32, error) {
	ds, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		return "", nil, err
	}
	d, ok := ds[group]
	if !ok {
		return "", nil, fmt.Errorf("group %q not in DescribeGroups response", group)
	}
	if d.Err != nil {
		return "", nil, d.Err
	}
	out := map[string][]int32{}
	for _, mem := range d.Members {
		if _, dup := out[mem.ClientID]; dup {
			return "", nil, fmt.Errorf("two members with client id %q", mem.ClientID)
		}
		out[mem.ClientID] = []int32{}
		c, ok := mem.Assigned.AsConsumer()
		if !ok {
			continue
		}
		for _, tp := range c.Topics {
			if tp.Topic == topic {
				out[mem.ClientID] = append(out[mem.ClientID], tp.Partitions...)
			}
		}
		slices.Sort(out[mem.ClientID])
	}
	return d.State, out, nil
}

// waitBalanced waits until the group is Stable with exactly members in it,
// each partition 0..partitions-1 of topic owned by exactly one member, and
// each member's own view (its callbacks) equal to what DescribeGroups says.
// It returns the assignment by member name.
func waitBalanced(t *testing.T, adm *kadm.Client, group, topic string, partitions int32, members ...*groupMember) map[string][]int32 {
	t.Helper()
	var last map[string][]int32
	waitFor(t, 30*time.Second, fmt.Sprintf("group %s balanced over %d partitions of %s", group, partitions, topic), func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		state, byClient, err := describedAssignment(ctx, adm, group, topic)
		if err != nil {
			return err
		}
		if state != "Stable" {
			return fmt.Errorf("state %s", state)
		}
		if len(byClient) != len(members) {
			return fmt.Errorf("%d members described, want %d: %v", len(byClient), len(members), byClient)
		}
		seen := map[int32]string{}
		for _, m := range members {
			own, desc := m.Owned(topic), byClient[m.name]
			if !slices.Equal(own, desc) {
				return fmt.Errorf("member %s owns %v, DescribeGroups says %v", m.name, own, desc)
			}
			for _, p := range own {
				if other, dup := seen[p]; dup {
					return fmt.Errorf("partition %d owned by %s and %s", p, other, m.name)
				}
				seen[p] = m.name
			}
		}
		for p := int32(0); p < partitions; p++ {
			if _, ok := seen[p]; !ok {
				return fmt.Errorf("partition %d unowned: %v", p, byClient)
			}
		}
		if len(seen) != int(partitions) {
			return fmt.Errorf("owned partitions %v, want 0..%d", seen, partitions-1)
		}
		last = byClient
		return nil
	})
	return last
}

// valuesOf returns the values of rs as strings.
func valuesOf(rs []*kgo.Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Value)
	}
	return out
}

// waitRecords waits until the members together have polled want distinct
// values, then fails if any value was polled twice (across all of them)
// or is not in want. It returns, per value, the member that polled it.
func waitRecords(t *testing.T, want []string, members ...*groupMember) map[string]string {
	t.Helper()
	wantSet := map[string]bool{}
	for _, v := range want {
		wantSet[v] = true
	}
	var by map[string]string
	var dups []string
	waitFor(t, 30*time.Second, fmt.Sprintf("%d records across %d members", len(want), len(members)), func() error {
		by, dups = map[string]string{}, nil
		for _, m := range members {
			for _, v := range valuesOf(m.Records()) {
				if prev, ok := by[v]; ok {
					dups = append(dups, fmt.Sprintf("%q (%s and %s)", v, prev, m.name))
				}
				by[v] = m.name
			}
		}
		n := 0
		for v := range wantSet {
			if _, ok := by[v]; ok {
				n++
			}
		}
		if len(dups) > 0 || n == len(want) {
			return nil
		}
		return fmt.Errorf("have %d of %d", n, len(want))
	})
	if len(dups) > 0 {
		sort.Strings(dups)
		t.Fatalf("records delivered more than once within the group: %v", dups)
	}
	for v := range by {
		if !wantSet[v] {
			t.Errorf("unexpected record %q", v)
		}
	}
	return by
}

// produceValues produces one record per value, keyed by keyOf if not nil.
func produceValues(t *testing.T, cl *kgo.Client, topic string, values []string, keyOf func(i int) string) {
	t.Helper()
	rs := make([]*kgo.Record, len(values))
	for i, v := range values {
		rs[i] = &kgo.Record{Topic: topic, Value: []byte(v)}
		if keyOf != nil {
			rs[i].Key = []byte(keyOf(i))
		}
	}
	produceSync(t, cl, rs...)
}

// seqValues returns n values prefix-0 .. prefix-(n-1).
func seqValues(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}
