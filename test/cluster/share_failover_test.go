package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareLock is group.share.record.lock.duration.ms in the failover test:
// short, so records a member holds come back within the test.
const shareLock = 2 * time.Second

// Acknowledge types of ShareAcknowledge (KIP-932).
const (
	ackAccept  int8 = 1
	ackRelease int8 = 2
)

// rawShareMember is a share group member speaking ShareFetch and
// ShareAcknowledge itself, so the test knows exactly which offsets it
// acquired, with which delivery count, and which acknowledgements the
// broker confirmed. A share session is bound to its connection, so the
// member keeps one client per broker open for its whole life.
type rawShareMember struct {
	id, group string
	tid       [16]byte
	clients   map[int32]*kgo.Client
	epochs    map[int32]int32
}

func newRawShareMember(group, id string, tid [16]byte) *rawShareMember {
	return &rawShareMember{id: id, group: group, tid: tid, clients: map[int32]*kgo.Client{}, epochs: map[int32]int32{}}
}

func (m *rawShareMember) client(t *testing.T, nd *node) *kgo.Client {
	if cl := m.clients[nd.id]; cl != nil {
		return cl
	}
	cl := direct(t, nd)
	m.clients[nd.id] = cl
	return cl
}

// acquired is one offset a ShareFetch acquired.
type acquired struct {
	offset int64
	count  int16
}

// fetch sends one ShareFetch for partition 0 to nd and returns the
// offsets acquired, or the error (top-level or the partition's).
func (m *rawShareMember) fetch(t *testing.T, nd *node) ([]acquired, error) {
	req := kmsg.NewPtrShareFetchRequest()
	req.Version = 2
	req.GroupID, req.MemberID = kmsg.StringPtr(m.group), kmsg.StringPtr(m.id)
	req.ShareSessionEpoch = m.epochs[nd.id]
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.MaxRecords, req.BatchSize = 300, 1, 1<<20, 500, 500
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = m.tid
	rp := kmsg.NewShareFetchRequestTopicPartition()
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	kresp, err := m.client(t, nd).SeedBrokers()[0].Request(rctx, req)
	if err != nil {
		return nil, err
	}
	resp := kresp.(*kmsg.ShareFetchResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		m.epochs[nd.id] = 0 // a session not found or out of step: open a new one
		return nil, err
	}
	m.epochs[nd.id]++
	var out []acquired
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return nil, err
			}
			for _, a := range p.AcquiredRecords {
				for o := a.FirstOffset; o <= a.LastOffset; o++ {
					out = append(out, acquired{o, a.DeliveryCount})
				}
			}
		}
	}
	return out, nil
}

// ack sends one ShareAcknowledge to nd: typ for each offset of offs.
func (m *rawShareMember) ack(t *testing.T, nd *node, offs map[int64]int8) error {
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version = 2
	req.GroupID, req.MemberID = kmsg.StringPtr(m.group), kmsg.StringPtr(m.id)
	req.ShareSessionEpoch = m.epochs[nd.id]
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = m.tid
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	// Batches go in offset order, as the protocol requires.
	for _, o := range slices.Sorted(maps.Keys(offs)) {
		typ := offs[o]
		b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = o, o, []int8{typ}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	kresp, err := m.client(t, nd).SeedBrokers()[0].Request(rctx, req)
	if err != nil {
		return err
	}
	resp := kresp.(*kmsg.ShareAcknowledgeResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		m.epochs[nd.id] = 0
		return err
	}
	m.epochs[nd.id]++
	for _, rt := range resp.Topics {
		for _, p := range rt.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
		}
	}
	return nil
}

// shareLedger is what the broker confirmed: offsets accepted, and every
// acquisition seen.
type shareLedger struct {
	t        *testing.T
	accepted map[int64]bool
	counts   map[int64][]int16 // delivery counts of each acquisition, in order
	// held: offsets a member acquired and keeps unacknowledged, with the
	// time just before the fetch that acquired them; nobody else may
	// acquire them until the lock duration has passed since.
	held map[int64]time.Time
}

