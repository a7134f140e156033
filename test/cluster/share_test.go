package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// shareStatePartitions is share.coordinator.state.topic.num.partitions in
// these tests (fewer than Kafka's 50, so each broker's loads are cheap).
const shareStatePartitions = 6

// shareStatePartition is the __share_group_state partition of a
// share-partition as Kafka's share coordinator computes it: the key
// "group:topicId:partition" (topic id in Kafka's URL-safe base64), Java's
// String hash, written independently of the broker's code.
func shareStatePartition(group string, topicID [16]byte, p int32) int32 {
	return kafkaPartition(group+":"+base64.RawURLEncoding.EncodeToString(topicID[:])+":"+strconv.Itoa(int(p)), shareStatePartitions)
}

// stateLeaders waits until every node names the same leader for each
// __share_group_state partition and returns them.
func stateLeaders(t testing.TB, c *testCluster) map[int32]int32 {
	t.Helper()
	var leaders map[int32]int32
	waitFor(t, 15*time.Second, "__share_group_state with a leader per partition on every node", func() error {
		var first map[int32]int32
		for _, nd := range c.nodes {
			md, err := metadataOf(t, nd, "__share_group_state")
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) != shareStatePartitions {
				return fmt.Errorf("node %d: __share_group_state not complete yet", nd.id)
			}
			m := map[int32]int32{}
			for _, p := range md.Topics[0].Partitions {
				if p.Leader < 0 {
					return fmt.Errorf("node %d: partition %d has no leader", nd.id, p.Partition)
				}
				m[p.Partition] = p.Leader
			}
			if first != nil && !mapsEqual(first, m) {
				return fmt.Errorf("nodes disagree on the leaders")
			}
			first = m
		}
		leaders = first
		return nil
	})
	return leaders
}

// createOnBroker creates topic with parts partitions, each led by (and
// only on) broker id, and returns its topic id once every node sees it.
func createOnBroker(t testing.TB, c *testCluster, topic string, parts int, id int32) [16]byte {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p := range parts {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), []int32{id}
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req.Topics = append(req.Topics, rt)
	resp := ask(t, direct(t, c.nodes[0]), req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	var tid [16]byte
	waitFor(t, 10*time.Second, "every node to see "+topic+" led by broker "+strconv.Itoa(int(id)), func() error {
		return ledBy(t, c, topic, parts, id, &tid)
	})
	return tid
}

// ledBy checks that every node sees each of topic's parts partitions led
// by broker id, and reports its topic id.
func ledBy(t testing.TB, c *testCluster, topic string, parts int, id int32, tid *[16]byte) error {
	for _, nd := range c.nodes {
		if nd.cmd == nil {
			continue
		}
		md, err := metadataOf(t, nd, topic)
		if err != nil {
			return err
		}
		if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != parts {
			return fmt.Errorf("node %d: %s not complete yet", nd.id, topic)
		}
		for _, p := range md.Topics[0].Partitions {
			if p.Leader != id {
				return fmt.Errorf("node %d: partition %d led by %d", nd.id, p.Partition, p.Leader)
			}
		}
		*tid = md.Topics[0].TopicID
	}
	return nil
}

// shareSeen records what share consumers got: deliveries per value.
type shareSeen struct {
	mu   sync.Mutex
	seen map[string]int
}

func (s *shareSeen) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.seen) }

// shareConsume runs a share consumer bootstrapped at nd until ctx ends,
// acknowledging each record with ack (accept when nil) and flushing the
// acknowledgements after each poll.
func shareConsume(ctx context.Context, t *testing.T, nd *node, group, topic string, s *shareSeen, ack func(*kgo.Record) kgo.AckStatus) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Errorf("share client: %v", err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		for _, r := range fs.Records() {
			s.mu.Lock()
			s.seen[string(r.Value)]++
			s.mu.Unlock()
			st := kgo.AckAccept
			if ack != nil {
				st = ack(r)
			}
			r.Ack(st)
		}
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := cl.FlushAcks(fctx); err != nil && ctx.Err() == nil && !errors.Is(err, context.Canceled) {
			t.Logf("flush acks at node %d: %v", nd.id, err)
		}
		cancel()
	}
}

