package integration

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Share groups (KIP-932): the share-partition side (ShareFetch,
// ShareAcknowledge, __share_group_state) over TCP, first with raw kmsg
// requests, then with franz-go's share consumer.

// shareAck is one acknowledgement range for shareFetchReq.
type shareAck struct {
	first, last int64
	typ         int8
}

func shareFetchReq(group, member string, epoch int32, tid [16]byte, maxWaitMs int32, acks []shareAck) *kmsg.ShareFetchRequest {
	return shareFetchReqParts(group, member, epoch, tid, maxWaitMs, [][]shareAck{acks})
}

// shareFetchReqParts is shareFetchReq naming partitions 0..len(acks)-1
// of the topic, partition p with the acknowledgements acks[p].
func shareFetchReqParts(group, member string, epoch int32, tid [16]byte, maxWaitMs int32, acks [][]shareAck) *kmsg.ShareFetchRequest {
	req := kmsg.NewPtrShareFetchRequest()
	req.Version = 2
	req.GroupID, req.MemberID = kmsg.StringPtr(group), kmsg.StringPtr(member)
	req.ShareSessionEpoch = epoch
	req.MaxWaitMillis, req.MinBytes, req.MaxRecords, req.BatchSize = maxWaitMs, 1, 500, 500
	rt := kmsg.NewShareFetchRequestTopic()
	rt.TopicID = tid
	for p, packs := range acks {
		rp := kmsg.NewShareFetchRequestTopicPartition()
		rp.Partition = int32(p)
		for _, a := range packs {
			b := kmsg.NewShareFetchRequestTopicPartitionAcknowledgementBatch()
			b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.first, a.last, []int8{a.typ}
			rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
		}
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	return req
}

func shareAckReq(group, member string, epoch int32, tid [16]byte, acks []shareAck) *kmsg.ShareAcknowledgeRequest {
	req := kmsg.NewPtrShareAcknowledgeRequest()
	req.Version = 2
	req.GroupID, req.MemberID = kmsg.StringPtr(group), kmsg.StringPtr(member)
	req.ShareSessionEpoch = epoch
	rt := kmsg.NewShareAcknowledgeRequestTopic()
	rt.TopicID = tid
	rp := kmsg.NewShareAcknowledgeRequestTopicPartition()
	for _, a := range acks {
		b := kmsg.NewShareAcknowledgeRequestTopicPartitionAcknowledgementBatch()
		b.FirstOffset, b.LastOffset, b.AcknowledgeTypes = a.first, a.last, []int8{a.typ}
		rp.AcknowledgementBatches = append(rp.AcknowledgementBatches, b)
	}
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	return req
}

// shareFetchOK sends req and returns partition 0 of the response, failing
// on a top-level error.
func shareFetchOK(t *testing.T, cl *kgo.Client, req *kmsg.ShareFetchRequest) kmsg.ShareFetchResponseTopicPartition {
	t.Helper()
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("ShareFetch: %v", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		t.Fatalf("ShareFetch: %v", err)
	}
	for _, rt := range resp.Topics {
		for _, rp := range rt.Partitions {
			return rp
		}
	}
	return kmsg.NewShareFetchResponseTopicPartition()
}

// acquiredValues decodes the records of rp that its AcquiredRecords name.
func acquiredValues(t *testing.T, rp kmsg.ShareFetchResponseTopicPartition) map[int64]string {
	t.Helper()
	out := map[int64]string{}
	for _, rb := range parseBatches(t, rp.Records) {
		for _, r := range batchRecords(t, rb) {
			off := rb.FirstOffset + int64(r.OffsetDelta)
			for _, ar := range rp.AcquiredRecords {
				if off >= ar.FirstOffset && off <= ar.LastOffset {
					out[off] = string(r.Value)
				}
			}
		}
	}
	return out
}

// setShareConfigs sets group configs of a share group (ConfigResource GROUP).
func setShareConfigs(t *testing.T, cl *kgo.Client, group string, kvs ...string) {
	t.Helper()
	req := kmsg.NewPtrIncrementalAlterConfigsRequest()
	res := kmsg.NewIncrementalAlterConfigsRequestResource()
	res.ResourceType = kmsg.ConfigResourceTypeGroupConfig
	res.ResourceName = group
	for i := 0; i < len(kvs); i += 2 {
		c := kmsg.NewIncrementalAlterConfigsRequestResourceConfig()
		c.Name, c.Value = kvs[i], kmsg.StringPtr(kvs[i+1])
		res.Configs = append(res.Configs, c)
	}
	req.Resources = append(req.Resources, res)
	resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil {
		t.Fatalf("IncrementalAlterConfigs: %v", err)
	}
	for _, r := range resp.Resources {
		if err := kerr.ErrorForCode(r.ErrorCode); err != nil {
			t.Fatalf("IncrementalAlterConfigs %s: %v", group, err)
		}
	}
}

func shareProduce(t *testing.T, cl *kgo.Client, topic string, from, n int) {
	t.Helper()
	rs := make([]*kgo.Record, n)
	for i := range rs {
		rs[i] = &kgo.Record{Topic: topic, Value: []byte(strconv.Itoa(from + i))}
	}
	produceSync(t, cl, rs...)
}

func TestShareFetchRaw(t *testing.T) {
	const group = "raw-share"
	_, cl, topic := startShareTopic(t, 1, group, 10)
	tid := topicID(t, cl, topic)

	// Member a gets everything (one batch); b, fetching meanwhile, none.
	rp := shareFetchOK(t, cl, shareFetchReq(group, "member-a", 0, tid, 100, nil))
	vals := acquiredValues(t, rp)
	if len(vals) != 10 || len(rp.AcquiredRecords) != 1 || rp.AcquiredRecords[0].DeliveryCount != 1 {
		t.Fatalf("a acquired %v (%+v)", vals, rp.AcquiredRecords)
	}
	if rp := shareFetchOK(t, cl, shareFetchReq(group, "member-b", 0, tid, 50, nil)); len(rp.AcquiredRecords) != 0 {
		t.Fatalf("b acquired %+v while a holds everything", rp.AcquiredRecords)
	}

	// a accepts 0-3, releases 4-6, rejects 7-9 (ShareAcknowledge, epoch 1).
	resp, err := shareAckReq(group, "member-a", 1, tid, []shareAck{{0, 3, 1}, {4, 6, 2}, {7, 9, 3}}).RequestWith(testCtx(t, 15*time.Second), cl)
	if err != nil || resp.ErrorCode != 0 || resp.Topics[0].Partitions[0].ErrorCode != 0 {
		t.Fatalf("ShareAcknowledge: %v %+v", err, resp)
	}
	// Epochs are checked: a stale one is refused.
	if resp, _ := shareAckReq(group, "member-a", 1, tid, nil).RequestWith(testCtx(t, 15*time.Second), cl); resp == nil || resp.ErrorCode != kerr.InvalidShareSessionEpoch.Code {
		t.Fatalf("stale epoch: %+v", resp)
	}
	if resp, _ := shareAckReq(group, "member-z", 1, tid, nil).RequestWith(testCtx(t, 15*time.Second), cl); resp == nil || resp.ErrorCode != kerr.ShareSessionNotFound.Code {
		t.Fatalf("no session: %+v", resp)
	}

	// b gets the released ones, delivered a second time; never the rejected.
	rp = shareFetchOK(t, cl, shareFetchReq(group, "member-b", 1, tid, 1000, nil))
	vals = acquiredValues(t, rp)
	if len(vals) != 3 || vals[4] != "4" || vals[6] != "6" || rp.AcquiredRecords[0].DeliveryCount != 2 {
		t.Fatalf("b acquired %v (%+v), want 4-6 delivered twice", vals, rp.AcquiredRecords)
	}
	// b accepts them piggybacked on its next fetch, which long-polls for
	// new data: records produced meanwhile wake it.
	go func() {
		time.Sleep(200 * time.Millisecond)
		shareProduce(t, cl, topic, 10, 2)
	}()
	rp = shareFetchOK(t, cl, shareFetchReq(group, "member-b", 2, tid, 10000, []shareAck{{4, 6, 1}}))
	if rp.AcknowledgeErrorCode != 0 {
		t.Fatalf("piggybacked ack: %v", kerr.ErrorForCode(rp.AcknowledgeErrorCode))
	}
	waitFor(t, 10*time.Second, "the new records", func() error {
		if len(rp.AcquiredRecords) == 0 {
			rp = shareFetchOK(t, cl, shareFetchReq(group, "member-b", 3, tid, 5000, nil))
		}
		if v := acquiredValues(t, rp); len(v) != 2 || v[10] != "10" {
			return fmt.Errorf("acquired %v", v)
		}
		return nil
	})

	// Closing b's session (epoch -1) releases 10-11 for a.
	if resp, err := shareAckReq(group, "member-b", -1, tid, nil).RequestWith(testCtx(t, 15*time.Second), cl); err != nil || resp.ErrorCode != 0 {
		t.Fatalf("close: %v %+v", err, resp)
	}
	rp = shareFetchOK(t, cl, shareFetchReq(group, "member-a", 2, tid, 1000, nil))
	if v := acquiredValues(t, rp); len(v) != 2 || rp.AcquiredRecords[0].DeliveryCount != 2 {
		t.Fatalf("after b closed, a acquired %v (%+v)", v, rp.AcquiredRecords)
	}
}

func TestShareFetchClassicGroupID(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, kadm.NewClient(cl), topic, 1, nil)
	tid := topicID(t, cl, topic)
	shareProduce(t, cl, topic, 0, 1)
	// A classic group with a committed offset.
	ctx := testCtx(t, 15*time.Second)
	grp := "classic-one"
	c := newClient(t, tb.Addr(), kgo.ConsumerGroup(grp), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	for len(c.PollFetches(ctx).Records()) == 0 && ctx.Err() == nil {
	}
	if err := c.CommitUncommittedOffsets(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err := shareFetchReq(grp, "m", 0, tid, 0, nil).RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if resp.ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("ShareFetch for a classic group: %v, want GROUP_ID_NOT_FOUND", kerr.ErrorForCode(resp.ErrorCode))
	}
}

// shareLedger records what share consumers got.
type shareLedger struct {
	mu    sync.Mutex
	seen  map[string]int // value -> deliveries seen
	maxDC int32
}

func (l *shareLedger) add(r *kgo.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seen[string(r.Value)]++
	l.maxDC = max(l.maxDC, r.DeliveryCount())
}

func (l *shareLedger) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.seen)
}

