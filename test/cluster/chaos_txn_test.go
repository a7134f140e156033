package cluster

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// The chaos test's transactional workload: one transactional acks=all
// producer writing transactions of txnRecords records over the two
// partitions of txnTopic, committing each but every txnAbortEvery-th,
// which it aborts on purpose. What became of each transaction, as far as
// the producer knows, is what chaos_txn_check_test.go holds the log to.

const (
	txnTopic      = "chaos-txn"
	txnPartitions = 2
	txnRecords    = 6 // per transaction, alternating over the partitions
	txnAbortEvery = 5 // transaction n with n%5 == 4 is aborted on purpose
	// A transaction at most every txnInterval: the producer waits for
	// each to end, so faults slow it further.
	txnInterval = 20 * time.Millisecond
	// The coordinator aborts a transaction its producer left open (a
	// client replaced after an error) once this passes; the chaos
	// cluster checks for timed-out transactions every second.
	txnTimeout = 10 * time.Second
)

// txnOutcome is what the producer knows of one transaction.
type txnOutcome int

const (
	// txnNeverCommitted: EndTransaction(commit) was never tried (aborted
	// on purpose, or an error before the commit): none of its records may
	// ever be visible.
	txnNeverCommitted txnOutcome = iota
	// txnUnknown: the commit was tried and failed; it may have committed
	// or not, but all or nothing of it is visible.
	txnUnknown
	// txnCommitted: EndTransaction(commit) succeeded: all of it is
	// visible, exactly once.
	txnCommitted
)

func (o txnOutcome) String() string {
	return [...]string{"never committed", "unknown", "committed"}[o]
}

// txnKey names a record of the transactional workload: its transaction's
// number and its index within the transaction.
type txnKey struct{ txn, idx int }

func (k txnKey) value() string { return fmt.Sprintf("t%07d-%d", k.txn, k.idx) }

// partition is where the workload writes the record.
func (k txnKey) partition() int32 { return int32(k.idx % txnPartitions) }

func parseTxnValue(v []byte) (txnKey, bool) {
	var k txnKey
	n, err := fmt.Sscanf(string(v), "t%07d-%d", &k.txn, &k.idx)
	return k, n == 2 && err == nil && k.idx >= 0 && k.idx < txnRecords
}

// txnLog is every transaction the producer began, and its outcome.
type txnLog struct {
	mu       sync.Mutex
	outcomes []txnOutcome // by transaction number
	errs     []string     // the first errors, for the summary
	restarts int          // clients replaced after an error
}

func (l *txnLog) set(n int, o txnOutcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.outcomes) <= n {
		l.outcomes = append(l.outcomes, txnNeverCommitted)
	}
	l.outcomes[n] = o
}

func (l *txnLog) fail(n int, what string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 5 {
		l.errs = append(l.errs, fmt.Sprintf("transaction %d: %s: %v", n, what, err))
	}
}

// runTxnProducer runs transactions one after another until stop closes,
// then ends the one it is in and returns. On any error it gives up the
// transaction: aborts it, or, when the abort fails too, replaces the
// client (a new client's InitProducerId with the same transactional ID
// fences the old epoch and aborts what it left open).
func runTxnProducer(t *testing.T, c *testcluster.Cluster, id string, tl *txnLog, stop <-chan struct{}, done *sync.WaitGroup) {
	newClient := func() *kgo.Client {
		return c.Client(t,
			kgo.TransactionalID(id),
			kgo.TransactionTimeout(txnTimeout),
			kgo.RequiredAcks(kgo.AllISRAcks()),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			kgo.ProducerBatchCompression(kgo.NoCompression()),
			kgo.ProduceRequestTimeout(5*time.Second),
			kgo.RecordDeliveryTimeout(10*time.Second),
		)
	}
	done.Add(1)
	go func() {
		defer done.Done()
		cl := newClient()
		replace := func() {
			cl.Close()
			cl = newClient()
			tl.mu.Lock()
			tl.restarts++
			tl.mu.Unlock()
		}
		tick := time.NewTicker(txnInterval)
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-stop:
				cl.Close()
				return
			case <-tick.C:
			}
			tl.set(n, txnNeverCommitted)
			switch runOneTxn(cl, n, tl) {
			case txnGiveUp:
				if !abortTxn(cl, n, tl) {
					replace()
				}
			case txnBroken:
				replace()
			}
		}
	}()
}

// txnStep is how a transaction attempt left the client.
type txnStep int

const (
	txnEnded  txnStep = iota // committed or aborted
	txnGiveUp                // still open: abort it
	// txnBroken: the client cannot begin a transaction (kgo keeps a
	// producer ID error, such as an InitProducerId sent to a coordinator
	// missing from its metadata, as fatal): replace it.
	txnBroken
)

// runOneTxn writes transaction n and ends it (commit, or abort on
// purpose), recording its outcome.
func runOneTxn(cl *kgo.Client, n int, tl *txnLog) txnStep {
	if err := cl.BeginTransaction(); err != nil {
		tl.fail(n, "begin", err)
		return txnBroken
	}
	recs := make([]*kgo.Record, txnRecords)
	for i := range recs {
		k := txnKey{n, i}
		recs[i] = &kgo.Record{Topic: txnTopic, Partition: k.partition(), Value: []byte(k.value())}
	}
	// Delivery is bounded by RecordDeliveryTimeout, not the context: a
	// cancelled produce would leave the client's state unknown.
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		tl.fail(n, "produce", err)
		return txnGiveUp
	}
	if n%txnAbortEvery == txnAbortEvery-1 {
		if !abortTxn(cl, n, tl) {
			return txnGiveUp
		}
		return txnEnded
	}
	// From here on the commit may have happened whatever the answer.
	tl.set(n, txnUnknown)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		tl.fail(n, "commit", err)
		return txnGiveUp
	}
	tl.set(n, txnCommitted)
	return txnEnded
}

// abortTxn aborts the client's open transaction, if any, and reports
// whether that worked.
func abortTxn(cl *kgo.Client, n int, tl *txnLog) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := cl.AbortBufferedRecords(ctx); err != nil {
		tl.fail(n, "abort buffered records", err)
		return false
	}
	if err := cl.EndTransaction(ctx, kgo.TryAbort); err != nil {
		tl.fail(n, "abort", err)
		return false
	}
	return true
}
