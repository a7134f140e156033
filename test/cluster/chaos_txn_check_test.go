package cluster

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// The transactional workload's checker (invariant (e)): after the run,
// what a read_committed consumer reads of txnTopic from the start, held
// to what the producer knows of each transaction, and the replicas'
// committed logs held to the same through their control markers.

// txnEnd is the non-transactional record written to each partition of
// txnTopic after the producer stopped: a read_committed consumer reaches
// it only once every transaction before it has ended (the LSO passed it).
const txnEnd = "end"

// txnRead is one record a read_committed consumer read of txnTopic.
type txnRead struct {
	offset int64
	value  string
}

// readCommittedTxns writes txnEnd to each partition, then reads txnTopic
// read_committed from the start until it has read txnEnd on every
// partition, and returns each partition's records before it, in offset
// order.
func readCommittedTxns(t *testing.T, c *testcluster.Cluster) map[int32][]txnRead {
	t.Helper()
	p := producer(t, c, kgo.RequiredAcks(kgo.AllISRAcks()))
	for part := range int32(txnPartitions) {
		c.WaitForWithin(60*time.Second, fmt.Sprintf("%s-%d: the end record acknowledged", txnTopic, part), func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return p.ProduceSync(ctx, &kgo.Record{Topic: txnTopic, Partition: part, Value: []byte(txnEnd)}).FirstErr()
		})
	}
	cl := c.Client(t,
		kgo.ConsumeTopics(txnTopic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(200*time.Millisecond),
	)
	defer cl.Close()
	out := map[int32][]txnRead{}
	ended := map[int32]bool{}
	// The transactions left open by a replaced client end by the
	// coordinator's timeout: allow for it.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second+txnTimeout)
	defer cancel()
	for len(ended) < txnPartitions {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed of %s: the end record not reached on every partition (%v): the LSO stuck behind an open transaction?", txnTopic, ended)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if ended[r.Partition] {
				return
			}
			if string(r.Value) == txnEnd {
				ended[r.Partition] = true
				return
			}
			out[r.Partition] = append(out[r.Partition], txnRead{r.Offset, string(r.Value)})
		})
	}
	return out
}

// checkTxnVisible is the read_committed half of invariant (e): every
// record read is one the workload wrote, to that partition; no record is
// read twice; each transaction is all visible or not at all; every
// committed transaction is visible; no transaction whose commit was never
// tried is; and each partition's records follow the transaction order.
func checkTxnVisible(read map[int32][]txnRead, outcomes []txnOutcome) []string {
	var errs []string
	add := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	seen := map[txnKey]int64{}
	count := map[int]int{} // records visible per transaction
	for p, recs := range read {
		last := txnKey{-1, -1}
		for _, r := range recs {
			k, ok := parseTxnValue([]byte(r.value))
			if !ok || k.txn >= len(outcomes) {
				add("(e) %s-%d offset %d: a record %q the workload did not write", txnTopic, p, r.offset, r.value)
				continue
			}
			if k.partition() != p {
				add("(e) %s written to partition %d read from partition %d", r.value, k.partition(), p)
			}
			if at, dup := seen[k]; dup {
				add("(e) %s read twice: %s-%d offsets %d and %d", r.value, txnTopic, p, at, r.offset)
				continue
			}
			seen[k] = r.offset
			count[k.txn]++
			if k.txn < last.txn || k.txn == last.txn && k.idx < last.idx {
				add("(e) %s-%d offset %d: %s after %s", txnTopic, p, r.offset, r.value, last.value())
			}
			last = k
		}
	}
	for n, o := range outcomes {
		switch got := count[n]; {
		case got != 0 && got != txnRecords:
			add("(e) transaction %d (%s) half visible: %d of its %d records", n, o, got, txnRecords)
		case o == txnCommitted && got == 0:
			add("(e) committed transaction %d not visible", n)
		case o == txnNeverCommitted && got != 0:
			add("(e) transaction %d, never committed, visible", n)
		}
	}
	return errs
}

// txnResolution is how a partition's log ended a transaction's records:
// by the producer's next control marker.
type txnResolution int

const (
	resOpen txnResolution = iota
	resAbort
	resCommit
)

func (r txnResolution) String() string { return [...]string{"open", "abort", "commit"}[r] }