// saw checks one acquisition against the ledger.
func (l *shareLedger) saw(member string, a acquired, now time.Time) {
	l.t.Helper()
	if l.accepted[a.offset] {
		l.t.Errorf("%s acquired offset %d (delivery %d), accepted before", member, a.offset, a.count)
	}
	if since, ok := l.held[a.offset]; ok && now.Before(since.Add(shareLock)) {
		l.t.Errorf("%s acquired offset %d %v after another member did, within the lock duration %v", member, a.offset, now.Sub(since), shareLock)
	}
	delete(l.held, a.offset)
	l.counts[a.offset] = append(l.counts[a.offset], a.count)
}

// dataLeader is the leader of topic-0 that every running node names.
func dataLeader(t *testing.T, c *testCluster, topic string) (*node, error) {
	var lead int32 = -1
	for _, nd := range c.nodes {
		if nd.cmd == nil {
			continue
		}
		l, err := leaderOf(t, nd, topic)
		if err != nil {
			return nil, err
		}
		if l < 0 || lead >= 0 && l != lead {
			return nil, fmt.Errorf("node %d names leader %d", nd.id, l)
		}
		lead = l
	}
	if nd := nodeByID(c, lead); nd != nil && nd.cmd != nil {
		return nd, nil
	}
	return nil, fmt.Errorf("leader %d is not running", lead)
}

// consumeUntil has m fetch from topic's current leader, deciding each
// acquired offset with decide (an acknowledge type, or 0 to hold it
// unacknowledged), until done says so. Every acknowledgement must succeed.
func (l *shareLedger) consumeUntil(t *testing.T, c *testCluster, m *rawShareMember, topic string,
	decide func(a acquired) int8, done func() error) {
	t.Helper()
	waitFor(t, 40*time.Second, m.id+" to consume", func() error {
		if err := done(); err == nil {
			return nil
		}
		lead, err := dataLeader(t, c, topic)
		if err != nil {
			return err
		}
		before := time.Now()
		got, err := m.fetch(t, lead)
		if err != nil {
			return fmt.Errorf("ShareFetch at %d: %v", lead.id, err)
		}
		acks := map[int64]int8{}
		for _, a := range got {
			l.saw(m.id, a, time.Now())
			if typ := decide(a); typ != 0 {
				acks[a.offset] = typ
			} else {
				l.held[a.offset] = before
			}
		}
		if len(acks) > 0 {
			if err := m.ack(t, lead, acks); err != nil {
				t.Fatalf("%s: ShareAcknowledge at %d of %v: %v", m.id, lead.id, acks, err)
			}
			for o, typ := range acks {
				if typ == ackAccept {
					l.accepted[o] = true
				}
			}
		}
		return done()
	})
}

// allAccepted is done when every offset in [from, to) was accepted.
func (l *shareLedger) allAccepted(from, to int64) func() error {
	return func() error {
		for o := from; o < to; o++ {
			if !l.accepted[o] {
				return fmt.Errorf("offset %d not accepted yet", o)
			}
		}
		return nil
	}
}

// startSampler polls DescribeShareGroupOffsets through the nodes live()
// returns until stop is called, which returns the start offsets seen, in
// order; last is the latest sample (-1 before the first). A sample that
// fails (a broker just died) is skipped.
func startSampler(t *testing.T, live func() []string, group, topic string) (last func() int64, stop func() []int64) {
	var (
		mu   sync.Mutex
		seen []int64
		errs = map[string]int{}
	)
	sctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			ds, err := describeOnce(sctx, live(), group)
			if err == nil {
				err = ds[group].Err
			}
			if err == nil {
				o, ok := ds[group].Offsets.Lookup(topic, 0)
				if ok && o.Err == nil {
					mu.Lock()
					seen = append(seen, o.StartOffset)
					mu.Unlock()
				} else {
					err = fmt.Errorf("found %v: %v", ok, o.Err)
				}
			}
			if err != nil && sctx.Err() == nil {
				mu.Lock()
				errs[err.Error()]++
				mu.Unlock()
			}
			select {
			case <-sctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	last = func() int64 {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return -1
		}
		return seen[len(seen)-1]
	}
	return last, func() []int64 {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(errs) > 0 {
			t.Logf("DescribeShareGroupOffsets errors while sampling: %v", errs)
		}
		return seen
	}
}

