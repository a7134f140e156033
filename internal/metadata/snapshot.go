package metadata

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Records returns records that rebuild the image from Empty():
// Empty().Apply(im.Records()) holds the same metadata as im (Offset and
// Term aside). They are what a raft checkpoint stores. The order is
// deterministic (sorted keys), so equal images encode to equal bytes.
func (im *Image) Records() []Record {
	var out []Record
	// Removed topics first, oldest first, each created and removed again:
	// that rebuilds Image.Removed (which tells a deleted topic's leftover
	// directory from a stray) and leaves nothing else behind, so their
	// names and ids cannot collide with the topics that follow.
	var removed []*RemovedTopic
	for r := im.Removed; r != nil; r = r.Prev {
		removed = append(removed, r)
	}
	for i := len(removed) - 1; i >= 0; i-- {
		out = append(out, TopicRecord{Name: removed[i].Name, ID: removed[i].ID}, RemoveTopicRecord{TopicID: removed[i].ID})
	}
	for _, id := range im.BrokerIDs() {
		b := im.Brokers[id]
		out = append(out, RegisterBrokerRecord{BrokerID: b.ID, IncarnationID: b.IncarnationID, Host: b.Host, Port: b.Port,
			Rack: b.Rack, Endpoints: slices.Clone(b.Endpoints),
			BrokerEpoch: b.Epoch, Fenced: b.Fenced, InControlledShutdown: b.InControlledShutdown})
	}
	for _, name := range im.TopicNames() {
		t := im.TopicsByName[name]
		out = append(out, TopicRecord{Name: t.Name, ID: t.ID})
		for i, p := range t.Partitions {
			out = append(out, PartitionRecord{TopicID: t.ID, Partition: int32(i), Replicas: slices.Clone(p.Replicas),
				ISR: slices.Clone(p.ISR), Leader: p.Leader, LeaderEpoch: p.LeaderEpoch, PartitionEpoch: p.PartitionEpoch,
				LeaderRecoveryState: p.LeaderRecoveryState,
				AddingReplicas:      slices.Clone(p.AddingReplicas), RemovingReplicas: slices.Clone(p.RemovingReplicas)})
		}
		out = appendConfigs(out, ResourceTopic, t.Name, t.Configs)
	}
	for _, res := range slices.Sorted(maps.Keys(im.BrokerConfigs)) {
		out = appendConfigs(out, ResourceBroker, res, im.BrokerConfigs[res])
	}
	for _, res := range slices.Sorted(maps.Keys(im.GroupConfigs)) {
		out = appendConfigs(out, ResourceGroup, res, im.GroupConfigs[res])
	}
	for _, user := range im.ScramUsers() {
		for _, c := range im.ScramCredentials(user) {
			out = append(out, UserScramCredentialRecord{Name: user, Mechanism: c.Mechanism, Salt: slices.Clone(c.Salt),
				StoredKey: slices.Clone(c.StoredKey), ServerKey: slices.Clone(c.ServerKey), Iterations: c.Iterations})
		}
	}
	im.ACLs.All(func(id UUID, acl ACL) bool {
		out = append(out, AccessControlEntryRecord{ID: id, ACL: acl})
		return true
	})
	for _, e := range im.ClientQuotaEntities() {
		q := im.ClientQuotas[e]
		for _, k := range slices.Sorted(maps.Keys(q)) {
			out = append(out, ClientQuotaRecord{Entity: e.Data(), Key: k, Value: q[k]})
		}
	}
	out = append(out, im.featureRecords()...)
	if im.NextProducerID > 0 {
		out = append(out, ProducerIdsRecord{BrokerID: -1, BrokerEpoch: -1, NextProducerID: im.NextProducerID})
	}
	return out
}

func appendConfigs(out []Record, typ int8, res string, cfg map[string]string) []Record {
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		v := cfg[k]
		out = append(out, ConfigRecord{ResourceType: typ, ResourceName: res, Name: k, Value: &v})
	}
	return out
}

// EncodeRecords encodes a group of records as one unit: uvarint(count),
// then each record as uvarint(len) + Encode(r). A raft entry (one
// controller operation) and a checkpoint's content are both such groups.
func EncodeRecords(recs []Record) []byte {
	b := binary.AppendUvarint(nil, uint64(len(recs)))
	for _, r := range recs {
		e := Encode(r)
		b = binary.AppendUvarint(b, uint64(len(e)))
		b = append(b, e...)
	}
	return b
}

// DecodeRecords parses what EncodeRecords wrote.
func DecodeRecords(b []byte) ([]Record, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, fmt.Errorf("%w: bad record count", ErrCorruptRecord)
	}
	b = b[k:]
	recs := make([]Record, 0, n)
	for i := uint64(0); i < n; i++ {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, fmt.Errorf("%w: record %d: bad length", ErrCorruptRecord, i)
		}
		r, err := Decode(b[k : k+int(l)])
		if err != nil {
			return nil, fmt.Errorf("record %d: %w", i, err)
		}
		recs = append(recs, r)
		b = b[k+int(l):]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrCorruptRecord, len(b))
	}
	return recs, nil
}

// ImageFromRecords builds an image from a checkpoint's records.
func ImageFromRecords(b []byte) (*Image, error) {
	if len(b) == 0 {
		return Empty(), nil
	}
	recs, err := DecodeRecords(b)
	if err != nil {
		return nil, err
	}
	return Empty().Apply(recs)
}

// Describe renders an image's content, one line per record of Records(),
// for the metadata CLI and for comparing images in tests.
func (im *Image) Describe() string {
	var b strings.Builder
	for _, r := range im.Records() {
		fmt.Fprintf(&b, "%s %+v\n", r.Type(), r)
	}
	return b.String()
}
