package metadata

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Encoding of one record (the Value of one record in the metadata log):
//
//	[type u8][version u8][body]
//
// Body primitives: intN are fixed-width big endian; uuid is 16 raw bytes;
// string is uvarint(len) + UTF-8 bytes; nullable string is uvarint(len+1)
// + bytes, with 0 meaning null; []int32 is uvarint(count) + count int32;
// nullable []int32 is uvarint(count+1) + items, 0 meaning nil. A body must
// be consumed exactly: trailing bytes are an error.
//
// Version 0 bodies, field by field:
//
//	RegisterBrokerRecord  (0): brokerId int32, incarnationId uuid, host string,
//	                           port int32, rack nullable string
//	                      (v1): the v0 fields, then uvarint(count) endpoints,
//	                           each name string, host string, port int32,
//	                           securityProtocol int16
//	                      (v2): the v0 fields, then the endpoints as in v1
//	                           but nullable (uvarint(count+1), 0 meaning
//	                           none, as a v0 record), brokerEpoch int64,
//	                           fenced bool, inControlledShutdown bool
//	UnregisterBrokerRecord (1): brokerId int32, brokerEpoch int64
//	TopicRecord           (2): name string, topicId uuid
//	PartitionRecord       (3): topicId uuid, partition int32, replicas []int32,
//	                           isr []int32, leader int32, leaderEpoch int32,
//	                           partitionEpoch int32
//	                      (v1): the v0 fields, then leaderRecoveryState int8
//	                           (Kafka's: 0 RECOVERED, 1 RECOVERING)
//	                      (v2): the v1 fields, then addingReplicas []int32,
//	                           removingReplicas []int32 (written only while
//	                           a reassignment is ongoing)
//	ConfigRecord          (4): resourceType int8, resourceName string,
//	                           name string, value nullable string
//	PartitionChangeRecord (5): topicId uuid, partition int32, leader int32,
//	                           isr nullable []int32, replicas nullable []int32
//	                      (v1): the v0 fields, then leaderRecoveryState int8
//	                           (Kafka's: -1 no change, 0 RECOVERED, 1 RECOVERING)
//	                      (v2): the v1 fields, then addingReplicas and
//	                           removingReplicas, nullable []int32 (nil no
//	                           change, empty: cleared)
//	FenceBrokerRecord     (7): id int32, epoch int64
//	UnfenceBrokerRecord   (8): id int32, epoch int64
//	RemoveTopicRecord     (9): topicId uuid
//	BrokerRegistrationChangeRecord (17): brokerId int32, brokerEpoch int64,
//	                           fenced int8 (1 fence, -1 unfence, 0 no change),
//	                           inControlledShutdown int8 (1 in, 0 no change)
//
// int64 is fixed-width big endian; bool is one byte, 0 or 1 (anything
// else is corrupt). The broker lifecycle records are described in
// brokers.go.
// The SCRAM records (11, 22) are described in scram.go, ProducerIdsRecord
// (15) in producer_ids.go, the ACL records (23, 24) in acls.go,
// ClientQuotaRecord (14) in client_quotas.go.

// ErrUnknownRecord is returned (wrapped) for an unknown type or version.
var ErrUnknownRecord = errors.New("metadata: unknown record type or version")

// ErrCorruptRecord is returned (wrapped) for a body that does not decode.
var ErrCorruptRecord = errors.New("metadata: corrupt record")

// Encode returns the bytes of r: [type][version][body].
func Encode(r Record) []byte {
	b := make([]byte, 2, 64)
	b[0], b[1] = byte(r.Type()), r.Version()
	return r.appendBody(b)
}

