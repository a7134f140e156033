package metadata

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// Broker lifecycle records, as KRaft's (cluster step 2): a broker
// registers fenced with a new broker epoch (RegisterBrokerRecord version
// 2), the active controller unfences it once it has caught up with the
// metadata log and fences it again when its heartbeat lease expires.
// Version 0 bodies (layouts also listed in encode.go):
//
//	UnregisterBrokerRecord         (1): brokerId int32, brokerEpoch int64
//	FenceBrokerRecord              (7): id int32, epoch int64
//	UnfenceBrokerRecord            (8): id int32, epoch int64
//	BrokerRegistrationChangeRecord (17): brokerId int32, brokerEpoch int64,
//	                                     fenced int8, inControlledShutdown int8
//
// Each names the registration it changes by its epoch: a record for an
// epoch the broker no longer has (it registered again meanwhile) is
// refused, as KRaft's replay refuses it.

// Record types of the broker lifecycle records.
const (
	TypeUnregisterBroker         RecordType = 1
	TypeFenceBroker              RecordType = 7
	TypeUnfenceBroker            RecordType = 8
	TypeBrokerRegistrationChange RecordType = 17
)

// BrokerRegistrationChangeRecord.Fenced values (Kafka's
// BrokerRegistrationFencingChange).
const (
	FencingUnfence int8 = -1
	FencingNone    int8 = 0
	FencingFence   int8 = 1
)

// BrokerRegistrationChangeRecord.InControlledShutdown values (Kafka's
// BrokerRegistrationInControlledShutdownChange).
const (
	ShutdownNone int8 = 0
	ShutdownIn   int8 = 1
)

// UnregisterBrokerRecord removes a broker's registration.
type UnregisterBrokerRecord struct {
	BrokerID    int32
	BrokerEpoch int64
}

// FenceBrokerRecord fences a registered broker: it may not lead
// partitions nor receive new replicas.
type FenceBrokerRecord struct {
	ID    int32
	Epoch int64
}

// UnfenceBrokerRecord unfences a registered broker.
type UnfenceBrokerRecord struct {
	ID    int32
	Epoch int64
}

// BrokerRegistrationChangeRecord changes a registration's fencing
// (FencingFence, FencingUnfence, FencingNone) and controlled-shutdown
// state (ShutdownIn, ShutdownNone: no change).
type BrokerRegistrationChangeRecord struct {
	BrokerID             int32
	BrokerEpoch          int64
	Fenced               int8
	InControlledShutdown int8
}

// Type implements Record.
func (UnregisterBrokerRecord) Type() RecordType { return TypeUnregisterBroker }

// Type implements Record.
func (FenceBrokerRecord) Type() RecordType { return TypeFenceBroker }

// Type implements Record.
func (UnfenceBrokerRecord) Type() RecordType { return TypeUnfenceBroker }

// Type implements Record.
func (BrokerRegistrationChangeRecord) Type() RecordType { return TypeBrokerRegistrationChange }

// Version implements Record.
func (UnregisterBrokerRecord) Version() uint8 { return 0 }

// Version implements Record.
func (FenceBrokerRecord) Version() uint8 { return 0 }

// Version implements Record.
func (UnfenceBrokerRecord) Version() uint8 { return 0 }

// Version implements Record.
func (BrokerRegistrationChangeRecord) Version() uint8 { return 0 }

func appendI64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

func (d *decoder) bool() bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		if d.err == nil {
			d.err = fmt.Errorf("bad boolean %d", v)
		}
		return false
	}
}

func (r UnregisterBrokerRecord) appendBody(b []byte) []byte {
	return appendI64(appendI32(b, r.BrokerID), r.BrokerEpoch)
}

func (r FenceBrokerRecord) appendBody(b []byte) []byte { return appendI64(appendI32(b, r.ID), r.Epoch) }

func (r UnfenceBrokerRecord) appendBody(b []byte) []byte {
	return appendI64(appendI32(b, r.ID), r.Epoch)
}

func (r BrokerRegistrationChangeRecord) appendBody(b []byte) []byte {
	b = appendI64(appendI32(b, r.BrokerID), r.BrokerEpoch)
	return append(b, byte(r.Fenced), byte(r.InControlledShutdown))
}

