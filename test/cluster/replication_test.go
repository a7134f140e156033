package cluster

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// Replication's data path on the in-process cluster: followers copy their
// leader's log through replica fetches, acks=all waits for the ISR, and
// min.insync.replicas refuses what the ISR cannot protect.

// partitionInfo is one partition as node via's Metadata describes it.
func partitionInfo(t *testing.T, c *testcluster.Cluster, via int, topic string, p int32) kmsg.MetadataResponseTopicPartition {
	t.Helper()
	m, err := c.Metadata(via, topic)
	if err != nil {
		t.Fatal(err)
	}
	for _, mt := range m.Topics {
		for _, mp := range mt.Partitions {
			if mp.Partition == p {
				return mp
			}
		}
	}
	t.Fatalf("no %s-%d in the metadata", topic, p)
	return kmsg.MetadataResponseTopicPartition{}
}

// segmentBytes concatenates the .log files of topic-p in node id's data
// directory, in offset order.
func segmentBytes(c *testcluster.Cluster, id int32, topic string, p int32) ([]byte, error) {
	dir := filepath.Join(c.NodeByID(id).Dir(), fmt.Sprintf("%s-%d", topic, p))
	names, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("node %d has no segment of %s-%d in %s", id, topic, p, dir)
	}
	slices.Sort(names)
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}

// TestReplicationCopiesTheLeaderByteForByte: an RF 3 topic takes N
// records with acks=all; every replica's log then holds the same batches
// byte for byte (the leader's offsets and epochs kept), and a consumer
// reads every record.
func TestReplicationCopiesTheLeaderByteForByte(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic, n = "repl-bytes", 200
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 1, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	c.WaitPartitionLeader(topic, 0)
	pi := partitionInfo(t, c, 0, topic, 0)
	if len(pi.ISR) != 3 {
		t.Fatalf("a new RF 3 partition's ISR is %v, want every replica", pi.ISR)
	}

	cl := c.Client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0))
	for i := range n {
		cl.Produce(ctx(t), &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%03d", i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
		})
	}
	if err := cl.Flush(ctx(t)); err != nil {
		t.Fatal(err)
	}

	var logs [][]byte
	c.WaitFor("every replica's log equal to the leader's", func() error {
		logs = logs[:0]
		for _, id := range pi.Replicas {
			b, err := segmentBytes(c, id, topic, 0)
			if err != nil {
				return err
			}
			logs = append(logs, b)
		}
		for i := 1; i < len(logs); i++ {
			if !bytes.Equal(logs[0], logs[i]) {
				return fmt.Errorf("replica %d holds %d bytes, replica %d %d", pi.Replicas[0], len(logs[0]), pi.Replicas[i], len(logs[i]))
			}
		}
		return nil
	})
	got := 0
	_ = record.Split(logs[0], func(h record.Header, _ []byte) error {
		got += int(h.NumRecords)
		return nil
	})
	if got != n {
		t.Fatalf("the replicas hold %d records, want %d", got, n)
	}

	consumer := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	seen := 0
	for seen < n {
		fs := consumer.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", seen, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if want := fmt.Sprintf("v%03d", seen); string(r.Value) != want || r.Offset != int64(seen) {
				t.Fatalf("record %d: %q at offset %d", seen, r.Value, r.Offset)
			}
			seen++
		})
	}
}

// produceOnce sends one Produce of a single record to node i and returns
// the partition's error code.
func produceOnce(t *testing.T, c *testcluster.Cluster, i int, topic string, acks int16, timeout time.Duration) int16 {
	t.Helper()
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli(), Records: []record.Record{{Value: []byte("x")}}})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, int32(timeout.Milliseconds())
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = batch
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	rctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	resp, err := c.Request(rctx, i, req)
	if err != nil {
		t.Fatalf("produce acks=%d: %v", acks, err)
	}
	return resp.(*kmsg.ProduceResponse).Topics[0].Partitions[0].ErrorCode
}

