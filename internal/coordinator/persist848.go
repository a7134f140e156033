package coordinator

import (
	"errors"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"

	"github.com/sluice-io/sluice/internal/record"
)

// Consumer groups (KIP-848) are persisted in a Sluice-specific record in
// __consumer_offsets, not in Kafka's ConsumerGroup* records (key versions
// 3-8): one record per group holding the whole group, so the compacted
// topic keeps exactly the latest state. Every change writes it again; a
// nil value is a tombstone (group deleted or turned back into a classic
// group). Kafka would not understand this record; Kafka's tools reading
// the topic skip or reject it, as with internal/txn's key version 100.
//
// Byte layout (big endian; string = int16 length + bytes, nullable string
// length -1 = null; array = int32 count + elements; uuid = 16 bytes):
//
//	key   int16 100 | string group
//	value int16 0 (value version)
//	      int32 group epoch | int32 assignment epoch | string assignor name
//	      array subscription metadata: string topic | uuid id | int32 partitions
//	      array members:
//	        string member id | nullable string instance id | nullable string rack id
//	        string client id | string client host | int32 rebalance timeout ms
//	        array string subscribed topic names | string regex ("" none)
//	        string server assignor ("" none)
//	        int32 member epoch | int32 previous member epoch | int8 state
//	        parts assigned | parts pending revocation | parts target
//	parts = array: uuid topic id | array int32 partition
//
// Replay restores the group with its members; members keep their epochs
// and assignments and must heartbeat within their session timeout after
// the load (their timers start then).
const (
	consumerGroupKeyVersion   = 100
	consumerGroupValueVersion = 0
)

func consumerGroupKey(group string) []byte {
	return sluiceGroupKey(consumerGroupKeyVersion, group)
}

// sluiceGroupKey is the key of a whole-group Sluice record (consumer
// groups here, share groups in share_persist.go): int16 version | string
// group.
func sluiceGroupKey(version int16, group string) []byte {
	b := kbin.AppendInt16(nil, version)
	return kbin.AppendString(b, group)
}

// readSluiceGroupKey returns the group of a key written by sluiceGroupKey
// (the caller has read the version).
func readSluiceGroupKey(key []byte) (string, error) {
	r := &kbin.Reader{Src: key[2:]}
	id := r.String()
	return id, r.Complete()
}

// appendSubMeta encodes subscription metadata, sorted by topic name.
func appendSubMeta(b []byte, meta map[string]TopicInfo) []byte {
	names := make([]string, 0, len(meta))
	for n := range meta {
		names = append(names, n)
	}
	slices.Sort(names)
	b = kbin.AppendArrayLen(b, len(names))
	for _, n := range names {
		t := meta[n]
		b = kbin.AppendString(b, n)
		b = kbin.AppendUuid(b, t.ID)
		b = kbin.AppendInt32(b, t.Partitions)
	}
	return b
}

// readSubMeta decodes what appendSubMeta wrote into meta.
func readSubMeta(r *kbin.Reader, meta map[string]TopicInfo) {
	n := r.ArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		name := r.String()
		meta[name] = TopicInfo{Name: name, ID: r.Uuid(), Partitions: r.Int32()}
	}
}

func appendStrings(b []byte, ss []string) []byte {
	b = kbin.AppendArrayLen(b, len(ss))
	for _, s := range ss {
		b = kbin.AppendString(b, s)
	}
	return b
}

// readStrings decodes what appendStrings wrote (nil when empty).
func readStrings(r *kbin.Reader) []string {
	var out []string
	k := r.ArrayLen()
	for j := int32(0); j < k && r.Ok(); j++ {
		out = append(out, r.String())
	}
	return out
}

func appendParts(b []byte, a parts) []byte {
	ids := sortedIDs(a)
	b = kbin.AppendArrayLen(b, len(ids))
	for _, id := range ids {
		b = kbin.AppendUuid(b, id)
		b = kbin.AppendArrayLen(b, len(a[id]))
		for _, p := range a[id] {
			b = kbin.AppendInt32(b, p)
		}
	}
	return b
}

