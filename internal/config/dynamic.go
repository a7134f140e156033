package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ErrNotDynamic marks a broker config change Kafka refuses at runtime: a
// read-only config, a security config without a listener prefix, or a
// per-broker config set at the cluster default.
var ErrNotDynamic = errors.New("config not dynamic")

// dynamicLayers are the broker configs set at runtime through
// AlterConfigs, as the metadata image holds them: the cluster-wide default
// (resource name "") and this broker's own (resource name = node.id).
type dynamicLayers struct {
	perBroker map[string]string
	cluster   map[string]string
}

// familyMembers lists, for the ms property of a family, the members in
// Kafka's precedence order with their unit in milliseconds.
var familyMembers = map[string][]struct {
	name string
	unit int64
}{
	"log.retention.ms": {{"log.retention.ms", 1}, {"log.retention.minutes", msPerMinute}, {"log.retention.hours", msPerHour}},
	"log.roll.ms":      {{"log.roll.ms", 1}, {"log.roll.hours", msPerHour}},
}

// IsDynamicBrokerConfig reports whether Kafka changes name at runtime
// (per broker or cluster-wide); whether Sluice applies it at once is
// AppliesDynamically.
func IsDynamicBrokerConfig(name string) bool { return updateModeOf(name) != readOnly }

// AppliesDynamically reports whether Sluice applies a dynamic value of
// name while running (the others are stored and reported only).
func AppliesDynamically(name string) bool { return sluiceApplies[name] }

// IsListBrokerConfig reports whether name is a LIST broker config (the
// only kind IncrementalAlterConfigs may APPEND to or SUBTRACT from).
func IsListBrokerConfig(name string) bool {
	d, ok := brokerDefsByName[name]
	return ok && d.typ == TypeList
}

func setError(kind error, what, name string) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf("%s: Set(%s)", what, name)}
}

// ValidateDynamicBroker checks one dynamic broker config change on a broker
// id resource (perBrokerResource) or the cluster default, in the order
// Kafka's DynamicBrokerConfig checks them. A nil value (a deletion) is
// always valid, as in Kafka, where only the configs left are checked.
// Names Kafka does not know are custom configs and accepted.
func ValidateDynamicBroker(name string, value *string, perBrokerResource bool) error {
	if value == nil {
		return nil
	}
	v := strings.TrimSpace(*value)
	if base, ok := listenerBase(name); ok {
		// listener.name.<listener>.<config>: typed like <config>, and
		// per broker unless Kafka allows it cluster-wide per listener.
		if d, ok := brokerDefsByName[base]; ok && updateModeOf(base) != readOnly {
			if err := parseTyped(name, v, d.typ, d.check); err != nil {
				return err
			}
		}
		if !perBrokerResource && !clusterLevelListenerConfigs[base] {
			return setError(ErrNotDynamic, "Cannot update these configs at default cluster level, broker id must be specified", name)
		}
		return nil
	}
	d, ok := brokerDefsByName[name]
	if !ok {
		return nil
	}
	mode := updateModeOf(name)
	if mode == readOnly {
		return setError(ErrNotDynamic, "Cannot update these configs dynamically", name)
	}
	if listenerOnlyConfigs[name] {
		return setError(ErrNotDynamic, "These security configs can be dynamically updated only per-listener using the listener prefix", name)
	}
	check := d.check
	if d.kafkaOnly {
		check = nil
	}
	if err := parseTyped(name, v, d.typ, check); err != nil {
		return err
	}
	if !perBrokerResource && mode == perBroker {
		return setError(ErrNotDynamic, "Cannot update these configs at default cluster level, broker id must be specified", name)
	}
	return nil
}

// SetDynamic installs the dynamic configs from the metadata image:
// clusterDefault is resource "" and perBroker this broker's resource. The
// maps are not modified afterwards by the caller (the image is immutable).
// Safe to call while other goroutines read configs.
func (b *Broker) SetDynamic(clusterDefault, perBroker map[string]string) {
	b.dyn.Store(&dynamicLayers{perBroker: perBroker, cluster: clusterDefault})
}

// DynamicDefaults returns the cluster-wide dynamic configs (resource "").
func (b *Broker) DynamicDefaults() map[string]string {
	if l := b.dyn.Load(); l != nil {
		return maps.Clone(l.cluster)
	}
	return nil
}

// layerValue returns name's value in one dynamic layer. A value of a known
// config that no longer parses (written by an older version) is skipped,
// as Kafka drops invalid persistent configs.
func layerValue(m map[string]string, name string) (string, bool) {
	v, ok := m[name]
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	if d, known := brokerDefsByName[name]; known && !d.kafkaOnly && parseTyped(name, v, d.typ, d.check) != nil {
		return "", false
	}
	return v, true
}

// DescribeDynamicDefaults describes the cluster-wide dynamic configs only,
// which is what Kafka answers for the default broker resource (""): each
// with its DYNAMIC_DEFAULT_BROKER_CONFIG synonyms only.
func (b *Broker) DescribeDynamicDefaults() []Entry {
	defaults := b.DynamicDefaults()
	var out []Entry
	for _, name := range describeOrder(defaults) {
		e := b.entry(name)
		e.Value, e.Null = strings.TrimSpace(defaults[name]), false
		var syn []Synonym
		for _, s := range e.Synonyms {
			if s.Source == SourceDynamicDefaultBroker {
				syn = append(syn, s)
			}
		}
		e.Synonyms, e.Source = syn, SourceDefault
		if len(syn) > 0 {
			e.Source = syn[0].Source
		}
		out = append(out, e)
	}
	return out
}

// describeOrder lists the names of m known to the catalogue in its order,
// then the custom ones sorted.
func describeOrder(m map[string]string) []string {
	var out, custom []string
	for i := range brokerDefs {
		if _, ok := m[brokerDefs[i].name]; ok {
			out = append(out, brokerDefs[i].name)
		}
	}
	for n := range m {
		if _, ok := brokerDefsByName[n]; !ok {
			custom = append(custom, n)
		}
	}
	slices.Sort(custom)
	return append(out, custom...)
}

// EffectiveValue returns a broker property's value after the dynamic
// layers, the static properties and the default ("" when unknown).
func (b *Broker) EffectiveValue(name string) string {
	v, _ := b.valueSource(name)
	return v
}
