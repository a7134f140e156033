package share

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Remote is how a share Manager in a cluster reaches the share
// coordinators on other brokers (NewRemote; nil: every
// __share_group_state partition is this broker's, as on a single node).
type Remote interface {
	// StateLeader is the leader of __share_group_state partition i in the
	// current metadata, -1 when none or unknown.
	StateLeader(i int32) int32
	// Request sends req to broker node over the inter-broker client.
	Request(ctx context.Context, node int32, req kmsg.Request) (kmsg.Response, error)
	// Topics lists every topic's ID and partition count (the candidates
	// when a group's state is enumerated on other brokers).
	Topics() map[[16]byte]int32
	// HighWatermark is the high watermark of topicID/p asked of its
	// leader (ListOffsets), -1 when unknown.
	HighWatermark(topicID [16]byte, p int32) int64
}

// persister is Kafka's Persister (DefaultStatePersister): share-partition
// state read, written, initialized and deleted at the share coordinator
// owning the key's __share_group_state partition, a local call when this
// broker leads it, else the state RPC to its leader. Retriable answers
// (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS,
// COORDINATOR_NOT_AVAILABLE, no leader, an unreachable broker) are
// retried with backoff for at most persistWait.
type persister struct {
	m      *Manager
	coord  *Coordinator
	remote Remote
}

// persistWait bounds one persister call's retries.
const persistWait = 10 * time.Second

// rpcTimeout bounds one state RPC.
const rpcTimeout = 5 * time.Second

// codeError is a Kafka error code as an error.
type codeError int16

func (e codeError) Error() string { return kerr.ErrorForCode(int16(e)).Error() }

func retriable(code int16) bool {
	switch code {
	case kerr.NotCoordinator.Code, kerr.CoordinatorLoadInProgress.Code, kerr.CoordinatorNotAvailable.Code:
		return true
	}
	return false
}

// route names where k's state lives: local, or the leader's node id.
func (p *persister) route(k key) (local bool, node int32, code int16) {
	n, err := p.m.statePartitions()
	if err != nil {
		p.m.log.Warn("share state topic", "err", err)
		return false, -1, kerr.CoordinatorNotAvailable.Code
	}
	if p.remote == nil {
		return true, -1, 0
	}
	l := p.remote.StateLeader(statePartition(k, n))
	switch {
	case l < 0:
		return false, -1, kerr.CoordinatorNotAvailable.Code
	case l == p.m.cfg.NodeID:
		return true, l, 0
	}
	return false, l, 0
}

// retry runs op (given k's route) until its code is not retriable or
// persistWait passed.
func (p *persister) retry(k key, op func(local bool, node int32) int16) int16 {
	deadline := time.Now().Add(persistWait)
	backoff := 50 * time.Millisecond
	for {
		local, node, code := p.route(k)
		if code == 0 {
			code = op(local, node)
		}
		if !retriable(code) || time.Now().Add(backoff).After(deadline) || p.m.isClosed() {
			return code
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, time.Second)
	}
}

func (p *persister) ask(node int32, req kmsg.Request) (kmsg.Response, int16) {
	ctx, cancel := context.WithTimeout(context.Background(), rpcTimeout)
	defer cancel()
	resp, err := p.remote.Request(ctx, node, req)
	if err != nil {
		p.m.log.Warn("share state request", "broker", node, "key", req.Key(), "err", err)
		return nil, kerr.CoordinatorNotAvailable.Code
	}
	return resp, 0
}

// read loads k's state for the data partition's leader at leaderEpoch.
func (p *persister) read(k key, leaderEpoch int32) (sn snapshot, found bool, err error) {
	code := p.retry(k, func(local bool, node int32) int16 {
		if local {
			var code int16
			sn, found, code = p.coord.read(k, leaderEpoch)
			return code
		}
		req := kmsg.NewPtrReadShareGroupStateRequest()
		req.GroupID = k.group
		t := kmsg.NewReadShareGroupStateRequestTopic()
		t.TopicID = k.topicID
		rp := kmsg.NewReadShareGroupStateRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch = k.partition, leaderEpoch
		t.Partitions = append(t.Partitions, rp)
		req.Topics = append(req.Topics, t)
		resp, code := p.ask(node, req)
		if code != 0 {
			return code
		}
		for _, t := range resp.(*kmsg.ReadShareGroupStateResponse).Topics {
			for _, rp := range t.Partitions {
				if t.TopicID != k.topicID || rp.Partition != k.partition {
					continue
				}
				if rp.ErrorCode != 0 {
					return rp.ErrorCode
				}
				found = rp.StartOffset >= 0
				sn = snapshot{stateEpoch: rp.StateEpoch, leaderEpoch: leaderEpoch, startOffset: max(rp.StartOffset, 0)}
				for _, b := range rp.StateBatches {
					sn.batches = append(sn.batches, stateBatch{b.FirstOffset, b.LastOffset, b.DeliveryState, b.DeliveryCount})
				}
				return 0
			}
		}
		return kerr.UnknownServerError.Code
	})
	if code != 0 {
		return snapshot{}, false, codeError(code)
	}
	if found {
		// What came over the wire is checked like a record read from disk.
		if _, err := decodeSnapshot(encodeSnapshot(sn, time.Time{})); err != nil {
			return snapshot{}, false, fmt.Errorf("share state of %s: %w", k.group, err)
		}
	}
	return sn, found, nil
}

