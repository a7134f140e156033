package coordinator

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/record"
)

// Share groups are persisted like KIP-848 groups (persist848.go): one
// Sluice record per group in __consumer_offsets holding the whole group,
// so the compacted topic keeps exactly the latest state; a nil value is a
// tombstone (group deleted). Kafka writes a share group as several
// records (ShareGroupMetadata, ShareGroupMemberMetadata, target
// assignment and current assignment records, key versions 10-16) that
// kmsg has no types for; one record keeps a group's state consistent
// without multi-record replay rules. Kafka's tools reading the topic skip
// the unknown key version.
//
// Byte layout (big endian; string = int16 length + bytes, nullable string
// length -1 = null; array = int32 count + elements; uuid = 16 bytes):
//
//	key   int16 101 | string group
//	value int16 0 (value version)
//	      int32 group epoch | int32 assignment epoch | int64 created (unix ms)
//	      array subscription metadata: string topic | uuid id | int32 partitions
//	      array members:
//	        string member id | nullable string rack id
//	        string client id | string client host
//	        array string subscribed topic names
//	        int32 member epoch | int32 previous member epoch
//	        parts assigned | parts target
//	parts = array: uuid topic id | array int32 partition
//
// Replay restores members with their epochs and assignments; their
// session timers start after the load, so a member that does not come
// back is removed one session timeout later.
const (
	shareGroupKeyVersion   = 101
	shareGroupValueVersion = 0
)

func shareGroupKey(group string) []byte {
	return sluiceGroupKey(shareGroupKeyVersion, group)
}

func shareGroupValue(g *shareGroup) []byte {
	b := kbin.AppendInt16(nil, shareGroupValueVersion)
	b = kbin.AppendInt32(b, g.groupEpoch)
	b = kbin.AppendInt32(b, g.assignmentEpoch)
	b = kbin.AppendInt64(b, g.createdAt.UnixMilli())
	b = appendSubMeta(b, g.subMeta)
	ms := g.sortedMembers()
	b = kbin.AppendArrayLen(b, len(ms))
	for _, m := range ms {
		b = kbin.AppendString(b, m.id)
		b = kbin.AppendNullableString(b, m.rackID)
		b = kbin.AppendString(b, m.clientID)
		b = kbin.AppendString(b, m.clientHost)
		b = appendStrings(b, m.subscribed)
		b = kbin.AppendInt32(b, m.epoch)
		b = kbin.AppendInt32(b, m.prevEpoch)
		b = appendParts(b, m.assigned)
		b = appendParts(b, g.target[m.id])
	}
	return b
}

func shareGroupRecord(g *shareGroup) record.Record {
	return record.Record{Key: shareGroupKey(g.id), Value: shareGroupValue(g)}
}

var errBadShareGroup = errors.New("malformed share group record")

func decodeShareGroup(id string, value []byte) (*shareGroup, error) {
	r := &kbin.Reader{Src: value}
	if v := r.Int16(); v != shareGroupValueVersion {
		return nil, errBadShareGroup
	}
	g := newShareGroup(id, time.Time{})
	g.groupEpoch = r.Int32()
	g.assignmentEpoch = r.Int32()
	g.createdAt = time.UnixMilli(r.Int64())
	readSubMeta(r, g.subMeta)
	n := r.ArrayLen()
	for i := int32(0); i < n && r.Ok(); i++ {
		m := &smember{id: r.String()}
		m.rackID = r.NullableString()
		m.clientID = r.String()
		m.clientHost = r.String()
		m.subscribed = readStrings(r)
		m.epoch = r.Int32()
		m.prevEpoch = r.Int32()
		m.assigned = readParts(r)
		target := readParts(r)
		if !r.Ok() {
			return nil, errBadShareGroup
		}
		g.members[m.id] = m
		g.target[m.id] = target
	}
	if err := r.Complete(); err != nil {
		return nil, errBadShareGroup
	}
	return g, nil
}

// replayShareGroup applies a key-version-101 record.
func (s *shard) replayShareGroup(key, value []byte) {
	id, err := readSluiceGroupKey(key)
	if err != nil {
		s.log.Warn("skipping bad share group key", "err", err)
		return
	}
	if value == nil {
		delete(s.shares, id)
		return
	}
	g, err := decodeShareGroup(id, value)
	if err != nil {
		s.log.Warn("skipping bad share group value", "group", id, "err", err)
		return
	}
	s.shares[id] = g
}

// startShareSessions starts the session timers of loaded members.
func (s *shard) startShareSessions() {
	for _, g := range s.shares {
		session, _ := s.c.shareTimeouts(g.id)
		for _, m := range g.sortedMembers() {
			s.resetShareSession(g, m, session)
		}
	}
}

// deleteShareGroup removes an empty share group: its share-partition
// state first (durably, through share.State), then its tombstone. The
// group is gone for new requests at once.
func (s *shard) deleteShareGroup(g *shareGroup, reply func(int16)) {
	if len(g.members) > 0 {
		reply(kerr.NonEmptyGroup.Code)
		return
	}
	st := s.c.state()
	if st == nil {
		reply(kerr.CoordinatorNotAvailable.Code)
		return
	}
	delete(s.shares, g.id)
	s.log.Info("share group deleted", "group", g.id)
	// State.DeleteGroup may block on its own durability: run it off the
	// loop, then write the tombstone back on the loop.
	go func() {
		code := st.DeleteGroup(g.id)
		s.submit(op{
			run: func() {
				if code != 0 {
					// Keep the group: its state is still there.
					if s.shares[g.id] == nil && s.groups[g.id] == nil {
						s.shares[g.id] = g
					}
					reply(code)
					return
				}
				s.write([]record.Record{{Key: shareGroupKey(g.id)}}, func(err error) { reply(writeErrorCode(err)) })
			},
			reject: func() { reply(kerr.CoordinatorNotAvailable.Code) },
		})
	}()
}
