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
	case verifyOnly:
		s, sc := c.shardFor(id)
		if sc != 0 {
			code = sc
			break
		}
		m, o := s.check(id, pid, epoch, version, 2)
		s.mu.Unlock()
		for _, p := range parts {
			switch {
			case m == nil:
				codes[p] = o.code
			case m.state != kmsg.TransactionStateOngoing || !m.parts[p]:
				codes[p] = kerr.InvalidTxnState.Code
			}
		}
	default:
		// v5 from a broker is Produce v12's implicit add (KIP-890
		// part 2): the transaction is a version 2 one.
		tv := int16(0)
		if version >= 5 {
			tv = TransactionVersion
		}
		code = c.do(id, func(s *shard, _ *spareID) outcome {
			return s.addPartitions(id, pid, epoch, version, parts, tv)
		})
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
	return c.do(r.TransactionalID, func(s *shard, _ *spareID) outcome {
		return s.addPartitions(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, []tp{{OffsetsTopic, offsetsPartition}}, 0)
	})
}

// EndTxn commits or aborts the transaction. It is answered once the
// Prepare record is durable (the outcome is decided), as Kafka does; when
// every marker goes to this broker's own partitions it first waits for
// them (up to LocalWait), so a single node answers with the transaction
// complete.
func (c *Coordinator) EndTxn(r *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := kmsg.NewPtrEndTxnResponse()
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	resp.ErrorCode = c.do(r.TransactionalID, func(s *shard, spare *spareID) outcome {
		var o outcome
		if r.Version >= 5 {
			o = s.endTxnV2(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Commit, spare)
		} else {
			o = s.endTxn(r.TransactionalID, r.ProducerID, r.ProducerEpoch, r.Version, r.Commit)
		}
		if m := s.txns[r.TransactionalID]; m != nil && o.code == 0 && o.wait == nil && !o.needID {
			resp.ProducerID, resp.ProducerEpoch = m.pid, m.epoch
			if m.nextPID >= 0 {
				resp.ProducerID, resp.ProducerEpoch = m.nextPID, 0
			}
		}
		return o
	})
	if resp.ErrorCode != 0 {
		resp.ProducerID, resp.ProducerEpoch = -1, -1
	}
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
// partition that nobody ends, holding its LSO back forever. The partition
// leader asks the transaction's coordinator: itself, or another broker
// through AddPartitionsToTxn with verify_only (remote.go).
func (c *Coordinator) Verify(id string, pid int64, epoch int16, topic string, partition int32) int16 {
	if node := c.coordinatorOf(id); c.peers != nil && node >= 0 && node != c.cfg.NodeID {
		return c.retryConcurrent(func() int16 { return c.remoteAdd(node, id, pid, epoch, topic, partition, true) })
	}
	s, code := c.shardFor(id)
	if code != 0 {
		return code
	}
	defer s.mu.Unlock()
	return s.verify(id, pid, epoch, []tp{{topic, partition}})
}

// verify is Verify's check of parts. Caller holds mu.
func (s *shard) verify(id string, pid int64, epoch int16, parts []tp) int16 {
	m := s.txns[id]
	switch {
	case m == nil || m.pid != pid:
		return kerr.InvalidProducerIDMapping.Code
	case epoch < m.epoch:
		return kerr.InvalidProducerEpoch.Code
	case epoch > m.epoch || m.state != kmsg.TransactionStateOngoing:
		return kerr.InvalidTxnState.Code
	}
	for _, p := range parts {
		if !m.parts[p] {
			return kerr.InvalidTxnState.Code
		}
	}
	return 0
}
