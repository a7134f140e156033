package cluster

// The seed's consumer-group scenarios (../shared/seed: partitions are the
// unit of parallelism, extra consumers sit idle, a leaving member's
// partitions go to the others, every group gets every record, one key
// stays on one partition, at-least-once and at-most-once commits) on three
// nodes, with topics that have one partition led by each broker and
// members bootstrapped at different brokers. test/integration's
// group_seed_test.go is the single-node version.

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// seedMember is a classic consumer-group member polling in a goroutine,
// committing after it recorded each poll's records (at-least-once); what
// it owns comes from its assign/revoke callbacks.
type seedMember struct {
	name string // also its client id
	cl   *kgo.Client

	mu    sync.Mutex
	owned map[int32]bool
	recs  []*kgo.Record
	done  chan struct{}
	once  sync.Once
}

// joinSeedGroup starts a member of group consuming topic through a client
// bootstrapped at nd only; it leaves the group at test end unless closed.
func joinSeedGroup(t *testing.T, nd *node, group, name, topic string) *seedMember {
	t.Helper()
	m := &seedMember{name: name, owned: map[int32]bool{}, done: make(chan struct{})}
	lose := func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
		m.mu.Lock()
		defer m.mu.Unlock()
		for _, p := range r[topic] {
			delete(m.owned, p)
		}
	}
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(nd.addr()), kgo.ClientID(name),
		kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(300*time.Millisecond),
		kgo.FetchMaxWait(200*time.Millisecond), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range a[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(lose), kgo.OnPartitionsLost(lose),
	)
	if err != nil {
		t.Fatal(err)
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
			m.mu.Lock()
			m.recs = append(m.recs, got...)
			m.mu.Unlock()
			if len(got) > 0 {
				cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				cl.CommitRecords(cctx, got...) // a failure redelivers: at-least-once
				cancel()
			}
		}
	}()
	t.Cleanup(m.close)
	return m
}

// close leaves the group and waits for the poll loop to end.
func (m *seedMember) close() {
	m.once.Do(func() {
		m.cl.Close()
		<-m.done
	})
}

func (m *seedMember) ownedNow() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

func (m *seedMember) records() []*kgo.Record {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.recs)
}

// waitAssigned waits until group is Stable with exactly members, each of
// the topic's partitions assigned to one of them, and every member's own
// view equal to what DescribeGroups at nd says; it returns the assignment
// by member name.
func waitAssigned(t *testing.T, nd *node, group, topic string, partitions int, members ...*seedMember) map[string][]int32 {
	t.Helper()
	adm := nd.admin(t)
	var out map[string][]int32
	waitFor(t, 20*time.Second, fmt.Sprintf("group %s balanced over %d members", group, len(members)), func() error {
		ds, err := adm.DescribeGroups(ctx(t), group)
		if err != nil {
			return err
		}
		d := ds[group]
		if d.Err != nil || d.State != "Stable" || len(d.Members) != len(members) {
			return fmt.Errorf("state %s, %d members, err %v", d.State, len(d.Members), d.Err)
		}
		out = map[string][]int32{}
		for _, mem := range d.Members {
			out[mem.ClientID] = []int32{}
			if c, ok := mem.Assigned.AsConsumer(); ok {
				for _, tp := range c.Topics {
					if tp.Topic == topic {
						out[mem.ClientID] = append(out[mem.ClientID], tp.Partitions...)
					}
				}
			}
			slices.Sort(out[mem.ClientID])
		}
		owner := map[int32]string{}
		for _, m := range members {
			desc, ok := out[m.name]
			if !ok {
				return fmt.Errorf("%s not described: %v", m.name, out)
			}
			if own := m.ownedNow(); !slices.Equal(own, desc) {
				return fmt.Errorf("%s owns %v, DescribeGroups says %v", m.name, own, desc)
			}
			for _, p := range desc {
				if o, dup := owner[p]; dup {
					return fmt.Errorf("partition %d assigned to %s and %s", p, o, m.name)
				}
				owner[p] = m.name
			}
		}
		if len(owner) != partitions {
			return fmt.Errorf("%d of %d partitions assigned: %v", len(owner), partitions, out)
		}
		return nil
	})
	return out
}

