package interbroker_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/interbroker"
)

// TestRoundTrips sends ApiVersions, Metadata, CreateTopics, Produce (acks
// all and 0) and Fetch to a real broker and checks the typed answers.
func TestRoundTrips(t *testing.T) {
	tb := startBroker(t, 1)
	cl := newClient(t, newAddrBook(int32(1), tb.addr))
	ctx := testCtx(t, 10*time.Second)

	av, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl.Node(1))
	if err != nil || av.ErrorCode != 0 {
		t.Fatalf("ApiVersions: %v %v", err, av)
	}
	if !slices.ContainsFunc(av.ApiKeys, func(k kmsg.ApiVersionsResponseApiKey) bool { return k.ApiKey == 1 && k.MaxVersion >= 12 }) {
		t.Fatalf("ApiVersions v%d lists no Fetch v12+: %+v", av.Version, av.ApiKeys)
	}

	md := kmsg.NewPtrMetadataRequest()
	mresp, err := md.RequestWith(ctx, cl.Node(1))
	if err != nil {
		t.Fatalf("Metadata: %v", err)
	}
	if md.Version < 12 || len(mresp.Brokers) != 1 || mresp.Brokers[0].NodeID != 1 ||
		fmt.Sprintf("%s:%d", mresp.Brokers[0].Host, mresp.Brokers[0].Port) != tb.addr {
		t.Fatalf("Metadata v%d brokers %+v, want node 1 at %s", md.Version, mresp.Brokers, tb.addr)
	}

	id := createTopic(t, cl, 1, "round-trip")
	dup := kmsg.NewPtrCreateTopicsRequest()
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = "round-trip", 1, 1
	dup.Topics = append(dup.Topics, rt)
	dresp, err := dup.RequestWith(ctx, cl.Node(1))
	if err != nil || len(dresp.Topics) != 1 || dresp.Topics[0].ErrorCode != kerr.TopicAlreadyExists.Code {
		t.Fatalf("second CreateTopics: %v %+v, want TOPIC_ALREADY_EXISTS", err, dresp)
	}

	if off := produce(t, cl, 1, "round-trip", []byte("first"), -1); off != 0 {
		t.Fatalf("first record at offset %d", off)
	}
	produce(t, cl, 1, "round-trip", []byte("unacknowledged"), 0)
	if off := produce(t, cl, 1, "round-trip", []byte("third"), 1); off != 2 {
		t.Fatalf("third record at offset %d, want 2 (the acks=0 one is 1)", off)
	}
	fetch := fetchReq("round-trip", id, 0, 100*time.Millisecond)
	fresp, err := fetch.RequestWith(ctx, cl.Node(1))
	if err != nil {
		t.Fatalf("Fetch: %v", err)
	}
	if fetch.Version < 13 {
		t.Fatalf("Fetch sent as v%d, want the broker's max (topic ids)", fetch.Version)
	}
	if got := fetchValues(t, fresp); !slices.Equal(got, []string{"first", "unacknowledged", "third"}) {
		t.Fatalf("fetched %q", got)
	}
}

// TestPipelined sends 1,000 requests from 20 goroutines: all answered,
// each with its own answer, over one connection.
func TestPipelined(t *testing.T) {
	tb := startBroker(t, 1)
	px := startProxy(t, tb.addr, -1)
	cl := newClient(t, newAddrBook(int32(1), px.Addr()))
	ctx := testCtx(t, 20*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				errs <- metadataFor(ctx, cl, 1, fmt.Sprintf("topic-%d-%d", g, i))
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("%d answers, want 1000", n)
	}
	if got := px.accepts.Load(); got != 1 {
		t.Fatalf("%d connections, want 1", got)
	}
}