// runShareConsumer polls until ctx ends, acknowledging with ack(value)
// (nil: accept), and flushing acknowledgements after each poll.
func runShareConsumer(ctx context.Context, t *testing.T, addr, group, topic string, l *shareLedger, ack func(*kgo.Record) kgo.AckStatus) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ShareGroup(group), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		t.Errorf("share client: %v", err)
		return
	}
	defer cl.Close()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := cl.PollFetches(pctx)
		cancel()
		for _, e := range fs.Errors() {
			if !errors.Is(e.Err, context.DeadlineExceeded) && !errors.Is(e.Err, context.Canceled) {
				t.Errorf("share poll: %v", e.Err)
			}
		}
		for _, r := range fs.Records() {
			l.add(r)
			st := kgo.AckAccept
			if ack != nil {
				st = ack(r)
			}
			r.Ack(st)
		}
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := cl.FlushAcks(fctx); err != nil && ctx.Err() == nil {
			t.Errorf("flush acks: %v", err)
		}
		cancel()
	}
}

// startShareTopic starts a broker and creates a topic of parts
// partitions, has group's share consumers start from the earliest offset
// and produces n records to partition 0; it returns the broker, a client
// and the topic.
func startShareTopic(t *testing.T, parts int32, group string, n int) (*testBroker, *kgo.Client, string) {
	t.Helper()
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, kadm.NewClient(cl), topic, parts, nil)
	setShareConfigs(t, cl, group, "share.auto.offset.reset", "earliest")
	shareProduce(t, cl, topic, 0, n)
	return tb, cl, topic
}