// TestAcksAllWaitsForTheISR: min.insync.replicas=2 on RF 2 with the
// follower paused. An acks=all write appended while the follower is in
// the ISR waits; when the follower leaves the ISR (fenced by the
// controller after the 1 s session, or dropped by the leader after
// replica.lag.time.max.ms, 1.5 s here: whichever comes first) the HW
// covers it with an ISR of one: NOT_ENOUGH_REPLICAS_AFTER_APPEND. Later
// acks=all writes are refused before the append with NOT_ENOUGH_REPLICAS.
// acks=1 answers after the leader's own write throughout.
// (REQUEST_TIMED_OUT: TestReplicaFetchReadsToLogEnd.)
func TestAcksAllWaitsForTheISR(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "repl-minisr"
	adm := c.Admin(t)
	two := "2"
	if resp, err := adm.CreateTopic(ctx(t), 1, 2, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	leaderID := c.WaitPartitionLeader(topic, 0)
	leader := c.NodeByID(leaderID).Index()
	pi := partitionInfo(t, c, leader, topic, 0)
	var follower int
	for _, r := range pi.Replicas {
		if r != leaderID {
			follower = c.NodeByID(r).Index()
		}
	}

	if code := produceOnce(t, c, leader, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all with the ISR whole: %v", kerr.ErrorForCode(code))
	}

	c.Pause(follower)
	t.Cleanup(func() { c.Resume(follower) })
	paused := time.Now()
	code := produceOnce(t, c, leader, topic, -1, 10*time.Second)
	// The fencing comes about a session (1 s) after the pause; a write
	// sent much later may find the ISR shrunk already.
	late := time.Since(paused) > testcluster.SessionTimeout/2 && code == kerr.NotEnoughReplicas.Code
	if code != kerr.NotEnoughReplicasAfterAppend.Code && !late {
		t.Fatalf("acks=all appended before the ISR shrank: %v, want NOT_ENOUGH_REPLICAS_AFTER_APPEND", kerr.ErrorForCode(code))
	}
	if code := produceOnce(t, c, leader, topic, 1, 5*time.Second); code != 0 {
		t.Fatalf("acks=1 with the follower paused: %v", kerr.ErrorForCode(code))
	}
	c.WaitFor("acks=all refused with NOT_ENOUGH_REPLICAS once the ISR shrank", func() error {
		code := produceOnce(t, c, leader, topic, -1, 200*time.Millisecond)
		if code != kerr.NotEnoughReplicas.Code {
			return fmt.Errorf("error code %d", code)
		}
		return nil
	})
	if code := produceOnce(t, c, leader, topic, 1, 5*time.Second); code != 0 {
		t.Fatalf("acks=1 with the ISR below min.insync.replicas: %v", kerr.ErrorForCode(code))
	}
}

// replicaFetch sends a Fetch of topic-0 from offset to node i as broker
// replica (-1: as a consumer), waiting at most 100 ms, and returns the
// partition's answer with the number of records it carries.
func replicaFetch(t *testing.T, c *testcluster.Cluster, i int, topicID [16]byte, replica int32, offset int64) (kmsg.FetchResponseTopicPartition, int) {
	t.Helper()
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.ReplicaState.ID = replica, replica
	req.MaxWaitMillis, req.MinBytes, req.MaxBytes = 100, 1, 1<<20
	rt := kmsg.NewFetchRequestTopic()
	rt.TopicID = topicID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.FetchOffset, rp.PartitionMaxBytes, rp.CurrentLeaderEpoch = offset, 1<<20, -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := c.Request(ctx(t), i, req)
	if err != nil {
		t.Fatal(err)
	}
	fr := resp.(*kmsg.FetchResponse)
	if fr.ErrorCode != 0 || len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
		t.Fatalf("fetch as %d: %+v", replica, fr)
	}
	p := fr.Topics[0].Partitions[0]
	n := 0
	_ = record.Split(p.RecordBatches, func(h record.Header, _ []byte) error {
		n += int(h.NumRecords)
		return nil
	})
	return p, n
}

