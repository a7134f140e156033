package metadata

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
)

// FeatureLevelRecord is KRaft's FeatureLevelRecord (api key 12): the
// finalized level of one feature flag (metadata.version, group.version,
// transaction.version, ...), written by UpdateFeatures. Version 0 body:
//
//	FeatureLevelRecord (12): name string, featureLevel int16
//
// Unlike Kafka, where level 0 removes the feature, the image keeps a level
// 0 as set: Sluice's defaults for a feature no record names come from the
// broker's configuration (group.version from
// group.coordinator.rebalance.protocols, share.version from
// group.share.enable), so "lowered to 0" must stay distinct from "never
// set".
type FeatureLevelRecord struct {
	Name  string
	Level int16
}

// TypeFeatureLevel is the record type of FeatureLevelRecord.
const TypeFeatureLevel RecordType = 12

// Type implements Record.
func (FeatureLevelRecord) Type() RecordType { return TypeFeatureLevel }

// Version implements Record.
func (FeatureLevelRecord) Version() uint8 { return 0 }

func (r FeatureLevelRecord) appendBody(b []byte) []byte {
	b = appendStr(b, r.Name)
	return binary.BigEndian.AppendUint16(b, uint16(r.Level))
}

func decodeFeatureLevel(d *decoder) Record {
	return FeatureLevelRecord{Name: d.str(), Level: d.i16()}
}

// featureLevel applies a FeatureLevelRecord: the image requires a name and
// a level >= 0; the controller checks the levels this cluster supports.
func (d *delta) featureLevel(r FeatureLevelRecord) error {
	if r.Name == "" || r.Level < 0 {
		return fmt.Errorf("feature %q level %d", r.Name, r.Level)
	}
	if !d.featuresCopied {
		d.next.Features = maps.Clone(d.base.Features)
		if d.next.Features == nil {
			d.next.Features = map[string]int16{}
		}
		d.featuresCopied = true
	}
	d.next.Features[r.Name] = r.Level
	return nil
}

// FeatureLevel returns the finalized level a FeatureLevelRecord set for
// name, and whether one did.
func (im *Image) FeatureLevel(name string) (int16, bool) {
	l, ok := im.Features[name]
	return l, ok
}

// featureRecords are the image's feature levels as records, by name.
func (im *Image) featureRecords() []Record {
	var out []Record
	for _, n := range slices.Sorted(maps.Keys(im.Features)) {
		out = append(out, FeatureLevelRecord{Name: n, Level: im.Features[n]})
	}
	return out
}