// consumerGroupValue encodes cg.
func consumerGroupValue(cg *consumerGroup) []byte {
	b := kbin.AppendInt16(nil, consumerGroupValueVersion)
	b = kbin.AppendInt32(b, cg.groupEpoch)
	b = kbin.AppendInt32(b, cg.assignmentEpoch)
	b = kbin.AppendString(b, cg.assignorName)
	b = appendSubMeta(b, cg.subMeta)
	ms := cg.sortedMembers()
	b = kbin.AppendArrayLen(b, len(ms))
	for _, m := range ms {
		b = kbin.AppendString(b, m.id)
		b = kbin.AppendNullableString(b, m.instanceID)
		b = kbin.AppendNullableString(b, m.rackID)
		b = kbin.AppendString(b, m.clientID)
		b = kbin.AppendString(b, m.clientHost)
		b = kbin.AppendInt32(b, int32(m.rebalanceTimeout/time.Millisecond))
		b = appendStrings(b, m.subscribed)
		b = kbin.AppendString(b, m.regex)
		b = kbin.AppendString(b, m.assignor)
		b = kbin.AppendInt32(b, m.epoch)
		b = kbin.AppendInt32(b, m.prevEpoch)
		b = kbin.AppendInt8(b, int8(m.state))
		b = appendParts(b, m.assigned)
		b = appendParts(b, m.pending)
		b = appendParts(b, cg.target[m.id])
	}
	return b
}

func consumerGroupRecord(g *group) record.Record {
	return record.Record{Key: consumerGroupKey(g.id), Value: consumerGroupValue(g.cg)}
}

func readParts(r *kbin.Reader) parts {
	out := parts{}
	n := r.ArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		id := r.Uuid()
		k := r.ArrayLen()
		for j := int32(0); j < k && r.Ok(); j++ {
			out.add(id, r.Int32())
		}
	}
	return out
}

var errBadConsumerGroup = errors.New("malformed consumer group record")

// decodeConsumerGroup parses a value written by consumerGroupValue.
func decodeConsumerGroup(value []byte, now time.Time) (*consumerGroup, error) {
	r := &kbin.Reader{Src: value}
	if v := r.Int16(); v != consumerGroupValueVersion {
		return nil, errBadConsumerGroup
	}
	cg := newConsumerGroup(now)
	cg.groupEpoch = r.Int32()
	cg.assignmentEpoch = r.Int32()
	cg.assignorName = r.String()
	readSubMeta(r, cg.subMeta)
	n := r.ArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		m := &cmember{id: r.String(), assignedAt: map[tpid]int32{}}
		m.instanceID = r.NullableString()
		m.rackID = r.NullableString()
		m.clientID = r.String()
		m.clientHost = r.String()
		m.rebalanceTimeout = time.Duration(r.Int32()) * time.Millisecond
		m.subscribed = readStrings(r)
		m.regex = r.String()
		m.assignor = r.String()
		m.epoch = r.Int32()
		m.prevEpoch = r.Int32()
		m.state = memberState(r.Int8())
		m.assigned = readParts(r)
		m.pending = readParts(r)
		target := readParts(r)
		if !r.Ok() || m.state < memberStable || m.state > memberUnreleasedPartitions {
			return nil, errBadConsumerGroup
		}
		cg.members[m.id] = m
		cg.target[m.id] = target
		if m.instanceID != nil {
			cg.static[*m.instanceID] = m.id
		}
		m.assigned.each(func(t tpid) { cg.owners[t] = m.id })
		m.pending.each(func(t tpid) { cg.owners[t] = m.id })
	}
	if err := r.Complete(); err != nil {
		return nil, errBadConsumerGroup
	}
	return cg, nil
}

// replayConsumerGroup applies a key-version-100 record.
func (s *shard) replayConsumerGroup(key, value []byte) {
	id, err := readSluiceGroupKey(key)
	if err != nil {
		s.log.Warn("skipping bad consumer group key", "err", err)
		return
	}
	if value == nil {
		if g := s.groups[id]; g != nil {
			g.cg = nil
			s.dropIfShell(g)
		}
		return
	}
	cg, err := decodeConsumerGroup(value, s.c.clock.Now())
	if err != nil {
		s.log.Warn("skipping bad consumer group value", "group", id, "err", err)
		return
	}
	g := s.groupFor(id)
	g.cg = cg
}

// startConsumerSessions starts the session timers of loaded members.
func (s *shard) startConsumerSessions() {
	for _, g := range s.groups {
		if g.cg == nil {
			continue
		}
		for _, m := range g.cg.sortedMembers() {
			s.resetSession(g, m)
		}
	}
}
