package controller

import (
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/twmb/franz-go/pkg/kerr"
)

// IncrementalAlterConfigs operation types (Kafka's AlterConfigOp.OpType).
const (
	OpSet      int8 = 0
	OpDelete   int8 = 1
	OpAppend   int8 = 2
	OpSubtract int8 = 3
)

// ConfigOp is one entry of an IncrementalAlterConfigs request.
type ConfigOp struct {
	Name  string
	Op    int8 // Op* constant
	Value *string
}

// AlterTopicConfigs implements the legacy AlterConfigs semantics for a
// topic: configs becomes the complete set of overrides (keys not given
// are removed; a nil value removes the key too).
func (c *Controller) AlterTopicConfigs(name string, configs map[string]*string, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, e := c.configTopic(name)
	if e != nil {
		return e
	}
	want, e := legacyConfigs(configs, topicConfigError)
	if e != nil {
		return e
	}
	return c.writeConfigs(t, want, validateOnly)
}

// IncrementalAlterTopicConfigs applies set/delete/append/subtract
// operations to a topic's overrides. APPEND and SUBTRACT work on LIST
// configs only and start from the current effective value.
func (c *Controller) IncrementalAlterTopicConfigs(name string, ops []ConfigOp, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, e := c.configTopic(name)
	if e != nil {
		return e
	}
	want, e := applyConfigOps(t.Configs, ops, topicConfigError, func(want map[string]string, name string) (string, bool) {
		if !config.IsListTopicConfig(name) {
			return "", false
		}
		v, _ := config.TopicValue(c.cfg, want, name)
		return v, true
	})
	if e != nil {
		return e
	}
	return c.writeConfigs(t, want, validateOnly)
}

// topicConfigError maps a validation failure to Kafka's INVALID_CONFIG.
func topicConfigError(name string, value *string) *Error {
	if err := config.ValidateTopicConfig(name, value); err != nil {
		return errorf(kerr.InvalidConfig, "%s", err.Error())
	}
	return nil
}

// invalidConfig maps a broker or group config validation failure to
// Kafka's INVALID_CONFIG (InvalidConfigurationException, and
// ConfigException for a bad value), with a *config.Error's bare message.
func invalidConfig(err error) *Error {
	if err == nil {
		return nil
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		return errorf(kerr.InvalidConfig, "%s", ce.Msg)
	}
	return errorf(kerr.InvalidConfig, "%s", err.Error())
}

// legacyConfigs returns the configs a legacy AlterConfigs leaves a resource
// with: the given ones, less those with a nil value. Keys are validated in
// sorted order so that a request with several bad keys always reports the
// same one.
func legacyConfigs(configs map[string]*string, validate func(name string, value *string) *Error) (map[string]string, *Error) {
	want := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(configs)) {
		v := configs[k]
		if e := validate(k, v); e != nil {
			return nil, e
		}
		if v != nil {
			want[k] = *v
		}
	}
	return want, nil
}

// applyConfigOps returns a copy of cur with the IncrementalAlterConfigs ops
// applied, the same way for every resource type. validate checks each
// op's key (value nil) and the value the key is left with. listValue
// returns the value APPEND and SUBTRACT start from, or false when name is
// not a list config.
func applyConfigOps(cur map[string]string, ops []ConfigOp, validate func(name string, value *string) *Error,
	listValue func(want map[string]string, name string) (string, bool)) (map[string]string, *Error) {
	want := maps.Clone(cur)
	if want == nil {
		want = map[string]string{}
	}
	seen := map[string]bool{}
	for _, op := range ops {
		if seen[op.Name] {
			return nil, errorf(kerr.InvalidRequest, "Error due to duplicate config keys")
		}
		seen[op.Name] = true
		if e := validate(op.Name, nil); e != nil {
			return nil, e
		}
		switch op.Op {
		case OpSet:
			if op.Value == nil {
				return nil, errorf(kerr.InvalidRequest, "Null value not supported for : %s", op.Name)
			}
			want[op.Name] = *op.Value
		case OpDelete:
			delete(want, op.Name)
		case OpAppend, OpSubtract:
			cv, ok := listValue(want, op.Name)
			if !ok {
				verb := map[int8]string{OpAppend: "append", OpSubtract: "subtract"}[op.Op]
				return nil, errorf(kerr.InvalidConfig, "Config value %s is not allowed for config key: %s", verb, op.Name)
			}
			want[op.Name] = editList(cv, op)
		default:
			return nil, errorf(kerr.InvalidRequest, "Unknown config operation %d for %s", op.Op, op.Name)
		}
		if v, ok := want[op.Name]; ok {
			if e := validate(op.Name, &v); e != nil {
				return nil, e
			}
		}
	}
	return want, nil
}

// editList appends op's items missing from cur, or removes op's items.
func editList(cur string, op ConfigOp) string {
	var items []string
	for _, it := range strings.Split(cur, ",") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	var vals []string
	if op.Value != nil {
		for _, it := range strings.Split(*op.Value, ",") {
			if it = strings.TrimSpace(it); it != "" {
				vals = append(vals, it)
			}
		}
	}
	for _, v := range vals {
		i := slices.Index(items, v)
		switch {
		case op.Op == OpAppend && i < 0:
			items = append(items, v)
		case op.Op == OpSubtract && i >= 0:
			items = slices.Delete(items, i, i+1)
		}
	}
	return strings.Join(items, ",")
}

func (c *Controller) configTopic(name string) (*metadata.TopicImage, *Error) {
	if name == "" {
		return nil, errorf(kerr.InvalidRequest, "Default topic resources are not allowed.")
	}
	t, ok := c.store.Image().Topic(name)
	if !ok {
		return nil, errorf(kerr.UnknownTopicOrPartition, "The topic '%s' does not exist.", name)
	}
	return t, nil
}

// writeConfigs appends the ConfigRecords turning t's overrides into want.
func (c *Controller) writeConfigs(t *metadata.TopicImage, want map[string]string, validateOnly bool) *Error {
	return c.writeResourceConfigs(metadata.ResourceTopic, t.Name, t.Configs, want, validateOnly)
}

// writeResourceConfigs appends, as one batch, the ConfigRecords turning a
// resource's current configs into want; nothing when they already match
// or validateOnly.
func (c *Controller) writeResourceConfigs(typ int8, name string, cur, want map[string]string, validateOnly bool) *Error {
	var recs []metadata.Record
	for _, k := range slices.Sorted(maps.Keys(cur)) {
		if _, ok := want[k]; !ok {
			recs = append(recs, metadata.ConfigRecord{ResourceType: typ, ResourceName: name, Name: k})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(want)) {
		v := want[k]
		if old, ok := cur[k]; !ok || old != v {
			recs = append(recs, metadata.ConfigRecord{ResourceType: typ, ResourceName: name, Name: k, Value: &v})
		}
	}
	if validateOnly || len(recs) == 0 {
		return nil
	}
	if err := c.store.Append(recs...); err != nil {
		return storeError(err)
	}
	c.logger.Info("configs changed", "resource_type", typ, "resource", name, "changes", len(recs))
	return nil
}