// TestReplicaFetchReadsToLogEnd: with its follower paused, a leader's HW
// stays where the follower last fetched, and consumers see nothing past
// it; a replica fetch in the follower's name reads up to the log end, and
// the next one, from the new end, moves the HW (the leader counts a
// follower's fetch offset). A broker outside the replica set is refused.
func TestReplicaFetchReadsToLogEnd(t *testing.T) {
	t.Parallel()
	// A session long enough that the paused follower stays in the ISR
	// (is not fenced) while the test runs.
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "4000"))
	const topic = "repl-leo"
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 1, 2, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	leaderID := c.WaitPartitionLeader(topic, 0)
	leader := c.NodeByID(leaderID).Index()
	m, err := c.Metadata(leader, topic)
	if err != nil {
		t.Fatal(err)
	}
	topicID, pi := m.Topics[0].TopicID, m.Topics[0].Partitions[0]
	var followerID, outsider int32 = -1, -1
	for i := range c.N() {
		id := c.Node(i).ID()
		switch {
		case id == leaderID:
		case slices.Contains(pi.Replicas, id):
			followerID = id
		default:
			outsider = id
		}
	}
	// The follower has fetched at least once (the HW needs it): an
	// acks=all write completes.
	if code := produceOnce(t, c, leader, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all: %v", kerr.ErrorForCode(code))
	}
	c.Pause(c.NodeByID(followerID).Index())
	t.Cleanup(func() { c.Resume(c.NodeByID(followerID).Index()) })
	// acks=all cannot complete while the follower is in the ISR and
	// does not fetch.
	if code := produceOnce(t, c, leader, topic, -1, 300*time.Millisecond); code != kerr.RequestTimedOut.Code {
		t.Fatalf("acks=all with an ISR member paused: %v, want REQUEST_TIMED_OUT", kerr.ErrorForCode(code))
	}
	for range 3 {
		if code := produceOnce(t, c, leader, topic, 1, 5*time.Second); code != 0 {
			t.Fatalf("acks=1: %v", kerr.ErrorForCode(code))
		}
	}

	p, n := replicaFetch(t, c, leader, topicID, -1, 1)
	if p.ErrorCode != 0 || p.HighWatermark != 1 || n != 0 {
		t.Fatalf("consumer fetch past the HW: code %d HW %d, %d records", p.ErrorCode, p.HighWatermark, n)
	}
	if p, _ := replicaFetch(t, c, leader, topicID, outsider, 1); p.ErrorCode != kerr.NotLeaderForPartition.Code {
		t.Fatalf("replica fetch from broker %d outside the replica set: code %d", outsider, p.ErrorCode)
	}
	p, n = replicaFetch(t, c, leader, topicID, followerID, 1)
	if p.ErrorCode != 0 || n != 4 || p.HighWatermark != 1 {
		t.Fatalf("replica fetch: code %d HW %d, %d records, want 4 records above HW 1", p.ErrorCode, p.HighWatermark, n)
	}
	p, n = replicaFetch(t, c, leader, topicID, followerID, 5)
	if p.ErrorCode != 0 || n != 0 || p.HighWatermark != 5 {
		t.Fatalf("replica fetch at the log end: code %d HW %d, %d records, want HW 5", p.ErrorCode, p.HighWatermark, n)
	}
	if _, n := replicaFetch(t, c, leader, topicID, -1, 1); n != 4 {
		t.Fatalf("consumer reads %d records once the HW moved, want 4", n)
	}
}

