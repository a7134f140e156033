// Package integration holds Sluice's end-to-end tests: each test starts a
// real broker (in process, or the built binary) on 127.0.0.1 with a fresh
// data directory and talks to it over TCP with a real Kafka client
// (franz-go) or with hand-written protocol bytes.
package integration

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

// testBroker is one in-process broker owned by a test.
type testBroker struct {
	t     *testing.T
	props map[string]string
	logs  *lockedBuffer
	b     *broker.Broker
	addr  string
}

// brokerOpt sets a broker property by its Kafka name.
type brokerOpt func(props map[string]string)

// withProp sets a Kafka broker property (e.g. "auto.create.topics.enable").
func withProp(key, value string) brokerOpt {
	return func(p map[string]string) { p[key] = value }
}

// startBroker starts a broker on 127.0.0.1 (free port) with a fresh
// t.TempDir() data directory. It is closed by t.Cleanup; Restart and
// Close may be called before that.
func startBroker(t *testing.T, opts ...brokerOpt) *testBroker {
	t.Helper()
	props := map[string]string{
		"listeners": "PLAINTEXT://127.0.0.1:0",
		"log.dirs":  t.TempDir(),
	}
	for _, o := range opts {
		o(props)
	}
	tb := &testBroker{t: t, props: props, logs: &lockedBuffer{}}
	tb.start()
	t.Cleanup(func() {
		tb.Close()
		if t.Failed() {
			t.Logf("broker log (tail):\n%s", tb.logs.tail(8000))
		}
	})
	return tb
}

func (tb *testBroker) start() {
	tb.t.Helper()
	cfg, err := config.Build(tb.props)
	if err != nil {
		tb.t.Fatalf("config.Build(%v): %v", tb.props, err)
	}
	logger := slog.New(slog.NewTextHandler(tb.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	b := broker.New(cfg, logger)
	if err := b.Start(); err != nil {
		tb.t.Fatalf("broker start: %v", err)
	}
	tb.b = b
	tb.addr = b.Addr()
	// Restarts keep the same ports so clients' seed addresses stay valid.
	ls, _ := cfg.ListenerList()
	var bound []string
	for _, l := range ls {
		bound = append(bound, l.Name+"://"+b.ListenerAddr(l.Name))
	}
	tb.props["listeners"] = strings.Join(bound, ",")
}

// ListenerAddr is host:port of the running broker's listener name (e.g.
// "SASL_PLAINTEXT"), "" when it has none.
func (tb *testBroker) ListenerAddr(name string) string { return tb.b.ListenerAddr(name) }

// Addr is host:port of the running broker.
func (tb *testBroker) Addr() string { return tb.addr }

// Close stops the broker cleanly; it is safe to call twice.
func (tb *testBroker) Close() {
	tb.t.Helper()
	if tb.b == nil {
		return
	}
	b := tb.b
	tb.b = nil
	if err := b.Close(); err != nil {
		tb.t.Errorf("broker close: %v", err)
	}
}

// Restart closes the broker and starts a new one on the same data
// directory and port.
func (tb *testBroker) Restart() {
	tb.t.Helper()
	tb.Close()
	tb.start()
}

// lockedBuffer collects the broker's log for printing on failure.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	if len(s) > n {
		s = "..." + s[len(s)-n:]
	}
	return s
}

// newClient returns a franz-go client for addr, closed by t.Cleanup. It
// keeps kgo's defaults (idempotent produce included), so the suite runs
// the path every modern client takes; acks=all is explicit.
func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addr),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.DialTimeout(5 * time.Second),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// newAdmin returns a kadm client over a fresh kgo client for addr.
func newAdmin(t *testing.T, addr string) *kadm.Client {
	t.Helper()
	return kadm.NewClient(newClient(t, addr))
}

// testCtx is a context bounded by d and cancelled at test end.
func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// createTopic creates topic with the given partition count and configs,
// failing the test on any error.
func createTopic(t *testing.T, adm *kadm.Client, topic string, partitions int32, configs map[string]*string) kadm.CreateTopicResponse {
	t.Helper()
	ctx := testCtx(t, 15*time.Second)
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err != nil {
		t.Fatalf("create topic %q: %v", topic, err)
	}
	if resp.Err != nil {
		t.Fatalf("create topic %q: %v (%s)", topic, resp.Err, resp.ErrMessage)
	}
	return resp
}

// topicName makes a topic name unique to the test.
func topicName(t *testing.T, suffix string) string {
	name := strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	if suffix != "" {
		name += "-" + suffix
	}
	return name
}

// produceSync produces rs synchronously, failing the test on any error.
func produceSync(t *testing.T, cl *kgo.Client, rs ...*kgo.Record) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// waitFor polls cond every 10ms until it returns nil or d elapses.
func waitFor(t *testing.T, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s: %v", d, what, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialOK reports whether a TCP connection to addr can be made.
func dialOK(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return c.Close()
}
