package integration

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// txnProduce runs one transaction writing values[i] to partition i%parts
// and ends it with commit.
func txnProduce(t *testing.T, cl *kgo.Client, topic string, parts int32, values []string, commit bool) {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatalf("begin: %v", err)
	}
	for i, v := range values {
		r := &kgo.Record{Topic: topic, Partition: int32(i) % parts, Value: []byte(v)}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce %s: %v", v, err)
		}
	}
	end := kgo.TryAbort
	if commit {
		end = kgo.TryCommit
	}
	if err := cl.EndTransaction(ctx, end); err != nil {
		t.Fatalf("end transaction (commit=%v): %v", commit, err)
	}
}

func sortedValues(rs []*kgo.Record) []string {
	out := make([]string, 0, len(rs))
	for _, r := range rs {
		out = append(out, string(r.Value))
	}
	sort.Strings(out)
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestTxnAbortedInvisibleToReadCommitted: an aborted transaction across
// three partitions is invisible to a read_committed consumer and visible to
// a read_uncommitted one; the committed one after it is visible to both;
// an open transaction holds read_committed back at its first offset (LSO)
// while read_uncommitted sees it. The same holds after a broker restart
// (aborted-transaction index and producer state persisted).
func TestTxnAbortedInvisibleToReadCommitted(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 3, nil)
	cl := newEOSClient(t, tb.Addr(), kgo.TransactionalID("txn-visibility"), kgo.RecordPartitioner(kgo.ManualPartitioner()))

	aborted := []string{"a0", "a1", "a2"}
	committed := []string{"c0", "c1", "c2"}
	txnProduce(t, cl, topic, 3, aborted, false)
	txnProduce(t, cl, topic, 3, committed, true)

	check := func(stage string) {
		t.Helper()
		if got := sortedValues(eosConsume(t, tb.Addr(), topic, 3, true)); !sameStrings(got, committed) {
			t.Fatalf("%s: read_committed got %v, want %v", stage, got, committed)
		}
		want := append(append([]string{}, aborted...), committed...)
		if got := sortedValues(eosConsume(t, tb.Addr(), topic, 6, false)); !sameStrings(got, want) {
			t.Fatalf("%s: read_uncommitted got %v, want %v", stage, got, want)
		}
	}
	check("live")

	// An open transaction: read_uncommitted sees its record, read_committed
	// stops before it, so a later committed record is not visible yet.
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 30*time.Second)
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	other := newEOSClient(t, tb.Addr(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := other.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("plain")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := eosConsume(t, tb.Addr(), topic, 8, false); len(got) != 8 {
		t.Fatalf("read_uncommitted: %d records", len(got))
	}
	adm := newAdmin(t, tb.Addr())
	lso, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := adm.ListEndOffsets(ctx, topic)
	if l, _ := lso.Lookup(topic, 0); l.Offset >= func() int64 { o, _ := end.Lookup(topic, 0); return o.Offset }() {
		t.Fatalf("LSO %d not below the end %+v with a transaction open", l.Offset, end)
	}
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := sortedValues(eosConsume(t, tb.Addr(), topic, 5, true))
	if want := []string{"c0", "c1", "c2", "open", "plain"}; !sameStrings(got, want) {
		t.Fatalf("read_committed after commit: %v, want %v", got, want)
	}

	cl.Close()
	tb.Restart()
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 5, true)); !sameStrings(got, []string{"c0", "c1", "c2", "open", "plain"}) {
		t.Fatalf("read_committed after restart: %v", got)
	}
}

// TestTxnZombieFenced: a second producer with the same transactional id
// fences the first; the first's open transaction is aborted, its further
// produces and its commit fail, and only the new instance's records are
// committed.
func TestTxnZombieFenced(t *testing.T) {
	tb := startBroker(t)
	topic := topicName(t, "")
	createTopic(t, newAdmin(t, tb.Addr()), topic, 2, nil)
	opts := []kgo.Opt{kgo.TransactionalID("txn-zombie"), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RecordRetries(2)}
	zombie := newEOSClient(t, tb.Addr(), opts...)
	ctx := testCtx(t, 30*time.Second)
	if err := zombie.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("zombie-1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	fresh := newEOSClient(t, tb.Addr(), opts...)
	txnProduce(t, fresh, topic, 2, []string{"fresh-0", "fresh-1"}, true)

	err := zombie.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("zombie-2")}).FirstErr()
	if err == nil {
		err = zombie.EndTransaction(ctx, kgo.TryCommit)
	}
	if !errors.Is(err, kerr.InvalidProducerEpoch) && !errors.Is(err, kerr.ProducerFenced) {
		t.Fatalf("zombie was not fenced: %v", err)
	}
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 2, true)); !sameStrings(got, []string{"fresh-0", "fresh-1"}) {
		t.Fatalf("read_committed: %v", got)
	}
	// Whatever the zombie wrote is aborted: a later committed record is
	// visible and nothing of the zombie's is.
	txnProduce(t, fresh, topic, 2, []string{"fresh-2"}, true)
	if got := sortedValues(eosConsume(t, tb.Addr(), topic, 3, true)); !sameStrings(got, []string{"fresh-0", "fresh-1", "fresh-2"}) {
		t.Fatalf("read_committed: %v", got)
	}
	_ = context.Background
	_ = fmt.Sprint
}
