package config

import (
	"slices"
	"strings"
)

// FeatureDefaults are the group.version and share.version levels a
// cluster has before UpdateFeatures sets them: Kafka's storage format
// finalizes them; Sluice takes them from the configs that enable the
// protocols (group.coordinator.rebalance.protocols has consumer,
// group.share.enable).
func (b *Broker) FeatureDefaults() (groupVersion, shareVersion int16) {
	protocols, _ := b.valueSource("group.coordinator.rebalance.protocols")
	if slices.ContainsFunc(splitList(protocols), func(p string) bool { return strings.EqualFold(p, "consumer") }) {
		groupVersion = 1
	}
	if share, _ := b.valueSource("group.share.enable"); !strings.EqualFold(strings.TrimSpace(share), "false") {
		shareVersion = 1
	}
	return groupVersion, shareVersion
}
