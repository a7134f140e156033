package console_test

import (
	"context"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/console"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// TestConsoleTopicRates: the topics page, a topic's page and the overview
// show "—" (no samples) until the rate sampler has sampled twice; then,
// while a producer writes to one topic, a non-zero records/s and bytes/s
// for it, 0 for an idle topic, and a non-zero cluster records/s. Closing
// the broker stops the sampler.
func TestConsoleTopicRates(t *testing.T) {
	defer console.SetRateSampleEvery(300 * time.Millisecond)()
	b, closeBroker := startConsoleBroker(t)
	base := "http://" + b.ConsoleAddr()
	cl := brokerClient(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).CreateTopics(ctx, 2, 1, nil, "rate-busy", "rate-idle"); err != nil {
		t.Fatal(err)
	}

	body := get(t, base+"/topics")
	for _, topic := range []string{"rate-busy", "rate-idle"} {
		if r, br := cell(t, body, "rate", topic), cell(t, body, "byterate", topic); r != "—" || br != "—" {
			t.Fatalf("first view of the topics page: %s at %q and %q, want — (no samples yet)", topic, r, br)
		}
	}
	if body := get(t, base+"/"); !strings.Contains(body, "Records in (cluster): no samples yet") {
		t.Fatalf("first view of the overview: want no cluster samples yet:\n%s", body)
	}

	// A producer at a steady pace (a record every 5 ms) until the pages
	// show its rate.
	stopProducer := steadyProducer(t, ctx, cl, func() *kgo.Record { return &kgo.Record{Topic: "rate-busy", Value: []byte("a record of some bytes")} })

	for deadline := time.Now().Add(30 * time.Second); ; {
		body := get(t, base+"/topics")
		busy, busyB := cell(t, body, "rate", "rate-busy"), cell(t, body, "byterate", "rate-busy")
		idle, idleB := cell(t, body, "rate", "rate-idle"), cell(t, body, "byterate", "rate-idle")
		if positive(busy) && busyB != "—" && busyB != "0 B/s" && idle == "0.0" && idleB == "0 B/s" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics page 30 s into producing: busy %q %q, idle %q %q; want busy > 0, idle 0.0 and 0 B/s", busy, busyB, idle, idleB)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		busy := between(get(t, base+"/topics/rate-busy"), `id="rate">`, "<")
		idle := between(get(t, base+"/topics/rate-idle"), `id="rate">`, "<")
		if positive(busy) && idle == "0.0" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("topic pages: busy %q, idle %q; want > 0 and 0.0", busy, idle)
		}
		time.Sleep(50 * time.Millisecond)
	}
	clusterRate := regexp.MustCompile(`Records in \(cluster\): ([0-9.]+) records/s`)
	for deadline := time.Now().Add(30 * time.Second); ; {
		m := clusterRate.FindStringSubmatch(get(t, base+"/"))
		if m != nil && positive(m[1]) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("overview: cluster records/s %v, want > 0 while producing", m)
		}
		time.Sleep(50 * time.Millisecond)
	}

	if err := stopProducer(); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := closeBroker(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "console.(*Server).sampleRates") {
		t.Errorf("the rate sampler outlived the broker:\n%s", st)
	}
}

// cell is the topics page's cell of class class for topic.
func cell(t *testing.T, body, class, topic string) string {
	t.Helper()
	v := between(body, `class="`+class+`" data-topic="`+topic+`">`, "<")
	if v == "" {
		t.Fatalf("no %s cell for %s:\n%s", class, topic, body)
	}
	return v
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

// positive: a rate as the pages print it, above 0.
func positive(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && f > 0
}

// TestConsoleClusterRates: on a two-broker cluster with the console on
// node 1, records written only to a partition that node 2 leads show in
// the overview's cluster records/s and the topics page's rate: the
// sampler asks every leader, not only its own broker.
func TestConsoleClusterRates(t *testing.T) {
	defer console.SetRateSampleEvery(300 * time.Millisecond)()
	c := testcluster.New(t, 2, testcluster.WithNodeProp(0, "console.listener", "http://127.0.0.1:0"))
	base := "http://" + c.Node(0).Broker().ConsoleAddr()
	cl := c.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const topic = "cluster-rate"
	if _, err := adm.CreateTopic(ctx, 4, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// A partition led by node 2, once the metadata has leaders.
	remote := int32(-1)
	for deadline := time.Now().Add(30 * time.Second); remote < 0; {
		md, err := adm.Metadata(ctx, topic)
		if err == nil {
			for _, p := range md.Topics[topic].Partitions {
				if p.Leader == c.Node(1).ID() {
					remote = p.Partition
				}
			}
		}
		if remote < 0 && time.Now().After(deadline) {
			t.Fatalf("no partition of %s led by node %d: %v %v", topic, c.Node(1).ID(), md.Topics[topic], err)
		}
		if remote < 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}

	get(t, base+"/")       // the overview and
	get(t, base+"/topics") // the topic are watched from here on
	steadyProducer(t, ctx, cl, func() *kgo.Record { return &kgo.Record{Topic: topic, Partition: remote, Value: []byte("x")} })
	clusterRate := regexp.MustCompile(`Records in \(cluster\): ([0-9.]+) records/s`)
	for deadline := time.Now().Add(30 * time.Second); ; {
		m := clusterRate.FindStringSubmatch(get(t, base+"/"))
		rate := cell(t, get(t, base+"/topics"), "rate", topic)
		if m != nil && positive(m[1]) && positive(rate) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("producing to partition %d (led by node 2): cluster records/s %v, topic's %q; want both > 0", remote, m, rate)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// steadyProducer produces rec() every 5 ms until the returned stop is
// called (at the latest when the test ends); stop returns the first
// produce error.
func steadyProducer(t *testing.T, ctx context.Context, cl *kgo.Client, rec func() *kgo.Record) func() error {
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
				if err := cl.ProduceSync(ctx, rec()).FirstErr(); err != nil {
					if ctx.Err() != nil {
						err = nil // the test's context ended first
					}
					done <- err
					return
				}
			}
		}
	}()
	stopProducer := sync.OnceValue(func() error { close(stop); return <-done })
	t.Cleanup(func() {
		if err := stopProducer(); err != nil {
			t.Errorf("produce: %v", err)
		}
	})
	return stopProducer
}
