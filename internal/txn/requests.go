package txn

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// addPartitionsOne handles one transaction of AddPartitionsToTxn: unknown
// partitions fail (the others get OPERATION_NOT_ATTEMPTED); verifyOnly
// (KIP-890, v4+) only reports whether each partition is in the
// transaction.
func (c *Coordinator) addPartitionsOne(version int16, id string, pid int64, epoch int16, verifyOnly bool,
	topics []kmsg.AddPartitionsToTxnRequestTransactionTopic) []kmsg.AddPartitionsToTxnResponseTransactionTopic {
	var parts []tp
	img := c.meta.Image()
	unknown := false
	for _, t := range topics {
		ti, ok := img.Topic(t.Topic)
		for _, p := range t.Partitions {
			if !ok || p < 0 || int(p) >= len(ti.Partitions) {
				unknown = true
			}
			parts = append(parts, tp{t.Topic, p})
		}
	}
	code := int16(0)
	codes := map[tp]int16{}
	switch {
	case unknown:
		for _, p := range parts {
			codes[p] = kerr.OperationNotAttempted.Code
			if ti, ok := img.Topic(p.topic); !ok || p.partition < 0 || int(p.partition) >= len(ti.Partitions) {
				codes[p] = kerr.UnknownTopicOrPartition.Code
			}
		}
	default:
		s, sc := c.shardFor(id)
		if sc != 0 {
			code = sc
			break
		}
		if verifyOnly {
			m, vc := s.check(id, pid, epoch, version, 2)
			for _, p := range parts {
				switch {
				case vc != 0:
					codes[p] = vc
				case m.state != kmsg.TransactionStateOngoing || !m.parts[p]:
					codes[p] = kerr.InvalidTxnState.Code
				}
			}
		} else {
			code = s.addPartitions(id, pid, epoch, version, parts, 0)
		}
		s.mu.Unlock()
	}
	var out []kmsg.AddPartitionsToTxnResponseTransactionTopic
	for _, t := range topics {
		rt := kmsg.NewAddPartitionsToTxnResponseTransactionTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewAddPartitionsToTxnResponseTransactionTopicPartition()
			rp.Partition = p
			rp.ErrorCode = code
			if c, ok := codes[tp{t.Topic, p}]; ok {
				rp.ErrorCode = c
			}
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// AddPartitionsToTxn handles v0-5 (v4+: several transactions, verify-only).
func (c *Coordinator) AddPartitionsToTxn(r *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := kmsg.NewPtrAddPartitionsToTxnResponse()
	if r.Version < 4 {
		topics := make([]kmsg.AddPartitionsToTxnRequestTransactionTopic, len(r.Topics))
		for i, t := range r.Topics {
			topics[i] = kmsg.AddPartitionsToTxnRequestTransactionTopic{Topic: t.Topic, Partitions: t.Partitions}
		}
		for _, t := range c.addPartitionsOne(r.Version, r.TransactionalID, r.ProducerID, r.ProducerEpoch, false, topics) {
			rt := kmsg.NewAddPartitionsToTxnResponseTopic()
			rt.Topic = t.Topic
			for _, p := range t.Partitions {
				rp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				rp.Partition, rp.ErrorCode = p.Partition, p.ErrorCode
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp
	}
	for _, t := range r.Transactions {
		rt := kmsg.NewAddPartitionsToTxnResponseTransaction()
		rt.TransactionalID = t.TransactionalID
		rt.Topics = c.addPartitionsOne(r.Version, t.TransactionalID, t.ProducerID, t.ProducerEpoch, t.VerifyOnly, t.Topics)
		resp.Transactions = append(resp.Transactions, rt)
	}
	return resp
}

// AddOffsetsToTxn adds the group's __consumer_offsets partition to the
// transaction, so that its TxnOffsetCommit offsets commit with it.
func (c *Coordinator) AddOffsetsToTxn(r *kmsg.AddOffsetsToTxnRequest, offsetsPartition int32) int16 {
	s, code := c.shardFor(r.TransactionalID)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	return s.addPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, []tp{{OffsetsTopic, offsetsPartition}}, 0)
}

// EndTxn commits or aborts the transaction; it answers once every marker
// and the group offsets are durable.
func (c *Coordinator) EndTxn(r *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := kmsg.NewPtrEndTxnResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	s, code := c.shardFor(r.TransactionalID)
	if code != 0 {
		resp.ErrorCode = code
		return resp
	}
	defer s.mu.Unlock()
	if r.Version >= 5 {
		resp.ErrorCode = s.endTxnV2(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit)
	} else {
		resp.ErrorCode = s.endTxn(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, r.Commit)
	}
	if m := s.txns[r.TransactionalID]; m != nil && resp.ErrorCode == 0 {
		resp.ProducerID, resp.ProducerEpoch = m.pid, m.epoch
	}
	return resp
}

// TxnOffsetCommit keeps the offsets with the transaction until it ends.
// offsetsPartition is the group's __consumer_offsets partition (v5+ adds
// it to the transaction).
func (c *Coordinator) TxnOffsetCommit(r *kmsg.TxnOffsetCommitRequest, offsetsPartition int32) *kmsg.TxnOffsetCommitResponse {
	code := int16(0)
	if s, sc := c.shardFor(r.TransactionalID); sc != 0 {
		code = sc
	} else {
		code = s.txnOffsetCommit(r, offsetsPartition)
		s.mu.Unlock()
	}
	resp := kmsg.NewPtrTxnOffsetCommitResponse()
	resp.Topics = append(resp.Topics, OffsetCommitErrors(r.Topics, code)...)
	return resp
}

// OffsetCommitErrors answers every partition of topics with code, in
// request order.
func OffsetCommitErrors(topics []kmsg.TxnOffsetCommitRequestTopic, code int16) []kmsg.TxnOffsetCommitResponseTopic {
	var out []kmsg.TxnOffsetCommitResponseTopic
	for _, t := range topics {
		rt := kmsg.NewTxnOffsetCommitResponseTopic()
		rt.Topic = t.Topic
		for _, p := range t.Partitions {
			rp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			rp.Partition, rp.ErrorCode = p.Partition, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		out = append(out, rt)
	}
	return out
}

// Verify is KIP-890's check before the first transactional batch of a
// transaction lands in a partition: the producer must hold the current
// epoch of an ongoing transaction that includes the partition. A late
// batch of an ended transaction would otherwise open a transaction in the
// partition that nobody ends, holding its LSO back forever.
func (c *Coordinator) Verify(id string, pid int64, epoch int16, topic string, partition int32) int16 {
	s, code := c.shardFor(id)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	m := s.txns[id]
	switch {
	case m == nil || m.pid != pid:
		return kerr.InvalidProducerIDMapping.Code
	case epoch < m.epoch:
		return kerr.InvalidProducerEpoch.Code
	case epoch > m.epoch || m.state != kmsg.TransactionStateOngoing || !m.parts[tp{topic, partition}]:
		return kerr.InvalidTxnState.Code
	}
	return 0
}
