package share

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/controller"
)

// Records in __share_group_state (layout in doc.go). kmsg has no types for
// the share coordinator's records, so they are encoded here, following
// Kafka's ShareSnapshotKey / ShareSnapshotValue schemas.

// StateTopic is Kafka's internal topic for share-partition state.
const StateTopic = controller.ShareGroupStateTopic

// snapshotKeyType is the key version of a ShareSnapshot record (Kafka's
// coordinator record type 0; ShareUpdate is 1, which Sluice never writes).
const (
	snapshotKeyType   = 0
	snapshotValueVers = 0
)

// key names a share-partition.
type key struct {
	group     string
	topicID   [16]byte
	partition int32
}

// stateBatch is a run of offsets with one persisted state and delivery
// count.
type stateBatch struct {
	first, last int64
	state       int8
	count       int16
}

// snapshot is the persisted form of a share-partition.
type snapshot struct {
	stateEpoch  int32
	leaderEpoch int32
	startOffset int64
	batches     []stateBatch
}

// encodeKey is ShareSnapshotKey: int16 type 0, GroupId string, TopicId
// uuid, Partition int32 (not flexible).
func encodeKey(k key) []byte {
	b := make([]byte, 0, 2+2+len(k.group)+16+4)
	b = binary.BigEndian.AppendUint16(b, snapshotKeyType)
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.group)))
	b = append(b, k.group...)
	b = append(b, k.topicID[:]...)
	return binary.BigEndian.AppendUint32(b, uint32(k.partition))
}

var errShort = errors.New("share: record too short")

// maxSpan bounds the in-flight offsets a snapshot may describe (restore
// keeps one entry per offset). What Sluice writes stays within
// group.share.partition.max.record.locks plus one batch.
const maxSpan = 1 << 22

