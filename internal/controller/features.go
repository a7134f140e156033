package controller

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Feature flags (KIP-584, KIP-778): what this Sluice supports and what the
// cluster has finalized, as Kafka 4.0 reports them, and UpdateFeatures.
//
// Sluice follows Kafka 4.0's numbering: metadata.version 7 (3.3-IV3, the
// oldest a KRaft cluster can bootstrap with) to 25 (4.0-IV3), which a
// cluster starts at. kraft.version stays 0: the quorum's voters are
// static (controller.quorum.voters), there is no KIP-853 voter change.

// FeatureRange is the range of levels of one feature this broker and
// controller support.
type FeatureRange struct {
	Name     string
	Min, Max int16
}

// Feature names.
const (
	MetadataVersion    = "metadata.version"
	KRaftVersion       = "kraft.version"
	TransactionVersion = "transaction.version"
	GroupVersion       = "group.version"
	ShareVersion       = "share.version"
)

// metadataVersionMin and metadataVersionLatest bound metadata.version.
const (
	metadataVersionMin    = 7  // 3.3-IV3
	metadataVersionLatest = 25 // 4.0-IV3
)

// SupportedFeatures lists the features in the order ApiVersions reports
// them.
var SupportedFeatures = []FeatureRange{
	{MetadataVersion, metadataVersionMin, metadataVersionLatest},
	{KRaftVersion, 0, 0},
	{TransactionVersion, 0, 2},
	{GroupVersion, 0, 1},
	{ShareVersion, 0, 1},
}

func supportedRange(name string) (FeatureRange, bool) {
	for _, f := range SupportedFeatures {
		if f.Name == name {
			return f, true
		}
	}
	return FeatureRange{}, false
}

// FinalizedLevel is the cluster's finalized level of a feature: the level
// an UpdateFeatures wrote into the image, else the level a new cluster
// has (metadata.version at its latest, transaction.version 2, group and
// share versions from cfg: config.Broker.FeatureDefaults).
func FinalizedLevel(img *metadata.Image, cfg *config.Broker, name string) int16 {
	if l, ok := img.FeatureLevel(name); ok {
		return l
	}
	switch name {
	case MetadataVersion:
		return metadataVersionLatest
	case TransactionVersion:
		return 2
	case GroupVersion, ShareVersion:
		g, s := cfg.FeatureDefaults()
		if name == GroupVersion {
			return g
		}
		return s
	}
	return 0
}

// Kafka's FeatureUpdate.UpgradeType.
const (
	UpgradeTypeUpgrade         int8 = 1
	UpgradeTypeSafeDowngrade   int8 = 2
	UpgradeTypeUnsafeDowngrade int8 = 3
)

// FeatureUpdate is one feature of an UpdateFeatures request.
type FeatureUpdate struct {
	Name        string
	Level       int16
	UpgradeType int8
}

// UpdateFeatures finalizes new feature levels with Kafka's
// FeatureControlManager rules: every update valid or nothing is written
// (INVALID_UPDATE_VERSION naming the first bad one), downgrades only when
// asked for, metadata.version never below 3.3-IV3 nor downgraded (every
// level between changed the metadata, so Kafka refuses too).
func (c *Controller) UpdateFeatures(updates []FeatureUpdate, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	img := c.store.Image()
	seen := map[string]bool{}
	var recs []metadata.Record
	for _, u := range updates {
		if seen[u.Name] {
			return errorf(kerr.InvalidRequest, "Feature %s appears more than once in the request.", u.Name)
		}
		seen[u.Name] = true
		if e := c.checkFeatureUpdate(img, u); e != nil {
			return e
		}
		recs = append(recs, metadata.FeatureLevelRecord{Name: u.Name, Level: u.Level})
	}
	if validateOnly || len(recs) == 0 {
		return nil
	}
	if err := c.store.Append(recs...); err != nil {
		return storeError(err)
	}
	return nil
}

func (c *Controller) checkFeatureUpdate(img *metadata.Image, u FeatureUpdate) *Error {
	bad := func(format string, args ...any) *Error {
		return errorf(kerr.InvalidUpdateVersion, "Invalid update version %d for feature %s. %s", u.Level, u.Name, fmt.Sprintf(format, args...))
	}
	if u.UpgradeType < UpgradeTypeUpgrade || u.UpgradeType > UpgradeTypeUnsafeDowngrade {
		return bad("The controller does not support the given upgrade type.")
	}
	if u.Level < 0 {
		return bad("A feature version cannot be less than 0.")
	}
	r, ok := supportedRange(u.Name)
	if !ok {
		return bad("Local controller %d does not support this feature.", c.cfg.NodeID)
	}
	if u.Level > r.Max || (u.Level < r.Min && !(u.Name != MetadataVersion && u.Level == 0)) {
		return bad("Local controller %d only supports versions %d-%d", c.cfg.NodeID, r.Min, r.Max)
	}
	cur := FinalizedLevel(img, c.cfg, u.Name)
	switch {
	case u.Level < cur && u.UpgradeType == UpgradeTypeUpgrade:
		return bad("Can't downgrade the version of this feature without setting the upgrade type to either safe or unsafe downgrade.")
	case u.Level > cur && u.UpgradeType != UpgradeTypeUpgrade:
		return bad("Can't downgrade to a newer version.")
	}
	if u.Name == MetadataVersion && u.Level < cur {
		if u.UpgradeType == UpgradeTypeUnsafeDowngrade {
			return bad("Unsafe metadata downgrade is not supported in this version.")
		}
		return bad("Refusing to perform the requested downgrade because it might delete metadata information.")
	}
	return nil
}