func TestShareGroupTwoMembersExactlyOnce(t *testing.T) {
	const group = "share-two"
	const n = 3000
	tb, _, topic := startShareTopic(t, 3, group, n)

	l := &shareLedger{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() { defer wg.Done(); runShareConsumer(ctx, t, tb.Addr(), group, topic, l, nil) }()
	}
	waitFor(t, 60*time.Second, "every record consumed", func() error {
		if c := l.count(); c < n {
			return fmt.Errorf("%d/%d", c, n)
		}
		return nil
	})
	cancel()
	wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	for v, c := range l.seen {
		if c != 1 {
			t.Errorf("record %s delivered %d times", v, c)
		}
	}
	if l.maxDC != 1 {
		t.Errorf("max delivery count %d, want 1", l.maxDC)
	}
}

func TestShareGroupReleaseRejectRestart(t *testing.T) {
	const group = "share-rr"
	const n = 200
	tb, cl, topic := startShareTopic(t, 1, group, n)

	// Values divisible by 10 are released on their first delivery, those
	// ending in 5 rejected; everything else accepted.
	l := &shareLedger{seen: map[string]int{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runShareConsumer(ctx, t, tb.Addr(), group, topic, l, func(r *kgo.Record) kgo.AckStatus {
			v, _ := strconv.Atoi(string(r.Value))
			switch {
			case v%10 == 0 && r.DeliveryCount() == 1:
				return kgo.AckRelease
			case v%10 == 5:
				return kgo.AckReject
			}
			return kgo.AckAccept
		})
	}()
	waitFor(t, 60*time.Second, "every record and the redeliveries", func() error {
		l.mu.Lock()
		defer l.mu.Unlock()
		redelivered := 0
		for i := 0; i < n; i += 10 {
			if l.seen[strconv.Itoa(i)] == 2 {
				redelivered++
			}
		}
		if len(l.seen) < n || redelivered < n/10 {
			return fmt.Errorf("%d/%d seen, %d/%d released ones redelivered", len(l.seen), n, redelivered, n/10)
		}
		return nil
	})
	cancel()
	<-done
	l.mu.Lock()
	for v, c := range l.seen {
		i, _ := strconv.Atoi(v)
		want := 1
		if i%10 == 0 {
			want = 2
		}
		if c != want {
			t.Errorf("record %s delivered %d times, want %d", v, c, want)
		}
	}
	l.mu.Unlock()

	// Acknowledged progress survives a restart: nothing is redelivered,
	// and new records are.
	tb.Restart()
	cl = newClient(t, tb.Addr())
	shareProduce(t, cl, topic, n, 10)
	l2 := &shareLedger{seen: map[string]int{}}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan struct{})
	go func() { defer close(done2); runShareConsumer(ctx2, t, tb.Addr(), group, topic, l2, nil) }()
	waitFor(t, 60*time.Second, "the records produced after the restart", func() error {
		if c := l2.count(); c < 10 {
			return fmt.Errorf("%d/10", c)
		}
		return nil
	})
	cancel2()
	<-done2
	l2.mu.Lock()
	defer l2.mu.Unlock()
	for v := range l2.seen {
		if i, _ := strconv.Atoi(v); i < n {
			t.Errorf("record %s redelivered after the restart", v)
		}
	}
}

