package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestIdleConnectionsClosed: with connections.max.idle.ms=300 the broker
// closes a connection that sends nothing, and one whose last request was
// answered 300 ms ago, but not one with a long-polling fetch in flight for
// longer than that, nor one that keeps sending requests.
func TestIdleConnectionsClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	tb := startBroker(t, withProp("connections.max.idle.ms", "300"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	id := topicID(t, newClient(t, tb.Addr()), topic)

	closedAfter := func(rc *rawConn, from time.Time, what string) {
		t.Helper()
		rc.expectClosed(what)
		if d := time.Since(from); d < idle {
			t.Errorf("%s: closed after %v, before connections.max.idle.ms", what, d)
		}
	}

	// A long poll with nothing to fetch outlasts the idle time.
	fetching := dialRaw(t, tb.Addr())
	fetchStart := time.Now()
	freq := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 1200)
	freq.SetVersion(12)
	fetching.send(1, freq)
	// Read the answer as soon as it comes and ask again at once, as a
	// consumer would; the result is checked at the end.
	type fetchResult struct {
		after time.Duration
		code  int16
		err   error
	}
	fetched := make(chan fetchResult, 1)
	go func() {
		frame, err := fetching.readFrame(10 * time.Second)
		if err != nil {
			fetched <- fetchResult{err: err}
			return
		}
		after := time.Since(fetchStart)
		_, resp, err := decodeResponse(frame, freq)
		if err != nil {
			fetched <- fetchResult{err: err}
			return
		}
		fr := resp.(*kmsg.FetchResponse)
		if len(fr.Topics) != 1 || len(fr.Topics[0].Partitions) != 1 {
			fetched <- fetchResult{after: after, code: -2}
			return
		}
		fetching.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if _, err := fetching.c.Write(encodeRequest(2, apiVersionsReq())); err != nil {
			fetched <- fetchResult{err: err}
			return
		}
		frame, err = fetching.readFrame(10 * time.Second)
		if err == nil {
			_, _, err = decodeResponse(frame, apiVersionsReq())
		}
		fetched <- fetchResult{after: after, code: fr.Topics[0].Partitions[0].ErrorCode, err: err}
	}()

	// Never a byte: closed.
	start := time.Now()
	silent := dialRaw(t, tb.Addr())
	closedAfter(silent, start, "connection that sent nothing")

	// Answered, then quiet: closed.
	start = time.Now()
	quiet := dialRaw(t, tb.Addr())
	quiet.roundTrip(1, apiVersionsReq())
	closedAfter(quiet, start, "connection quiet after its request was answered")

	// Busy: a request every 100 ms for four idle periods keeps it open.
	busy := dialRaw(t, tb.Addr())
	for i := range 12 {
		resp := busy.roundTrip(int32(i), apiVersionsReq()).(*kmsg.ApiVersionsResponse)
		if resp.ErrorCode != 0 {
			t.Fatalf("busy connection, request %d: %v", i, kerr.ErrorForCode(resp.ErrorCode))
		}
		time.Sleep(100 * time.Millisecond) // the client's pace, below the idle time
	}

	// The fetch was answered after its wait, on a connection still open,
	// which served the next request.
	r := <-fetched
	if r.err != nil || r.code != 0 {
		t.Fatalf("long poll: error code %d, %v", r.code, r.err)
	}
	if r.after < 3*idle {
		t.Fatalf("long poll answered after %v: it did not outlast the idle time", r.after)
	}
}
