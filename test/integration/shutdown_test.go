package integration

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestCloseDuringLongPoll: closing the broker while a fetch is parked
// (MaxWait 12s, nothing to return) ends promptly and drops the
// connection; it does not wait for the client's MaxWait to run out.
func TestCloseDuringLongPoll(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	id := topicID(t, newClient(t, tb.Addr()), topic)

	rc := dialRaw(t, tb.Addr())
	if r := rc.roundTrip(1, apiVersionsReq()).(*kmsg.ApiVersionsResponse); r.ErrorCode != 0 {
		t.Fatalf("ApiVersions: error %d", r.ErrorCode)
	}
	req := fetchReq(topic, id, 0, 0, 1<<20, 1<<20, 1, 12_000)
	req.SetVersion(13)
	rc.send(2, req)

	start := time.Now()
	tb.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("broker Close took %v with a fetch parked for up to 12s; want it to end the long poll and return promptly", took)
	}
	if _, err := rc.readFrame(30 * time.Second); err == nil {
		t.Errorf("parked fetch answered after Close; want the connection dropped")
	}
}
