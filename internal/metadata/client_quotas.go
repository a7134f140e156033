package metadata

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
)

// ClientQuotaRecord is KRaft's ClientQuotaRecord (api key 14): it sets
// (Remove false) or removes (Remove true) one quota key of one client
// quota entity. Version 0 body:
//
//	ClientQuotaRecord (14): entity [](entityType string, entityName nullable string),
//	                        key string, value float64, remove bool
//
// where float64 is the 8 IEEE 754 bytes big endian (NaN does not decode),
// bool one byte 0 or 1, and the entity array uvarint(count) + items. A null
// entity name is the entity type's default (Kafka's <default>).
//
// The image requires entity types among user, client-id and ip, each at
// most once, never ip together with another type, no empty name, a
// non-empty key, and a remove of a key the entity has; the controller does
// the rest of Kafka's validation (keys per entity type, values).
type ClientQuotaRecord struct {
	Entity []QuotaEntityData
	Key    string
	Value  float64
	Remove bool
}

// QuotaEntityData is one (type, name) pair of a quota entity; Name nil is
// the default entity of the type.
type QuotaEntityData struct {
	Type string
	Name *string
}

// TypeClientQuota is the record type of ClientQuotaRecord.
const TypeClientQuota RecordType = 14

// Kafka's client quota entity types.
const (
	QuotaUser     = "user"
	QuotaClientID = "client-id"
	QuotaIP       = "ip"
)

// Type implements Record.
func (ClientQuotaRecord) Type() RecordType { return TypeClientQuota }

// Version implements Record.
func (ClientQuotaRecord) Version() uint8 { return 0 }

func (r ClientQuotaRecord) appendBody(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(r.Entity)))
	for _, e := range r.Entity {
		b = appendStr(b, e.Type)
		b = appendNStr(b, e.Name)
	}
	b = appendStr(b, r.Key)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(r.Value))
	if r.Remove {
		return append(b, 1)
	}
	return append(b, 0)
}

func decodeClientQuota(d *decoder) Record {
	var r ClientQuotaRecord
	n := d.length(2) // an item is at least two length bytes
	if n > 0 {
		r.Entity = make([]QuotaEntityData, n)
	}
	for i := range r.Entity {
		r.Entity[i] = QuotaEntityData{Type: d.str(), Name: d.nstr()}
	}
	r.Key = d.str()
	r.Value = math.Float64frombits(uint64(d.i64()))
	switch d.u8() {
	case 0:
	case 1:
		r.Remove = true
	default:
		if d.err == nil {
			d.err = fmt.Errorf("remove flag is not 0 or 1")
		}
	}
	if d.err == nil && math.IsNaN(r.Value) {
		d.err = fmt.Errorf("quota value is NaN")
	}
	return r
}

// EntityName is one component of a QuotaEntity.
type EntityName struct {
	Present bool   // the entity has this type
	Default bool   // the type's default entity (a null name)
	Name    string // the name, when neither absent nor the default
}

// String renders the name as Kafka's tools do: <default> for the default.
func (n EntityName) String() string {
	if n.Default {
		return "<default>"
	}
	return n.Name
}

// Ptr returns the name as Kafka's nullable entity name (nil: default).
func (n EntityName) Ptr() *string {
	if n.Default {
		return nil
	}
	s := n.Name
	return &s
}

// Named returns a present, named EntityName.
func Named(name string) EntityName { return EntityName{Present: true, Name: name} }

// DefaultEntity returns the present default EntityName.
func DefaultEntity() EntityName { return EntityName{Present: true, Default: true} }

// QuotaEntity is a client quota entity (Kafka's ClientQuotaEntity): a user,
// a client id, a user and client id, or an ip, each named or the default.
// It is comparable, so it keys maps.
type QuotaEntity struct {
	User, ClientID, IP EntityName
}

