package controller

import (
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Dynamic broker configs are ConfigRecords on the broker resource: name ""
// is the cluster-wide default, a node id is that broker's own. Every broker
// applies them from the metadata image (config.Broker.SetDynamic), so they
// survive restarts and, with the raft quorum, reach every broker.

// AlterBrokerConfigs implements the legacy AlterConfigs for a broker
// resource: configs becomes the resource's complete set of dynamic configs.
func (c *Controller) AlterBrokerConfigs(name string, configs map[string]*string, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := checkBrokerResource(name); e != nil {
		return e
	}
	want, e := legacyConfigs(configs, c.brokerConfigError(name != ""))
	if e == nil {
		e = c.checkBrokerConfigs(name, want)
	}
	if e != nil {
		return e
	}
	return c.writeResourceConfigs(metadata.ResourceBroker, name, c.store.Image().BrokerConfigs[name], want, validateOnly)
}

// IncrementalAlterBrokerConfigs applies set/delete/append/subtract to a
// broker resource's dynamic configs. APPEND and SUBTRACT start from the
// broker's effective value, as Kafka does.
func (c *Controller) IncrementalAlterBrokerConfigs(name string, ops []ConfigOp, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := checkBrokerResource(name); e != nil {
		return e
	}
	cur := c.store.Image().BrokerConfigs[name]
	want, e := applyConfigOps(cur, ops, c.brokerConfigError(name != ""), func(want map[string]string, name string) (string, bool) {
		if !config.IsListBrokerConfig(name) {
			return "", false
		}
		if v, ok := want[name]; ok {
			return v, true
		}
		return c.cfg.EffectiveValue(name), true
	})
	if e == nil {
		e = c.checkBrokerConfigs(name, want)
	}
	if e != nil {
		return e
	}
	return c.writeResourceConfigs(metadata.ResourceBroker, name, cur, want, validateOnly)
}

// checkBrokerResource accepts "" (the cluster default) or a broker id.
func checkBrokerResource(name string) *Error {
	if name == "" {
		return nil
	}
	if id, err := strconv.ParseInt(name, 10, 32); err != nil || id < 0 {
		return errorf(kerr.InvalidRequest, "Invalid broker name %s", name)
	}
	return nil
}

// brokerConfigError checks one broker config change on a broker id
// resource (perBroker) or the cluster default. Kafka's brokers answer a
// broker config that fails validation with INVALID_REQUEST and the
// ConfigException's message (KAFKA-13609 keeps it so), not INVALID_CONFIG.
func (c *Controller) brokerConfigError(perBroker bool) func(name string, value *string) *Error {
	return func(name string, value *string) *Error {
		err := config.ValidateDynamicBroker(name, value, perBroker)
		if err == nil && value != nil {
			err = c.cfg.ValidateThreadCount(name, *value)
		}
		var ce *config.Error
		if errors.As(err, &ce) {
			return errorf(kerr.InvalidRequest, "%s", ce.Msg)
		} else if err != nil {
			return errorf(kerr.InvalidRequest, "%s", err.Error())
		}
		return nil
	}
}