// TestShareFetchSplicesInResponseOrder: a ShareFetch lists the partitions
// it acknowledges first and acquires in the session's order rotated by
// the epoch, so the partitions holding records can come in another order
// than the one they were read in. Here epoch 1 acknowledges partition 0
// (listed first) and acquires from partition 1 before partition 0. The
// broker once wrote such an answer out of order, failed to encode it and
// closed the connection; both partitions' records must arrive.
func TestShareFetchSplicesInResponseOrder(t *testing.T) {
	const group = "share-order"
	tb := startBroker(t)
	cl := newClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	topic := topicName(t, "")
	createTopic(t, kadm.NewClient(cl), topic, 2, nil)
	setShareConfigs(t, cl, group, "share.auto.offset.reset", "earliest")
	tid := topicID(t, cl, topic)
	produceBoth := func(v string) {
		produceSync(t, cl, &kgo.Record{Topic: topic, Partition: 0, Value: []byte(v + "-p0")}, &kgo.Record{Topic: topic, Partition: 1, Value: []byte(v + "-p1")})
	}
	fetch := func(epoch int32, ackP0 []shareAck) map[int32]kmsg.ShareFetchResponseTopicPartition {
		t.Helper()
		req := shareFetchReqParts(group, "m", epoch, tid, 5000, [][]shareAck{ackP0, nil})
		resp, err := req.RequestWith(testCtx(t, 15*time.Second), cl)
		if err != nil {
			t.Fatalf("ShareFetch epoch %d: %v", epoch, err)
		}
		if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
			t.Fatalf("ShareFetch epoch %d: %v", epoch, err)
		}
		out := map[int32]kmsg.ShareFetchResponseTopicPartition{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				out[rp.Partition] = rp
			}
		}
		return out
	}

	produceBoth("a")
	got := map[int32]kmsg.ShareFetchResponseTopicPartition{}
	waitFor(t, 10*time.Second, "epoch 0 to acquire from both partitions", func() error {
		got = fetch(0, nil)
		if len(acquiredValues(t, got[0])) != 1 || len(acquiredValues(t, got[1])) != 1 {
			return fmt.Errorf("acquired p0 %v p1 %v", acquiredValues(t, got[0]), acquiredValues(t, got[1]))
		}
		return nil
	})
	produceBoth("b")
	got = fetch(1, []shareAck{{0, 0, 1}})
	if code := got[0].AcknowledgeErrorCode; code != 0 {
		t.Fatalf("acknowledging partition 0: %v", kerr.ErrorForCode(code))
	}
	for p := int32(0); p < 2; p++ {
		v := acquiredValues(t, got[p])
		if len(v) != 1 || v[1] != fmt.Sprintf("b-p%d", p) {
			t.Errorf("epoch 1, partition %d acquired %v, want offset 1 = b-p%d", p, v, p)
		}
	}
}