// configValue is the value of config name in cs, "" when absent.
func configValue(cs []kadm.Config, name string) string {
	for _, c := range cs {
		if c.Key == name && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// describeOnce is DescribeShareGroupOffsets through a new client: one
// that found the group's coordinator before a SIGKILL keeps dialing the
// dead broker, not asking for the new one.
func describeOnce(ctx context.Context, addrs []string, group string) (kadm.DescribedShareGroupsOffsets, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RetryTimeout(2*time.Second))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	return kadm.NewClient(cl).DescribeShareGroupOffsets(dctx, group)
}

// waitStart waits until DescribeShareGroupOffsets through the live nodes
// reports start offset want for topic-0 (and lag 0 when it is the end).
func waitStart(t *testing.T, c *testCluster, group, topic string, want int64, end bool) {
	t.Helper()
	var live []*node
	for _, nd := range c.nodes {
		if nd.cmd != nil {
			live = append(live, nd)
		}
	}
	adm := kadm.NewClient(newClient(t, addrsOf(live), kgo.RetryTimeout(5*time.Second)))
	waitFor(t, 20*time.Second, fmt.Sprintf("start offset %d described", want), func() error {
		ds, err := adm.DescribeShareGroupOffsets(ctx(t), group)
		if err != nil {
			return err
		}
		if ds[group].Err != nil {
			return ds[group].Err
		}
		o, ok := ds[group].Offsets.Lookup(topic, 0)
		switch {
		case !ok:
			return fmt.Errorf("not described: %+v", ds[group].Offsets)
		case o.Err != nil:
			return o.Err
		case o.StartOffset != want || end && o.Lag != 0:
			return fmt.Errorf("start offset %d lag %d", o.StartOffset, o.Lag)
		}
		return nil
	})
}

// TestShareGroupSurvivesFailover: a share group on one partition
// replicated on three brokers (min.insync.replicas 2), its state in
// __share_group_state at replication factor 3, consumed by raw
// ShareFetch/ShareAcknowledge members with a 2 s acquisition lock.
//
// Before any kill, member 1 acquires offsets 0-29, accepts 0-9, releases
// 10-14 and holds 15-29. Phase 1: the leader of the share-partition's
// __share_group_state partition (its share coordinator) is SIGKILLed;
// member 2, at the same data leader, gets 10-14 again and 15-29 only once
// their lock expired, accepts 10-19, releases 20-24 and holds 25-29, each
// acknowledgement written through the new share coordinator. Phase 2: the
// killed broker is back, 30-39 are produced and the data partition's
// leader is SIGKILLed while member 2 holds 25-29; member 3, at the new
// leader, gets 20-39 (20-29 at their third delivery), holds 30-34 until
// their lock expires, and accepts everything.
//
// Throughout: no accepted offset is acquired again, held offsets are not
// acquired by another member before their lock expires, the start offset
// DescribeShareGroupOffsets reports never goes back, and at the end every
// record was accepted once and the start offset is 40.
func TestShareGroupSurvivesFailover(t *testing.T) {
	t.Parallel()
	c := startFailoverCluster(t,
		"share.coordinator.state.topic.num.partitions="+strconv.Itoa(shareStatePartitions),
		"share.coordinator.state.topic.replication.factor=3",
		"share.coordinator.state.topic.min.isr=2",
		"group.share.min.record.lock.duration.ms=1000",
		"group.share.record.lock.duration.ms="+strconv.Itoa(int(shareLock.Milliseconds())),
	)
	const topic = "share-failover"
	n1, n2, n3 := c.nodes[0].id, c.nodes[1].id, c.nodes[2].id
	createReplicated(t, c.nodes[0], topic, [][]int32{{n1, n2, n3}}, map[string]string{"min.insync.replicas": "2"})
	waitReplicated(t, c, topic, map[int32]int32{0: n1})
	var tid [16]byte
	waitFor(t, 10*time.Second, "the topic id of "+topic, func() error { return ledBy(t, c, topic, 1, n1, &tid) })

	// AlterShareGroupOffsets of a probe group creates __share_group_state.
	adm := kadm.NewClient(newClient(t, addrsOf(c.nodes)))
	alterStart := func(group string) {
		t.Helper()
		waitFor(t, 20*time.Second, "AlterShareGroupOffsets "+group, func() error {
			rs, err := adm.AlterShareGroupOffsets(ctx(t), group, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 0}}})
			if err == nil {
				err = rs.Error()
			}
			if err != nil && !kerr.IsRetriable(err) {
				t.Fatalf("AlterShareGroupOffsets %s: %v", group, err)
			}
			return err
		})
	}
	alterStart("share-failover-probe")
	states := stateLeaders(t, c)
	waitReplicated(t, c, "__share_group_state", nil)
	rcs, err := adm.DescribeTopicConfigs(ctx(t), "__share_group_state")
	if err != nil {
		t.Fatal(err)
	}
	if rc, err := rcs.On("__share_group_state", nil); err != nil {
		t.Fatal(err)
	} else if v := configValue(rc.Configs, "min.insync.replicas"); v != "2" {
		t.Fatalf("__share_group_state min.insync.replicas %q, want 2 (share.coordinator.state.topic.min.isr)", v)
	}
	// A group whose share coordinator is not the data leader, so each
	// phase kills one role.
	group := ""
	for i := range 1000 {
		g := "share-failover-" + strconv.Itoa(i)
		if states[shareStatePartition(g, tid, 0)] != n1 {
			group = g
			break
		}
	}
	if group == "" {
		t.Fatalf("every __share_group_state partition led by the data leader %d: %v", n1, states)
	}
	sp := shareStatePartition(group, tid, 0)
	stateID := states[sp]
	alterStart(group)
	prod := newClient(t, addrsOf(c.nodes), kgo.DefaultProduceTopic(topic), kgo.RecordDeliveryTimeout(20*time.Second))
	produce := func(from, n int) {
		t.Helper()
		for i := from; i < from+n; i++ {
			if err := prod.ProduceSync(ctx(t), &kgo.Record{Value: []byte(strconv.Itoa(i))}).FirstErr(); err != nil {
				t.Fatalf("produce %d: %v", i, err)
			}
		}
	}
	produce(0, 30)
	// The sampler asks the live brokers: a client seeded with a dead one
	// may spend a sample's whole timeout dialing it.
	var live atomic.Pointer[[]string]
	setLive := func() {
		var addrs []string
		for _, nd := range c.nodes {
			if nd.cmd != nil {
				addrs = append(addrs, nd.addr())
			}
		}
		live.Store(&addrs)
	}
	setLive()
	lastSample, stopSampler := startSampler(t, func() []string { return *live.Load() }, group, topic)

	l := &shareLedger{t: t, accepted: map[int64]bool{}, counts: map[int64][]int16{}, held: map[int64]time.Time{}}
	m1 := newRawShareMember(group, "member-1", tid)
	acquiredAll := func(from, to int64, count int16) func() error {
		return func() error {
			for o := from; o < to; o++ {
				cs := l.counts[o]
				if len(cs) == 0 || cs[len(cs)-1] != count {
					return fmt.Errorf("offset %d: deliveries %v, want one at %d", o, cs, count)
				}
			}
			return nil
		}
	}
	l.consumeUntil(t, c, m1, topic, func(a acquired) int8 {
		switch {
		case a.offset < 10:
			return ackAccept
		case a.offset < 15:
			return ackRelease
		}
		return 0
	}, acquiredAll(0, 30, 1))
	waitStart(t, c, group, topic, 10, false)

	// --- phase 1: the share coordinator dies ---
	state := nodeByID(c, stateID)
	state.kill()
	setLive()
	t.Logf("SIGKILLed broker %d, leader of __share_group_state-%d (the share coordinator)", stateID, sp)
	newState := waitNewLeader(t, c, "__share_group_state", sp, stateID)
	t.Logf("broker %d leads __share_group_state-%d", newState, sp)
	m2 := newRawShareMember(group, "member-2", tid)
	released := map[int64]bool{}
	l.consumeUntil(t, c, m2, topic, func(a acquired) int8 {
		switch {
		case a.offset < 20:
			return ackAccept
		case a.offset < 25 && a.count == 2:
			released[a.offset] = true
			return ackRelease
		case a.offset < 30 && a.count == 2:
			return 0
		}
		return ackAccept
	}, func() error {
		if err := l.allAccepted(0, 20)(); err != nil {
			return err
		}
		if len(released) < 5 {
			return fmt.Errorf("%d/5 of 20-24 released", len(released))
		}
		return acquiredAll(25, 30, 2)()
	})
	waitStart(t, c, group, topic, 20, false)

	// --- phase 2: the data partition's leader dies ---
	state.restart()
	setLive()
	waitAllListed(t, c)
	waitReplicated(t, c, topic, nil)
	waitReplicated(t, c, "__share_group_state", nil)
	produce(30, 10)
	data, err := dataLeader(t, c, topic)
	if err != nil {
		t.Fatal(err)
	}
	// The share coordinator moved in phase 1; if it moved to the data
	// leader, its preferred replica takes it back, so this phase kills
	// the data leader alone.
	if states := stateLeaders(t, c); states[sp] == data.id {
		if _, err := adm.ElectLeaders(ctx(t), kadm.ElectPreferredReplica, kadm.TopicsSet{"__share_group_state": {sp: {}}}); err != nil {
			t.Fatalf("ElectLeaders __share_group_state-%d: %v", sp, err)
		}
		waitNewLeader(t, c, "__share_group_state", sp, data.id)
		t.Logf("elected the preferred leader of __share_group_state-%d", sp)
	}
	data.kill()
	setLive()
	// The locks ended with the leader: what member 2 held comes back
	// at the next leader without waiting for them.
	clear(l.held)
	t.Logf("SIGKILLed broker %d, the leader of %s-0, while member 2 holds 25-29", data.id, topic)
	newData := waitNewLeader(t, c, topic, 0, data.id)
	t.Logf("broker %d leads %s-0", newData, topic)
	m3 := newRawShareMember(group, "member-3", tid)
	l.consumeUntil(t, c, m3, topic, func(a acquired) int8 {
		if a.offset >= 30 && a.offset < 35 && a.count == 1 {
			return 0
		}
		return ackAccept
	}, l.allAccepted(0, 40))
	waitStart(t, c, group, topic, 40, true)

	for o := int64(20); o < 30; o++ {
		if cs := l.counts[o]; len(cs) != 3 || cs[2] != 3 {
			t.Errorf("offset %d delivered with counts %v, want 1, 2, 3", o, cs)
		}
	}
	for o := int64(30); o < 35; o++ {
		if cs := l.counts[o]; len(cs) != 2 || cs[1] != 2 {
			t.Errorf("offset %d delivered with counts %v, want 1 then 2 after its lock expired", o, cs)
		}
	}
	waitFor(t, 20*time.Second, "the sampler to see start offset 40", func() error {
		if o := lastSample(); o != 40 {
			return fmt.Errorf("last sample %d", o)
		}
		return nil
	})
	seen := stopSampler()
	for i, o := range seen {
		if i > 0 && o < seen[i-1] {
			t.Errorf("start offset went back from %d to %d: %v", seen[i-1], o, seen)
			break
		}
	}
	t.Logf("%d start offset samples: %v", len(seen), slices.Compact(seen))
}
