package broker

// Wiring of the built-in web console (internal/console): it is a Kafka
// client of this broker on one of its own listeners.

import (
	"errors"
	"net"
	"slices"
	"strings"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/console"
	"github.com/sluice-io/sluice/internal/metrics"
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
	boot, mechs, err := b.consoleBootstrap()
	if err != nil {
		return err
	}
	c, err := console.Start(console.Config{Listener: l, Bootstrap: boot, SASLMechanisms: mechs, ReadOnly: readOnly,
		Dial: b.opts.Dial, Throughput: metrics.Throughput, Logger: b.logger.With("component", "console")})
	if err != nil {
		return err
	}
	b.console = c
	b.logger.Info("console listening", "console.listener", "http://"+c.Addr()+"/", "read.only", readOnly, "login", len(mechs) > 0)
	return nil
}

// consoleBootstrap is the address the console's clients use: this
// broker's first SASL_PLAINTEXT listener with a mechanism the console can
// log in with (PLAIN, SCRAM; users then log in and act as themselves),
// else its first PLAINTEXT listener (no login); a wildcard host is
// replaced by loopback. TLS listeners are not used yet (docs/CONSOLE.md).
func (b *Broker) consoleBootstrap() (addr string, mechanisms []string, err error) {
	ctl := b.cfg.ControllerListenerNames()
	pick := func(protocol string) *boundListener {
		for _, l := range b.lns {
			if l.cfg.Protocol != protocol || slices.Contains(ctl, l.cfg.Name) {
				continue
			}
			if protocol == config.ProtocolSASLPlaintext {
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
	l := pick(config.ProtocolSASLPlaintext)
	if l == nil {
		mechanisms = nil
		l = pick(config.ProtocolPlaintext)
	}
	if l == nil {
		return "", nil, errors.New("console.listener needs a PLAINTEXT listener, or a SASL_PLAINTEXT one with PLAIN or SCRAM, on this broker (docs/CONSOLE.md)")
	}
	host, port, err := net.SplitHostPort(l.ln.Addr().String())
	if err != nil {
		return "", nil, err
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), mechanisms, nil
}

func (b *Broker) stopConsole() {
	if b.console != nil {
		b.console.Close()
		b.console = nil
	}
}