// produceSpread produces values from..from+n-1, value i to partition i%parts.
func produceSpread(t testing.TB, nd *node, topic string, parts, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Partition: int32((from + i) % parts), Value: []byte(strconv.Itoa(from + i))}
	}
	if err := cl.ProduceSync(ctx(t), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// describeStart waits until DescribeShareGroupOffsets sent through a client
// bootstrapped at nd reports start offset want (and lag 0) for every
// partition of topic.
func describeStart(t *testing.T, nd *node, group, topic string, parts int, want int64) {
	t.Helper()
	adm := nd.admin(t)
	waitFor(t, 20*time.Second, fmt.Sprintf("start offsets %d described through node %d", want, nd.id), func() error {
		ds, err := adm.DescribeShareGroupOffsets(ctx(t), group)
		if err != nil {
			return err
		}
		d := ds[group]
		if d.Err != nil {
			return d.Err
		}
		for p := range int32(parts) {
			o, ok := d.Offsets.Lookup(topic, p)
			switch {
			case !ok:
				return fmt.Errorf("partition %d not described: %+v", p, d.Offsets)
			case o.Err != nil:
				return fmt.Errorf("partition %d: %v", p, o.Err)
			case o.StartOffset != want || o.Lag != 0:
				return fmt.Errorf("partition %d: start offset %d lag %d", p, o.StartOffset, o.Lag)
			}
		}
		return nil
	})
}

// stateSummary is ReadShareGroupStateSummary (the inter-broker API) for
// partition 0 of topic id tid, sent to nd.
func stateSummary(t *testing.T, nd *node, group string, tid [16]byte) kmsg.ReadShareGroupStateSummaryResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
	req.GroupID = group
	rt := kmsg.NewReadShareGroupStateSummaryRequestTopic()
	rt.TopicID = tid
	rp := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
	rp.Partition, rp.LeaderEpoch = 0, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp := ask(t, direct(t, nd), req).(*kmsg.ReadShareGroupStateSummaryResponse)
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("ReadShareGroupStateSummary at node %d: %+v", nd.id, resp)
	}
	return resp.Topics[0].Partitions[0]
}