// TestLeaderCrashKeepsAckedRecords: RF 3, min.insync.replicas 2, an
// idempotent acks=all producer. The partition's leader crashes; once it is
// fenced another in-sync replica leads (it has every acknowledged record),
// the producer carries on there (its sequence numbers continue: the new
// leader rebuilt the producer state from the replicated batches), and the
// old leader, restarted, follows the new one, truncating what it had that
// the new leader does not. Every acknowledged record is read exactly once,
// in order, and the three logs end up byte for byte the same.
func TestLeaderCrashKeepsAckedRecords(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "repl-failover"
	adm := c.Admin(t)
	two := "2"
	if resp, err := adm.CreateTopic(ctx(t), 1, 3, map[string]*string{"min.insync.replicas": &two}, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	oldLeader := c.WaitPartitionLeader(topic, 0)

	cl := c.Client(t, kgo.RequiredAcks(kgo.AllISRAcks()), kgo.DefaultProduceTopic(topic))
	var acked []string
	produce := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			v := fmt.Sprintf("r%03d", i)
			if err := cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte(v)}).FirstErr(); err != nil {
				t.Fatalf("produce %s: %v", v, err)
			}
			acked = append(acked, v)
		}
	}
	produce(0, 50)

	old := c.NodeByID(oldLeader).Index()
	c.Crash(old)
	newLeader := waitOtherLeader(c, old, oldLeader, topic)
	produce(50, 100)

	c.Restart(old)
	waitLogsEqual(c, topic, newLeader, allIDs(c))

	consumer := c.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var got []string
	for len(got) < len(acked) {
		fs := consumer.PollFetches(ctx(t))
		if err := fs.Err0(); err != nil {
			t.Fatalf("consume after %d records: %v", len(got), err)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	if !slices.Equal(got, acked) {
		t.Fatalf("read %d records %v..., want the %d acknowledged ones in order", len(got), got[:min(5, len(got))], len(acked))
	}
}

// TestDivergedLeaderTruncates: a leader cut off from the other brokers
// keeps taking acks=1 writes that nobody copies; it is fenced, another
// replica leads and takes acks=all writes. Healed, the old leader follows
// the new one: the leader's DivergingEpoch answer makes it drop its
// uncopied tail, and the logs end up byte for byte the same, holding every
// acks=all record and none of the lost acks=1 ones.
func TestDivergedLeaderTruncates(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	const topic = "repl-diverge"
	adm := c.Admin(t)
	if resp, err := adm.CreateTopic(ctx(t), 1, 3, nil, topic); err != nil || resp.Err != nil {
		t.Fatalf("create: %v %v", err, resp.Err)
	}
	oldLeader := c.WaitPartitionLeader(topic, 0)
	old := c.NodeByID(oldLeader).Index()
	for range 3 {
		if code := produceOnce(t, c, old, topic, -1, 5*time.Second); code != 0 {
			t.Fatalf("acks=all: %v", kerr.ErrorForCode(code))
		}
	}
	for j := range c.N() {
		if j != old {
			c.Cut(old, j)
		}
	}
	// Still the leader in its own (now stale) metadata: acks=1 lands
	// there only.
	for range 2 {
		if code := produceOnce(t, c, old, topic, 1, 5*time.Second); code != 0 {
			t.Fatalf("acks=1 on the cut-off leader: %v", kerr.ErrorForCode(code))
		}
	}
	newLeader := waitOtherLeader(c, old, oldLeader, topic)
	for range 4 {
		if code := produceOnce(t, c, c.NodeByID(newLeader).Index(), topic, -1, 5*time.Second); code != 0 {
			t.Fatalf("acks=all on the new leader: %v", kerr.ErrorForCode(code))
		}
	}
	c.HealAll()
	waitLogsEqual(c, topic, newLeader, allIDs(c))
	b, err := segmentBytes(c, oldLeader, topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	_ = record.Split(b, func(h record.Header, _ []byte) error {
		n += int(h.NumRecords)
		return nil
	})
	if n != 7 {
		t.Fatalf("the old leader holds %d records, want the 7 acks=all ones", n)
	}
}

// waitOtherLeader waits until every node but skip names a leader of
// topic-0 other than oldLeader, and returns it.
func waitOtherLeader(c *testcluster.Cluster, skip int, oldLeader int32, topic string) int32 {
	var newLeader int32
	c.WaitFor("another replica to lead", func() error {
		for j := range c.N() {
			if j == skip {
				continue
			}
			l, err := c.PartitionLeader(j, topic, 0)
			if err != nil {
				return err
			}
			if l < 0 || l == oldLeader {
				return fmt.Errorf("node %d names leader %d", c.Node(j).ID(), l)
			}
			newLeader = l
		}
		return nil
	})
	return newLeader
}

// allIDs is every node's id.
func allIDs(c *testcluster.Cluster) []int32 {
	var ids []int32
	for j := range c.N() {
		ids = append(ids, c.Node(j).ID())
	}
	return ids
}
