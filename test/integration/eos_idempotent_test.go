package integration

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/api"
	"github.com/sluice-io/sluice/internal/record"
)

// newEOSClient is a franz-go client with its defaults for exactly-once
// work: idempotent writes on (unlike newClient), acks=all.
func newEOSClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DialTimeout(5 * time.Second)}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kgo.NewClient: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// eosConsume reads topic from the start until n records arrived (or the
// deadline), with the given isolation level.
func eosConsume(t *testing.T, addr, topic string, n int, committed bool) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := newEOSClient(t, addr, opts...)
	defer cl.Close()
	var out []*kgo.Record
	ctx := testCtx(t, 30*time.Second)
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s: %v", len(out), n, topic, ctx.Err())
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

// TestIdempotentRetryAfterDroppedResponse: the broker appends a batch but
// its response is lost (the connection closes); franz-go retries the same
// batch on a new connection and the log holds every record exactly once,
// with the retry acknowledged at the original offset.
func TestIdempotentRetryAfterDroppedResponse(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)

	var dropped atomic.Int32
	drop := func(clientID string) bool {
		return clientID == "eos-dropper" && dropped.CompareAndSwap(0, 1)
	}
	api.DropProduceResponse.Store(&drop)
	t.Cleanup(func() { api.DropProduceResponse.Store(nil) })

	cl := newEOSClient(t, tb.Addr(), kgo.ClientID("eos-dropper"), kgo.DefaultProduceTopic(topic),
		kgo.RecordRetries(10), kgo.RequestRetries(10))
	const n = 20
	for i := range n {
		r := &kgo.Record{Value: fmt.Appendf(nil, "v%d", i)}
		res := cl.ProduceSync(testCtx(t, 30*time.Second), r)
		if err := res.FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		if r.Offset != int64(i) {
			t.Fatalf("record %d acknowledged at offset %d", i, r.Offset)
		}
	}
	if dropped.Load() != 1 {
		t.Fatalf("no response was dropped")
	}
	got := eosConsume(t, tb.Addr(), topic, n, false)
	seen := map[string]bool{}
	for _, r := range got {
		if seen[string(r.Value)] {
			t.Fatalf("record %s stored twice", r.Value)
		}
		seen[string(r.Value)] = true
	}
	if len(got) != n {
		t.Fatalf("got %d records, want %d", len(got), n)
	}
	adm := newAdmin(t, tb.Addr())
	ends, err := adm.ListEndOffsets(testCtx(t, 10*time.Second), topic)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup(topic, 0); o.Offset != n {
		t.Fatalf("log end offset %d, want %d", o.Offset, n)
	}
}

// idemBatch builds a one-record idempotent batch.
func idemBatch(t *testing.T, pid int64, epoch int16, seq int32, value string) []byte {
	t.Helper()
	b, err := record.Build(record.BatchSpec{
		ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq,
		BaseTimestamp: time.Now().UnixMilli(),
		Records:       []record.Record{{Value: []byte(value)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// initProducerID asks for a fresh idempotent producer id.
func initProducerID(t *testing.T, rc *rawConn, corr int32) (int64, int16) {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.SetVersion(4)
	req.TransactionTimeoutMillis = -1
	resp := rc.roundTrip(corr, req).(*kmsg.InitProducerIDResponse)
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("InitProducerId: %v", err)
	}
	return resp.ProducerID, resp.ProducerEpoch
}

// TestIdempotentSequenceErrors drives the producer state with raw Produce
// requests: duplicates get the original offset, gaps
// OUT_OF_ORDER_SEQUENCE_NUMBER, an old epoch INVALID_PRODUCER_EPOCH, an
// unknown producer with a non-zero sequence UNKNOWN_PRODUCER_ID, and a new
// epoch must start at 0. Producer ids are never handed out twice, also
// across a restart, and the state survives the restart.
func TestIdempotentSequenceErrors(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	rc := dialRaw(t, tb.Addr())
	pid, epoch := initProducerID(t, rc, 1)
	pid2, _ := initProducerID(t, rc, 2)
	if pid2 == pid || epoch != 0 {
		t.Fatalf("producer ids %d, %d epoch %d", pid, pid2, epoch)
	}
	corr := int32(10)
	produce := func(pid int64, epoch int16, seq int32, wantCode int16, wantOffset int64) {
		t.Helper()
		corr++
		code, off := rawProduce(t, rc, corr, topic, idemBatch(t, pid, epoch, seq, fmt.Sprint(seq)))
		if code != wantCode || (code == 0 && off != wantOffset) {
			t.Fatalf("pid %d epoch %d seq %d: code %v offset %d, want %v offset %d",
				pid, epoch, seq, kerr.ErrorForCode(code), off, kerr.ErrorForCode(wantCode), wantOffset)
		}
	}
	produce(pid, 0, 0, 0, 0)
	produce(pid, 0, 1, 0, 1)
	produce(pid, 0, 0, 0, 0) // duplicate of the first batch
	produce(pid, 0, 1, 0, 1) // duplicate of the last batch
	produce(pid, 0, 3, kerr.OutOfOrderSequenceNumber.Code, 0)
	produce(pid, 0, 2, 0, 2)
	produce(pid2, 0, 5, kerr.UnknownProducerID.Code, 0)
	produce(pid, 1, 3, kerr.OutOfOrderSequenceNumber.Code, 0) // new epoch not at 0
	produce(pid, 1, 0, 0, 3)
	produce(pid, 0, 3, kerr.InvalidProducerEpoch.Code, 0)

	rc.c.Close()
	tb.Restart()
	rc = dialRaw(t, tb.Addr())
	corr = 100
	pid3, _ := initProducerID(t, rc, corr)
	if pid3 == pid || pid3 == pid2 {
		t.Fatalf("producer id %d reused after restart", pid3)
	}
	produce(pid, 1, 0, 0, 3) // still a duplicate after the restart
	produce(pid, 1, 2, kerr.OutOfOrderSequenceNumber.Code, 0)
	produce(pid, 1, 1, 0, 4)
	produce(pid, 0, 2, kerr.InvalidProducerEpoch.Code, 0)
}