// TestBrokerRestart restarts the broker on its port mid-stream: the
// requests in flight (long-poll fetches, and the requests queued behind
// them on the connection) fail with the retriable error, requests sent
// while it is down too, and requests succeed again once it is back.
func TestBrokerRestart(t *testing.T) {
	tb := startBroker(t, 1)
	cl := newClient(t, newAddrBook(int32(1), tb.addr))
	id := createTopic(t, cl, 1, "idle")
	ctx := testCtx(t, 20*time.Second)

	const parked = 5
	parkedErrs := make(chan error, parked)
	for range parked {
		go func() {
			_, err := cl.Request(ctx, 1, fetchReq("idle", id, 0, 10*time.Second))
			parkedErrs <- err
		}()
	}
	waitFor(t, "the long-poll fetches on the wire", 5*time.Second, func() bool { return interbroker.InFlight(cl, 1) == parked })

	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	var mu sync.Mutex
	var okAfter, failed int
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				err := metadataFor(ctx, cl, 1, fmt.Sprintf("t-%d-%d", g, i))
				mu.Lock()
				switch {
				case err == nil:
					okAfter++
				case !isRetriable(err):
					t.Errorf("request across the restart: %v, want an error wrapping ErrConnection", err)
				default:
					failed++
				}
				mu.Unlock()
			}
		}()
	}
	// The streaming requests queue on the wire behind the fetches.
	waitFor(t, "requests queued behind the fetches", 5*time.Second, func() bool { return interbroker.InFlight(cl, 1) > parked })

	tb.Restart()
	for range parked {
		select {
		case err := <-parkedErrs:
			if !isRetriable(err) {
				t.Fatalf("in-flight fetch across the restart: %v, want an error wrapping ErrConnection", err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("in-flight fetch not failed by the restart")
		}
	}
	waitFor(t, "requests succeeding after the restart", 5*time.Second, func() bool { mu.Lock(); defer mu.Unlock(); return okAfter > 50 })
	mu.Lock()
	t.Logf("%d failed retriably, %d ok after the restart", failed, okAfter)
	if failed < 4 {
		t.Errorf("%d streaming requests failed, want at least the 4 queued behind the fetches", failed)
	}
	mu.Unlock()
	if _, err := cl.Request(ctx, 1, fetchReq("idle", id, 0, 0)); err != nil {
		t.Fatalf("fetch after restart: %v", err)
	}
}

// TestCancelOneRequest cancels a request on the wire: it returns at once,
// and the others on the same connection get their own answers.
func TestCancelOneRequest(t *testing.T) {
	tb := startBroker(t, 1)
	px := startProxy(t, tb.addr, -1)
	cl := newClient(t, newAddrBook(int32(1), px.Addr()))
	id := createTopic(t, cl, 1, "idle")

	cctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := cl.Request(cctx, 1, fetchReq("idle", id, 0, 300*time.Millisecond))
		done <- err
	}()
	waitFor(t, "the fetch on the wire", 5*time.Second, func() bool { return interbroker.InFlight(cl, 1) == 1 })
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled fetch: %v", err)
	}
	// These queue behind the cancelled fetch (a connection answers in
	// order), so they also prove its discarded answer is not theirs.
	ctx := testCtx(t, 10*time.Second)
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := metadataFor(ctx, cl, 1, fmt.Sprintf("after-cancel-%d", i)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if got := px.accepts.Load(); got != 1 {
		t.Fatalf("%d connections, want the one the cancelled request shared", got)
	}
}

// TestErrors: an unknown node id, an API the broker does not serve and a
// port nobody listens on each give a clear error of the right kind.
func TestErrors(t *testing.T) {
	tb := startBroker(t, 1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	cl := newClient(t, newAddrBook(int32(1), tb.addr, int32(2), dead))
	ctx := testCtx(t, 10*time.Second)

	_, err = cl.Request(ctx, 7, kmsg.NewPtrMetadataRequest())
	if !errors.Is(err, interbroker.ErrUnknownNode) || isRetriable(err) {
		t.Fatalf("unknown node: %v", err)
	}
	mustContain(t, err, "unknown broker 7", "no endpoint registered for broker 7")

	_, err = cl.Request(ctx, 1, kmsg.NewPtrLeaderAndISRRequest())
	if !errors.Is(err, interbroker.ErrUnsupportedRequest) {
		t.Fatalf("LeaderAndISR: %v", err)
	}
	mustContain(t, err, "broker 1 does not serve LeaderAndISR (key 4)")
	if err := metadataFor(ctx, cl, 1, "still-fine"); err != nil {
		t.Fatalf("after an unsupported request: %v", err)
	}

	start := time.Now()
	_, err1 := cl.Request(ctx, 2, kmsg.NewPtrMetadataRequest())
	_, err2 := cl.Request(ctx, 2, kmsg.NewPtrMetadataRequest())
	for _, err := range []error{err1, err2} {
		if !isRetriable(err) {
			t.Fatalf("dial to a closed port: %v, want ErrConnection", err)
		}
		mustContain(t, err, "broker 2 at "+dead)
	}
	// The second dial waited out the backoff (50 ms less 20% jitter).
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Fatalf("two failed dials in %s: no backoff", d)
	}
}

// TestApiVersionsFallback talks to a broker that answers ApiVersions v3
// with UNSUPPORTED_VERSION: the client retries with v0 and goes on.
func TestApiVersionsFallback(t *testing.T) {
	tb := startBroker(t, 1)
	px := startProxy(t, tb.addr, 2)
	cl := newClient(t, newAddrBook(int32(1), px.Addr()))
	if err := metadataFor(testCtx(t, 10*time.Second), cl, 1, "x"); err != nil {
		t.Fatal(err)
	}
	if got := px.apiVersionsSeen(); !slices.Equal(got, []int16{3, 0}) {
		t.Fatalf("ApiVersions versions sent %v, want [3 0]", got)
	}
}

