package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// Tests of the in-process cluster fixture (internal/testcluster): each
// starts its own cluster, in parallel with the others.

// tcTopic creates topic with one partition per node (placement spreads
// them over the brokers, so each broker leads one) and waits until every
// reachable node knows each partition's leader; it returns leader by
// partition.
func tcTopic(t *testing.T, c *testcluster.Cluster, topic string) map[int32]int32 {
	t.Helper()
	adm := c.Admin(t)
	resp, err := adm.CreateTopic(ctx(t), int32(c.N()), 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	leaders := map[int32]int32{}
	for p := range int32(c.N()) {
		leaders[p] = c.WaitPartitionLeader(topic, p)
	}
	return leaders
}

// producer is a client that writes each record to the partition it names.
func producer(t *testing.T, c *testcluster.Cluster, opts ...kgo.Opt) *kgo.Client {
	return c.Client(t, append([]kgo.Opt{kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
}

// produceTo writes one record per value to topic's partition p (acks=all)
// through cl (a producer).
func produceTo(t *testing.T, cl *kgo.Client, topic string, p int32, values ...string) {
	t.Helper()
	for _, v := range values {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte(v)}
		if err := cl.ProduceSync(ctx(t), r).FirstErr(); err != nil {
			t.Fatalf("produce %q to %s-%d: %v", v, topic, p, err)
		}
	}
}

// consumeAll reads topic's partitions from the start until it has want
// records per partition and returns the values by partition.
func consumeAll(t *testing.T, c *testcluster.Cluster, topic string, partitions int32, want int, opts ...kgo.Opt) map[int32][]string {
	t.Helper()
	offs := map[int32]kgo.Offset{}
	for p := range partitions {
		offs[p] = kgo.NewOffset().AtStart()
	}
	cl := c.Client(t, append([]kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}), kgo.FetchMaxWait(100 * time.Millisecond)}, opts...)...)
	got := map[int32][]string{}
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		done := true
		for p := range partitions {
			if len(got[p]) < want {
				done = false
			}
		}
		if done {
			return got
		}
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("consume %s: have %v, want %d per partition", topic, got, want)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Logf("fetch %s-%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { got[r.Partition] = append(got[r.Partition], string(r.Value)) })
	}
}

func values(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i))
	}
	return out
}

func wantValues(t *testing.T, got map[int32][]string, prefix func(p int32) string, n int) {
	t.Helper()
	for p, vs := range got {
		want := values(prefix(p), n)
		if strings.Join(vs, ",") != strings.Join(want, ",") {
			t.Errorf("partition %d: got %v, want %v", p, vs, want)
		}
	}
}

// (a) Three nodes: a topic with a partition led by each broker; a client
// seeded with one broker produces to and consumes from all of them.
func TestTestclusterProduceConsume(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leaders := tcTopic(t, c, "spread")
	seen := map[int32]bool{}
	for _, l := range leaders {
		seen[l] = true
	}
	if len(seen) != 3 {
		t.Fatalf("partition leaders %v: want one partition led by each of the 3 brokers", leaders)
	}
	cl := producer(t, c, kgo.SeedBrokers(c.Node(1).Addr()))
	for p := range int32(3) {
		produceTo(t, cl, "spread", p, values(fmt.Sprint("p", p), 5)...)
	}
	got := consumeAll(t, c, "spread", 3, 5, kgo.SeedBrokers(c.Node(2).Addr()))
	wantValues(t, got, func(p int32) string { return fmt.Sprint("p", p) }, 5)
}

// (b) Isolating the quorum leader: the others elect a new one within a
// few election timeouts, the isolated broker is fenced (its partition
// leaderless in the others' Metadata); healed, it rejoins, is unfenced
// and serves its partition's data again.
func TestTestclusterIsolateLeader(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leaders := tcTopic(t, c, "iso")
	old := c.WaitLeader()
	var oldPart int32 = -1
	for p, l := range leaders {
		if l == old.ID() {
			oldPart = p
		}
	}
	if oldPart < 0 {
		t.Fatalf("no partition led by the quorum leader %s: %v", old, leaders)
	}
	cl := producer(t, c)
	produceTo(t, cl, "iso", oldPart, "before")

	start := time.Now()
	c.Isolate(old.Index())
	next := c.WaitNewLeader(old.Index())
	// PreVote and CheckQuorum: the others notice after an election
	// timeout and elect within a few more.
	if took := time.Since(start); took > 10*testcluster.ElectionTimeout {
		t.Errorf("new leader %s after %s: want within a few election timeouts of %s", next, took, testcluster.ElectionTimeout)
	} else {
		t.Logf("new leader %s %s after isolating %s", next, took, old)
	}
	c.WaitFenced(old.Index())
	c.WaitFor("the isolated broker's partition leaderless", func() error {
		l, err := c.PartitionLeader(next.Index(), "iso", oldPart)
		if err == nil && l != -1 {
			err = fmt.Errorf("leader %d", l)
		}
		return err
	})
	if answered(c, old.Index()) {
		t.Errorf("isolated %s answered a client", old)
	}

	c.HealAll()
	c.WaitUnfenced(old.Index())
	if l := c.WaitPartitionLeader("iso", oldPart); l != old.ID() {
		t.Fatalf("partition %d led by %d after healing, want %s", oldPart, l, old)
	}
	produceTo(t, cl, "iso", oldPart, "after")
	recs := consumePartition(t, c, "iso", oldPart, 2)
	if strings.Join(recs, ",") != "before,after" {
		t.Fatalf("partition %d after healing: %v, want [before after]", oldPart, recs)
	}
}

