package broker

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strconv"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/server"
	"github.com/sluice-io/sluice/internal/tlsconf"
)

// tlsListener builds an SSL or SASL_SSL listener's TLS configuration from
// its ssl.* configs and, for mutual TLS, the principal of a client
// certificate (ssl.principal.mapping.rules). Any error stops the broker
// at start with the key to fix. The configuration follows the listener's
// store files and dynamic ssl.* configs (reloadTLS) for new connections.
func (b *Broker) tlsListener(l config.Listener) (*tls.Config, func(*x509.Certificate) (string, error), error) {
	get := func(key string) (string, string, bool) { return b.cfg.SSL(l.Name, key) }
	r, err := tlsconf.NewReloading(get, b.logger.With("component", "tls", "listener", l.Name))
	if err != nil {
		return nil, nil, fmt.Errorf("listener %s (%s): %w", l.Name, l.Protocol, err)
	}
	rules, from, _ := get("ssl.principal.mapping.rules")
	m, err := tlsconf.ParseRules(rules)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", from, err)
	}
	if b.tlsStores == nil {
		b.tlsStores = map[string]*tlsconf.Reloading{}
	}
	b.tlsStores[l.Name] = r
	return r.Config(), tlsconf.Principal(m), nil
}

// reloadTLS rebuilds the TLS listeners whose ssl.* configs or store files
// changed, after the dynamic configs changed; a failure keeps the old
// material and is logged by the listener.
func (b *Broker) reloadTLS() {
	for _, r := range b.tlsStores {
		r.Reload()
	}
}

// checkTLSConfigs refuses a dynamic change of this broker's configs that
// leaves a TLS listener unable to build its configuration (a keystore
// that does not load, a wrong password) or changes its certificate's DN
// or SANs (unless ssl.allow.dn.changes / ssl.allow.san.changes), as Kafka
// validates a new keystore before it accepts the change. Only listeners
// whose ssl.* values change are checked, so an unrelated change is never
// refused for a store file broken on disk (the file watch keeps the old
// material then); other brokers' resources are not checked (their files
// are on their machines).
func (b *Broker) checkTLSConfigs(resource string, want map[string]string) error {
	if resource != strconv.Itoa(int(b.cfg.NodeID)) {
		return nil
	}
	if want == nil {
		want = map[string]string{}
	}
	for name, r := range b.tlsStores {
		changed := false
		for _, k := range tlsconf.ConfigKeys() {
			v0, f0, ok0 := b.cfg.SSL(name, k)
			v1, f1, ok1 := b.cfg.SSLWith(want, name, k)
			changed = changed || v0 != v1 || f0 != f1 || ok0 != ok1
		}
		if !changed {
			continue
		}
		get := func(key string) (string, string, bool) { return b.cfg.SSLWith(want, name, key) }
		if err := r.Validate(get); err != nil {
			return fmt.Errorf("Validation of dynamic config update of SSLFactory failed: listener %s: %w", name, err)
		}
	}
	return nil
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
