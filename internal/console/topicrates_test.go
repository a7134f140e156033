package console

import (
	"fmt"
	"testing"
	"time"
)

// TestRateSeriesDeltas: a rate is the sum of each partition's growth over
// the interval; a partition missing from either sample counts nothing, a
// smaller offset (recreated topic) counts 0, and a shrinking size
// (retention) is 0 bytes/s, not negative.
func TestRateSeriesDeltas(t *testing.T) {
	h := newRateHistory()
	se := &session{id: "s"}
	if r := h.viewTopics(se, "t")["t"]; r.Known {
		t.Fatalf("rate known before any sample: %+v", r)
	}
	k := rateKey{"s", "t"}
	t0 := time.Now()
	h.add(k, t0, map[tp]int64{{"t", 0}: 100, {"t", 1}: 50, {"t", 2}: 7}, 1000, true)
	if r := h.viewTopics(se, "t")["t"]; r.Known {
		t.Fatalf("rate known after one sample: %+v", r)
	}
	// 2 s later: p0 +40, p1 recreated (smaller), p2 did not answer, p3 new.
	h.add(k, t0.Add(2*time.Second), map[tp]int64{{"t", 0}: 140, {"t", 1}: 3, {"t", 3}: 9}, 3000, true)
	r := h.viewTopics(se, "t")["t"]
	if !r.Known || r.Records != 20 || !r.BytesKnown || r.Bytes != 1000 {
		t.Fatalf("after two samples: %+v, want 20 records/s and 1000 bytes/s", r)
	}
	h.add(k, t0.Add(4*time.Second), map[tp]int64{{"t", 0}: 140}, 500, true)
	if r := h.viewTopics(se, "t")["t"]; r.Records != 0 || !r.BytesKnown || r.Bytes != 0 {
		t.Fatalf("idle and shrinking: %+v, want 0 and 0", r)
	}
	h.add(k, t0.Add(6*time.Second), map[tp]int64{{"t", 0}: 150}, 0, false)
	if r := h.viewTopics(se, "t")["t"]; r.Records != 5 || r.BytesKnown {
		t.Fatalf("size unknown: %+v, want 5 records/s and bytes unknown", r)
	}
}

// TestRateHistoryBounds: at most maxRateTopics topic series and
// maxClusterSeries cluster series (the least recently viewed go), only
// series viewed within rateWatch are due, a series sampled less than half
// a period ago is not, and an ended session's series are dropped.
func TestRateHistoryBounds(t *testing.T) {
	h := newRateHistory()
	alice := &session{id: "alice"}
	for i := range maxRateTopics + 7 {
		h.viewTopics(alice, fmt.Sprint("t", i))
	}
	users := make([]*session, maxClusterSeries+2)
	for i := range users {
		users[i] = &session{id: fmt.Sprint("u", i)}
		h.viewCluster(users[i])
	}
	topics, clusters := 0, 0
	for _, w := range h.due(time.Now(), time.Second, true) {
		topics += len(w.topics)
		if w.cluster {
			clusters++
		}
	}
	if topics != maxRateTopics || clusters != maxClusterSeries {
		t.Fatalf("%d topic and %d cluster series due, want %d and %d", topics, clusters, maxRateTopics, maxClusterSeries)
	}
	if _, ok := h.series[rateKey{"alice", "t0"}]; ok {
		t.Error("the least recently viewed topic series was kept")
	}
	if _, ok := h.series[rateKey{"u0", ""}]; ok {
		t.Error("the least recently viewed cluster series was kept")
	}

	now := time.Now()
	h.add(rateKey{"alice", "t10"}, now, nil, 0, false)
	for _, w := range h.due(now.Add(100*time.Millisecond), time.Second, false) {
		for _, tp := range w.topics {
			if tp == "t10" {
				t.Error("a series sampled 100 ms ago is due again with a 1 s period")
			}
		}
	}
	if ws := h.due(now.Add(rateWatch+time.Minute), time.Second, false); len(ws) != 0 {
		t.Errorf("%d sessions due %v after the last view", len(ws), rateWatch)
	}
	alice.closed.Store(true)
	for _, w := range h.due(time.Now(), time.Second, false) {
		if w.se == alice {
			t.Fatal("an ended session's series is still due")
		}
	}
	for k := range h.series {
		if k.session == "alice" {
			t.Fatal("an ended session's series was kept")
		}
	}
}
