package coordinator

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
	"github.com/sluice-io/sluice/internal/replica"
)

// Record formats in __consumer_offsets are Kafka's (kmsg encodes them):
//
//	key   int16 version | fields...
//	  0, 1  OffsetCommitKey   group, topic, partition        (we write v1)
//	  2     GroupMetadataKey  group                           (we write v2)
//	  3-99  newer Kafka record types (KIP-848 and later): skipped on replay
//	  100   Sluice's consumer group record (persist848.go)
//	value OffsetCommitValue v3 (offset, leader epoch, metadata, commit
//	      timestamp), or v1 (offset, metadata, commit and expire timestamps)
//	      when the commit asked for a retention time;
//	      GroupMetadataValue v3 (protocol type, generation, protocol, leader,
//	      current state timestamp, members with subscription and assignment)
//	null value: tombstone (offset deleted or expired; group deleted)
//
// Every write is one batch (all of a request's records, so a commit is
// atomic) with producer id -1, except TxnOffsetCommit's, which are
// transactional batches of the producer (txn_offsets.go). A torn tail is cut by log recovery; replay
// of a corrupt batch logs and skips it.
const (
	offsetKeyVersion   = 1
	offsetValueVersion = 3
	offsetValueExpire  = 1
	groupKeyVersion    = 2
	groupValueVersion  = 3
)

func offsetKey(group string, t tp) []byte {
	k := kmsg.NewOffsetCommitKey()
	k.Version, k.Group, k.Topic, k.Partition = offsetKeyVersion, group, t.topic, t.partition
	return k.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = offsetValueVersion
	if o.expireMs >= 0 {
		v.Version = offsetValueExpire
		v.ExpireTimestamp = o.expireMs
	}
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.commitMs
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	k := kmsg.NewGroupMetadataKey()
	k.Version, k.Group = groupKeyVersion, group
	return k.AppendTo(nil)
}

// groupValue encodes g with assignment (nil: the members' current ones).
func groupValue(g *group, assignment map[string][]byte) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = groupValueVersion
	v.ProtocolType = g.protocolType
	v.Generation = g.generation
	if g.protocolName != "" {
		v.Protocol = kmsg.StringPtr(g.protocolName)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	if !g.stateTime.IsZero() {
		v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	}
	for _, m := range g.orderedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.clientHost
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout / time.Millisecond)
		vm.SessionTimeoutMillis = int32(m.sessionTimeout / time.Millisecond)
		vm.Subscription = m.metadata(g.protocolName)
		vm.Assignment = m.assignment
		if assignment != nil {
			vm.Assignment = assignment[m.id]
		}
		if vm.Subscription == nil {
			vm.Subscription = []byte{}
		}
		if vm.Assignment == nil {
			vm.Assignment = []byte{}
		}
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// writeGroup persists g's metadata (with assignment, or the current one).
func (s *shard) writeGroup(g *group, assignment map[string][]byte, done func(error)) {
	s.write([]record.Record{{Key: groupKey(g.id), Value: groupValue(g, assignment)}}, done)
}

// write appends recs as one batch and calls done on the loop once the
// batch is durable (or failed). done may run before write returns.
func (s *shard) write(recs []record.Record, done func(error)) {
	s.appendRecords(recs, nil, done)
}

// txnWrite makes appendRecords write a transactional batch of a
// producer (TxnOffsetCommit), checked against guard by the partition.
type txnWrite struct {
	pid   int64
	epoch int16
	guard *replica.TxnGuard
}

// appendRecords appends recs as one batch (a transactional one with txn)
// and returns its base offset, or -1 when the append failed; done runs on
// the loop once the batch is durable (or failed: then it may run before
// appendRecords returns).
func (s *shard) appendRecords(recs []record.Record, txn *txnWrite, done func(error)) int64 {
	if shardState(s.state.Load()) == shardClosed {
		done(s.closedErr())
		return -1
	}
	l := s.c.be.OffsetsLog(s.index)
	if l == nil {
		done(errNotHosted)
		return -1
	}
	for i := range recs {
		recs[i].OffsetDelta = int32(i)
	}
	spec := record.BatchSpec{
		ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1,
		BaseTimestamp: s.c.clock.Now().UnixMilli(), Records: recs,
	}
	if txn != nil {
		spec.ProducerID, spec.ProducerEpoch, spec.Attributes = txn.pid, txn.epoch, record.TransactionalBit
	}
	batch, err := record.Build(spec)
	if err != nil {
		done(err)
		return -1
	}
	var upTo int64
	if tl, ok := l.(TxnLog); ok && txn != nil {
		upTo, err = tl.AppendTxn(batch, int64(len(recs)), txn.guard)
	} else {
		upTo, err = l.Append(batch, int64(len(recs)))
	}
	if err != nil {
		if txn == nil {
			s.log.Error("append to offsets partition failed", "err", err)
		}
		done(err)
		return -1
	}
	s.inflight = append(s.inflight, inflight{upTo: upTo, done: done})
	s.syncs.Add(1)
	go func() {
		defer s.syncs.Done()
		s.durable <- durableNote{upTo: upTo, err: l.Commit(upTo)}
	}()
	return upTo - int64(len(recs))
}