// produceKeyed produces values with key(i) through a client bootstrapped
// at nd with the default (murmur2 key hash) partitioner and returns the
// records as acknowledged (partition and offset set).
func produceKeyed(t *testing.T, nd *node, topic string, values []string, key func(int) string) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key(i)), Value: []byte(v)})
	}
	if err := cl.ProduceSync(ctx(t), recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	return recs
}

// waitConsumedOnce waits until members together polled every record of
// want, then fails if one was polled twice or by a member that was not
// assigned its partition in owners.
func waitConsumedOnce(t *testing.T, want []*kgo.Record, owners map[string][]int32, members ...*seedMember) {
	t.Helper()
	wanted := map[string]int32{}
	for _, r := range want {
		wanted[string(r.Value)] = r.Partition
	}
	waitFor(t, 15*time.Second, fmt.Sprintf("%d records consumed", len(want)), func() error {
		n := 0
		for _, m := range members {
			for _, r := range m.records() {
				if _, ok := wanted[string(r.Value)]; ok {
					n++
				}
			}
		}
		if n < len(want) {
			return fmt.Errorf("%d of %d", n, len(want))
		}
		return nil
	})
	seen := map[string]string{}
	for _, m := range members {
		for _, r := range m.records() {
			v := string(r.Value)
			if _, ok := wanted[v]; !ok {
				continue
			}
			if by, dup := seen[v]; dup {
				t.Fatalf("%q consumed by %s and %s", v, by, m.name)
			}
			seen[v] = m.name
			if !slices.Contains(owners[m.name], r.Partition) {
				t.Fatalf("%s consumed %q from partition %d, assigned %v", m.name, v, r.Partition, owners[m.name])
			}
		}
	}
}

// waitCommitted waits until group's committed offsets of topic, as a
// client bootstrapped at nd fetches them, equal want.
func waitCommitted(t *testing.T, nd *node, group, topic string, want map[int32]int64) {
	t.Helper()
	adm := nd.admin(t)
	waitFor(t, 10*time.Second, "committed offsets of "+group, func() error {
		offs, err := adm.FetchOffsets(ctx(t), group)
		if err != nil {
			return err
		}
		for p, at := range want {
			if o, ok := offs.Lookup(topic, p); !ok || o.At != at {
				return fmt.Errorf("partition %d committed %+v, want %d", p, o, at)
			}
		}
		return nil
	})
}

// endOffsets is the next offset of each partition after recs.
func endOffsets(recs []*kgo.Record) map[int32]int64 {
	out := map[int32]int64{}
	for _, r := range recs {
		out[r.Partition] = max(out[r.Partition], r.Offset+1)
	}
	return out
}

func seqValues(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%d", prefix, i)
	}
	return out
}

// TestSeedScenarios runs the seed's scenarios on one three-node cluster.
func TestSeedScenarios(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "group.initial.rebalance.delay.ms=0")
	leaders := offsetsLeaders(t, c)
	t.Run("IdleMemberAndRebalance", func(t *testing.T) {
		t.Parallel()
		seedIdleAndRebalance(t, c, leaders)
	})
	t.Run("KeyHashPartitioning", func(t *testing.T) {
		t.Parallel()
		seedKeyHash(t, c)
	})
	t.Run("AtLeastOnceAndAtMostOnce", func(t *testing.T) {
		t.Parallel()
		seedDelivery(t, c, leaders)
	})
}