// TestShareGroupAcrossBrokers: a share group whose group coordinator
// (broker 1), __share_group_state leaders (broker 2) and data partition
// leader (broker 3) are three different brokers. Two share consumers,
// bootstrapped at brokers 1 and 2, consume every record exactly once
// between them, except that released records are redelivered once and
// rejected ones never again; DescribeShareGroupOffsets through every
// broker shows the start offsets past everything; after broker 3 is
// SIGKILLed and restarted, a new consumer gets only the records produced
// since, none acknowledged before.
func TestShareGroupAcrossBrokers(t *testing.T) {
	t.Parallel()
	c := startClusterConfig(t, 3, electionTimeout, "share.coordinator.state.topic.num.partitions="+strconv.Itoa(shareStatePartitions))
	const coordID, stateID, dataID = 1, 2, 3
	// One data partition: a share-partition's key differs from its
	// neighbour's only in the last character, so consecutive partitions'
	// state lands in consecutive state partitions, which have different
	// leaders; both consumers share the one partition.
	const parts, n = 1, 100
	offsets := offsetsLeaders(t, c)
	topic := "share-across"
	tid := createOnBroker(t, c, topic, parts, dataID)

	// AlterShareGroupOffsets of another (empty) group creates
	// __share_group_state.
	probe := groupOn(t, offsets, "share-probe-", coordID)
	if rs, err := c.nodes[0].admin(t).AlterShareGroupOffsets(ctx(t), probe,
		kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 0}}}); err != nil || rs.Error() != nil {
		t.Fatalf("AlterShareGroupOffsets %s: %v %v", probe, err, rs.Error())
	}
	states := stateLeaders(t, c)
	group := ""
	for i := range 100000 {
		g := "share-across-" + strconv.Itoa(i)
		if offsets[groupPartition(g)] != coordID {
			continue
		}
		ok := true
		for p := range int32(parts) {
			ok = ok && states[shareStatePartition(g, tid, p)] == stateID
		}
		if ok {
			group = g
			break
		}
	}
	if group == "" {
		t.Fatalf("no group id with its coordinator on %d and its state on %d (state leaders %v)", coordID, stateID, states)
	}
	adm := c.nodes[0].admin(t)
	rs, err := adm.AlterShareGroupOffsets(ctx(t), group, kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 0}}})
	if err != nil || rs.Error() != nil {
		t.Fatalf("AlterShareGroupOffsets %s: %v %v", group, err, rs.Error())
	}
	produceSpread(t, c.nodes[0], topic, parts, 0, n)

	// Values divisible by 10 are released on their first delivery, those
	// ending in 5 rejected; the rest accepted.
	s := &shareSeen{seen: map[string]int{}}
	runCtx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, nd := range c.nodes[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			shareConsume(runCtx, t, nd, group, topic, s, func(r *kgo.Record) kgo.AckStatus {
				v, _ := strconv.Atoi(string(r.Value))
				switch {
				case v%10 == 0 && r.DeliveryCount() == 1:
					return kgo.AckRelease
				case v%10 == 5:
					return kgo.AckReject
				}
				return kgo.AckAccept
			})
		}()
	}
	stop := func() { cancel(); wg.Wait() }
	defer stop()
	waitFor(t, 60*time.Second, "every record and the redeliveries", func() error {
		s.mu.Lock()
		defer s.mu.Unlock()
		redelivered := 0
		for i := 0; i < n; i += 10 {
			if s.seen[strconv.Itoa(i)] >= 2 {
				redelivered++
			}
		}
		if len(s.seen) < n || redelivered < n/10 {
			return fmt.Errorf("%d/%d seen, %d/%d released ones redelivered", len(s.seen), n, redelivered, n/10)
		}
		return nil
	})
	for _, nd := range c.nodes {
		describeStart(t, nd, group, topic, parts, n/parts)
	}
	// The state is at broker 2's share coordinator; broker 3's answers
	// NOT_COORDINATOR for it.
	if sum := stateSummary(t, nodeByID(c, stateID), group, tid); sum.ErrorCode != 0 || sum.StartOffset != n/parts {
		t.Errorf("ReadShareGroupStateSummary at broker %d: %v start offset %d", stateID, kerr.ErrorForCode(sum.ErrorCode), sum.StartOffset)
	}
	if sum := stateSummary(t, nodeByID(c, dataID), group, tid); sum.ErrorCode != kerr.NotCoordinator.Code {
		t.Errorf("ReadShareGroupStateSummary at broker %d: %v, want NOT_COORDINATOR", dataID, kerr.ErrorForCode(sum.ErrorCode))
	}
	stop()
	s.mu.Lock()
	for v, k := range s.seen {
		i, _ := strconv.Atoi(v)
		want := 1
		if i%10 == 0 {
			want = 2
		}
		if k != want {
			t.Errorf("record %s delivered %d times, want %d", v, k, want)
		}
	}
	s.mu.Unlock()

	// The data partitions' leader dies (replication factor 1: offline
	// meanwhile) and comes back: it reads the state from broker 2.
	d := nodeByID(c, dataID)
	d.kill()
	d.start()
	d.waitListening()
	waitFor(t, 30*time.Second, "broker 3 to lead "+topic+" again", func() error {
		var got [16]byte
		return ledBy(t, c, topic, parts, dataID, &got)
	})
	produceSpread(t, c.nodes[0], topic, parts, n, 10)
	s2 := &shareSeen{seen: map[string]int{}}
	runCtx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); shareConsume(runCtx2, t, c.nodes[1], group, topic, s2, nil) }()
	waitFor(t, 60*time.Second, "the records produced after the restart", func() error {
		if k := s2.count(); k < 10 {
			return fmt.Errorf("%d/10", k)
		}
		return nil
	})
	describeStart(t, c.nodes[2], group, topic, parts, (n+10)/parts)
	cancel2()
	<-done2
	s2.mu.Lock()
	defer s2.mu.Unlock()
	for v, k := range s2.seen {
		if i, _ := strconv.Atoi(v); i < n || k != 1 {
			t.Errorf("after the restart record %s delivered %d times", v, k)
		}
	}
}