// decodeKey reads a ShareSnapshotKey; other record types (Kafka's
// ShareUpdate deltas, which Sluice never writes) report ok == false.
func decodeKey(b []byte) (k key, ok bool, err error) {
	if len(b) < 2 {
		return k, false, errShort
	}
	if t := binary.BigEndian.Uint16(b); t != snapshotKeyType {
		return k, false, nil
	}
	b = b[2:]
	if len(b) < 2 {
		return k, false, errShort
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n+16+4 {
		return k, false, errShort
	}
	k.group = string(b[2 : 2+n])
	copy(k.topicID[:], b[2+n:])
	k.partition = int32(binary.BigEndian.Uint32(b[2+n+16:]))
	return k, true, nil
}

// encodeSnapshot is ShareSnapshotValue v0 (flexible): int16 version,
// SnapshotEpoch int32, StateEpoch int32, LeaderEpoch int32, StartOffset
// int64, CreateTimestamp int64, WriteTimestamp int64, StateBatches
// compact array of {FirstOffset int64, LastOffset int64, DeliveryState
// int8, DeliveryCount int16, tags}, tags.
func encodeSnapshot(s snapshot, now time.Time) []byte {
	b := make([]byte, 0, 2+4*3+8*3+1+len(s.batches)*20+1)
	be := binary.BigEndian
	b = be.AppendUint16(b, snapshotValueVers)
	b = be.AppendUint32(b, 0) // SnapshotEpoch: every record is a full snapshot
	b = be.AppendUint32(b, uint32(s.stateEpoch))
	b = be.AppendUint32(b, uint32(s.leaderEpoch))
	b = be.AppendUint64(b, uint64(s.startOffset))
	ms := now.UnixMilli()
	b = be.AppendUint64(b, uint64(ms))
	b = be.AppendUint64(b, uint64(ms))
	b = binary.AppendUvarint(b, uint64(len(s.batches))+1)
	for _, sb := range s.batches {
		b = be.AppendUint64(b, uint64(sb.first))
		b = be.AppendUint64(b, uint64(sb.last))
		b = append(b, byte(sb.state))
		b = be.AppendUint16(b, uint16(sb.count))
		b = append(b, 0) // no tagged fields
	}
	return append(b, 0)
}

// decodeSnapshot reads what encodeSnapshot writes, checking every length
// and that the batches are ordered, disjoint and at or above StartOffset.
func decodeSnapshot(b []byte) (snapshot, error) {
	var s snapshot
	be := binary.BigEndian
	if len(b) < 2+4*3+8*3 {
		return s, errShort
	}
	if v := be.Uint16(b); v != snapshotValueVers {
		return s, fmt.Errorf("share: snapshot value version %d", v)
	}
	s.stateEpoch = int32(be.Uint32(b[6:]))
	s.leaderEpoch = int32(be.Uint32(b[10:]))
	s.startOffset = int64(be.Uint64(b[14:]))
	b = b[2+4*3+8*3:]
	n, w := binary.Uvarint(b)
	if w <= 0 || n == 0 {
		return s, errShort
	}
	b = b[w:]
	n--
	if n > uint64(len(b))/20 {
		return s, errShort
	}
	if s.startOffset < 0 {
		return s, fmt.Errorf("share: start offset %d", s.startOffset)
	}
	prev := s.startOffset - 1
	for i := uint64(0); i < n; i++ {
		sb := stateBatch{first: int64(be.Uint64(b)), last: int64(be.Uint64(b[8:])), state: int8(b[16]), count: int16(be.Uint16(b[17:]))}
		if b[19] != 0 {
			return s, errors.New("share: tagged fields in a state batch")
		}
		b = b[20:]
		if sb.first <= prev || sb.last < sb.first || sb.last-s.startOffset >= maxSpan {
			return s, fmt.Errorf("share: state batch %d-%d out of order", sb.first, sb.last)
		}
		switch sb.state {
		case stateAvailable, stateAcknowledged, stateArchived:
		default:
			return s, fmt.Errorf("share: state %d", sb.state)
		}
		prev = sb.last
		s.batches = append(s.batches, sb)
	}
	return s, nil
}

// snapshotLocked is sp's persisted form: its SPSO and the runs of
// in-flight records that are not fresh (Available never delivered).
// Acquired records are stored as Available with their delivery count: a
// lock does not survive a restart.
func (sp *sharePartition) snapshotLocked() snapshot {
	s := snapshot{stateEpoch: sp.stateEpoch, leaderEpoch: sp.leaderEpoch, startOffset: sp.spso}
	for i := range sp.recs {
		r := sp.recs[i]
		st := r.state
		if st == stateAcquired {
			st = stateAvailable
		}
		if st == stateAvailable && r.count == 0 {
			continue
		}
		off := sp.spso + int64(i)
		if n := len(s.batches); n > 0 && s.batches[n-1].last == off-1 && s.batches[n-1].state == st && s.batches[n-1].count == r.count {
			s.batches[n-1].last = off
			continue
		}
		s.batches = append(s.batches, stateBatch{off, off, st, r.count})
	}
	return s
}

// restore makes sp the state s describes (no record Acquired).
func (sp *sharePartition) restore(s snapshot) {
	sp.initialized = true
	sp.spso, sp.stateEpoch, sp.leaderEpoch = s.startOffset, s.stateEpoch, s.leaderEpoch
	sp.recs, sp.acquired = nil, 0
	if n := len(s.batches); n > 0 {
		sp.recs = make([]rec, s.batches[n-1].last+1-s.startOffset)
		for _, b := range s.batches {
			for off := b.first; off <= b.last; off++ {
				sp.recs[off-s.startOffset] = rec{state: b.state, count: b.count}
			}
		}
	}
	sp.advance()
}

// statePartition is the __share_group_state partition holding k: Kafka's
// share coordinator key "group:topicId:partition" (topic id in Kafka's
// base64 form), Java String.hashCode, Utils.abs, modulo the partition
// count.
func statePartition(k key, n int32) int32 {
	s := k.group + ":" + uuidString(k.topicID) + ":" + strconv.Itoa(int(k.partition))
	var h int32
	for _, c := range utf16Units(s) {
		h = 31*h + int32(c)
	}
	if h == math.MinInt32 {
		h = 0
	} else if h < 0 {
		h = -h
	}
	return h % n
}

func utf16Units(s string) []uint16 {
	out := make([]uint16, 0, len(s))
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			out = append(out, uint16(0xd800+(r>>10)), uint16(0xdc00+(r&0x3ff)))
			continue
		}
		out = append(out, uint16(r))
	}
	return out
}

// uuidString is Kafka's Uuid.toString: URL-safe base64 without padding.
func uuidString(id [16]byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	var sb strings.Builder
	var acc uint32
	bits := 0
	for _, c := range id {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 6 {
			bits -= 6
			sb.WriteByte(enc[(acc>>bits)&63])
		}
	}
	if bits > 0 {
		sb.WriteByte(enc[(acc<<(6-bits))&63])
	}
	return sb.String()
}

// parseISODuration parses the java.time.Duration form share.auto.offset.reset
// uses after "by_duration:": PnDTnHnMn.nS (days, hours, minutes, seconds).
func parseISODuration(s string) (time.Duration, bool) {
	s = strings.ToUpper(s)
	if !strings.HasPrefix(s, "P") || len(s) < 3 {
		return 0, false
	}
	s = s[1:]
	var d time.Duration
	inTime := false
	for s != "" {
		if s[0] == 'T' {
			inTime, s = true, s[1:]
			continue
		}
		i := strings.IndexAny(s, "DHMS")
		if i <= 0 {
			return 0, false
		}
		v, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || v < 0 {
			return 0, false
		}
		unit := time.Second
		switch {
		case s[i] == 'D' && !inTime:
			unit = 24 * time.Hour
		case s[i] == 'H' && inTime:
			unit = time.Hour
		case s[i] == 'M' && inTime:
			unit = time.Minute
		case s[i] == 'S' && inTime:
		default:
			return 0, false
		}
		d += time.Duration(v * float64(unit))
		s = s[i+1:]
	}
	return d, true
}
