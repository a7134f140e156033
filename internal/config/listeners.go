package config

import (
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Security protocols, as Kafka names them in listener.security.protocol.map.
const (
	ProtocolPlaintext     = "PLAINTEXT"
	ProtocolSSL           = "SSL"
	ProtocolSASLPlaintext = "SASL_PLAINTEXT"
	ProtocolSASLSSL       = "SASL_SSL"
)

// DefaultProtocolMap is Kafka's default listener.security.protocol.map:
// each security protocol's name is a listener name mapping to itself.
const DefaultProtocolMap = "PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL"

// SASL mechanisms Sluice implements, and the one it enables when
// sasl.enabled.mechanisms is not set (Kafka's default, GSSAPI, is not
// implemented).
var (
	SupportedSASLMechanisms = []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"}
	DefaultSASLMechanism    = "PLAIN"
)

// Listener is one entry of listeners: a named endpoint to bind and the
// security protocol listener.security.protocol.map gives its name.
type Listener struct {
	Name     string // upper case, e.g. PLAINTEXT, SASL_PLAINTEXT, CLIENT
	Host     string // "" binds every interface
	Port     int    // 0 asks the OS for a free port
	Protocol string // Protocol* constant
}

// Addr is host:port to bind.
func (l Listener) Addr() string { return net.JoinHostPort(l.Host, strconv.Itoa(l.Port)) }

// TLS reports whether the listener's connections are TLS (SSL, SASL_SSL).
func (l Listener) TLS() bool {
	return l.Protocol == ProtocolSSL || l.Protocol == ProtocolSASLSSL
}

// SASL reports whether the listener authenticates clients with SASL.
func (l Listener) SASL() bool {
	return l.Protocol == ProtocolSASLPlaintext || l.Protocol == ProtocolSASLSSL
}

// endpoint is one parsed item of a listener list.
type endpoint struct {
	name, host string
	port       int
}

// parseEndpoints parses a comma-separated NAME://host:port list (names
// upper-cased, each at most once).
func parseEndpoints(key, list string) ([]endpoint, error) {
	var out []endpoint
	for _, item := range splitList(list) {
		name, rest, ok := strings.Cut(item, "://")
		if !ok || name == "" {
			return nil, invalid(key, list, fmt.Sprintf("listener %q is not of the form NAME://host:port", item))
		}
		name = strings.ToUpper(name)
		if slices.ContainsFunc(out, func(e endpoint) bool { return e.name == name }) {
			return nil, invalid(key, list, fmt.Sprintf("listener name %s appears more than once: each listener must have a different name", name))
		}
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return nil, invalid(key, list, fmt.Sprintf("listener %q: %v", item, err))
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 0 || p > 65535 {
			return nil, invalid(key, list, fmt.Sprintf("listener %q: port must be 0..65535", item))
		}
		out = append(out, endpoint{name, host, p})
	}
	if len(out) == 0 {
		return nil, invalid(key, list, "no listener given (want e.g. PLAINTEXT://host:port)")
	}
	return out, nil
}

// protocolMap parses listener.security.protocol.map (default: Kafka's).
func (b *Broker) protocolMap() (map[string]string, error) {
	const key = "listener.security.protocol.map"
	list, ok := b.Raw[key]
	if !ok || strings.TrimSpace(list) == "" {
		list = DefaultProtocolMap
	}
	m := map[string]string{}
	for _, item := range splitList(list) {
		name, proto, ok := strings.Cut(item, ":")
		name, proto = strings.ToUpper(strings.TrimSpace(name)), strings.ToUpper(strings.TrimSpace(proto))
		if !ok || name == "" {
			return nil, invalid(key, list, fmt.Sprintf("entry %q is not of the form LISTENER_NAME:SECURITY_PROTOCOL", item))
		}
		switch proto {
		case ProtocolPlaintext, ProtocolSSL, ProtocolSASLPlaintext, ProtocolSASLSSL:
		default:
			return nil, invalid(key, list, fmt.Sprintf("unknown security protocol %q (PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)", proto))
		}
		if _, dup := m[name]; dup {
			return nil, invalid(key, list, fmt.Sprintf("listener name %s is mapped more than once", name))
		}
		m[name] = proto
	}
	return m, nil
}

// ListenerList returns the listeners to bind, in the order given, each
// with its security protocol. Build has validated them.
func (b *Broker) ListenerList() ([]Listener, error) {
	eps, err := parseEndpoints("listeners", b.Listeners)
	if err != nil {
		return nil, err
	}
	pm, err := b.protocolMap()
	if err != nil {
		return nil, err
	}
	var out []Listener
	for _, e := range eps {
		proto, ok := pm[e.name]
		if !ok && b.IsControllerListener(e.name) {
			// Kafka maps an unmapped controller listener to PLAINTEXT.
			proto, ok = ProtocolPlaintext, true
		}
		if !ok {
			return nil, invalid("listeners", b.Listeners, fmt.Sprintf("no security protocol defined for listener %s: add it to listener.security.protocol.map", e.name))
		}
		for _, o := range out {
			if e.port != 0 && o.Port == e.port && o.Host == e.host {
				return nil, invalid("listeners", b.Listeners, fmt.Sprintf("listeners %s and %s use the same port %d: each listener must have a different port", o.Name, e.name, e.port))
			}
		}
		out = append(out, Listener{Name: e.name, Host: e.host, Port: e.port, Protocol: proto})
	}
	return out, nil
}

// AdvertisedEndpoint returns the host and port published to clients that
// connect through listener name: its advertised.listeners entry, else the
// listener's own address. A listener on every interface (empty host,
// 0.0.0.0 or ::) advertises 127.0.0.1 (Kafka would use the canonical host
// name). A port of 0 is returned as 0: the caller advertises the port it
// bound.
func (b *Broker) AdvertisedEndpoint(name string) (string, int32, error) {
	var host string
	port := -1
	if strings.TrimSpace(b.AdvertisedListeners) != "" {
		adv, err := parseEndpoints("advertised.listeners", b.AdvertisedListeners)
		if err != nil {
			return "", 0, err
		}
		for _, e := range adv {
			if e.name == name {
				host, port = e.host, e.port
			}
		}
	}
	if port < 0 {
		ls, err := b.ListenerList()
		if err != nil {
			return "", 0, err
		}
		for _, l := range ls {
			if l.Name == name {
				host, port = l.Host, l.Port
			}
		}
		if port < 0 {
			return "", 0, fmt.Errorf("no listener named %s", name)
		}
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return host, int32(port), nil
}

// validateListeners is Build's check of listeners, advertised.listeners,
// listener.security.protocol.map and, for SASL listeners, their
// mechanisms and connections.max.reauth.ms (as a long).
func (b *Broker) validateListeners() error {
	ls, err := b.ListenerList()
	if err != nil {
		return err
	}
	if strings.TrimSpace(b.AdvertisedListeners) != "" {
		adv, err := parseEndpoints("advertised.listeners", b.AdvertisedListeners)
		if err != nil {
			return err
		}
		var names []string
		for _, l := range ls {
			names = append(names, l.Name)
		}
		for _, e := range adv {
			if !slices.Contains(names, e.name) {
				return invalid("advertised.listeners", b.AdvertisedListeners, fmt.Sprintf(
					"listener names must be equal to or a subset of the ones defined in listeners; found %s, listeners has %s", e.name, strings.Join(names, ",")))
			}
			if e.host == "0.0.0.0" || e.host == "::" {
				return invalid("advertised.listeners", b.AdvertisedListeners, "cannot use the nonroutable meta-address "+e.host)
			}
		}
	}
	for _, l := range ls {
		if !l.SASL() {
			continue
		}
		key, mechs := b.saslMechanisms(l.Name)
		if len(mechs) == 0 {
			return invalid(key, b.Raw[key], "no SASL mechanism enabled for listener "+l.Name)
		}
		for _, m := range mechs {
			if !slices.Contains(SupportedSASLMechanisms, m) {
				return invalid(key, b.Raw[key], fmt.Sprintf("SASL mechanism %s is not supported by Sluice (supported: %s)", m, strings.Join(SupportedSASLMechanisms, ", ")))
			}
		}
		for _, m := range mechs {
			if _, err := b.MaxReauth(l.Name, m); err != nil {
				return err
			}
		}
	}
	return nil
}

// saslMechanisms returns the mechanisms enabled on listener name and the
// key they come from: listener.name.<name>.sasl.enabled.mechanisms, else
// sasl.enabled.mechanisms, else PLAIN (Kafka's default is GSSAPI, which
// Sluice does not implement).
func (b *Broker) saslMechanisms(name string) (string, []string) {
	for _, key := range []string{"listener.name." + strings.ToLower(name) + ".sasl.enabled.mechanisms", "sasl.enabled.mechanisms"} {
		if v, ok := b.Raw[key]; ok {
			var out []string
			for _, m := range splitList(v) {
				out = append(out, strings.TrimSpace(m))
			}
			return key, out
		}
	}
	return "sasl.enabled.mechanisms", []string{DefaultSASLMechanism}
}

// SASLMechanisms returns the SASL mechanisms enabled on listener name.
func (b *Broker) SASLMechanisms(name string) []string {
	_, m := b.saslMechanisms(name)
	return m
}

// JAASConfig returns the JAAS configuration that applies to mechanism
// (lower-cased in the key, as Kafka) on listener name, and the key it came
// from: listener.name.<name>.<mechanism>.sasl.jaas.config, else
// sasl.jaas.config; "" when neither is set.
func (b *Broker) JAASConfig(name, mechanism string) (key, value string) {
	for _, key := range []string{"listener.name." + strings.ToLower(name) + "." + strings.ToLower(mechanism) + ".sasl.jaas.config", "sasl.jaas.config"} {
		if v, ok := b.Raw[key]; ok && strings.TrimSpace(v) != "" {
			return key, v
		}
	}
	return "", ""
}

// MaxReauth is connections.max.reauth.ms for mechanism on listener name
// (KIP-368): listener.name.<name>.<mechanism>.connections.max.reauth.ms,
// else connections.max.reauth.ms, lower-cased in the key as Kafka. A
// session authenticated there lasts at most this long (0 or negative: no
// limit beyond an OAUTHBEARER token's expiry).
func (b *Broker) MaxReauth(name, mechanism string) (time.Duration, error) {
	for _, key := range []string{"listener.name." + strings.ToLower(name) + "." + strings.ToLower(mechanism) + ".connections.max.reauth.ms", "connections.max.reauth.ms"} {
		v, ok := b.Raw[key]
		if !ok || strings.TrimSpace(v) == "" {
			continue
		}
		ms, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return 0, invalid(key, v, "not a long")
		}
		if ms <= 0 {
			return 0, nil
		}
		return time.Duration(min(ms, int64(math.MaxInt64/time.Millisecond))) * time.Millisecond, nil
	}
	return 0, nil
}
