package interbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/interbroker"
	"github.com/sluice-io/sluice/internal/record"
)

// testBroker is a real Sluice broker in this process on 127.0.0.1.
type testBroker struct {
	t     *testing.T
	props map[string]string
	logs  *lockedBuffer
	b     *broker.Broker
	addr  string
}

// startBroker starts a broker with node.id id on a free port and a fresh
// data directory; t.Cleanup closes it.
func startBroker(t *testing.T, id int32) *testBroker {
	t.Helper()
	tb := &testBroker{t: t, logs: &lockedBuffer{}, props: map[string]string{
		"node.id":                   fmt.Sprint(id),
		"listeners":                 "PLAINTEXT://127.0.0.1:0",
		"log.dirs":                  t.TempDir(),
		"auto.create.topics.enable": "false",
	}}
	tb.start()
	t.Cleanup(func() {
		tb.Close()
		if t.Failed() {
			t.Logf("broker %d log (tail):\n%s", id, tb.logs.tail(4000))
		}
	})
	return tb
}

func (tb *testBroker) start() {
	tb.t.Helper()
	cfg, err := config.Build(tb.props)
	if err != nil {
		tb.t.Fatalf("config.Build: %v", err)
	}
	b := broker.New(cfg, slog.New(slog.NewTextHandler(tb.logs, nil)))
	if err := b.Start(); err != nil {
		tb.t.Fatalf("broker start: %v", err)
	}
	tb.b, tb.addr = b, b.Addr()
	// A restart binds the same port, as a restarted broker would.
	tb.props["listeners"] = "PLAINTEXT://" + tb.addr
}

// Close stops the broker; safe to call twice.
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

// Restart closes the broker and starts it again on its port and data.
func (tb *testBroker) Restart() {
	tb.t.Helper()
	tb.Close()
	tb.start()
}

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

// addrBook is a Resolver whose entries tests change.
type addrBook struct {
	mu sync.Mutex
	m  map[int32]string
}

func newAddrBook(kv ...any) *addrBook {
	a := &addrBook{m: map[int32]string{}}
	for i := 0; i < len(kv); i += 2 {
		a.m[kv[i].(int32)] = kv[i+1].(string)
	}
	return a
}

func (a *addrBook) Set(id int32, addr string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.m[id] = addr
}

func (a *addrBook) Resolve(id int32) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	addr, ok := a.m[id]
	if !ok {
		return "", fmt.Errorf("no endpoint registered for broker %d", id)
	}
	return addr, nil
}

// newClient returns a client over book, closed by t.Cleanup.
func newClient(t *testing.T, book *addrBook, tweak ...func(*interbroker.Config)) *interbroker.Client {
	t.Helper()
	cfg := interbroker.Config{NodeID: 100, Resolve: book.Resolve}
	for _, f := range tweak {
		f(&cfg)
	}
	cl, err := interbroker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// createTopic creates a one-partition topic through the client and
// returns its id.
func createTopic(t *testing.T, cl *interbroker.Client, node int32, name string) [16]byte {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = name, 1, 1
	req.Topics = append(req.Topics, rt)
	req.TimeoutMillis = 5000
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl.Node(node))
	if err != nil {
		t.Fatalf("CreateTopics: %v", err)
	}
	if len(resp.Topics) != 1 || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("CreateTopics %s: %+v", name, resp.Topics)
	}
	return resp.Topics[0].TopicID
}

// metadataFor asks for one topic's metadata and checks the answer is for
// that topic (a mismatched response would name another).
func metadataFor(ctx context.Context, cl *interbroker.Client, node int32, topic string) error {
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl.Node(node))
	if err != nil {
		return err
	}
	if len(resp.Topics) != 1 || resp.Topics[0].Topic == nil || *resp.Topics[0].Topic != topic {
		return fmt.Errorf("metadata for %q answered with %+v", topic, resp.Topics)
	}
	return nil
}

// fetchReq fetches partition 0 of a topic from offset, waiting up to
// maxWait for data.
func fetchReq(name string, id [16]byte, offset int64, maxWait time.Duration) *kmsg.FetchRequest {
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = int32(maxWait / time.Millisecond)
	req.MinBytes = 1
	req.MaxBytes = 50 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = name, id
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.FetchOffset, fp.PartitionMaxBytes, fp.CurrentLeaderEpoch, fp.LogStartOffset = offset, 50<<20, -1, -1
	ft.Partitions = append(ft.Partitions, fp)
	req.Topics = append(req.Topics, ft)
	return req
}

// produce writes one record with value v to partition 0 (acks -1 unless
// acks is given) and returns its offset (-1 with acks 0).
func produce(t *testing.T, cl *interbroker.Client, node int32, topic string, v []byte, acks int16) int64 {
	t.Helper()
	batch, err := record.Build(record.BatchSpec{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: time.Now().UnixMilli(), Records: record.NewRecords([2][]byte{nil, v})})
	if err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, 5000
	pt := kmsg.NewProduceRequestTopic()
	pt.Topic = topic
	pp := kmsg.NewProduceRequestTopicPartition()
	pp.Records = batch
	pt.Partitions = append(pt.Partitions, pp)
	req.Topics = append(req.Topics, pt)
	resp, err := req.RequestWith(testCtx(t, 10*time.Second), cl.Node(node))
	if err != nil {
		t.Fatalf("Produce: %v", err)
	}
	if acks == 0 {
		if len(resp.Topics) != 0 {
			t.Fatalf("acks=0 produce answered %+v", resp.Topics)
		}
		return -1
	}
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Produce response %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("Produce: %v", err)
	}
	return p.BaseOffset
}

// fetchValues reads the record values the response holds for partition 0.
func fetchValues(t *testing.T, resp *kmsg.FetchResponse) []string {
	t.Helper()
	if len(resp.Topics) != 1 || len(resp.Topics[0].Partitions) != 1 {
		t.Fatalf("Fetch response %+v", resp.Topics)
	}
	p := resp.Topics[0].Partitions[0]
	if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	var out []string
	b := p.RecordBatches
	for len(b) > 0 {
		h, err := record.ParseHeader(b)
		if err != nil {
			t.Fatalf("fetched batch: %v", err)
		}
		n := int(h.Length) + record.LogOverhead
		if n > len(b) {
			break // a partial batch at the end of the response
		}
		if err := record.Records(b[:n], func(r *record.Record) error {
			out = append(out, string(r.Value))
			return nil
		}); err != nil {
			t.Fatalf("fetched records: %v", err)
		}
		b = b[n:]
	}
	return out
}

// isRetriable reports whether err is the client's retriable error.
func isRetriable(err error) bool { return errors.Is(err, interbroker.ErrConnection) }

func mustContain(t *testing.T, err error, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if err == nil || !strings.Contains(err.Error(), p) {
			t.Fatalf("error %v does not mention %q", err, p)
		}
	}
}