// write stores sn as k's state and returns the wait for its durability
// (a remote write is durable when it returns).
func (p *persister) write(k key, sn snapshot) (func() error, error) {
	var wait func() error
	code := p.retry(k, func(local bool, node int32) int16 {
		if local {
			var code int16
			wait, code = p.coord.write(k, sn)
			return code
		}
		wait = nil
		req := kmsg.NewPtrWriteShareGroupStateRequest()
		req.GroupID = k.group
		t := kmsg.NewWriteShareGroupStateRequestTopic()
		t.TopicID = k.topicID
		rp := kmsg.NewWriteShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.LeaderEpoch, rp.StartOffset = k.partition, sn.stateEpoch, sn.leaderEpoch, sn.startOffset
		rp.DeliveryCompleteCount = summarize(sn).DeliveryComplete
		for _, b := range sn.batches {
			wb := kmsg.NewWriteShareGroupStateRequestTopicPartitionStateBatch()
			wb.FirstOffset, wb.LastOffset, wb.DeliveryState, wb.DeliveryCount = b.first, b.last, b.state, b.count
			rp.StateBatches = append(rp.StateBatches, wb)
		}
		t.Partitions = append(t.Partitions, rp)
		req.Topics = append(req.Topics, t)
		resp, code := p.ask(node, req)
		if code != 0 {
			return code
		}
		return partitionCode(k, func(yield func([16]byte, int32, int16)) {
			for _, t := range resp.(*kmsg.WriteShareGroupStateResponse).Topics {
				for _, rp := range t.Partitions {
					yield(t.TopicID, rp.Partition, rp.ErrorCode)
				}
			}
		})
	})
	if code != 0 {
		return nil, codeError(code)
	}
	if wait == nil {
		wait = func() error { return nil }
	}
	return wait, nil
}

// partitionCode is k's code in a response listed by each.
func partitionCode(k key, each func(yield func([16]byte, int32, int16))) int16 {
	code := kerr.UnknownServerError.Code
	each(func(tid [16]byte, p int32, c int16) {
		if tid == k.topicID && p == k.partition {
			code = c
		}
	})
	return code
}

// initialize makes start k's start offset, with nothing in flight, at
// the next state epoch (AlterShareGroupOffsets), durably.
func (p *persister) initialize(k key, start int64) error {
	code := p.retry(k, func(local bool, node int32) int16 {
		cur, code := p.summaryOnce(k, local, node)
		if code != 0 {
			return code
		}
		epoch := cur.StateEpoch + 1
		if local {
			wait, code := p.coord.initialize(k, epoch, start)
			if code != 0 {
				return code
			}
			if wait() != nil {
				return kerr.KafkaStorageError.Code
			}
			return 0
		}
		req := kmsg.NewPtrInitializeShareGroupStateRequest()
		req.GroupID = k.group
		t := kmsg.NewInitializeShareGroupStateRequestTopic()
		t.TopicID = k.topicID
		rp := kmsg.NewInitializeShareGroupStateRequestTopicPartition()
		rp.Partition, rp.StateEpoch, rp.StartOffset = k.partition, epoch, start
		t.Partitions = append(t.Partitions, rp)
		req.Topics = append(req.Topics, t)
		resp, code := p.ask(node, req)
		if code != 0 {
			return code
		}
		return partitionCode(k, func(yield func([16]byte, int32, int16)) {
			for _, t := range resp.(*kmsg.InitializeShareGroupStateResponse).Topics {
				for _, rp := range t.Partitions {
					yield(t.TopicID, rp.Partition, rp.ErrorCode)
				}
			}
		})
	})
	if code != 0 {
		return codeError(code)
	}
	return nil
}

