package integration

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch sessions (KIP-227) as a consumer uses them: raw Fetch requests over
// one connection, the session fields set by hand, at v12 (topics by name)
// and v17 (by topic ID), and a franz-go consumer end to end.

// fsConn is one client connection speaking Fetch at a fixed version.
type fsConn struct {
	t     *testing.T
	rc    *rawConn
	corr  int32
	v     int16
	topic string // the topic req and parts use
	id    [16]byte
	names map[[16]byte]string // for answers by topic ID
}

// newFSTopic creates a topic of parts partitions and returns a producer
// that places records by their Partition and a raw connection at version
// v fetching from it.
func newFSTopic(t *testing.T, tb *testBroker, adm *kadm.Client, v int16, parts int32) (*kgo.Client, *fsConn) {
	t.Helper()
	topic := topicName(t, "")
	createTopic(t, adm, topic, parts, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	return cl, newFSConn(t, tb.Addr(), v, topic, topicID(t, cl, topic))
}

func newFSConn(t *testing.T, addr string, v int16, topic string, id [16]byte) *fsConn {
	t.Helper()
	return &fsConn{t: t, rc: dialRaw(t, addr), v: v, topic: topic, id: id, names: map[[16]byte]string{id: topic}}
}

// fsPart is a partition a request names, with its fetch offset.
type fsPart struct {
	p   int32
	off int64
}

// req is a fetch of c's topic. MinBytes 1: a fetch with nothing to
// return waits out maxWaitMs, so "nothing new" is told apart from "answered
// at once".
func (c *fsConn) req(sessID, epoch, maxWaitMs int32, parts ...fsPart) *kmsg.FetchRequest {
	r := kmsg.NewPtrFetchRequest()
	r.SetVersion(c.v)
	r.ReplicaID = -1
	r.MaxWaitMillis = maxWaitMs
	r.MinBytes = 1
	r.MaxBytes = 1 << 20
	r.SessionID, r.SessionEpoch = sessID, epoch
	if len(parts) > 0 {
		c.addTopic(r, c.topic, c.id, parts...)
	}
	return r
}

// addTopic appends a topic to r; the encoder sends its name or its ID as
// r's version calls for.
func (c *fsConn) addTopic(r *kmsg.FetchRequest, topic string, id [16]byte, parts ...fsPart) {
	c.names[id] = topic
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = topic, id
	for _, p := range parts {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p.p, p.off, 1<<20
		rp.CurrentLeaderEpoch, rp.LogStartOffset = -1, -1
		rt.Partitions = append(rt.Partitions, rp)
	}
	r.Topics = append(r.Topics, rt)
}

// forget adds c's topic's partitions to r's ForgottenTopics.
func (c *fsConn) forget(r *kmsg.FetchRequest, parts ...int32) {
	ft := kmsg.NewFetchRequestForgottenTopic()
	ft.Topic, ft.TopicID, ft.Partitions = c.topic, c.id, parts
	r.ForgottenTopics = append(r.ForgottenTopics, ft)
}

// do sends r and returns the response and how long it took.
func (c *fsConn) do(r *kmsg.FetchRequest) (*kmsg.FetchResponse, time.Duration) {
	c.t.Helper()
	c.corr++
	start := time.Now()
	resp := c.rc.roundTrip(c.corr, r).(*kmsg.FetchResponse)
	return resp, time.Since(start)
}

// ok sends r, failing on a top-level error.
func (c *fsConn) ok(what string, r *kmsg.FetchRequest) *kmsg.FetchResponse {
	c.t.Helper()
	resp, _ := c.do(r)
	if resp.ErrorCode != 0 {
		c.t.Fatalf("%s (v%d, session %d epoch %d): top-level error %v", what, c.v, r.SessionID, r.SessionEpoch, kerr.ErrorForCode(resp.ErrorCode))
	}
	return resp
}

// open sends a full fetch at epoch 0 and returns its answer, failing
// unless it opened a session.
func (c *fsConn) open(maxWaitMs int32, parts ...fsPart) *kmsg.FetchResponse {
	c.t.Helper()
	resp := c.ok("full fetch at epoch 0", c.req(0, 0, maxWaitMs, parts...))
	if resp.SessionID == 0 {
		c.t.Fatalf("full fetch at epoch 0 (v%d): SessionID 0, want a new session", c.v)
	}
	return resp
}

// fsKey names a partition of an answer.
type fsKey struct {
	topic string
	p     int32
}

// answered lists the partitions of resp, by topic name (IDs resolved
// through the topics c's requests named), failing on a partition
// answered twice.
func (c *fsConn) answered(resp *kmsg.FetchResponse) map[fsKey]kmsg.FetchResponseTopicPartition {
	c.t.Helper()
	out := map[fsKey]kmsg.FetchResponseTopicPartition{}
	for _, rt := range resp.Topics {
		name := rt.Topic
		if c.v >= 13 {
			var ok bool
			if name, ok = c.names[rt.TopicID]; !ok {
				c.t.Fatalf("answer names topic ID %x, which no request named", rt.TopicID)
			}
		}
		for _, rp := range rt.Partitions {
			k := fsKey{name, rp.Partition}
			if _, dup := out[k]; dup {
				c.t.Fatalf("answer holds %s/%d twice", name, rp.Partition)
			}
			out[k] = rp
		}
	}
	return out
}

// parts is answered for c's own topic, by partition.
func (c *fsConn) parts(resp *kmsg.FetchResponse) map[int32]kmsg.FetchResponseTopicPartition {
	c.t.Helper()
	out := map[int32]kmsg.FetchResponseTopicPartition{}
	for k, rp := range c.answered(resp) {
		if k.topic != c.topic {
			c.t.Fatalf("answer holds topic %q, want only %q", k.topic, c.topic)
		}
		out[k.p] = rp
	}
	return out
}

// fsValues lists the values of a partition's records.
func fsValues(t *testing.T, rp kmsg.FetchResponseTopicPartition) []string {
	t.Helper()
	var vals []string
	for _, b := range parseBatches(t, rp.RecordBatches) {
		for _, r := range batchRecords(t, b) {
			vals = append(vals, string(r.Value))
		}
	}
	return vals
}

func partList(m map[int32]kmsg.FetchResponseTopicPartition) []int32 {
	var ps []int32
	for p := range m {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

// fsVersions are the two ways a session names topics: by name (v12, the
// last such version) and by topic ID (v17, the newest).
var fsVersions = []int16{12, 17}

// TestFetchSessionIncremental: a full fetch at epoch 0 opens a session and
// answers every partition; incremental fetches naming no partition are
// answered with only the partitions that have news (records, a new HW),
// and a partition whose offset the client moves past its records drops
// out of the answers.
func TestFetchSessionIncremental(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	for _, v := range fsVersions {
		t.Run("v"+strconv.Itoa(int(v)), func(t *testing.T) {
			cl, c := newFSTopic(t, tb, adm, v, 3)

			full := c.open(100, fsPart{0, 0}, fsPart{1, 0}, fsPart{2, 0})
			id := full.SessionID
			if got := partList(c.parts(full)); len(got) != 3 {
				t.Fatalf("full fetch answered partitions %v, want [0 1 2]", got)
			}

			resp, took := c.do(c.req(id, 1, 100))
			if resp.ErrorCode != 0 || resp.SessionID != id || len(resp.Topics) != 0 {
				t.Fatalf("epoch 1, nothing new: error %v, session %d, partitions %v; want none, %d, none", kerr.ErrorForCode(resp.ErrorCode), resp.SessionID, partList(c.parts(resp)), id)
			}
			if took < 80*time.Millisecond {
				t.Errorf("epoch 1, nothing new: answered after %v, before its MaxWait 100ms", took)
			}

			produceSync(t, cl, &kgo.Record{Partition: 1, Value: []byte("one")})
			resp = c.ok("epoch 2", c.req(id, 2, 2000))
			got := c.parts(resp)
			if resp.SessionID != id || len(got) != 1 {
				t.Fatalf("epoch 2 after a record to partition 1: session %d, partitions %v; want %d, [1]", resp.SessionID, partList(got), id)
			}
			p1, ok := got[1]
			if !ok || p1.ErrorCode != 0 || p1.HighWatermark != 1 || strings.Join(fsValues(t, p1), ",") != "one" {
				t.Fatalf("epoch 2: partitions %v, partition 1 error %v HW %d records %v; want partition 1 with HW 1 and [one]", partList(got), kerr.ErrorForCode(p1.ErrorCode), p1.HighWatermark, fsValues(t, p1))
			}

			// The client moves partition 1 past the record: nothing new
			// anywhere, so nothing is answered and the fetch waits.
			resp, took = c.do(c.req(id, 3, 100, fsPart{1, 1}))
			if resp.ErrorCode != 0 || resp.SessionID != id || len(resp.Topics) != 0 {
				t.Fatalf("epoch 3, partition 1 at its end: error %v, session %d, partitions %v; want none, %d, none", kerr.ErrorForCode(resp.ErrorCode), resp.SessionID, partList(c.parts(resp)), id)
			}
			if took < 80*time.Millisecond {
				t.Errorf("epoch 3, nothing new: answered after %v, before its MaxWait 100ms", took)
			}

			// The session kept partition 1's new offset: a record to
			// partition 2 brings back partition 2 alone.
			produceSync(t, cl, &kgo.Record{Partition: 2, Value: []byte("two")})
			got = c.parts(c.ok("epoch 4", c.req(id, 4, 2000)))
			if p2, ok := got[2]; len(got) != 1 || !ok || p2.HighWatermark != 1 || strings.Join(fsValues(t, p2), ",") != "two" {
				t.Errorf("epoch 4 after a record to partition 2: partitions %v, want only 2 with HW 1 and [two]", partList(got))
			}
		})
	}
}

// TestFetchSessionErrors: the top-level session errors. An unknown session
// id, a stale epoch, and an incremental fetch that names topics the other
// way (by name or by ID) than the fetch that opened the session. None of
// them ends the session.
func TestFetchSessionErrors(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr())
	id := topicID(t, cl, topic)
	expect := func(what string, c *fsConn, r *kmsg.FetchRequest, want *kerr.Error) {
		t.Helper()
		resp, _ := c.do(r)
		if resp.ErrorCode != want.Code || len(resp.Topics) != 0 {
			t.Errorf("%s: error %v with %d topics, want %v and none", what, kerr.ErrorForCode(resp.ErrorCode), len(resp.Topics), want)
		}
	}

	c17 := newFSConn(t, tb.Addr(), 17, topic, id)
	expect("incremental on a session never opened", c17, c17.req(12345, 1, 0), kerr.FetchSessionIDNotFound)

	s17 := c17.open(0, fsPart{0, 0}).SessionID
	c17.ok("epoch 1", c17.req(s17, 1, 0))
	expect("epoch 1 again", c17, c17.req(s17, 1, 0), kerr.InvalidFetchSessionEpoch)
	expect("epoch 5 (ahead)", c17, c17.req(s17, 5, 0), kerr.InvalidFetchSessionEpoch)
	if resp := c17.ok("epoch 2 after the stale ones", c17.req(s17, 2, 0)); resp.SessionID != s17 {
		t.Errorf("epoch 2 after stale epochs: session %d, want %d", resp.SessionID, s17)
	}

	// A session by topic ID, continued by name, and the reverse.
	c12 := newFSConn(t, tb.Addr(), 12, topic, id)
	expect("v12 incremental on a v17 session", c12, c12.req(s17, 3, 0), kerr.FetchSessionTopicIDError)
	s12 := c12.open(0, fsPart{0, 0}).SessionID
	c13 := newFSConn(t, tb.Addr(), 13, topic, id)
	expect("v13 incremental on a v12 session", c13, c13.req(s12, 1, 0), kerr.FetchSessionTopicIDError)
	c12.ok("v12 epoch 1 after the v13 attempt", c12.req(s12, 1, 0))
	c17.ok("v17 epoch 3 after the v12 attempt", c17.req(s17, 3, 0))
}

// TestFetchSessionForget: a partition in ForgottenTopics leaves the
// session: its records are no longer answered (the fetch waits its MaxWait
// instead), while the partitions still in the session are.
func TestFetchSessionForget(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	for _, v := range fsVersions {
		t.Run("v"+strconv.Itoa(int(v)), func(t *testing.T) {
			cl, c := newFSTopic(t, tb, adm, v, 2)
			id := c.open(100, fsPart{0, 0}, fsPart{1, 0}).SessionID

			r := c.req(id, 1, 100)
			c.forget(r, 1)
			if resp := c.ok("epoch 1 forgetting partition 1", r); len(resp.Topics) != 0 {
				t.Fatalf("epoch 1 forgetting partition 1: answered %v, want nothing", partList(c.parts(resp)))
			}

			produceSync(t, cl, &kgo.Record{Partition: 1, Value: []byte("forgotten")})
			resp, took := c.do(c.req(id, 2, 300))
			if resp.ErrorCode != 0 || len(resp.Topics) != 0 {
				t.Errorf("epoch 2 after a record to forgotten partition 1: error %v, partitions %v; want none, none", kerr.ErrorForCode(resp.ErrorCode), partList(c.parts(resp)))
			}
			if took < 250*time.Millisecond {
				t.Errorf("epoch 2: answered after %v, before its MaxWait 300ms (a forgotten partition's record counted)", took)
			}

			produceSync(t, cl, &kgo.Record{Partition: 0, Value: []byte("kept")})
			got := c.parts(c.ok("epoch 3", c.req(id, 3, 2000)))
			if p0, ok := got[0]; len(got) != 1 || !ok || strings.Join(fsValues(t, p0), ",") != "kept" {
				t.Errorf("epoch 3 after a record to partition 0: partitions %v, want only 0 with [kept]", partList(got))
			}
		})
	}
}

// TestFetchSessionClose: a fetch at epoch -1 naming the session closes it
// and is answered in full without a session; a full fetch at epoch 0
// naming a session replaces it with a new one.
func TestFetchSessionClose(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 3, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := int32(0); p < 3; p++ {
		produceSync(t, cl, &kgo.Record{Partition: p, Value: []byte{'a' + byte(p)}})
	}
	c := newFSConn(t, tb.Addr(), 17, topic, topicID(t, cl, topic))
	all := []fsPart{{0, 0}, {1, 0}, {2, 0}}

	// Epoch 0 with an open session's id: that one closes, a new one opens.
	old := c.open(0, all...).SessionID
	renewed := c.ok("epoch 0 naming the open session", c.req(old, 0, 0, all...))
	if renewed.SessionID == 0 || renewed.SessionID == old {
		t.Errorf("epoch 0 naming session %d: answered with session %d, want a new one", old, renewed.SessionID)
	}
	if resp, _ := c.do(c.req(old, 1, 0)); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("incremental on the replaced session %d: error %v, want FETCH_SESSION_ID_NOT_FOUND", old, kerr.ErrorForCode(resp.ErrorCode))
	}
	id := renewed.SessionID
	c.ok("epoch 1", c.req(id, 1, 0))

	resp := c.ok("epoch -1 naming the session", c.req(id, -1, 0, all...))
	if resp.SessionID != 0 {
		t.Errorf("epoch -1: answered with session %d, want 0", resp.SessionID)
	}
	got := c.parts(resp)
	for p := int32(0); p < 3; p++ {
		if rp, ok := got[p]; !ok || strings.Join(fsValues(t, rp), ",") != string(rune('a'+p)) {
			t.Errorf("epoch -1: partition %d answered %v, want its record %q", p, ok, string(rune('a'+p)))
		}
	}
	if resp, _ := c.do(c.req(id, 2, 0)); resp.ErrorCode != kerr.FetchSessionIDNotFound.Code {
		t.Errorf("incremental on the closed session: error %v, want FETCH_SESSION_ID_NOT_FOUND", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// TestFetchSessionCacheFull: with max.incremental.fetch.session.cache.slots
// 1, a second client's full fetch finds no room (the first session is in
// use, not idle 2 minutes) and is answered without a session, records and
// all; the first session keeps working.
func TestFetchSessionCacheFull(t *testing.T) {
	tb := startBroker(t, withProp("max.incremental.fetch.session.cache.slots", "1"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("r"))
	id := topicID(t, cl, topic)

	first := newFSConn(t, tb.Addr(), 17, topic, id)
	s := first.open(0, fsPart{0, 0}).SessionID

	second := newFSConn(t, tb.Addr(), 17, topic, id)
	resp := second.ok("second client's full fetch", second.req(0, 0, 0, fsPart{0, 0}))
	if resp.SessionID != 0 {
		t.Errorf("second client's full fetch with 1 slot taken: session %d, want 0", resp.SessionID)
	}
	if p, ok := second.parts(resp)[0]; !ok || strings.Join(fsValues(t, p), ",") != "r" {
		t.Errorf("second client's full fetch without a session: partition 0 answered %v, want the record [r]", ok)
	}
	if resp := first.ok("first session's epoch 1", first.req(s, 1, 0, fsPart{0, 1})); resp.SessionID != s {
		t.Errorf("first session's epoch 1: session %d, want %d", resp.SessionID, s)
	}
}

// TestFetchSessionCacheDisabled: with max.incremental.fetch.session.cache.slots
// 0 no fetch gets a session.
func TestFetchSessionCacheDisabled(t *testing.T) {
	tb := startBroker(t, withProp("max.incremental.fetch.session.cache.slots", "0"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 1, nil)
	cl := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))
	produceSync(t, cl, kgo.StringRecord("r"))
	for _, v := range fsVersions {
		c := newFSConn(t, tb.Addr(), v, topic, topicID(t, cl, topic))
		for i := 0; i < 3; i++ {
			resp := c.ok("full fetch at epoch 0", c.req(0, 0, 0, fsPart{0, 0}))
			if resp.SessionID != 0 {
				t.Errorf("v%d full fetch %d with sessions disabled: session %d, want 0", v, i, resp.SessionID)
			}
			if p, ok := c.parts(resp)[0]; !ok || strings.Join(fsValues(t, p), ",") != "r" {
				t.Errorf("v%d full fetch %d: partition 0 answered %v, want the record [r]", v, i, ok)
			}
		}
	}
}

// TestFetchSessionErrorPartitions: a partition in error (a fetch offset
// past the log end; a deleted topic) is answered in every incremental
// fetch while the error holds, and once more when it clears; a healthy
// partition with nothing new is not.
func TestFetchSessionErrorPartitions(t *testing.T) {
	tb := startBroker(t)
	adm := newAdmin(t, tb.Addr())
	topic, doomed := topicName(t, "a"), topicName(t, "doomed")
	createTopic(t, adm, topic, 2, nil)
	createTopic(t, adm, doomed, 1, nil)
	cl := newClient(t, tb.Addr())
	c := newFSConn(t, tb.Addr(), 17, topic, topicID(t, cl, topic))
	doomedID := topicID(t, cl, doomed)

	// Partition 0 at 5 with its log end at 0: OFFSET_OUT_OF_RANGE.
	r := c.req(0, 0, 0, fsPart{0, 5}, fsPart{1, 0})
	c.addTopic(r, doomed, doomedID, fsPart{0, 0})
	full := c.ok("full fetch", r)
	id := full.SessionID
	if id == 0 {
		t.Fatalf("full fetch at epoch 0: no session")
	}
	if p := c.answered(full)[fsKey{topic, 0}]; p.ErrorCode != kerr.OffsetOutOfRange.Code {
		t.Fatalf("full fetch: %s/0 at 5 error %v, want OFFSET_OUT_OF_RANGE", topic, kerr.ErrorForCode(p.ErrorCode))
	}

	epoch := int32(1)
	// incremental sends one incremental fetch and checks the partition
	// in range is left out and the out-of-range one is answered.
	incremental := func(what string, parts ...fsPart) map[fsKey]kmsg.FetchResponseTopicPartition {
		t.Helper()
		resp := c.ok(what, c.req(id, epoch, 2000, parts...))
		epoch++
		got := c.answered(resp)
		if resp.SessionID != id {
			t.Fatalf("%s: session %d, want %d", what, resp.SessionID, id)
		}
		if _, ok := got[fsKey{topic, 1}]; ok {
			t.Errorf("%s: %s/1 answered with nothing new", what, topic)
		}
		return got
	}
	oor := func(what string, got map[fsKey]kmsg.FetchResponseTopicPartition) {
		t.Helper()
		if p, ok := got[fsKey{topic, 0}]; !ok || p.ErrorCode != kerr.OffsetOutOfRange.Code {
			t.Errorf("%s: %s/0 (still out of range) answered %v with error %v, want OFFSET_OUT_OF_RANGE", what, topic, ok, kerr.ErrorForCode(p.ErrorCode))
		}
	}
	for i := 0; i < 2; i++ {
		oor(fmt.Sprintf("incremental %d before the delete", i), incremental("incremental"))
	}

	res, err := adm.DeleteTopics(testCtx(t, 15*time.Second), doomed)
	if err != nil || res[doomed].Err != nil {
		t.Fatalf("delete %s: %v %v", doomed, err, res[doomed].Err)
	}
	for i := 0; i < 3; i++ {
		what := fmt.Sprintf("incremental %d after the delete", i)
		got := incremental(what)
		oor(what, got)
		if p, ok := got[fsKey{doomed, 0}]; !ok || p.ErrorCode != kerr.UnknownTopicID.Code {
			t.Errorf("%s: deleted %s/0 answered %v with error %v, want UNKNOWN_TOPIC_ID", what, doomed, ok, kerr.ErrorForCode(p.ErrorCode))
		}
	}

	// The client resets partition 0 to its log end: answered once without
	// the error, then no more.
	got := incremental("partition 0 moved to 0", fsPart{0, 0})
	if p, ok := got[fsKey{topic, 0}]; !ok || p.ErrorCode != 0 || p.HighWatermark != 0 {
		t.Errorf("partition 0 moved back in range: answered %v with error %v HW %d, want answered, no error, HW 0", ok, kerr.ErrorForCode(p.ErrorCode), p.HighWatermark)
	}
	got = incremental("after partition 0 cleared")
	if _, ok := got[fsKey{topic, 0}]; ok {
		t.Errorf("partition 0 answered again with nothing new after its error cleared")
	}
}

// fetchSizes counts a client's Fetch requests and responses smaller than a
// bound: a full fetch of a 50-partition topic is over a kilobyte each
// way, an incremental one with little news a few dozen bytes.
type fetchSizes struct {
	bound                int
	smallReqs, smallResp atomic.Int64
}

func (h *fetchSizes) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if key == 1 && err == nil && n < h.bound {
		h.smallReqs.Add(1)
	}
}

func (h *fetchSizes) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, err error) {
	if key == 1 && err == nil && n < h.bound {
		h.smallResp.Add(1)
	}
}

// sessionLogger keeps what franz-go logs about fetch sessions: it logs
// when it drops a session the broker refused or lost.
type sessionLogger struct {
	mu    sync.Mutex
	lines []string
}

func (l *sessionLogger) Level() kgo.LogLevel { return kgo.LogLevelInfo }

func (l *sessionLogger) Log(_ kgo.LogLevel, msg string, kv ...any) {
	if strings.Contains(strings.ToLower(msg), "session") {
		l.mu.Lock()
		l.lines = append(l.lines, fmt.Sprint(msg, kv))
		l.mu.Unlock()
	}
}

// TestFetchSessionConsumer: a franz-go consumer (no group) of a
// 50-partition topic, tailing it while records are produced in rounds,
// receives every record once, in order per partition, over a fetch
// session: its fetches shrink to a few dozen bytes each way, and it never
// has to drop the session.
func TestFetchSessionConsumer(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	const parts, rounds, perRound = 50, 4, 500
	createTopic(t, newAdmin(t, tb.Addr()), topic, parts, nil)
	producer := newClient(t, tb.Addr(), kgo.DefaultProduceTopic(topic))

	sizes := &fetchSizes{bound: 400}
	logs := &sessionLogger{}
	consumer := newClient(t, tb.Addr(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100*time.Millisecond), kgo.WithHooks(sizes), kgo.WithLogger(logs))

	var (
		mu       sync.Mutex
		seen     = map[string]bool{}
		lastOff  = map[int32]int64{}
		lastSeq  = map[int32]int{}
		problems []string
	)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(seen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			fs := consumer.PollFetches(ctx)
			mu.Lock()
			fs.EachError(func(tp string, p int32, err error) {
				if !errors.Is(err, context.Canceled) {
					problems = append(problems, fmt.Sprintf("fetch error %s/%d: %v", tp, p, err))
				}
			})
			fs.EachRecord(func(r *kgo.Record) {
				v := string(r.Value)
				seq, _ := strconv.Atoi(v)
				if seen[v] {
					problems = append(problems, fmt.Sprintf("record %s received twice (partition %d offset %d)", v, r.Partition, r.Offset))
				}
				if last, ok := lastOff[r.Partition]; ok && (r.Offset <= last || seq <= lastSeq[r.Partition]) {
					problems = append(problems, fmt.Sprintf("partition %d: record %s at offset %d after record %d at offset %d", r.Partition, v, r.Offset, lastSeq[r.Partition], last))
				}
				seen[v] = true
				lastOff[r.Partition], lastSeq[r.Partition] = r.Offset, seq
			})
			mu.Unlock()
		}
	}()
	stop := func() {
		cancel()
		<-done
	}
	defer stop()

	for round := 0; round < rounds; round++ {
		recs := make([]*kgo.Record, perRound)
		for i := range recs {
			n := round*perRound + i
			recs[i] = &kgo.Record{Key: []byte("key-" + strconv.Itoa(n)), Value: []byte(strconv.Itoa(n))}
		}
		produceSync(t, producer, recs...)
		want := (round + 1) * perRound
		waitFor(t, 30*time.Second, fmt.Sprintf("round %d's records", round), func() error {
			if n := count(); n != want {
				return fmt.Errorf("%d of %d records received", n, want)
			}
			return nil
		})
	}
	// Tailing with nothing new, the consumer's fetches are incremental
	// ones naming no partition, answered with none.
	waitFor(t, 10*time.Second, "small fetches both ways", func() error {
		if r, s := sizes.smallReqs.Load(), sizes.smallResp.Load(); r < 5 || s < 5 {
			return fmt.Errorf("%d fetch requests and %d responses under %d bytes", r, s, sizes.bound)
		}
		return nil
	})
	stop()

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if len(seen) != rounds*perRound {
		t.Errorf("received %d distinct records, want %d", len(seen), rounds*perRound)
	}
	if len(lastOff) != parts {
		t.Errorf("records came from %d partitions, want all %d", len(lastOff), parts)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	for _, l := range logs.lines {
		t.Errorf("franz-go dropped its fetch session: %s", l)
	}
}

// TestFetchSessionRotation: when one partition's data fills the response
// (MaxBytes 1000, batches of ~1070 bytes), the session reads the partition
// that got records last after the others, so two partitions with data
// take turns instead of one starving the other.
func TestFetchSessionRotation(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	cl := newClient(t, tb.Addr())
	const batches = 6
	for p := int32(0); p < 2; p++ {
		for i := 0; i < batches; i++ {
			v := fmt.Sprintf("p%d-%d-", p, i) + strings.Repeat("x", 1000)
			if rp := produceRawRecords(t, cl, topic, p, v); rp.ErrorCode != 0 {
				t.Fatalf("produce to %d: %v", p, kerr.ErrorForCode(rp.ErrorCode))
			}
		}
	}
	c := newFSConn(t, tb.Addr(), 17, topic, topicID(t, cl, topic))
	offsets := []int64{0, 0}
	var turns []int32
	// take reads which partition got records (one batch, the response
	// limit allows no more) and moves the client's offset past it.
	take := func(what string, resp *kmsg.FetchResponse) (moved int32) {
		t.Helper()
		if resp.ErrorCode != 0 || resp.SessionID == 0 {
			t.Fatalf("%s: error %v, session %d", what, kerr.ErrorForCode(resp.ErrorCode), resp.SessionID)
		}
		moved = -1
		for p, rp := range c.parts(resp) {
			vals := fsValues(t, rp)
			if len(vals) == 0 {
				continue
			}
			if moved >= 0 {
				t.Fatalf("%s: records from partitions %d and %d, but MaxBytes 1000 holds one batch", what, moved, p)
			}
			want := fmt.Sprintf("p%d-%d-", p, offsets[p])
			if len(vals) != 1 || !strings.HasPrefix(vals[0], want) {
				t.Fatalf("%s: partition %d returned %d records, want the one at offset %d", what, p, len(vals), offsets[p])
			}
			moved = p
			offsets[p]++
		}
		if moved < 0 {
			t.Fatalf("%s: no records, with %d and %d batches left", what, batches-offsets[0], batches-offsets[1])
		}
		turns = append(turns, moved)
		return moved
	}
	full := c.req(0, 0, 0, fsPart{0, 0}, fsPart{1, 0})
	full.MaxBytes = 1000
	resp := c.ok("full fetch", full)
	id := resp.SessionID
	last := take("full fetch", resp)
	for epoch := int32(1); epoch <= 6; epoch++ {
		// As a client does: name only the partition whose offset moved.
		r := c.req(id, epoch, 2000, fsPart{last, offsets[last]})
		r.MaxBytes = 1000
		what := fmt.Sprintf("epoch %d", epoch)
		last = take(what, c.ok(what, r))
	}
	t.Logf("partitions with records, full fetch first: %v", turns)
	n := []int{0, 0}
	for i, p := range turns {
		n[p]++
		if i >= 2 && turns[i-1] == p && turns[i-2] == p {
			t.Errorf("partition %d got the records 3 fetches in a row (%v) with the other one's waiting", p, turns)
			break
		}
	}
	if n[0] < 3 || n[1] < 3 {
		t.Errorf("of %d fetches, partition 0 got records in %d and partition 1 in %d; want both at least 3", len(turns), n[0], n[1])
	}
}

// TestFetchSessionThrottled: an incremental fetch over the client's
// consumer_byte_rate is answered empty with a throttle time; the session
// stays, the next epoch is accepted, and the records held back arrive.
//
// With quota.window.num 2 the rate is measured over at least 1s: one
// ~920-byte batch stays within 1000 B/s, a second one within ~0.8s goes
// over it, and its bytes are taken back (not sent), so it is read again
// once the throttle has passed.
func TestFetchSessionThrottled(t *testing.T) {
	tb := startBroker(t, withProp("quota.window.num", "2"))
	adm := newAdmin(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, adm, topic, 1, nil)
	cl := newClient(t, tb.Addr())
	value := func(tag string) string { return tag + strings.Repeat("v", 850) }
	if rp := produceRawRecords(t, cl, topic, 0, value("first")); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}
	// The raw connection's client id (encodeRequest).
	alterQuotas(t, adm, kadm.AlterClientQuotaEntry{Entity: quotaEntity(qname("client-id"), qname("sluice-raw-test")), Ops: setQuota("consumer_byte_rate", 1000)})

	c := newFSConn(t, tb.Addr(), 17, topic, topicID(t, cl, topic))
	full := c.open(0, fsPart{0, 0})
	id := full.SessionID
	if vals := fsValues(t, c.parts(full)[0]); full.ThrottleMillis != 0 || len(vals) != 1 || vals[0] != value("first") {
		t.Fatalf("full fetch: throttle %d ms, %d records; want no throttle and the first record", full.ThrottleMillis, len(vals))
	}
	if rp := produceRawRecords(t, cl, topic, 0, value("second")); rp.ErrorCode != 0 {
		t.Fatalf("produce: %v", kerr.ErrorForCode(rp.ErrorCode))
	}

	resp := c.ok("epoch 1", c.req(id, 1, 2000, fsPart{0, 1}))
	if resp.ThrottleMillis == 0 {
		t.Fatalf("epoch 1 reading a second ~920-byte batch at 1000 B/s: not throttled (%d topics); the test's timing assumption failed", len(resp.Topics))
	}
	if resp.SessionID != id || len(resp.Topics) != 0 {
		t.Fatalf("throttled epoch 1: session %d, %d topics; want %d and none", resp.SessionID, len(resp.Topics), id)
	}
	// The broker mutes the connection for the throttle time, so each
	// request below is read only once the previous throttle has passed.
	throttles := 1
	deadline := time.Now().Add(10 * time.Second)
	for epoch := int32(2); ; epoch++ {
		what := fmt.Sprintf("epoch %d after %d throttled answers", epoch, throttles)
		resp := c.ok(what, c.req(id, epoch, 2000))
		if resp.SessionID != id {
			t.Fatalf("%s: session %d, want %d", what, resp.SessionID, id)
		}
		if resp.ThrottleMillis > 0 && len(resp.Topics) == 0 {
			throttles++
			if time.Now().After(deadline) {
				t.Fatalf("%s: still throttled after 10s", what)
			}
			continue
		}
		got := c.parts(resp)
		if vals := fsValues(t, got[0]); len(got) != 1 || len(vals) != 1 || vals[0] != value("second") {
			t.Fatalf("%s: partitions %v, partition 0 with %d records; want the second record", what, partList(got), len(vals))
		}
		break
	}
	t.Logf("%d throttled answers before the record", throttles)
}

// TestFetchSessionTwoConnections: a session is not bound to a connection
// (as in Kafka). While one connection's incremental fetch is parked, the
// next epoch arrives on another connection and parks too; a record wakes
// them, both are answered without error, and the session goes on serving
// later epochs. The broker lends a session's fetch list to one fetch at a
// time; the second one here must get its own (run with -race). A session
// has one wake-up signal, so one of the two may sleep out its MaxWait
// (5 s here): clients fetch a session one epoch at a time.
func TestFetchSessionTwoConnections(t *testing.T) {
	tb := startBroker(t)
	cl, a := newFSTopic(t, tb, newAdmin(t, tb.Addr()), 17, 3)
	b := newFSConn(t, tb.Addr(), 17, a.topic, a.id)
	id := a.open(100, fsPart{0, 0}, fsPart{1, 0}, fsPart{2, 0}).SessionID
	// One incremental fetch ends first, so the session has a list to lend.
	if resp := a.ok("epoch 1", a.req(id, 1, 0)); len(resp.Topics) != 0 {
		t.Fatalf("epoch 1, nothing new: partitions %v", partList(a.parts(resp)))
	}

	a.corr++
	first := a.req(id, 2, 5000)
	a.rc.send(a.corr, first)
	// B's epoch 3 is valid once A's epoch 2 has been taken; until then it
	// is refused with INVALID_FETCH_SESSION_EPOCH, which does not use the
	// epoch up.
	deadline := time.Now().Add(10 * time.Second)
	b.corr++
	second := b.req(id, 3, 5000)
	for {
		b.rc.send(b.corr, second)
		// A refused epoch is answered at once; an accepted one parks
		// until the record below or its MaxWait.
		frame, err := b.rc.readFrame(500 * time.Millisecond)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				break // parked: accepted
			}
			t.Fatalf("epoch 3 on the second connection: %v", err)
		}
		_, resp, err := decodeResponse(frame, second)
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if code := resp.(*kmsg.FetchResponse).ErrorCode; code != kerr.InvalidFetchSessionEpoch.Code {
			t.Fatalf("epoch 3 answered at once with %v, want a parked fetch or INVALID_FETCH_SESSION_EPOCH", kerr.ErrorForCode(code))
		}
		if time.Now().After(deadline) {
			t.Fatal("epoch 3 never accepted on the second connection")
		}
		b.corr++
	}

	produceSync(t, cl, &kgo.Record{Partition: 1, Value: []byte("one")})
	got := map[string]bool{}
	for _, c := range []struct {
		c   *fsConn
		req *kmsg.FetchRequest
	}{{a, first}, {b, second}} {
		resp := c.c.rc.recv(c.c.corr, c.req).(*kmsg.FetchResponse)
		if resp.ErrorCode != 0 || resp.SessionID != id {
			t.Fatalf("epoch %d: error %v, session %d; want none, %d", c.req.SessionEpoch, kerr.ErrorForCode(resp.ErrorCode), resp.SessionID, id)
		}
		for p, rp := range c.c.parts(resp) {
			if rp.ErrorCode != 0 {
				t.Fatalf("epoch %d: partition %d error %v", c.req.SessionEpoch, p, kerr.ErrorForCode(rp.ErrorCode))
			}
			for _, v := range fsValues(t, rp) {
				got[fmt.Sprintf("%d:%s", p, v)] = true
			}
		}
	}
	if !got["1:one"] {
		t.Fatalf("neither parked fetch returned partition 1's record; got %v", got)
	}

	// Later epochs reuse the session's list: each sees only its news,
	// the client moving past what the last one returned.
	for i, want := range []struct {
		p    int32
		v    string
		past fsPart
	}{{2, "two", fsPart{1, 1}}, {0, "three", fsPart{2, 1}}} {
		produceSync(t, cl, &kgo.Record{Partition: want.p, Value: []byte(want.v)})
		epoch := int32(4 + i)
		r := a.req(id, epoch, 2000, want.past)
		parts := a.parts(a.ok(fmt.Sprintf("epoch %d", epoch), r))
		if rp, ok := parts[want.p]; len(parts) != 1 || !ok || strings.Join(fsValues(t, rp), ",") != want.v {
			t.Fatalf("epoch %d after %q to partition %d: partitions %v, want only %d with [%s]", epoch, want.v, want.p, partList(parts), want.p, want.v)
		}
	}
}
