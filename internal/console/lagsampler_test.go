package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/console"
)

// TestConsoleLagSampler: after one view of a group's page, the console
// keeps sampling the group's total lag in the background: a consumer runs
// to the end and the chart's data gains a sample of lag 0 with no further
// view of the page. Closing the broker stops the sampler.
func TestConsoleLagSampler(t *testing.T) {
	defer console.SetLagSampleEvery(100 * time.Millisecond)()
	b, closeBroker := startConsoleBroker(t)
	base := "http://" + b.ConsoleAddr()
	cl := brokerClient(t, b)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic, group := "lag-sampler", "lag-sampler-group"
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "%d", i)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	offs := kadm.Offsets{}
	offs.AddOffset(topic, 0, 0, -1)
	if err := adm.CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatal(err)
	}

	if body := get(t, base+"/groups/"+group); !strings.Contains(body, `id="total-lag">10<`) {
		t.Fatalf("group page: want total lag 10:\n%s", body)
	}
	if xs := samples(t, base, group); len(xs) == 0 || xs[0] != 10 {
		t.Fatalf("after the first view: samples %v, want [10 ...]", xs)
	}

	consumer, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic), kgo.DisableAutoCommit())
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	for n := 0; n < 10; {
		fs := consumer.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("consume: %v", errs)
		}
		n += fs.NumRecords()
	}
	if err := consumer.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	// Only the chart's data is read from here on: not a view of the page.
	for deadline := time.Now().Add(30 * time.Second); ; {
		xs := samples(t, base, group)
		if len(xs) >= 2 && xs[0] == 10 && xs[len(xs)-1] == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("samples %v 30 s after the consumer committed: want a later sample of lag 0", xs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if xs := samples(t, base, "never-viewed"); len(xs) != 0 {
		t.Errorf("a group nobody viewed has samples %v", xs)
	}

	if err := closeBroker(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	if st := string(buf[:runtime.Stack(buf, true)]); strings.Contains(st, "console.(*Server).sampleLags") {
		t.Errorf("the lag sampler outlived the broker:\n%s", st)
	}
}

// startConsoleBroker starts a broker with a console; close closes it
// once (the test's cleanup closes it if the test did not).
func startConsoleBroker(t *testing.T) (b *broker.Broker, close func() error) {
	t.Helper()
	cfg, err := config.Build(map[string]string{
		"listeners":        "PLAINTEXT://127.0.0.1:0",
		"log.dirs":         t.TempDir(),
		"console.listener": "http://127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	b = broker.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	close = sync.OnceValue(b.Close)
	t.Cleanup(func() { _ = close() })
	return b, close
}

// brokerClient is a franz-go client of b, closed at the test's end.
func brokerClient(t *testing.T, b *broker.Broker) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", url, resp.StatusCode, body)
	}
	return string(body)
}

// samples is the group's lag chart data.
func samples(t *testing.T, base, group string) []float64 {
	t.Helper()
	var v struct {
		Samples []float64 `json:"samples"`
	}
	if err := json.Unmarshal([]byte(get(t, base+"/groups/"+group+"/lag.json")), &v); err != nil {
		t.Fatal(err)
	}
	return v.Samples
}
