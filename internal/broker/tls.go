package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/tlsconf"
)

// tlsListener builds an SSL or SASL_SSL listener's TLS configuration from
// its ssl.* configs and, for mutual TLS, the principal of a client
// certificate (ssl.principal.mapping.rules). Any error stops the broker
// at start with the key to fix.
func (b *Broker) tlsListener(l config.Listener) (*tls.Config, func(*x509.Certificate) (string, error), error) {
	get := func(key string) (string, string, bool) { return b.cfg.SSL(l.Name, key) }
	cfg, err := tlsconf.Server(get)
	if err != nil {
		return nil, nil, fmt.Errorf("listener %s (%s): %w", l.Name, l.Protocol, err)
	}
	rules, from, _ := get("ssl.principal.mapping.rules")
	m, err := tlsconf.ParseRules(rules)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", from, err)
	}
	return cfg, tlsconf.Principal(m), nil
}

// tlsHandshakeTimeout bounds a TLS handshake: connections.max.idle.ms
// when it is shorter than server.DefaultHandshakeTimeout (a handshake is
// the connection idling from the broker's side, which is how Kafka ends
// a stuck one), else that fixed bound.
func (b *Broker) tlsHandshakeTimeout() time.Duration {
	d := server.DefaultHandshakeTimeout
	if idle := time.Duration(b.cfg.ConnectionsMaxIdleMs) * time.Millisecond; idle > 0 && idle < d {
		d = idle
	}
	return d
}
