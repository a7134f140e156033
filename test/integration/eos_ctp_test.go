package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// errKilled ends a processor at its kill point.
var errKilled = errors.New("processor killed")

// ctpProcessor copies every record of in to out in transactions, with the
// input offsets committed in the same transaction (GroupTransactSession).
// It is killed (client closed without ending its transaction) when its
// step counter reaches kill (0: never); steps are polls, produces and the
// moments just before and after End.
func ctpProcessor(t *testing.T, addr, in, out string, kill int, done func() bool) error {
	return ctpProcessorID(addr, "ctp-processor", in, out, kill, done)
}

// ctpProcessorID is ctpProcessor with its own transactional id.
func ctpProcessorID(addr, txnID, in, out string, kill int, done func() bool) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(addr),
		kgo.DialTimeout(5*time.Second),
		kgo.TransactionalID(txnID),
		kgo.TransactionTimeout(10*time.Second),
		kgo.ConsumerGroup("ctp-group"),
		kgo.ConsumeTopics(in),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(2000), // small polls: many transactions
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	step := 0
	at := func() bool { step++; return kill > 0 && step == kill }
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for !done() {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		pctx, pcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := sess.PollRecords(pctx, 10)
		pcancel()
		if at() {
			return errKilled
		}
		if err := fs.Err0(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("poll: %w", err)
		}
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, r := range fs.Records() {
			if at() {
				return errKilled
			}
			sess.Produce(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: r.Value}, nil)
		}
		if at() {
			return errKilled
		}
		if _, err := sess.End(ctx, kgo.TryCommit); err != nil {
			return fmt.Errorf("end: %w", err)
		}
		if at() {
			return errKilled
		}
	}
	return nil
}

// TestTxnConsumeTransformProduceExactlyOnce: a transactional
// consume-transform-produce processor is killed at random points and
// restarted (once across a broker restart); the output topic read with
// read_committed holds every input record exactly once, and the group's
// committed offsets reach the end of the input.
func TestTxnConsumeTransformProduceExactlyOnce(t *testing.T) {
	tb := startBroker(t,
		withProp("group.initial.rebalance.delay.ms", "0"),
		withProp("offsets.topic.num.partitions", "3"))
	in, out := topicName(t, "in"), topicName(t, "out")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, in, 3, nil)
	createTopic(t, adm, out, 3, nil)
	const n = 300
	ctpInput(t, tb.Addr(), in, n)

	// committed is how many input offsets the group committed.
	committedAdm := newAdmin(t, tb.Addr())
	committed := func() int64 { return groupCommitted(committedAdm, "ctp-group", in) }
	done := func() bool { return committed() == n }

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for round := 0; round < 8; round++ {
		kill := 1 + rng.IntN(80)
		err := ctpProcessor(t, tb.Addr(), in, out, kill, func() bool { return false })
		if err != nil && !errors.Is(err, errKilled) {
			t.Fatalf("round %d (kill at %d): %v", round, kill, err)
		}
		t.Logf("round %d: killed at step %d (%v); %d input offsets committed", round, kill, err, committed())
		if round == 4 {
			tb.Restart()
		}
	}
	if err := ctpProcessor(t, tb.Addr(), in, out, 0, done); err != nil {
		t.Fatalf("final run: %v", err)
	}
	checkExactlyOnce(t, tb.Addr(), out, n)
}

// groupCommitted sums the group's committed offsets of topic (-1 when
// they cannot be fetched).
func groupCommitted(adm *kadm.Client, group, topic string) int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return -1
	}
	total := int64(0)
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.At > 0 {
			total += o.At
		}
	})
	return total
}

// ctpInput fills in with n records of ~200 bytes in small batches, so
// each poll brings a few and there are many transactions to be killed in.
func ctpInput(t *testing.T, addr, in string, n int) {
	t.Helper()
	src := newEOSClient(t, addr, kgo.DefaultProduceTopic(in), kgo.ProducerBatchMaxBytes(1200))
	pad := []kgo.RecordHeader{{Key: "pad", Value: make([]byte, 200)}}
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", i%7), Value: fmt.Appendf(nil, "in-%d", i), Headers: pad})
	}
	produceSync(t, src, rs...)
}

// checkExactlyOnce reads out with read_committed and checks it holds
// in-0..in-(n-1) exactly once, and nothing else.
func checkExactlyOnce(t *testing.T, addr, out string, n int) {
	t.Helper()
	got := eosConsume(t, addr, out, n, true)
	seen := map[string]int{}
	for _, r := range got {
		seen[string(r.Value)]++
	}
	for i := range n {
		if c := seen[fmt.Sprintf("in-%d", i)]; c != 1 {
			t.Fatalf("in-%d is in the output %d times (output %d records)", i, c, len(got))
		}
	}
	if all := eosConsumeAll(t, addr, out); all != n {
		t.Fatalf("read_committed output holds %d records, want %d", all, n)
	}
}

// TestTxnConcurrentProcessorsExactlyOnce: two processors with their own
// transactional ids share the group; each is killed at random points and
// replaced by a new instance with a new transactional id, so partitions
// move between transactional ids while transactions are open (KIP-447:
// the new owner waits for the old owner's offsets with require_stable).
// The output holds every input exactly once.
func TestTxnConcurrentProcessorsExactlyOnce(t *testing.T) {
	tb := startBroker(t,
		withProp("group.initial.rebalance.delay.ms", "0"),
		withProp("offsets.topic.num.partitions", "3"))
	in, out := topicName(t, "in"), topicName(t, "out")
	adm := newAdmin(t, tb.Addr())
	createTopic(t, adm, in, 4, nil)
	createTopic(t, adm, out, 4, nil)
	const n = 400
	ctpInput(t, tb.Addr(), in, n)
	done := func() bool { return groupCommitted(adm, "ctp-group", in) == n }

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	errs := make(chan error, 2)
	for w := 0; w < 2; w++ {
		kills := []int{1 + rng.IntN(60), 1 + rng.IntN(60), 1 + rng.IntN(60)}
		go func() {
			for i := 0; ; i++ {
				kill := 0
				if i < len(kills) {
					kill = kills[i]
				}
				err := ctpProcessorID(tb.Addr(), fmt.Sprintf("ctp-w%d-%d", w, i), in, out, kill, done)
				if err == nil || !errors.Is(err, errKilled) {
					errs <- err
					return
				}
			}
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("processor: %v", err)
		}
	}
	checkExactlyOnce(t, tb.Addr(), out, n)
}

// eosConsumeAll counts the records a read_committed consumer gets until
// three polls in a row (a second each) bring nothing more. One empty poll
// was not enough on a loaded machine: a partition's fetch can take longer
// than a second there, and the count came out short.
func eosConsumeAll(t *testing.T, addr, topic string) int {
	t.Helper()
	cl := newEOSClient(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	total, idle := 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && idle < 3 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		idle++
		if n := fs.NumRecords(); n > 0 || total == 0 {
			total += n
			idle = 0
		}
	}
	return total
}
