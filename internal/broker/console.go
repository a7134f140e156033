package broker

// Wiring of the built-in web console (internal/console): it is a Kafka
// client of this broker on one of its own PLAINTEXT listeners.

import (
	"errors"
	"net"
	"slices"

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
	boot, err := b.consoleBootstrap()
	if err != nil {
		return err
	}
	c, err := console.Start(console.Config{Listener: l, Bootstrap: boot, ReadOnly: b.cfg.ConsoleReadOnly(),
		Dial: b.opts.Dial, Throughput: metrics.Throughput, Logger: b.logger.With("component", "console")})
	if err != nil {
		return err
	}
	b.console = c
	b.logger.Info("console listening", "console.listener", "http://"+c.Addr()+"/", "read.only", b.cfg.ConsoleReadOnly())
	return nil
}

// consoleBootstrap is the address of this broker's first PLAINTEXT
// listener, a wildcard host replaced by loopback. SASL and TLS listeners
// are not used yet: the console has no login (docs/CONSOLE.md).
func (b *Broker) consoleBootstrap() (string, error) {
	ctl := b.cfg.ControllerListenerNames()
	for _, l := range b.lns {
		if l.cfg.Protocol != config.ProtocolPlaintext || slices.Contains(ctl, l.cfg.Name) {
			continue
		}
		host, port, err := net.SplitHostPort(l.ln.Addr().String())
		if err != nil {
			return "", err
		}
		if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		return net.JoinHostPort(host, port), nil
	}
	return "", errors.New("console.listener needs a PLAINTEXT listener on this broker (the console has no SASL/TLS login yet, docs/CONSOLE.md)")
}

func (b *Broker) stopConsole() {
	if b.console != nil {
		b.console.Close()
		b.console = nil
	}
}