// Decode parses one encoded record.
func Decode(b []byte) (Record, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorruptRecord, len(b))
	}
	t, v := RecordType(b[0]), b[1]
	if v > maxVersion(t) {
		return nil, fmt.Errorf("%w: %s version %d", ErrUnknownRecord, t, v)
	}
	d := &decoder{b: b[2:]}
	var r Record
	switch t {
	case TypeRegisterBroker:
		rb := RegisterBrokerRecord{BrokerID: d.i32(), IncarnationID: d.uuid(), Host: d.str(), Port: d.i32(), Rack: d.nstr()}
		n := 0
		switch v {
		case 1:
			n = d.length(7)
			rb.Endpoints = []BrokerEndpoint{}
		case 2:
			if c := d.uvarint(); c > 0 && d.err == nil {
				if c-1 > uint64(len(d.b)/7) {
					d.err = fmt.Errorf("endpoint count %d exceeds remaining %d bytes", c-1, len(d.b))
				}
				n = int(c - 1)
				rb.Endpoints = []BrokerEndpoint{}
			}
		}
		for ; n > 0 && d.err == nil; n-- {
			rb.Endpoints = append(rb.Endpoints, BrokerEndpoint{Name: d.str(), Host: d.str(), Port: d.i32(), SecurityProtocol: d.i16()})
		}
		if v >= 2 {
			rb.BrokerEpoch, rb.Fenced, rb.InControlledShutdown = d.i64(), d.bool(), d.bool()
		}
		r = rb
	case TypeTopic:
		r = TopicRecord{Name: d.str(), ID: d.uuid()}
	case TypePartition:
		pr := PartitionRecord{TopicID: d.uuid(), Partition: d.i32(), Replicas: d.ints(), ISR: d.ints(),
			Leader: d.i32(), LeaderEpoch: d.i32(), PartitionEpoch: d.i32()}
		if v >= 1 {
			pr.LeaderRecoveryState = LeaderRecoveryState(int8(d.u8()))
			if pr.LeaderRecoveryState != Recovered && pr.LeaderRecoveryState != Recovering && d.err == nil {
				d.err = fmt.Errorf("leader recovery state %d", pr.LeaderRecoveryState)
			}
		}
		if v >= 2 {
			pr.AddingReplicas, pr.RemovingReplicas = d.ints(), d.ints()
		}
		r = pr
	case TypeConfig:
		r = ConfigRecord{ResourceType: int8(d.u8()), ResourceName: d.str(), Name: d.str(), Value: d.nstr()}
	case TypePartitionChange:
		pc := PartitionChangeRecord{TopicID: d.uuid(), Partition: d.i32(), Leader: d.i32(), ISR: d.nints(), Replicas: d.nints()}
		if v >= 1 {
			// Kafka's -1 (no change), 0, 1 are stored; the Go field is one more.
			k := int8(d.u8())
			if (k < -1 || k > 1) && d.err == nil {
				d.err = fmt.Errorf("leader recovery state %d", k)
			}
			pc.LeaderRecovery = LeaderRecoveryChange(k + 1)
		}
		if v >= 2 {
			pc.AddingReplicas, pc.RemovingReplicas = d.nints(), d.nints()
		}
		r = pc
	case TypeRemoveTopic:
		r = RemoveTopicRecord{TopicID: d.uuid()}
	case TypeProducerIds:
		r = decodeProducerIds(d)
	case TypeUserScramCredential:
		r = decodeUserScramCredential(d)
	case TypeRemoveUserScramCredential:
		r = decodeRemoveUserScramCredential(d)
	case TypeAccessControlEntry:
		r = decodeAccessControlEntry(d)
	case TypeRemoveAccessControlEntry:
		r = decodeRemoveAccessControlEntry(d)
	case TypeClientQuota:
		r = decodeClientQuota(d)
	case TypeFeatureLevel:
		r = decodeFeatureLevel(d)
	case TypeUnregisterBroker, TypeFenceBroker, TypeUnfenceBroker, TypeBrokerRegistrationChange:
		r = decodeBrokerRecord(t, d)
	default:
		return nil, fmt.Errorf("%w: type %d", ErrUnknownRecord, uint8(t))
	}
	if d.err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorruptRecord, t, d.err)
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %s: %d trailing bytes", ErrCorruptRecord, t, len(d.b))
	}
	return r, nil
}

// maxVersion is the newest encoding version Decode reads for t.
func maxVersion(t RecordType) uint8 {
	switch t {
	case TypeRegisterBroker:
		return 2
	case TypePartition, TypePartitionChange:
		return 2
	}
	return 0
}

func (r RegisterBrokerRecord) appendBody(b []byte) []byte {
	b = appendI32(b, r.BrokerID)
	b = append(b, r.IncarnationID[:]...)
	b = appendStr(b, r.Host)
	b = appendI32(b, r.Port)
	b = appendNStr(b, r.Rack)
	v := r.Version()
	switch {
	case v == 0:
		return b
	case v == 2 && r.Endpoints == nil:
		b = binary.AppendUvarint(b, 0)
	case v == 2:
		b = binary.AppendUvarint(b, uint64(len(r.Endpoints))+1)
	default:
		b = binary.AppendUvarint(b, uint64(len(r.Endpoints)))
	}
	for _, e := range r.Endpoints {
		b = appendStr(b, e.Name)
		b = appendStr(b, e.Host)
		b = appendI32(b, e.Port)
		b = binary.BigEndian.AppendUint16(b, uint16(e.SecurityProtocol))
	}
	if v == 2 {
		b = appendI64(b, r.BrokerEpoch)
		b = appendBool(b, r.Fenced)
		b = appendBool(b, r.InControlledShutdown)
	}
	return b
}

