package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TestTxnOffsetsPendingAcrossRestart: transactional offsets live in the
// group's __consumer_offsets partition as the producer's open
// transaction. Two producers commit offsets of partitions 0 and 1 in
// open transactions; a plain OffsetCommit of partition 1 follows. Until
// the transactions end, OffsetFetch shows no offset for partition 0 and
// the plain one for partition 1, and require_stable (v7 and v9) answers
// UNSTABLE_OFFSET_COMMIT for both (KIP-447) — also after a restart in the
// middle of the transactions, which replays the pending offsets. After
// the restart the first transaction commits (its offset shows), the
// second commits too but its offset is older in the log than the plain
// commit, which stays (Kafka keeps the later record); a third, aborted,
// never shows its offset. A second restart replays the same offsets.
func TestTxnOffsetsPendingAcrossRestart(t *testing.T) {
	tb := startBroker(t, withProp("offsets.topic.num.partitions", "3"))
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	const group = "pending-group"
	x := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "pending-x"}
	y := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "pending-y"}
	for i, p := range []*rawTxn{x, y} {
		if code := p.init(60000); code != 0 {
			t.Fatalf("init %s: %v", p.id, kerr.ErrorForCode(code))
		}
		p.addPartitions(topic, int32(i))
		p.produce(topic, int32(i), fmt.Sprintf("%s-0", p.id))
	}
	x.commitOffset(group, topic, 0, 10)
	y.commitOffset(group, topic, 1, 20)
	adm := newAdmin(t, tb.Addr())
	plain := kadm.Offsets{}
	plain.AddOffset(topic, 1, 25, -1)
	if resp, err := adm.CommitOffsets(testCtx(t, 10*time.Second), group, plain); err != nil || resp.Error() != nil {
		t.Fatalf("plain offset commit: %v %v", err, resp.Error())
	}

	// check asks for both partitions: the plain offsets, and whether
	// require_stable finds them stable.
	check := func(x *rawTxn, when string, want0, want1 int64, unstable bool) {
		t.Helper()
		for p, want := range []int64{want0, want1} {
			if code, off := x.fetchOffset(8, group, topic, int32(p), false); code != 0 || off != want {
				t.Fatalf("%s: partition %d offset %d (%v), want %d", when, p, off, kerr.ErrorForCode(code), want)
			}
			for _, v := range []int16{7, 9} {
				code, off := x.fetchOffset(v, group, topic, int32(p), true)
				switch {
				case unstable && (code != kerr.UnstableOffsetCommit.Code || off != -1):
					t.Fatalf("%s: v%d require_stable partition %d: %v offset %d, want UNSTABLE_OFFSET_COMMIT", when, v, p, kerr.ErrorForCode(code), off)
				case !unstable && (code != 0 || off != want):
					t.Fatalf("%s: v%d require_stable partition %d: %v offset %d, want %d", when, v, p, kerr.ErrorForCode(code), off, want)
				}
			}
		}
	}
	check(x, "in the transactions", -1, 25, true)

	x.rc.c.Close()
	y.rc.c.Close()
	tb.Restart()
	x.rc, y.rc = dialRaw(t, tb.Addr()), dialRaw(t, tb.Addr())
	waitFor(t, 10*time.Second, "the group's offsets replayed", func() error {
		if o := groupOffset(t, newAdmin(t, tb.Addr()), group, topic, 1); o != 25 {
			return fmt.Errorf("partition 1 offset %d", o)
		}
		return nil
	})
	check(x, "after a restart in the transactions", -1, 25, true)

	if code := x.end(true); code != 0 {
		t.Fatalf("commit %s: %v", x.id, kerr.ErrorForCode(code))
	}
	if code := y.end(true); code != 0 {
		t.Fatalf("commit %s: %v", y.id, kerr.ErrorForCode(code))
	}
	check(x, "after the commits", 10, 25, false)

	z := &rawTxn{t: t, rc: dialRaw(t, tb.Addr()), id: "pending-z"}
	if code := z.init(60000); code != 0 {
		t.Fatalf("init %s: %v", z.id, kerr.ErrorForCode(code))
	}
	z.addPartitions(topic, 0)
	z.produce(topic, 0, "pending-z-0")
	z.commitOffset(group, topic, 0, 99)
	if code, _ := z.fetchOffset(9, group, topic, 0, true); code != kerr.UnstableOffsetCommit.Code {
		t.Fatalf("require_stable in the aborted transaction: %v", kerr.ErrorForCode(code))
	}
	if code := z.end(false); code != 0 {
		t.Fatalf("abort %s: %v", z.id, kerr.ErrorForCode(code))
	}
	check(z, "after the abort", 10, 25, false)
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 2, true)); !sameStrings(got, []string{"pending-x-0", "pending-y-0"}) {
		t.Fatalf("read_committed: %v", got)
	}

	for _, p := range []*rawTxn{x, y, z} {
		p.rc.c.Close()
	}
	tb.Restart()
	waitFor(t, 10*time.Second, "the group's offsets replayed", func() error {
		if o := groupOffset(t, newAdmin(t, tb.Addr()), group, topic, 0); o != 10 {
			return fmt.Errorf("partition 0 offset %d", o)
		}
		return nil
	})
	check(&rawTxn{t: t, rc: dialRaw(t, tb.Addr())}, "after a second restart", 10, 25, false)
}