type coordError string

func (e coordError) Error() string { return string(e) }

const errNotHosted = coordError("offsets partition not hosted")

// writeErrorCode maps a failed write to what clients retry on: a write
// cut short by the loss of leadership sends them to the new coordinator.
func writeErrorCode(err error) int16 {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errNotCoordinator), errors.Is(err, replica.ErrNotLeader):
		// The partition's leadership moved while the write waited for
		// the ISR: the client finds the new coordinator.
		return kerr.NotCoordinator.Code
	}
	return kerr.CoordinatorNotAvailable.Code
}

// load replays the partition into s.groups.
func (s *shard) load(l Log) error {
	return l.Replay(func(batch []byte) error {
		h, err := record.ParseHeader(batch)
		if err != nil {
			return err
		}
		if h.IsControl() {
			s.replayMarker(&h, batch)
			return nil
		}
		txn := h.IsTransactional() && h.ProducerID >= 0
		if err := record.Records(batch, func(r *record.Record) error {
			off := h.BaseOffset + int64(r.OffsetDelta)
			if txn {
				s.replayTxn(h.ProducerID, off, r.Key, r.Value)
			} else {
				s.replayAt(r.Key, r.Value, off)
			}
			return nil
		}); err != nil {
			s.log.Error("skipping unreadable batch in offsets partition", "offset", h.BaseOffset, "err", err)
		}
		return nil
	})
}

// replay applies one record, exactly as the live path's effects.
func (s *shard) replay(key, value []byte) { s.replayAt(key, value, -1) }

// replayAt is replay of the record at offset off.
func (s *shard) replayAt(key, value []byte, off int64) {
	if len(key) < 2 {
		return
	}
	switch binary.BigEndian.Uint16(key) {
	case 0, 1:
		group, t, o, ok := s.parseOffsetRecord(key, value, off)
		if !ok {
			return
		}
		if value == nil {
			if g := s.groups[group]; g != nil {
				delete(g.offsets, t)
				s.dropIfShell(g)
			}
			return
		}
		s.groupFor(group).offsets[t] = o
	case consumerGroupKeyVersion:
		s.replayConsumerGroup(key, value)
	case shareGroupKeyVersion:
		s.replayShareGroup(key, value)
	case 2:
		var k kmsg.GroupMetadataKey
		if err := k.ReadFrom(key); err != nil {
			s.log.Warn("skipping bad group metadata key", "err", err)
			return
		}
		if value == nil {
			if g := s.groups[k.Group]; g != nil {
				// Offsets of a deleted group come with their own
				// tombstones; keep any that remain as a simple group.
				offs := g.offsets
				g = newGroup(k.Group, time.Time{})
				g.offsets = offs
				s.groups[k.Group] = g
				s.dropIfShell(g)
			}
			return
		}
		var v kmsg.GroupMetadataValue
		if err := v.ReadFrom(value); err != nil {
			s.log.Warn("skipping bad group metadata value", "group", k.Group, "err", err)
			return
		}
		s.restoreGroup(k.Group, &v)
	}
}

func (s *shard) groupFor(id string) *group {
	g := s.groups[id]
	if g == nil {
		g = newGroup(id, time.Time{})
		s.groups[id] = g
	}
	return g
}

func (s *shard) dropIfShell(g *group) {
	if g.isEmptyShell() {
		delete(s.groups, g.id)
	}
}

// restoreGroup rebuilds a group from its latest metadata record, keeping
// the offsets replayed so far.
func (s *shard) restoreGroup(id string, v *kmsg.GroupMetadataValue) {
	var stateTime time.Time
	if v.CurrentStateTimestamp >= 0 {
		stateTime = time.UnixMilli(v.CurrentStateTimestamp)
	}
	g := newGroup(id, stateTime)
	if old := s.groups[id]; old != nil {
		g.offsets = old.offsets
	}
	g.protocolType = v.ProtocolType
	g.generation = v.Generation
	if v.Protocol != nil {
		g.protocolName = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	for _, vm := range v.Members {
		if g.members[vm.MemberID] != nil {
			continue // malformed record: keep the first
		}
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, clientHost: vm.ClientHost,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			protocolType:     v.ProtocolType,
			protocols:        []protocol{{g.protocolName, vm.Subscription}},
			assignment:       vm.Assignment,
		}
		if vm.RebalanceTimeoutMillis < 0 {
			m.rebalanceTimeout = m.sessionTimeout
		}
		leader := g.leader
		g.add(m)
		g.leader = leader
	}
	if len(g.members) > 0 {
		g.state = stateStable
		if g.members[g.leader] == nil {
			g.leader = g.order[0]
		}
	} else {
		g.leader = ""
	}
	g.computeSubscribed()
	s.groups[id] = g
	s.dropIfShell(g)
}

// afterLoad starts the session timers of loaded members.
func (s *shard) afterLoad() {
	s.dropMissingTopicOffsets()
	for _, g := range s.groups {
		for _, m := range g.orderedMembers() {
			s.rescheduleHeartbeat(g, m, m.sessionTimeout)
		}
	}
	s.startConsumerSessions()
	s.startShareSessions()
}
