package broker

// Wiring of the built-in web console (internal/console): it is a Kafka
// client of this broker on one of its own listeners.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/console"
	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/tlsconf"
)

// ConsoleAddr is the bound console listener address, "" when off.
func (b *Broker) ConsoleAddr() string {
	if b.console == nil {
		return ""
	}
	return b.console.Addr()
}

// startConsole starts the console when console.listener is set. Call once
// the Kafka listeners serve.
func (b *Broker) startConsole() error {
	l := b.cfg.ConsoleListener()
	if l == "" {
		return nil
	}
	readOnly, err := b.cfg.ConsoleReadOnly()
	if err != nil {
		return err
	}
	boot, name, mechs, err := b.consoleBootstrap()
	if err != nil {
		return err
	}
	// On an SSL or SASL_SSL listener the console dials as another broker
	// of the cluster would (tls_peers.go): the listener's keystore is its
	// client certificate, its truststore checks this broker's.
	dial, err := b.peerDial(name, "console")
	if err != nil {
		return err
	}
	serverTLS, err := b.consoleTLS()
	if err != nil {
		return err
	}
	c, err := console.Start(console.Config{Listener: l, TLS: serverTLS, Bootstrap: boot, SASLMechanisms: mechs, ReadOnly: readOnly,
		Dial: dial, Throughput: metrics.Throughput, Logger: b.logger.With("component", "console")})
	if err != nil {
		return err
	}
	b.console = c
	b.logger.Info("console listening", "console.listener", c.URL()+"/", "read.only", readOnly, "login", len(mechs) > 0)
	return nil
}

// consoleTLS is the TLS configuration of an https console.listener, from
// console.ssl.* read by the Kafka listeners' reader (tlsconf.Server); nil
// for http. An https listener without a keystore is refused.
func (b *Broker) consoleTLS() (*tls.Config, error) {
	if !b.cfg.ConsoleHTTPS() {
		return nil, nil
	}
	_, _, hasFile := b.cfg.ConsoleSSL("ssl.keystore.location")
	_, _, hasInline := b.cfg.ConsoleSSL("ssl.keystore.certificate.chain")
	if !hasFile && !hasInline {
		return nil, fmt.Errorf("%s=%s needs the console's keystore: set %s (and %s, %s, %s as for a Kafka SSL listener)",
			config.ConsoleListenerKey, b.cfg.ConsoleListener(), config.ConsoleSSLKeystoreLocationKey,
			config.ConsoleSSLKeystoreTypeKey, config.ConsoleSSLKeystorePasswordKey, config.ConsoleSSLKeyPasswordKey)
	}
	cfg, err := tlsconf.Server(b.cfg.ConsoleSSL)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", config.ConsoleListenerKey, err)
	}
	return cfg, nil
}

// consoleBootstrap is the address and listener name the console's clients
// use: this broker's first SASL_PLAINTEXT listener with a mechanism the
// console can log in with (PLAIN, SCRAM; users then log in and act as
// themselves), else its first PLAINTEXT listener (no login), else the same
// two over TLS (SASL_SSL, then SSL); a wildcard host is replaced by
// loopback. Plaintext comes first: the console's client is local, TLS to
// itself buys nothing when the broker also listens without it.
func (b *Broker) consoleBootstrap() (addr, name string, mechanisms []string, err error) {
	ctl := b.cfg.ControllerListenerNames()
	pick := func(protocol string) *boundListener {
		for _, l := range b.lns {
			if l.cfg.Protocol != protocol || slices.Contains(ctl, l.cfg.Name) {
				continue
			}
			if protocol == config.ProtocolSASLPlaintext || protocol == config.ProtocolSASLSSL {
				mechanisms = nil
				for _, m := range b.cfg.SASLMechanisms(l.cfg.Name) {
					if m == "PLAIN" || strings.HasPrefix(m, "SCRAM-") {
						mechanisms = append(mechanisms, m)
					}
				}
				if len(mechanisms) == 0 {
					continue
				}
			}
			return l
		}
		return nil
	}
	var l *boundListener
	for _, p := range []string{config.ProtocolSASLPlaintext, config.ProtocolPlaintext, config.ProtocolSASLSSL, config.ProtocolSSL} {
		mechanisms = nil
		if l = pick(p); l != nil {
			break
		}
	}
	if l == nil {
		return "", "", nil, errors.New("console.listener needs a PLAINTEXT or SSL listener, or a SASL_PLAINTEXT or SASL_SSL one with PLAIN or SCRAM, on this broker (docs/CONSOLE.md)")
	}
	host, port, err := net.SplitHostPort(l.ln.Addr().String())
	if err != nil {
		return "", "", nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), l.cfg.Name, mechanisms, nil
}

func (b *Broker) stopConsole() {
	if b.console != nil {
		b.console.Close()
		b.console = nil
	}
}
