package metadata

import (
	"encoding/binary"
	"fmt"
)

// ProducerIdsRecord is KRaft's ProducerIdsRecord (api key 15): the
// controller hands a broker the block of producer ids starting at the
// previous NextProducerID and ending before this one. Version 0 body:
//
//	ProducerIdsRecord (15): brokerId int32, brokerEpoch int64,
//	                        nextProducerId int64
//
// INVARIANT: NextProducerID only grows, strictly, with every record, so no
// id is handed out twice, even across restarts and brokers: the block is
// durable in the metadata log before any id of it is used, and a record
// that does not move it up (a second broker's claim on the same block) is
// refused.
type ProducerIdsRecord struct {
	BrokerID       int32
	BrokerEpoch    int64
	NextProducerID int64
}

// TypeProducerIds is the record type of ProducerIdsRecord.
const TypeProducerIds RecordType = 15

// Type implements Record.
func (ProducerIdsRecord) Type() RecordType { return TypeProducerIds }

// Version implements Record.
func (ProducerIdsRecord) Version() uint8 { return 0 }

func (r ProducerIdsRecord) appendBody(b []byte) []byte {
	b = appendI32(b, r.BrokerID)
	b = binary.BigEndian.AppendUint64(b, uint64(r.BrokerEpoch))
	return binary.BigEndian.AppendUint64(b, uint64(r.NextProducerID))
}

func decodeProducerIds(d *decoder) Record {
	return ProducerIdsRecord{BrokerID: d.i32(), BrokerEpoch: d.i64(), NextProducerID: d.i64()}
}

func (d *decoder) i64() int64 {
	if p := d.take(8); p != nil {
		return int64(binary.BigEndian.Uint64(p))
	}
	return 0
}

func (d *delta) producerIds(r ProducerIdsRecord) error {
	// Strictly above: two brokers that computed the same block from the
	// same image (a follower's controller forwards its record) must not
	// both get it; the second record is refused and its broker asks again.
	if r.NextProducerID <= d.next.NextProducerID {
		return fmt.Errorf("next producer id %d not above the current %d", r.NextProducerID, d.next.NextProducerID)
	}
	d.next.NextProducerID = r.NextProducerID
	return nil
}
