package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

var metricsLineRE = regexp.MustCompile(`metrics\.listener=http://(\S+)/metrics`)

// scrape fetches url and returns its body and status.
func scrape(t *testing.T, url string) (string, int) {
	t.Helper()
	cl := http.Client{Timeout: 10 * time.Second}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode
}

// metricSum adds the samples of name whose labels contain every one of
// labels (e.g. `topic="x"`), and reports whether any matched.
func metricSum(body, name string, labels ...string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, val := line[:i], line[i+1:]
		n, lbls, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(lbls, l)
		}
		if !ok {
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err == nil {
			sum += v
			found = true
		}
	}
	return sum, found
}

// TestMetricsAfterProduceConsume scrapes a broker process after a known
// produce and consume run and checks the counts.
func TestMetricsAfterProduceConsume(t *testing.T) {
	p := startProc(t, t.TempDir(), "metrics.listener=http://127.0.0.1:0")
	m := metricsLineRE.FindStringSubmatch(p.logs.tail(1 << 20))
	if m == nil {
		t.Fatalf("no metrics listener line in the log")
	}
	base := "http://" + m[1]
	if body, code := scrape(t, base+"/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if body, code := scrape(t, base+"/readyz"); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz: %d %q", code, body)
	}

	topic := topicName(t, "metrics")
	cliOK(t, p.addr, "topic", "create", topic, "-p", "2")
	prod := newClient(t, p.addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for i := range 50 {
		rs = append(rs, &kgo.Record{Topic: topic, Partition: int32(i % 2), Value: []byte("value-" + strconv.Itoa(i))})
	}
	produceSync(t, prod, rs...)
	group := "mg-" + topic
	if out := cliOK(t, p.addr, "consume", topic, "--group", group, "--from", "beginning", "-n", "30"); strings.Count(out, "\n") != 30 {
		t.Fatalf("consumed %d lines", strings.Count(out, "\n"))
	}

	body, code := scrape(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	tl := `topic="` + topic + `"`
	get := func(name string, labels ...string) float64 {
		t.Helper()
		v, ok := metricSum(body, name, labels...)
		if !ok {
			t.Errorf("no %s{%v}", name, labels)
		}
		return v
	}
	if v := get("kafka_server_brokertopicmetrics_messagesin_total", tl); v != 50 {
		t.Errorf("messages in = %v, want 50", v)
	}
	in, size := get("kafka_server_brokertopicmetrics_bytesin_total", tl), get("kafka_log_log_size", tl)
	if in <= 0 || in != size {
		t.Errorf("bytes in %v, log size %v: want equal and positive", in, size)
	}
	if out := get("kafka_server_brokertopicmetrics_bytesout_total", tl); out <= 0 || out > in {
		t.Errorf("bytes out %v (in %v): 30 of 50 records were read", out, in)
	}
	if out := get("kafka_server_brokertopicmetrics_messagesout_total", tl); out < 30 || out > 50 {
		t.Errorf("messages out %v: 30 of 50 records were read, in batches of at most 50", out)
	}
	if v := get("kafka_server_raft_metrics_commit_latency_seconds_count"); v < 2 {
		t.Errorf("metadata commits observed %v: broker registration and topic creation at least", v)
	}
	for _, name := range []string{"kafka_server_replicamanager_isrshrinks_total", "kafka_server_replicamanager_isrexpands_total"} {
		if v := get(name); v != 0 {
			t.Errorf("%s = %v without replication", name, v)
		}
	}
	if v := get("kafka_server_brokertopicmetrics_failedproducerequests_total", tl); v != 0 {
		t.Errorf("failed produce = %v", v)
	}
	if v := get("kafka_log_log_logendoffset", tl); v != 50 {
		t.Errorf("log end offsets sum to %v", v)
	}
	if v := get("kafka_consumergroup_current_offset", `consumergroup="`+group+`"`); v != 30 {
		t.Errorf("group committed offsets sum to %v, want 30", v)
	}
	if v := get("kafka_consumergroup_lag", `consumergroup="`+group+`"`); v != 20 {
		t.Errorf("group lag sums to %v, want 20", v)
	}
	for _, api := range []string{"Produce", "Fetch", "Metadata", "CreateTopics", "OffsetCommit"} {
		rl := `request="` + api + `"`
		n := get("kafka_network_requestmetrics_requests_total", rl)
		if c := get("kafka_network_requestmetrics_totaltime_seconds_count", rl); n < 1 || c != n {
			t.Errorf("%s: %v requests, %v latency samples", api, n, c)
		}
	}
	if v := get("kafka_log_logflushstats_logflush_seconds_count"); v < 1 {
		t.Errorf("fsyncs observed: %v", v)
	}
	if v := get("kafka_server_socketservermetrics_connection_count"); v < 1 {
		t.Errorf("open connections = %v; the producer's is still open", v)
	}
	if v := get("kafka_controller_kafkacontroller_activecontrollercount"); v != 1 {
		t.Errorf("active controller = %v", v)
	}
}

// TestMetricsListenerOffByDefault checks no metrics listener starts
// unless metrics.listener is set, and a bad value fails the start.
func TestMetricsListenerOffByDefault(t *testing.T) {
	tb := startBroker(t)
	if addr := tb.b.MetricsAddr(); addr != "" {
		t.Errorf("metrics listener at %s without metrics.listener", addr)
	}
	if strings.Contains(tb.logs.tail(1<<16), "metrics listening") {
		t.Error("metrics listener logged without metrics.listener")
	}
	r := runCLI(t, nil, "serve", "--listeners", "PLAINTEXT://127.0.0.1:0", "--log-dirs", t.TempDir(), "--override", "metrics.listener=nonsense")
	if r.code == 0 || !strings.Contains(r.stderr, "metrics.listener") {
		t.Errorf("bad metrics.listener: exit %d, %q", r.code, r.stderr)
	}
}

// TestMetricsPurgatory checks that a parked fetch long poll shows in the
// Fetch purgatory size and leaves it when answered.
func TestMetricsPurgatory(t *testing.T) {
	p := startProc(t, t.TempDir(), "metrics.listener=http://127.0.0.1:0")
	m := metricsLineRE.FindStringSubmatch(p.logs.tail(1 << 20))
	if m == nil {
		t.Fatalf("no metrics listener line in the log")
	}
	url := "http://" + m[1] + "/metrics"
	topic := topicName(t, "purg")
	cliOK(t, p.addr, "topic", "create", topic)
	cl := newClient(t, p.addr)
	id := topicID(t, cl, topic)
	done := make(chan struct{})
	go func() {
		defer close(done)
		fetch(t, cl, fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 8000)) // parks up to 8s
	}()
	size := func() float64 {
		body, _ := scrape(t, url)
		v, _ := metricSum(body, "kafka_server_delayedoperationpurgatory_purgatorysize", `delayedOperation="Fetch"`)
		return v
	}
	waitFor(t, 5*time.Second, "the parked fetch in the purgatory", func() error {
		if size() < 1 {
			return errors.New("not yet")
		}
		return nil
	})
	produceRawRecords(t, cl, topic, 0, "wake")
	<-done
	waitFor(t, 5*time.Second, "an empty fetch purgatory", func() error {
		if v := size(); v != 0 {
			return fmt.Errorf("size %v", v)
		}
		return nil
	})
}