// seedIdleAndRebalance: four members (each bootstrapped at another broker)
// for three partitions: one is idle, each record goes to the owner of its
// partition, once; a second group gets every record too. A member that
// owns a partition leaves: its partition goes to the others (the idle one
// now has work), which resume at its commit.
func seedIdleAndRebalance(t *testing.T, c *testCluster, leaders map[int32]int32) {
	topic := "seed-orders"
	createOnePerBroker(t, c, topic)
	group := groupOn(t, leaders, "seed-payments-", c.nodes[2].id)
	var members []*seedMember
	for i := range 4 {
		members = append(members, joinSeedGroup(t, c.nodes[i%3], group, fmt.Sprintf("m%d", i), topic))
	}
	owners := waitAssigned(t, c.nodes[0], group, topic, 3, members...)
	var idle []string
	for name, ps := range owners {
		if len(ps) == 0 {
			idle = append(idle, name)
		} else if len(ps) != 1 {
			t.Fatalf("%s assigned %v with four members for three partitions", name, ps)
		}
	}
	if len(idle) != 1 {
		t.Fatalf("idle members %v, want exactly one: %v", idle, owners)
	}
	notify := joinSeedGroup(t, c.nodes[1], "seed-notifications", "notify", topic)
	notifyOwners := waitAssigned(t, c.nodes[1], "seed-notifications", topic, 3, notify)

	first := produceKeyed(t, c.nodes[0], topic, seqValues("payment", 150), func(i int) string { return fmt.Sprintf("order-%d", i) })
	waitConsumedOnce(t, first, owners, members...)
	waitConsumedOnce(t, first, notifyOwners, notify)
	waitCommitted(t, c.nodes[1], group, topic, endOffsets(first))

	// The owner of partition 0 leaves; the three others share the three
	// partitions, the idle one included.
	var leaver *seedMember
	var rest []*seedMember
	for _, m := range members {
		if slices.Contains(owners[m.name], 0) {
			leaver = m
		} else {
			rest = append(rest, m)
		}
	}
	leaver.close()
	owners = waitAssigned(t, c.nodes[2], group, topic, 3, rest...)
	for name, ps := range owners {
		if len(ps) != 1 {
			t.Fatalf("after %s left: %s assigned %v, want one partition each", leaver.name, name, ps)
		}
	}
	second := produceKeyed(t, c.nodes[2], topic, seqValues("refund", 90), func(i int) string { return fmt.Sprintf("order-%d", i) })
	waitConsumedOnce(t, second, owners, rest...)
	// Resuming at the leaver's commit, nobody read a first-round record
	// again.
	reads := map[string]int{}
	for _, m := range members {
		for _, r := range m.records() {
			reads[string(r.Value)]++
		}
	}
	for _, r := range first {
		if n := reads[string(r.Value)]; n != 1 {
			t.Fatalf("%q (partition %d) read %d times across the rebalance", r.Value, r.Partition, n)
		}
	}
}

// seedKeyHash: the default partitioner puts a key on partition
// toPositive(murmur2(key)) % partitions, as Java's, so one order's events
// share a partition and are read back in the order they were produced.
func seedKeyHash(t *testing.T, c *testCluster) {
	topic := "seed-order-events"
	createOnePerBroker(t, c, topic)
	events := []string{"ORDER_RECEIVED", "ORDER_CREATED", "ORDER_CANCELED"}
	var values, keys []string
	for _, ev := range events {
		for o := range 40 {
			keys = append(keys, fmt.Sprintf("order-%d", o))
			values = append(values, fmt.Sprintf("order-%d/%s", o, ev))
		}
	}
	recs := produceKeyed(t, c.nodes[1], topic, values, func(i int) string { return keys[i] })
	for _, r := range recs {
		if want := javaKeyPartition(r.Key, 3); r.Partition != want {
			t.Fatalf("key %s on partition %d, Java's partitioner says %d", r.Key, r.Partition, want)
		}
	}
	got := consumeValues(t, c.nodes[2], topic, 3, len(values), false)
	if len(got) != len(values) {
		t.Fatalf("read %d records, want %d", len(got), len(values))
	}
	// Per key, in offset order: the events as produced.
	byKey := map[string][]string{}
	slices.SortFunc(recs, func(a, b *kgo.Record) int { return int(a.Offset - b.Offset) })
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.nodes[0].addr()), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
		topic: {0: kgo.NewOffset().AtStart(), 1: kgo.NewOffset().AtStart(), 2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	n := 0
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for n < len(values) {
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("read %d of %d", n, len(values))
		}
		fs.EachRecord(func(r *kgo.Record) {
			k := string(r.Key)
			if p := javaKeyPartition(r.Key, 3); r.Partition != p {
				t.Fatalf("%s read from partition %d, its hash says %d", k, r.Partition, p)
			}
			byKey[k] = append(byKey[k], string(r.Value))
			n++
		})
	}
	for k, vs := range byKey {
		var want []string
		for _, ev := range events {
			want = append(want, k+"/"+ev)
		}
		if !slices.Equal(vs, want) {
			t.Fatalf("%s: read %v, want %v", k, vs, want)
		}
	}
}

// javaKeyPartition is Kafka's BuiltInPartitioner for a keyed record:
// Utils.toPositive(Utils.murmur2(key)) % numPartitions, written here
// independently of franz-go.
func javaKeyPartition(key []byte, n int32) int32 {
	return (murmur2(key) & 0x7fffffff) % n
}

