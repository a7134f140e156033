package integration

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// share.isolation.level=read_committed against real transactions: a share
// consumer gets committed records only, never an aborted one, and nothing
// past the last stable offset until the open transaction commits. A
// read_uncommitted group on the same topic gets everything.
func TestShareGroupReadCommitted(t *testing.T) {
	tb := startBroker(t)
	cl := newClient(t, tb.Addr())
	topic := topicName(t, "")
	createTopic(t, kadm.NewClient(cl), topic, 1, nil)
	const committed, uncommitted = "share-rc", "share-ru"
	setShareConfigs(t, cl, committed, "share.auto.offset.reset", "earliest", "share.isolation.level", "read_committed")
	setShareConfigs(t, cl, uncommitted, "share.auto.offset.reset", "earliest")

	tx := newClient(t, tb.Addr(), kgo.TransactionalID("share-rc-txn"), kgo.DefaultProduceTopic(topic))
	txn := func(commit bool, vals ...string) {
		t.Helper()
		ctx := testCtx(t, 15*time.Second)
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if err := tx.ProduceSync(ctx, kgo.StringRecord(v)).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatal(err)
		}
	}
	txn(true, "c1", "c2")
	txn(false, "a1", "a2")
	txn(true, "c3")
	// An open transaction: its records are past the LSO.
	ctx := testCtx(t, 15*time.Second)
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, kgo.StringRecord("o1")).FirstErr(); err != nil {
		t.Fatal(err)
	}

	var rc, ru shareLedger
	rc.seen, ru.seen = map[string]int{}, map[string]int{}
	cctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, c := range []struct {
		group string
		l     *shareLedger
	}{{committed, &rc}, {uncommitted, &ru}} {
		wg.Add(1)
		go func() { defer wg.Done(); runShareConsumer(cctx, t, tb.Addr(), c.group, topic, c.l, nil) }()
	}
	defer func() { stop(); wg.Wait() }()

	values := func(l *shareLedger) []string {
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.Sorted(maps.Keys(l.seen))
	}
	want := func(l *shareLedger, what string, vals ...string) {
		t.Helper()
		waitFor(t, 20*time.Second, what, func() error {
			if got := values(l); !slices.Equal(got, vals) {
				return fmt.Errorf("got %v, want %v", got, vals)
			}
			return nil
		})
	}
	want(&rc, "read_committed: the committed records", "c1", "c2", "c3")
	// read_uncommitted reads up to the HW: the aborted records and the open
	// transaction's too.
	want(&ru, "read_uncommitted: every record", "a1", "a2", "c1", "c2", "c3", "o1")
	// The read_committed group still holds nothing past the LSO: it saw
	// the uncommitted group get o1, and it has not got it.
	if got := values(&rc); !slices.Equal(got, []string{"c1", "c2", "c3"}) {
		t.Fatalf("read_committed before the open transaction commits: %v", got)
	}

	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	want(&rc, "read_committed: the open transaction's record once committed", "c1", "c2", "c3", "o1")
}