// answered reports whether node i answers an ApiVersions request within
// 300 ms (ten times what a live node on loopback needs).
func answered(c *testcluster.Cluster, i int) bool {
	rctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := c.Request(rctx, i, kmsg.NewPtrApiVersionsRequest())
	return err == nil
}

// consumePartition reads want records of one partition from its start.
func consumePartition(t *testing.T, c *testcluster.Cluster, topic string, p int32, want int) []string {
	t.Helper()
	cl := c.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}), kgo.FetchMaxWait(100*time.Millisecond))
	var got []string
	cctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) < want {
		fs := cl.PollFetches(cctx)
		if cctx.Err() != nil {
			t.Fatalf("consume %s-%d: have %v, want %d records", topic, p, got, want)
		}
		fs.EachRecord(func(r *kgo.Record) { got = append(got, string(r.Value)) })
	}
	return got
}

// (c) A broker paused longer than broker.session.timeout.ms is fenced;
// resumed, it is unfenced.
func TestTestclusterPause(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leader := c.WaitLeader()
	victim := (leader.Index() + 1) % 3
	start := time.Now()
	c.Pause(victim)
	c.WaitFenced(victim)
	if took := time.Since(start); took < testcluster.SessionTimeout/2 {
		t.Errorf("fenced %s after a pause of %s: before the session timeout %s", c.Node(victim), took, testcluster.SessionTimeout)
	}
	if answered(c, victim) {
		t.Errorf("paused %s answered a request", c.Node(victim))
	}

	c.Resume(victim)
	c.WaitUnfenced(victim)
	if _, err := c.Metadata(victim); err != nil {
		t.Errorf("resumed %s: %v", c.Node(victim), err)
	}
}

// (d) Cutting the link between two followers: both still reach the
// leader, stay unfenced, and the cluster keeps serving every partition.
func TestTestclusterCutFollowers(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leader := c.WaitLeader()
	a, b := (leader.Index()+1)%3, (leader.Index()+2)%3
	c.Cut(a, b)
	tcTopic(t, c, "cut")
	cl := producer(t, c, kgo.SeedBrokers(c.Node(a).Addr()))
	// Work for longer than a session timeout while the link is cut: a
	// follower that lost the leader would be fenced meanwhile.
	deadline := time.Now().Add(testcluster.SessionTimeout + testcluster.SessionTimeout/2)
	n := 0
	for ; n < 3 || time.Now().Before(deadline); n++ {
		for p := range int32(3) {
			produceTo(t, cl, "cut", p, fmt.Sprintf("p%d-%d", p, n))
		}
	}
	for _, i := range []int{a, b} {
		m, err := c.Metadata(leader.Index())
		if err != nil {
			t.Fatal(err)
		}
		if !listsID(m.Brokers, c.Node(i).ID()) {
			t.Errorf("%s fenced while only cut from the other follower", c.Node(i))
		}
	}
	if l := c.WaitLeader(); l != leader {
		t.Errorf("quorum leader moved from %s to %s on a cut between followers", leader, l)
	}
	got := consumeAll(t, c, "cut", 3, n, kgo.SeedBrokers(c.Node(b).Addr()))
	wantValues(t, got, func(p int32) string { return fmt.Sprint("p", p) }, n)
}

// (e) Restart and Crash keep a broker's data: it comes back on the same
// port and directory, is unfenced and serves what it had.
func TestTestclusterRestart(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3)
	leaders := tcTopic(t, c, "rs")
	cl := producer(t, c)
	for p := range int32(3) {
		produceTo(t, cl, "rs", p, values(fmt.Sprint("p", p), 3)...)
	}
	marker := func(i int) bool {
		_, err := os.Stat(filepath.Join(c.Node(i).Dir(), ".kafka_cleanshutdown"))
		return err == nil
	}
	victim := c.NodeByID(leaders[0]).Index()
	c.Stop(victim)
	if !marker(victim) {
		t.Errorf("a clean Stop left no clean-shutdown marker")
	}
	c.Restart(victim)
	c.WaitUnfenced(victim)
	other := c.NodeByID(leaders[1]).Index()
	c.Crash(other)
	if marker(other) {
		t.Errorf("Crash left the clean-shutdown marker: the restart would skip recovery")
	}
	c.WaitFenced(other)
	c.Restart(other)
	c.WaitUnfenced(other)
	for p := range int32(3) {
		c.WaitPartitionLeader("rs", p)
	}
	got := consumeAll(t, c, "rs", 3, 3)
	wantValues(t, got, func(p int32) string { return fmt.Sprint("p", p) }, 3)
}

// Starting and stopping a cluster twice leaves no goroutine and no port
// behind.
func TestTestclusterNoLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	var addrs []string
	for round := range 2 {
		t.Run(fmt.Sprint("round", round), func(t *testing.T) {
			c := testcluster.New(t, 3)
			tcTopic(t, c, "leak")
			produceTo(t, producer(t, c), "leak", 0, "x")
			c.Pause(1)
			c.Cut(0, 2)
			for i := range c.N() {
				addrs = append(addrs, c.Node(i).Addr(), c.Node(i).ControllerAddr())
			}
		})
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after two clusters, %d before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("port %s still held: %v", a, err)
			continue
		}
		ln.Close()
	}
}

func listsID(bs []kmsg.MetadataResponseBroker, id int32) bool {
	for _, b := range bs {
		if b.NodeID == id {
			return true
		}
	}
	return false
}