func (r TopicRecord) appendBody(b []byte) []byte {
	b = appendStr(b, r.Name)
	return append(b, r.ID[:]...)
}

func (r PartitionRecord) appendBody(b []byte) []byte {
	b = append(b, r.TopicID[:]...)
	b = appendI32(b, r.Partition)
	b = appendInts(b, r.Replicas)
	b = appendInts(b, r.ISR)
	b = appendI32(b, r.Leader)
	b = appendI32(b, r.LeaderEpoch)
	b = appendI32(b, r.PartitionEpoch)
	if r.Version() >= 1 {
		b = append(b, byte(r.LeaderRecoveryState))
	}
	if r.Version() >= 2 {
		b = appendInts(b, r.AddingReplicas)
		b = appendInts(b, r.RemovingReplicas)
	}
	return b
}

func (r ConfigRecord) appendBody(b []byte) []byte {
	b = append(b, byte(r.ResourceType))
	b = appendStr(b, r.ResourceName)
	b = appendStr(b, r.Name)
	return appendNStr(b, r.Value)
}

func (r PartitionChangeRecord) appendBody(b []byte) []byte {
	b = append(b, r.TopicID[:]...)
	b = appendI32(b, r.Partition)
	b = appendI32(b, r.Leader)
	b = appendNInts(b, r.ISR)
	b = appendNInts(b, r.Replicas)
	if r.Version() >= 1 {
		b = append(b, byte(int8(r.LeaderRecovery)-1))
	}
	if r.Version() >= 2 {
		b = appendNInts(b, r.AddingReplicas)
		b = appendNInts(b, r.RemovingReplicas)
	}
	return b
}

func (r RemoveTopicRecord) appendBody(b []byte) []byte { return append(b, r.TopicID[:]...) }

func appendI32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendNStr(b []byte, s *string) []byte {
	if s == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(*s))+1)
	return append(b, *s...)
}

func appendInts(b []byte, v []int32) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = appendI32(b, x)
	}
	return b
}

func appendNInts(b []byte, v []int32) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	for _, x := range v {
		b = appendI32(b, x)
	}
	return b
}

// decoder reads body primitives; the first failure sticks in err and
// later reads return zero values.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b) {
		d.err = fmt.Errorf("need %d bytes, have %d", n, len(d.b))
		return nil
	}
	out := d.b[:n]
	d.b = d.b[n:]
	return out
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) i32() int32 {
	if p := d.take(4); p != nil {
		return int32(binary.BigEndian.Uint32(p))
	}
	return 0
}

func (d *decoder) i16() int16 {
	if p := d.take(2); p != nil {
		return int16(binary.BigEndian.Uint16(p))
	}
	return 0
}

func (d *decoder) uuid() (u UUID) {
	copy(u[:], d.take(16))
	return u
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errors.New("bad uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

// length reads a length prefix bounded by the bytes left (each item is at
// least min bytes), so corrupt input never causes a huge allocation.
func (d *decoder) length(min int) int {
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)/min) {
		d.err = fmt.Errorf("length %d exceeds remaining %d bytes", n, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) str() string { return string(d.take(d.length(1))) }

func (d *decoder) nstr() *string {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n-1 > uint64(len(d.b)) {
		d.err = fmt.Errorf("string length %d exceeds remaining %d bytes", n-1, len(d.b))
		return nil
	}
	s := string(d.take(int(n - 1)))
	return &s
}

func (d *decoder) intsN(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = d.i32()
	}
	return out
}

func (d *decoder) ints() []int32 { return d.intsN(d.length(4)) }

func (d *decoder) nints() []int32 {
	n := d.uvarint()
	if d.err != nil || n == 0 {
		return nil
	}
	if n-1 > uint64(len(d.b)/4) {
		d.err = fmt.Errorf("array length %d exceeds remaining %d bytes", n-1, len(d.b))
		return nil
	}
	return d.intsN(int(n - 1))
}
