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
	rawDef("inter.broker.listener.name", TypeString, "", nil, "Name of the listener brokers use to reach each other; its endpoint as each broker registered it is what the inter-broker client dials, with TLS when the listener is SSL. Default: the listener named by security.inter.broker.protocol when that is set, else the first listener that is not a controller listener (Kafka: PLAINTEXT)."),
	rawDef("security.inter.broker.protocol", TypeString, "PLAINTEXT", nil, "Security protocol brokers use to reach each other: the inter-broker listener is the one of that name (Kafka's rule). Set this or inter.broker.listener.name, not both."),
	rawDef("sasl.mechanism.inter.broker.protocol", TypeString, "GSSAPI", nil, "SASL mechanism brokers log in to each other with on a SASL_PLAINTEXT or SASL_SSL inter-broker listener: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (Kafka's default GSSAPI is not supported), one the listener enables; the credentials are the username and password options of listener.name.<listener>.<mechanism>.sasl.jaas.config."),
	rawDef("ssl.endpoint.identification.algorithm", TypeString, "https", nil, "How a broker checks the certificate of the broker or controller it dials over TLS: https checks that the certificate's subject alternative names hold the host or IP dialed; empty skips that check (the chain is still verified against the truststore). Per listener as listener.name.<name>.ssl.endpoint.identification.algorithm."),
}

// InterBrokerListenerName returns the listener other brokers are reached
// on: inter.broker.listener.name upper-cased, else the listener named
// after security.inter.broker.protocol (Kafka), else the first listener
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
	key := "inter.broker.listener.name"
	v, _ := b.valueSource(key)
	name := strings.ToUpper(strings.TrimSpace(v))
	if proto, set := b.Raw["security.inter.broker.protocol"]; set && strings.TrimSpace(proto) != "" {
		if name != "" {
			return "", invalid("security.inter.broker.protocol", proto, "only one of inter.broker.listener.name and security.inter.broker.protocol may be set")
		}
		// Kafka's rule: the listener named after the protocol.
		key, name, v = "security.inter.broker.protocol", strings.ToUpper(strings.TrimSpace(proto)), proto
	}
	if name == "" {
		if len(names) == 0 {
			return "", invalid("listeners", b.Listeners, "a broker needs a listener for other brokers besides the controller listener")
		}
		return names[0], nil
	}
	if b.IsControllerListener(name) {
		return "", invalid(key, v, fmt.Sprintf("listener %s is a controller listener (controller.listener.names); brokers reach each other on a broker listener", name))
	}
	if !slices.Contains(names, name) {
		return "", invalid(key, v, fmt.Sprintf(
			"must be a listener name defined in listeners; the valid options are %s", strings.Join(names, ",")))
	}
	return name, nil
}

// validateInterBroker is Build's check of inter.broker.listener.name, so
// a name that matches no listener fails at start with the key to fix.
func (b *Broker) validateInterBroker() error {
	if v, _ := b.valueSource("inter.broker.listener.name"); strings.TrimSpace(v) == "" && strings.TrimSpace(b.Raw["security.inter.broker.protocol"]) == "" {
		return nil
	}
	_, err := b.InterBrokerListenerName()
	return err
}

// ListenerProtocol returns the security protocol of listener name as
// listener.security.protocol.map gives it, whether or not this node
// binds that listener (a broker without a vote dials the controllers'
// listener without serving it). An unmapped controller listener is
// PLAINTEXT, as in Kafka.
func (b *Broker) ListenerProtocol(name string) (string, error) {
	pm, err := b.protocolMap()
	if err != nil {
		return "", err
	}
	name = strings.ToUpper(strings.TrimSpace(name))
	if p, ok := pm[name]; ok {
		return p, nil
	}
	if b.IsControllerListener(name) {
		return ProtocolPlaintext, nil
	}
	return "", invalid("listener.security.protocol.map", b.Raw["listener.security.protocol.map"], fmt.Sprintf("no security protocol defined for listener %s", name))
}
