package txn

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// remoteAdd asks the coordinator on broker node about one partition of a
// transaction, as a partition leader does before the first transactional
// batch of a transaction lands (KIP-890): AddPartitionsToTxn v4+ in its
// broker form, verify-only for Produce before v12, adding the partition
// for v12+ (part 2). It returns the partition's code; a coordinator that
// cannot be reached is COORDINATOR_NOT_AVAILABLE (retriable for the
// producer).
func (c *Coordinator) remoteAdd(node int32, id string, pid int64, epoch int16, topic string, partition int32, verifyOnly bool) int16 {
	req := kmsg.NewPtrAddPartitionsToTxnRequest()
	tx := kmsg.NewAddPartitionsToTxnRequestTransaction()
	tx.TransactionalID, tx.ProducerID, tx.ProducerEpoch, tx.VerifyOnly = id, pid, epoch, verifyOnly
	tt := kmsg.NewAddPartitionsToTxnRequestTransactionTopic()
	tt.Topic, tt.Partitions = topic, []int32{partition}
	tx.Topics = append(tx.Topics, tt)
	req.Transactions = append(req.Transactions, tx)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.RequestTimeout)
	defer cancel()
	resp, err := c.peers.Request(ctx, node, req)
	if err != nil {
		c.log.Warn("ask the transaction coordinator", "broker", node, "transactional_id", id, "err", err)
		return kerr.CoordinatorNotAvailable.Code
	}
	r := resp.(*kmsg.AddPartitionsToTxnResponse)
	if r.ErrorCode != 0 {
		return r.ErrorCode
	}
	for _, rt := range r.Transactions {
		if rt.TransactionalID != id {
			continue
		}
		for _, t := range rt.Topics {
			for _, p := range t.Partitions {
				if t.Topic == topic && p.Partition == partition {
					return p.ErrorCode
				}
			}
		}
	}
	return kerr.CoordinatorNotAvailable.Code
}

// Kafka's add.partitions.to.txn.retry.backoff.ms and
// add.partitions.to.txn.retry.backoff.max.ms defaults: how a partition
// leader retries its question to the coordinator while the producer's
// previous transaction is completing.
const (
	addRetryBackoff    = 20 * time.Millisecond
	addRetryBackoffMax = 100 * time.Millisecond
)

// retryConcurrent runs ask until its answer is not
// CONCURRENT_TRANSACTIONS (the producer's previous transaction still
// completing), with Kafka's backoff, for at most LocalWait: as Kafka's
// partition leaders do, since a producer told to retry a Produce backs
// off far longer (it refreshes its metadata first).
func (c *Coordinator) retryConcurrent(ask func() int16) int16 {
	deadline := time.Now().Add(c.cfg.LocalWait)
	backoff := addRetryBackoff
	for {
		code := ask()
		if code != kerr.ConcurrentTransactions.Code || time.Now().Add(backoff).After(deadline) || c.closed.Load() {
			return code
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, addRetryBackoffMax)
	}
}