// txnMarkers reads the control markers of txnTopic's committed logs: for
// each transaction and partition, the marker its producer wrote next in
// that partition. (Transactional data batches carry their producer id;
// the marker that follows them with the same id ends them.)
func txnMarkers(logs map[int32]committedLog) (map[int32]map[int]txnResolution, error) {
	out := map[int32]map[int]txnResolution{}
	for p, l := range logs {
		res := map[int]txnResolution{}
		pending := map[int64][]int{} // producer id -> transactions not yet ended
		for _, b := range l.batches {
			pid := batchProducer(b.raw)
			if b.control {
				err := record.Records(b.raw, func(r *record.Record) error {
					if len(r.Key) < 4 {
						return fmt.Errorf("%s-%d offset %d: control key %x", txnTopic, p, b.base, r.Key)
					}
					end := resAbort
					if binary.BigEndian.Uint16(r.Key[2:4]) == 1 {
						end = resCommit
					}
					for _, n := range pending[pid] {
						res[n] = end
					}
					delete(pending, pid)
					return nil
				})
				if err != nil {
					return nil, err
				}
				continue
			}
			h, err := record.ParseHeader(b.raw)
			if err != nil {
				return nil, err
			}
			if !h.IsTransactional() {
				continue // the end records
			}
			err = record.Records(b.raw, func(r *record.Record) error {
				k, ok := parseTxnValue(r.Value)
				if !ok {
					return fmt.Errorf("%s-%d: a transactional record %q the workload did not write", txnTopic, p, r.Value)
				}
				if !slices.Contains(pending[pid], k.txn) {
					pending[pid] = append(pending[pid], k.txn)
					res[k.txn] = resOpen
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
		}
		out[p] = res
	}
	return out, nil
}

// checkTxnMarkers is the log half of invariant (e): in the replicas'
// committed logs no transaction is left open, a transaction ends the
// same way on every partition it wrote to, the ones visible to
// read_committed ended with a commit marker and every other one with an
// abort marker.
func checkTxnMarkers(markers map[int32]map[int]txnResolution, read map[int32][]txnRead, outcomes []txnOutcome) []string {
	var errs []string
	add := func(format string, args ...any) {
		if len(errs) < 20 {
			errs = append(errs, fmt.Sprintf(format, args...))
		}
	}
	visible := map[int]bool{}
	for _, recs := range read {
		for _, r := range recs {
			if k, ok := parseTxnValue([]byte(r.value)); ok {
				visible[k.txn] = true
			}
		}
	}
	ended := map[int]txnResolution{}
	for p, res := range markers {
		for n, r := range res {
			switch {
			case r == resOpen:
				add("(e) %s-%d: transaction %d has no control marker after the run", txnTopic, p, n)
			case ended[n] != resOpen && ended[n] != r:
				add("(e) transaction %d ended with %s on one partition, %s on %s-%d", n, ended[n], r, txnTopic, p)
			case visible[n] != (r == resCommit):
				add("(e) %s-%d: transaction %d ended with %s, visible to read_committed: %v", txnTopic, p, n, r, visible[n])
			}
			if n < len(outcomes) && outcomes[n] == txnCommitted && r != resCommit {
				add("(e) %s-%d: committed transaction %d ended with %s", txnTopic, p, n, r)
			}
			ended[n] = r
		}
	}
	return errs
}

// checkTxnsAfterRun is the checker's pass over the transactional
// workload, once its producer has stopped: invariant (e) on what
// read_committed reads, then, the replicas converged (txnTopic and
// __transaction_state pass (b) and (d)), on their control markers. It
// returns a summary for the log.
func checkTxnsAfterRun(t *testing.T, c *testcluster.Cluster, tl *txnLog) string {
	t.Helper()
	tl.mu.Lock()
	outcomes := slices.Clone(tl.outcomes)
	errs, restarts := slices.Clone(tl.errs), tl.restarts
	tl.mu.Unlock()
	read := readCommittedTxns(t, c)
	for _, e := range checkTxnVisible(read, outcomes) {
		t.Error(e)
	}
	logs := waitConverged(c, txnTopic, "__transaction_state")
	markers, err := txnMarkers(logs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range checkTxnMarkers(markers, read, outcomes) {
		t.Error(e)
	}
	var by [3]int
	for _, o := range outcomes {
		by[o]++
	}
	visible := 0
	for _, recs := range read {
		visible += len(recs)
	}
	var ends [3]int // per partition and transaction, how the log ended it
	for _, res := range markers {
		for _, r := range res {
			ends[r]++
		}
	}
	return fmt.Sprintf("%d begun: %d committed, %d unknown, %d never committed; %d records visible; in the logs %d commit and %d abort markers ending them; %d clients replaced; first errors %q",
		len(outcomes), by[txnCommitted], by[txnUnknown], by[txnNeverCommitted], visible, ends[resCommit], ends[resAbort], restarts, errs)
}
