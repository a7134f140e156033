package controller

import (
	"github.com/twmb/franz-go/pkg/kerr"
)

// BrokerConfigCheck validates what a broker resource's dynamic configs
// would become (want, the whole set) on the broker that received the
// request, before anything is written: a check that needs the broker's
// own state, such as loading a new keystore, as Kafka's brokers validate
// reconfigurable configs before forwarding them. A non-nil error refuses
// the change with INVALID_REQUEST and its message.
type BrokerConfigCheck func(resource string, want map[string]string) error

// SetBrokerConfigCheck installs the broker's check; call before serving.
func (c *Controller) SetBrokerConfigCheck(check BrokerConfigCheck) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.brokerCheck = check
}

func (c *Controller) checkBrokerConfigs(resource string, want map[string]string) *Error {
	if c.brokerCheck == nil {
		return nil
	}
	if err := c.brokerCheck(resource, want); err != nil {
		return errorf(kerr.InvalidRequest, "%s", err.Error())
	}
	return nil
}