// murmur2 is Kafka's Utils.murmur2 (seed 0x9747b28c).
func murmur2(data []byte) int32 {
	const m, r = uint32(0x5bd1e995), 24
	length := len(data)
	h := uint32(0x9747b28c) ^ uint32(length)
	for i := 0; i+4 <= length; i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[length&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// seedDelivery: at-least-once (commit after processing): a consumer
// processes part of what it polled and commits only what it processed
// before it crashes; the next consumer of the group gets everything after
// the commit again, including records the first had processed but not
// committed. At-most-once (commit before processing): a consumer commits
// what it polled, then crashes before processing it; the next consumer
// never sees those records, only new ones.
func seedDelivery(t *testing.T, c *testCluster, leaders map[int32]int32) {
	topic := "seed-notifications-topic"
	createOnePerBroker(t, c, topic)
	first := produceKeyed(t, c.nodes[0], topic, seqValues("email", 60), func(i int) string { return fmt.Sprintf("user-%d", i) })
	ends := endOffsets(first)

	// Polls group through a client bootstrapped at nd until it has n
	// records; the client stays in the group, uncommitted.
	pollN := func(nd *node, group string, n int) (*kgo.Client, []*kgo.Record) {
		cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(), kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		var got []*kgo.Record
		cctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		for len(got) < n {
			fs := cl.PollFetches(cctx)
			if cctx.Err() != nil {
				t.Fatalf("%s: polled %d of %d", group, len(got), n)
			}
			fs.EachRecord(func(r *kgo.Record) { got = append(got, r) })
		}
		return cl, got
	}
	commit := func(cl *kgo.Client, offs map[int32]int64) {
		m := map[int32]kgo.EpochOffset{}
		for p, o := range offs {
			m[p] = kgo.EpochOffset{Epoch: -1, Offset: o}
		}
		var cerr error
		cl.CommitOffsetsSync(ctx(t), map[string]map[int32]kgo.EpochOffset{topic: m},
			func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				cerr = err
				if err == nil {
					for _, rt := range resp.Topics {
						for _, rp := range rt.Partitions {
							if rp.ErrorCode != 0 && cerr == nil {
								cerr = fmt.Errorf("partition %d: code %d", rp.Partition, rp.ErrorCode)
							}
						}
					}
				}
			})
		if cerr != nil {
			t.Fatalf("commit: %v", cerr)
		}
	}

	// At-least-once: the consumer processed everything it polled, but its
	// last commit before the crash was offset 10 of each partition.
	alo := groupOn(t, leaders, "seed-alo-", c.nodes[0].id)
	a1, _ := pollN(c.nodes[1], alo, len(first))
	committed := map[int32]int64{}
	for p := range ends {
		committed[p] = min(10, ends[p])
	}
	commit(a1, committed)
	a1.Close() // the crash: nothing more is committed
	for _, nd := range c.nodes {
		waitCommitted(t, nd, alo, topic, committed)
	}
	var wantAgain int
	for p := range ends {
		wantAgain += int(ends[p] - committed[p])
	}
	_, again := pollN(c.nodes[2], alo, wantAgain)
	for _, r := range again {
		if r.Offset < committed[r.Partition] {
			t.Fatalf("at-least-once: %q (partition %d offset %d) before the commit %d redelivered", r.Value, r.Partition, r.Offset, committed[r.Partition])
		}
	}
	if len(again) != wantAgain {
		t.Fatalf("at-least-once: redelivered %d records, want %d (every one after the commit)", len(again), wantAgain)
	}

	// At-most-once: everything polled is committed before processing,
	// then the consumer crashes; those records are never delivered again.
	amo := groupOn(t, leaders, "seed-amo-", c.nodes[1].id)
	m1, polled := pollN(c.nodes[2], amo, len(first))
	commit(m1, endOffsets(polled))
	m1.Close()
	waitCommitted(t, c.nodes[0], amo, topic, ends)
	later := produceKeyed(t, c.nodes[1], topic, seqValues("sms", 30), func(i int) string { return fmt.Sprintf("user-%d", i) })
	_, next := pollN(c.nodes[0], amo, len(later))
	for _, r := range next {
		if r.Offset < ends[r.Partition] {
			t.Fatalf("at-most-once: %q (partition %d offset %d) committed before processing was delivered again", r.Value, r.Partition, r.Offset)
		}
	}
}