// TestBounds: a response over MaxResponseBytes fails clearly without
// being read and the next request reconnects; with MaxInFlight 1 a second
// request waits for the slot and can give up with its ctx.
func TestBounds(t *testing.T) {
	tb := startBroker(t, 1)
	book := newAddrBook(int32(1), tb.addr)
	small := newClient(t, book, func(c *interbroker.Config) { c.MaxResponseBytes = 8 << 10; c.MaxInFlight = 1 })
	ctx := testCtx(t, 10*time.Second)
	id := createTopic(t, small, 1, "big")
	produce(t, small, 1, "big", bytes.Repeat([]byte("x"), 20<<10), -1)
	_, err := small.Request(ctx, 1, fetchReq("big", id, 0, 0))
	if !errors.Is(err, interbroker.ErrResponseTooLarge) || isRetriable(err) {
		t.Fatalf("oversized fetch: %v", err)
	}
	mustContain(t, err, "the limit is 8192")
	if err := metadataFor(ctx, small, 1, "after-too-large"); err != nil {
		t.Fatalf("after an oversized response: %v", err)
	}

	idle := createTopic(t, small, 1, "idle")
	parked := make(chan error, 1)
	go func() {
		_, err := small.Request(ctx, 1, fetchReq("idle", idle, 0, 400*time.Millisecond))
		parked <- err
	}()
	waitFor(t, "the fetch holding the only slot", 5*time.Second, func() bool { return interbroker.InFlight(small, 1) == 1 })
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := metadataFor(short, small, 1, "no-slot"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request without a slot: %v, want the ctx deadline", err)
	}
	if err := <-parked; err != nil {
		t.Fatalf("parked fetch: %v", err)
	}
	if err := metadataFor(ctx, small, 1, "slot-free"); err != nil {
		t.Fatal(err)
	}
}

// TestStuckBroker: a broker that stops answering is declared dead after
// RequestTimeout (its requests fail retriably) and the next request
// reconnects.
func TestStuckBroker(t *testing.T) {
	tb := startBroker(t, 1)
	px := startProxy(t, tb.addr, -1)
	cl := newClient(t, newAddrBook(int32(1), px.Addr()), func(c *interbroker.Config) { c.RequestTimeout = 150 * time.Millisecond })
	ctx := testCtx(t, 10*time.Second)
	if err := metadataFor(ctx, cl, 1, "a"); err != nil {
		t.Fatal(err)
	}
	px.swallow.Store(true)
	start := time.Now()
	err := metadataFor(ctx, cl, 1, "b")
	if !isRetriable(err) {
		t.Fatalf("request to a stuck broker: %v", err)
	}
	mustContain(t, err, "no response to Metadata")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stuck request failed after %s", d)
	}
	px.swallow.Store(false)
	if err := metadataFor(ctx, cl, 1, "c"); err != nil {
		t.Fatalf("after reconnect: %v", err)
	}
	if got := px.accepts.Load(); got != 2 {
		t.Fatalf("%d connections, want 2", got)
	}
}

// TestBrokerMoved: when the resolver gives a node a new address, the next
// request goes there.
func TestBrokerMoved(t *testing.T) {
	a, b := startBroker(t, 1), startBroker(t, 2)
	book := newAddrBook(int32(1), a.addr)
	cl := newClient(t, book)
	ctx := testCtx(t, 10*time.Second)
	controller := func() int32 {
		resp, err := kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl.Node(1))
		if err != nil {
			t.Fatal(err)
		}
		return resp.Brokers[0].NodeID
	}
	if got := controller(); got != 1 {
		t.Fatalf("answered by node %d", got)
	}
	book.Set(1, b.addr)
	if got := controller(); got != 2 {
		t.Fatalf("after the move answered by node %d, want the broker at the new address", got)
	}
}

// TestClose fails a request on the wire with ErrClosed and refuses later
// ones.
func TestClose(t *testing.T) {
	tb := startBroker(t, 1)
	cl := newClient(t, newAddrBook(int32(1), tb.addr))
	id := createTopic(t, cl, 1, "idle")
	ctx := testCtx(t, 10*time.Second)
	parked := make(chan error, 1)
	go func() {
		_, err := cl.Request(ctx, 1, fetchReq("idle", id, 0, 10*time.Second))
		parked <- err
	}()
	waitFor(t, "the fetch on the wire", 5*time.Second, func() bool { return interbroker.InFlight(cl, 1) == 1 })
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-parked; !errors.Is(err, interbroker.ErrClosed) {
		t.Fatalf("in-flight request at Close: %v", err)
	}
	if _, err := cl.Request(ctx, 1, kmsg.NewPtrMetadataRequest()); !errors.Is(err, interbroker.ErrClosed) {
		t.Fatalf("request after Close: %v", err)
	}
}

// TestIdleClose: a connection unused for IdleTimeout is closed by the
// client (before the broker's connections.max.idle.ms would), and the
// next request dials a new one.
func TestIdleClose(t *testing.T) {
	tb := startBroker(t, 1)
	px := startProxy(t, tb.addr, -1)
	cl := newClient(t, newAddrBook(int32(1), px.Addr()), func(c *interbroker.Config) { c.IdleTimeout = 100 * time.Millisecond })
	ctx := testCtx(t, 10*time.Second)
	if err := metadataFor(ctx, cl, 1, "a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the idle connection closed", 5*time.Second, func() bool { return !interbroker.Connected(cl, 1) })
	if err := metadataFor(ctx, cl, 1, "b"); err != nil {
		t.Fatalf("after the idle close: %v", err)
	}
	if got := px.accepts.Load(); got != 2 {
		t.Fatalf("%d connections, want 2", got)
	}
}
