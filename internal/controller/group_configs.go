package controller

import (
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
)

// Group configs are ConfigRecords on the GROUP resource (type 32), keyed
// by group id, as Kafka stores them in its metadata log. The group need
// not exist: tools set share.auto.offset.reset before a share group's
// first member joins. The group coordinator reads them from the image
// (GroupConfigs) on each use, so a change applies without a restart.

// AlterGroupConfigs implements the legacy AlterConfigs for a group: the
// given configs become the group's complete set.
func (c *Controller) AlterGroupConfigs(group string, configs map[string]*string, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := checkGroupResource(group); e != nil {
		return e
	}
	want, e := legacyConfigs(configs, groupConfigError)
	if e != nil {
		return e
	}
	if e := invalidConfig(config.ValidateGroupConfigs(c.cfg, want)); e != nil {
		return e
	}
	return c.writeResourceConfigs(metadata.ResourceGroup, group, c.store.Image().GroupConfigs[group], want, validateOnly)
}

// IncrementalAlterGroupConfigs applies set/delete to a group's configs.
// Group configs are scalars: APPEND and SUBTRACT are refused, as Kafka
// does for non-list configs.
func (c *Controller) IncrementalAlterGroupConfigs(group string, ops []ConfigOp, validateOnly bool) *Error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := checkGroupResource(group); e != nil {
		return e
	}
	cur := c.store.Image().GroupConfigs[group]
	want, e := applyConfigOps(cur, ops, groupConfigError, noListConfigs)
	if e != nil {
		return e
	}
	if e := invalidConfig(config.ValidateGroupConfigs(c.cfg, want)); e != nil {
		return e
	}
	return c.writeResourceConfigs(metadata.ResourceGroup, group, cur, want, validateOnly)
}

// groupConfigError validates one group config (value nil: the key alone).
func groupConfigError(name string, value *string) *Error {
	return invalidConfig(config.ValidateGroupConfig(name, value))
}

// noListConfigs is the listValue of applyConfigOps for a resource whose
// configs are all scalars.
func noListConfigs(map[string]string, string) (string, bool) { return "", false }

func checkGroupResource(group string) *Error {
	if group == "" {
		return errorf(kerr.InvalidRequest, "Group name must not be empty")
	}
	return nil
}
