package coordinator_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// startBroker runs an in-process broker on dir; listen is "127.0.0.1:0"
// or a previous broker's address.
func startBroker(t *testing.T, dir, listen string, tweak func(*config.Broker)) *broker.Broker {
	t.Helper()
	cfg := config.Default()
	cfg.Listeners = "PLAINTEXT://" + listen
	cfg.LogDirs = dir
	cfg.OffsetsTopicNumPartitions = 5
	if tweak != nil {
		tweak(cfg)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testLog{t}, nil))
	}
	b := broker.New(cfg, logger)
	if err := b.Start(); err != nil {
		t.Fatalf("start broker: %v", err)
	}
	return b
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func createTopic(t *testing.T, adm *kadm.Client, name string, partitions int32) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, name)
	if err != nil || resp.Err != nil {
		t.Fatalf("create topic %s: %v %v", name, err, resp.Err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// consumer is a franz-go group consumer that records its assignment.
type consumer struct {
	cl       *kgo.Client
	mu       sync.Mutex
	assigned map[int32]bool
	records  int
	stop     func()
}

func (c *consumer) partitions() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Sorted(maps.Keys(c.assigned))
}

func startConsumer(t *testing.T, addr, group, topic string, opts ...kgo.Opt) *consumer {
	t.Helper()
	c := &consumer{assigned: map[int32]bool{}}
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range m[topic] {
				c.assigned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range m[topic] {
				delete(c.assigned, p)
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			c.mu.Lock()
			defer c.mu.Unlock()
			for _, p := range m[topic] {
				delete(c.assigned, p)
			}
		}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	c.cl = cl
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := cl.PollFetches(ctx)
			c.mu.Lock()
			c.records += fs.NumRecords()
			c.mu.Unlock()
		}
	}()
	var once sync.Once
	c.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			cl.Close()
		})
	}
	t.Cleanup(c.stop)
	return c
}

// Two franz-go consumers in one group share a two-partition topic: each
// ends up with exactly one partition.
func TestConsumerGroupSmoke(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0", func(c *config.Broker) { c.GroupInitialRebalanceDelayMs = 100 })
	defer b.Close()
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "t", 2)

	c1 := startConsumer(t, b.Addr(), "g", "t")
	eventually(t, 20*time.Second, "first consumer owns both partitions", func() bool {
		return slices.Equal(c1.partitions(), []int32{0, 1})
	})
	c2 := startConsumer(t, b.Addr(), "g", "t")
	eventually(t, 30*time.Second, "each consumer owns one partition", func() bool {
		p1, p2 := c1.partitions(), c2.partitions()
		return len(p1) == 1 && len(p2) == 1 && p1[0] != p2[0]
	})

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	groups, err := adm.DescribeGroups(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	g := groups["g"]
	if g.Err != nil || g.State != "Stable" || len(g.Members) != 2 || g.Protocol == "" {
		t.Fatalf("describe: %+v", g)
	}
}

// Committed offsets, with their metadata, survive a broker restart.
func TestOffsetsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	b := startBroker(t, dir, "127.0.0.1:0", nil)
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "t", 3)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	want := kadm.Offsets{}
	want.Add(kadm.Offset{Topic: "t", Partition: 0, At: 10, LeaderEpoch: -1, Metadata: "first"})
	want.Add(kadm.Offset{Topic: "t", Partition: 2, At: 12345, LeaderEpoch: 0, Metadata: "ünïcode metadata"})
	if err := adm.CommitAllOffsets(ctx, "pg", want); err != nil {
		t.Fatalf("commit: %v", err)
	}
	// Overwrite one: the latest commit wins after replay.
	again := kadm.Offsets{}
	again.Add(kadm.Offset{Topic: "t", Partition: 0, At: 11, LeaderEpoch: -1, Metadata: "second"})
	if err := adm.CommitAllOffsets(ctx, "pg", again); err != nil {
		t.Fatalf("commit: %v", err)
	}
	want.Add(again["t"][0])
	addr := b.Addr()
	if err := b.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	b2 := startBroker(t, dir, addr, nil)
	defer b2.Close()
	adm2 := newAdmin(t, b2.Addr())
	var got kadm.OffsetResponses
	eventually(t, 10*time.Second, "offsets after restart", func() bool {
		var err error
		got, err = adm2.FetchOffsets(ctx, "pg")
		return err == nil && got.Error() == nil
	})
	for _, p := range []int32{0, 2} {
		w, _ := want.Lookup("t", p)
		g, ok := got.Lookup("t", p)
		if !ok || g.At != w.At || g.Metadata != w.Metadata || g.LeaderEpoch != w.LeaderEpoch {
			t.Errorf("partition %d: got %+v, want %+v", p, g.Offset, w)
		}
	}
	if _, ok := got.Lookup("t", 1); ok {
		t.Errorf("partition 1 has an offset it never committed")
	}
	listed, err := adm2.ListGroups(ctx)
	if err != nil || len(listed) != 1 || listed["pg"].State != "Empty" {
		t.Fatalf("list groups after restart: %+v %v", listed, err)
	}
}

// A static member (group.instance.id) that restarts gets its partition
// back without a rebalance: the generation does not move, whether the
// follower or the leader (KIP-814: the leader gets SkipAssignment) restarts.
// The range balancer is used because franz-go's cooperative-sticky leader
// recomputes its plan from the members' JoinGroup metadata on a restart and
// rejoins when that differs from the stored assignment (as it would on Kafka).
func TestStaticMemberRestart(t *testing.T) {
	b := startBroker(t, t.TempDir(), "127.0.0.1:0", func(c *config.Broker) { c.GroupInitialRebalanceDelayMs = 100 })
	defer b.Close()
	adm := newAdmin(t, b.Addr())
	createTopic(t, adm, "t", 2)
	static := func(id string) []kgo.Opt {
		return []kgo.Opt{kgo.InstanceID(id), kgo.Balancers(kgo.RangeBalancer())}
	}
	members := map[string]*consumer{
		"a": startConsumer(t, b.Addr(), "sg", "t", static("a")...),
		"c": startConsumer(t, b.Addr(), "sg", "t", static("c")...),
	}
	eventually(t, 30*time.Second, "each static member owns one partition", func() bool {
		pa, pc := members["a"].partitions(), members["c"].partitions()
		return len(pa) == 1 && len(pc) == 1 && pa[0] != pc[0]
	})
	_, gen := members["a"].cl.GroupMetadata()
	for _, id := range []string{"a", "c"} {
		owned := members[id].partitions()[0]
		members[id].stop()
		members[id] = startConsumer(t, b.Addr(), "sg", "t", static(id)...)
		eventually(t, 30*time.Second, "the restarted member owns its old partition", func() bool {
			p := members[id].partitions()
			return len(p) == 1 && p[0] == owned
		})
		for other, m := range members {
			if _, g := m.cl.GroupMetadata(); g != gen {
				t.Errorf("after restarting %s: %s is in generation %d, want %d (no rebalance)", id, other, g, gen)
			}
		}
	}
}