// String renders the entity as Kafka's config path does, e.g.
// users/alice/clients/<default> or ips/10.0.0.1.
func (e QuotaEntity) String() string {
	var parts []string
	if e.User.Present {
		parts = append(parts, "users/"+e.User.String())
	}
	if e.ClientID.Present {
		parts = append(parts, "clients/"+e.ClientID.String())
	}
	if e.IP.Present {
		parts = append(parts, "ips/"+e.IP.String())
	}
	return strings.Join(parts, "/")
}

// Data returns the entity as (type, name) pairs in Kafka's order: user,
// client-id, ip.
func (e QuotaEntity) Data() []QuotaEntityData {
	var out []QuotaEntityData
	for _, c := range []struct {
		typ string
		n   EntityName
	}{{QuotaUser, e.User}, {QuotaClientID, e.ClientID}, {QuotaIP, e.IP}} {
		if c.n.Present {
			out = append(out, QuotaEntityData{Type: c.typ, Name: c.n.Ptr()})
		}
	}
	return out
}

// QuotaEntityOf builds the entity of (type, name) pairs. It fails on an
// unknown or repeated type, an empty name, no pair at all, or ip combined
// with user or client-id.
func QuotaEntityOf(data []QuotaEntityData) (QuotaEntity, error) {
	var e QuotaEntity
	if len(data) == 0 {
		return e, fmt.Errorf("Invalid empty client quota entity")
	}
	for _, d := range data {
		var n *EntityName
		switch d.Type {
		case QuotaUser:
			n = &e.User
		case QuotaClientID:
			n = &e.ClientID
		case QuotaIP:
			n = &e.IP
		default:
			return e, fmt.Errorf("Unhandled client quota entity type: %s", d.Type)
		}
		if n.Present {
			return e, fmt.Errorf("Invalid client quota entity, duplicate entity entry %s", d.Type)
		}
		if d.Name != nil && *d.Name == "" {
			return e, fmt.Errorf("Empty %s not supported", d.Type)
		}
		*n = EntityName{Present: true, Default: d.Name == nil}
		if d.Name != nil {
			n.Name = *d.Name
		}
	}
	if e.IP.Present && (e.User.Present || e.ClientID.Present) {
		return e, fmt.Errorf("Invalid quota entity combination, IP entity should not be combined with User or ClientId")
	}
	return e, nil
}

// ClientQuota returns the value of key for entity.
func (im *Image) ClientQuota(e QuotaEntity, key string) (float64, bool) {
	v, ok := im.ClientQuotas[e][key]
	return v, ok
}

func (d *delta) clientQuota(r ClientQuotaRecord) error {
	e, err := QuotaEntityOf(r.Entity)
	if err != nil {
		return err
	}
	if r.Key == "" {
		return fmt.Errorf("empty quota key for %s", e)
	}
	cur := d.next.ClientQuotas[e]
	if r.Remove {
		if _, ok := cur[r.Key]; !ok {
			return fmt.Errorf("remove of unknown quota %s of %s", r.Key, e)
		}
	}
	if !d.quotasCopied {
		d.next.ClientQuotas = maps.Clone(d.base.ClientQuotas)
		if d.next.ClientQuotas == nil {
			d.next.ClientQuotas = map[QuotaEntity]map[string]float64{}
		}
		d.quotasCopied = true
	}
	m := maps.Clone(cur)
	if m == nil {
		m = map[string]float64{}
	}
	if r.Remove {
		delete(m, r.Key)
	} else {
		m[r.Key] = r.Value
	}
	if len(m) == 0 {
		delete(d.next.ClientQuotas, e)
	} else {
		d.next.ClientQuotas[e] = m
	}
	return nil
}

// ClientQuotaEntities returns the entities with at least one quota, in a
// stable order (by their String form).
func (im *Image) ClientQuotaEntities() []QuotaEntity {
	out := slices.Collect(maps.Keys(im.ClientQuotas))
	slices.SortFunc(out, func(a, b QuotaEntity) int { return strings.Compare(a.String(), b.String()) })
	return out
}