// decodeBrokerRecord decodes the lifecycle records (not
// RegisterBrokerRecord, which encode.go decodes).
func decodeBrokerRecord(t RecordType, d *decoder) Record {
	switch t {
	case TypeUnregisterBroker:
		return UnregisterBrokerRecord{BrokerID: d.i32(), BrokerEpoch: d.i64()}
	case TypeFenceBroker:
		return FenceBrokerRecord{ID: d.i32(), Epoch: d.i64()}
	case TypeUnfenceBroker:
		return UnfenceBrokerRecord{ID: d.i32(), Epoch: d.i64()}
	}
	return BrokerRegistrationChangeRecord{BrokerID: d.i32(), BrokerEpoch: d.i64(), Fenced: int8(d.u8()), InControlledShutdown: int8(d.u8())}
}

// registerBroker applies a RegisterBrokerRecord. A version 2 record
// (with an epoch) must carry a greater epoch than the registration it
// replaces: epochs are metadata offsets, which only grow, so a smaller
// one is a stale registration (one forwarded after a newer was written).
func (d *delta) registerBroker(r RegisterBrokerRecord) error {
	if r.BrokerID < 0 {
		return fmt.Errorf("invalid broker id %d", r.BrokerID)
	}
	if old, ok := d.next.Brokers[r.BrokerID]; ok && r.Version() >= 2 && r.BrokerEpoch <= old.Epoch {
		return fmt.Errorf("broker %d registers with epoch %d, not above its current %d", r.BrokerID, r.BrokerEpoch, old.Epoch)
	}
	d.ownBrokers()[r.BrokerID] = BrokerImage{ID: r.BrokerID, Host: r.Host, Port: r.Port, Rack: r.Rack, IncarnationID: r.IncarnationID,
		Endpoints: r.Endpoints, Epoch: r.BrokerEpoch, Fenced: r.Fenced, InControlledShutdown: r.InControlledShutdown}
	return nil
}

func (d *delta) ownBrokers() map[int32]BrokerImage {
	if !d.brokersCopied {
		d.next.Brokers = maps.Clone(d.base.Brokers)
		if d.next.Brokers == nil {
			d.next.Brokers = map[int32]BrokerImage{}
		}
		d.brokersCopied = true
	}
	return d.next.Brokers
}

// changeBroker applies a fencing or controlled-shutdown change to the
// registration of id at epoch.
func (d *delta) changeBroker(id int32, epoch int64, fenced, shutdown int8) error {
	b, ok := d.next.Brokers[id]
	if !ok {
		return fmt.Errorf("change of unregistered broker %d", id)
	}
	if b.Epoch != epoch {
		return fmt.Errorf("change of broker %d at epoch %d, its registration has epoch %d", id, epoch, b.Epoch)
	}
	switch fenced {
	case FencingFence:
		b.Fenced = true
	case FencingUnfence:
		b.Fenced = false
	case FencingNone:
	default:
		return fmt.Errorf("broker %d: unknown fencing change %d", id, fenced)
	}
	switch shutdown {
	case ShutdownIn:
		b.InControlledShutdown = true
	case ShutdownNone:
	default:
		return fmt.Errorf("broker %d: unknown controlled shutdown change %d", id, shutdown)
	}
	d.ownBrokers()[id] = b
	return nil
}

func (d *delta) unregisterBroker(r UnregisterBrokerRecord) error {
	b, ok := d.next.Brokers[r.BrokerID]
	if !ok {
		return fmt.Errorf("unregister of unknown broker %d", r.BrokerID)
	}
	if b.Epoch != r.BrokerEpoch {
		return fmt.Errorf("unregister of broker %d at epoch %d, its registration has epoch %d", r.BrokerID, r.BrokerEpoch, b.Epoch)
	}
	delete(d.ownBrokers(), r.BrokerID)
	return nil
}

// Active reports whether the broker may lead partitions and take new
// replicas: registered, unfenced and not shutting down (Kafka's
// isActive).
func (b BrokerImage) Active() bool { return !b.Fenced && !b.InControlledShutdown }

// LiveBrokerIDs returns the unfenced brokers, sorted: those Metadata and
// DescribeCluster list (a broker in controlled shutdown still serves
// until it is fenced).
func (im *Image) LiveBrokerIDs() []int32 {
	return im.brokerIDsWhere(func(b BrokerImage) bool { return !b.Fenced })
}

// UsableBrokerIDs returns the brokers new replicas may be placed on and
// leaders elected on, sorted: unfenced and not in controlled shutdown
// (Kafka's usable brokers).
func (im *Image) UsableBrokerIDs() []int32 { return im.brokerIDsWhere(BrokerImage.Active) }

func (im *Image) brokerIDsWhere(keep func(BrokerImage) bool) []int32 {
	var ids []int32
	for id, b := range im.Brokers {
		if keep(b) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}
