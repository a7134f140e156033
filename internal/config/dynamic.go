package config

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
)

// ErrNotDynamic marks a known broker config that cannot change at runtime
// (Kafka: "Cannot update these configs dynamically").
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

// dynamicNames are the broker properties AlterConfigs may change: like
// Kafka's DynamicLogConfig, the broker-level defaults of topic configs
// (every topic without an override follows them at once) and the members
// of their families. Everything else needs a restart.
var dynamicNames = func() map[string]bool {
	m := map[string]bool{}
	for _, d := range topicDefs {
		if d.brokerKey != "" {
			m[d.brokerKey] = true
		}
	}
	for _, members := range familyMembers {
		for _, f := range members {
			m[f.name] = true
		}
	}
	return m
}()

// IsDynamicBrokerConfig reports whether name can be changed at runtime.
func IsDynamicBrokerConfig(name string) bool { return dynamicNames[name] }

// IsListBrokerConfig reports whether name is a LIST broker config (the
// only kind IncrementalAlterConfigs may APPEND to or SUBTRACT from).
func IsListBrokerConfig(name string) bool { return name == "log.cleanup.policy" }

// ValidateDynamicBroker checks one dynamic broker config change. A nil
// value (a deletion) only needs a known, dynamic name.
func ValidateDynamicBroker(name string, value *string) error {
	d, ok := brokerDefsByName[name]
	if !ok {
		return &Error{Kind: ErrUnknownConfig, Msg: fmt.Sprintf("Unknown broker config name: %s", name)}
	}
	if !dynamicNames[name] {
		return &Error{Kind: ErrNotDynamic, Msg: fmt.Sprintf("Cannot update these configs dynamically: [%s]", name)}
	}
	if value == nil {
		return nil
	}
	return parseTyped(name, strings.TrimSpace(*value), d.typ, d.check)
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

// dynamicSynonyms returns the dynamic layers that set name, the
// per-broker layer first. Family members (log.retention.hours...) resolve
// inside each layer before the next layer is consulted, as Kafka's synonym
// order does. Values were validated when written; one that no longer
// parses is skipped.
func (b *Broker) dynamicSynonyms(name string) []Synonym {
	l := b.dyn.Load()
	if l == nil {
		return nil
	}
	var out []Synonym
	for _, layer := range []struct {
		m   map[string]string
		src int8
	}{{l.perBroker, SourceDynamicBroker}, {l.cluster, SourceDynamicDefaultBroker}} {
		if v, ok := layerValue(layer.m, name); ok {
			out = append(out, Synonym{Name: name, Value: v, Source: layer.src})
		}
	}
	return out
}

// layerValue resolves name inside one dynamic layer.
func layerValue(m map[string]string, name string) (string, bool) {
	members, ok := familyMembers[name]
	if !ok {
		return validLayerValue(m, name)
	}
	for _, f := range members {
		if v, ok := validLayerValue(m, f.name); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			if n < 0 {
				return "-1", true
			}
			return strconv.FormatInt(n*f.unit, 10), true
		}
	}
	return "", false
}

func validLayerValue(m map[string]string, name string) (string, bool) {
	v, ok := m[name]
	if !ok {
		return "", false
	}
	v = strings.TrimSpace(v)
	if ValidateDynamicBroker(name, &v) != nil {
		return "", false
	}
	return v, true
}

// DescribeDynamicDefaults describes the cluster-wide dynamic configs only,
// which is what Kafka answers for the default broker resource ("").
func (b *Broker) DescribeDynamicDefaults() []Entry {
	var out []Entry
	defaults := b.DynamicDefaults()
	for i := range brokerDefs {
		d := &brokerDefs[i]
		v, ok := defaults[d.name]
		if !ok {
			continue
		}
		out = append(out, Entry{Name: d.name, Value: v, Source: SourceDynamicDefaultBroker, Type: d.typ, Doc: d.doc,
			Synonyms: []Synonym{{Name: d.name, Value: v, Source: SourceDynamicDefaultBroker}}})
	}
	return out
}

// EffectiveValue returns a broker property's value after the dynamic
// layers, the static properties and the default ("" when unknown).
func (b *Broker) EffectiveValue(name string) string {
	v, _ := b.valueSource(name)
	return v
}