// remove deletes k's state, durably (nothing to do when there is none).
func (p *persister) remove(k key) error {
	code := p.retry(k, func(local bool, node int32) int16 {
		if local {
			wait, code := p.coord.remove(k)
			if code != 0 {
				return code
			}
			if wait() != nil {
				return kerr.KafkaStorageError.Code
			}
			return 0
		}
		req := kmsg.NewPtrDeleteShareGroupStateRequest()
		req.GroupID = k.group
		t := kmsg.NewDeleteShareGroupStateRequestTopic()
		t.TopicID = k.topicID
		rp := kmsg.NewDeleteShareGroupStateRequestTopicPartition()
		rp.Partition = k.partition
		t.Partitions = append(t.Partitions, rp)
		req.Topics = append(req.Topics, t)
		resp, code := p.ask(node, req)
		if code != 0 {
			return code
		}
		return partitionCode(k, func(yield func([16]byte, int32, int16)) {
			for _, t := range resp.(*kmsg.DeleteShareGroupStateResponse).Topics {
				for _, rp := range t.Partitions {
					yield(t.TopicID, rp.Partition, rp.ErrorCode)
				}
			}
		})
	})
	if code != 0 {
		return codeError(code)
	}
	return nil
}

// summary is k's state summary (StartOffset -1: none).
func (p *persister) summary(k key) (Summary, error) {
	var out Summary
	code := p.retry(k, func(local bool, node int32) int16 {
		var code int16
		out, code = p.summaryOnce(k, local, node)
		return code
	})
	if code != 0 {
		return Summary{StartOffset: -1, LeaderEpoch: -1}, codeError(code)
	}
	return out, nil
}

func (p *persister) summaryOnce(k key, local bool, node int32) (Summary, int16) {
	if local {
		return p.coord.summary(k)
	}
	out, code := p.summariesAt(node, k.group, []key{k})
	if code != 0 {
		return Summary{StartOffset: -1, LeaderEpoch: -1}, code
	}
	s, ok := out[k]
	if !ok {
		return Summary{StartOffset: -1, LeaderEpoch: -1}, kerr.UnknownServerError.Code
	}
	return s.Summary, s.code
}

type remoteSummary struct {
	Summary
	code int16
}

// summariesAt asks node for the summaries of keys (all of group).
func (p *persister) summariesAt(node int32, group string, keys []key) (map[key]remoteSummary, int16) {
	req := kmsg.NewPtrReadShareGroupStateSummaryRequest()
	req.GroupID = group
	at := map[[16]byte]int{}
	for _, k := range keys {
		i, ok := at[k.topicID]
		if !ok {
			t := kmsg.NewReadShareGroupStateSummaryRequestTopic()
			t.TopicID = k.topicID
			req.Topics = append(req.Topics, t)
			i = len(req.Topics) - 1
			at[k.topicID] = i
		}
		rp := kmsg.NewReadShareGroupStateSummaryRequestTopicPartition()
		rp.Partition, rp.LeaderEpoch = k.partition, -1
		req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
	}
	resp, code := p.ask(node, req)
	if code != 0 {
		return nil, code
	}
	out := map[key]remoteSummary{}
	for _, t := range resp.(*kmsg.ReadShareGroupStateSummaryResponse).Topics {
		for _, rp := range t.Partitions {
			s := remoteSummary{Summary: Summary{StateEpoch: rp.StateEpoch, LeaderEpoch: rp.LeaderEpoch,
				StartOffset: rp.StartOffset, DeliveryComplete: max(rp.DeliveryCompleteCount, 0)}, code: rp.ErrorCode}
			out[key{group, t.TopicID, rp.Partition}] = s
		}
	}
	return out, 0
}

// remoteKeys lists the candidate keys of group (every partition of every
// topic, or of topicID when set) whose state partition another broker
// leads, by that broker.
func (p *persister) remoteKeys(group string, topicID *[16]byte) map[int32][]key {
	if p.remote == nil {
		return nil
	}
	n, err := p.m.statePartitions()
	if err != nil {
		return nil
	}
	out := map[int32][]key{}
	for tid, parts := range p.remote.Topics() {
		if topicID != nil && tid != *topicID {
			continue
		}
		for i := int32(0); i < parts; i++ {
			k := key{group, tid, i}
			if l := p.remote.StateLeader(statePartition(k, n)); l >= 0 && l != p.m.cfg.NodeID {
				out[l] = append(out[l], k)
			}
		}
	}
	return out
}
