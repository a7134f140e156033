package config

import (
	"fmt"
	"slices"
	"strings"
)

// The listener brokers use to reach each other (forwarding, transaction
// markers, coordinator traffic, later replica fetches): the inter-broker
// client dials the endpoint each broker registered for this listener name.
var interBrokerDefs = []brokerDef{
	rawDef("inter.broker.listener.name", TypeString, "", nil, "Name of the listener brokers use to reach each other; its endpoint as each broker registered it is what the inter-broker client dials. Default: the first listener that is not a controller listener (Kafka: the listener named by security.inter.broker.protocol, PLAINTEXT)."),
}

// InterBrokerListenerName returns the listener other brokers are reached
// on: inter.broker.listener.name upper-cased, else the first listener
// that is not a controller listener. The name must be one of listeners
// and not a controller listener (Kafka refuses both, as its raft
// listeners carry no Kafka requests).
func (b *Broker) InterBrokerListenerName() (string, error) {
	ls, err := b.ListenerList()
	if err != nil {
		return "", err
	}
	var names []string
	for _, l := range ls {
		if !b.IsControllerListener(l.Name) {
			names = append(names, l.Name)
		}
	}
	v, _ := b.valueSource("inter.broker.listener.name")
	name := strings.ToUpper(strings.TrimSpace(v))
	if name == "" {
		if len(names) == 0 {
			return "", invalid("listeners", b.Listeners, "a broker needs a listener for other brokers besides the controller listener")
		}
		return names[0], nil
	}
	if b.IsControllerListener(name) {
		return "", invalid("inter.broker.listener.name", v, fmt.Sprintf("listener %s is a controller listener (controller.listener.names); brokers reach each other on a broker listener", name))
	}
	if !slices.Contains(names, name) {
		return "", invalid("inter.broker.listener.name", v, fmt.Sprintf(
			"must be a listener name defined in listeners; the valid options are %s", strings.Join(names, ",")))
	}
	return name, nil
}

// validateInterBroker is Build's check of inter.broker.listener.name, so
// a name that matches no listener fails at start with the key to fix.
func (b *Broker) validateInterBroker() error {
	if v, _ := b.valueSource("inter.broker.listener.name"); strings.TrimSpace(v) == "" {
		return nil
	}
	_, err := b.InterBrokerListenerName()
	return err
}
