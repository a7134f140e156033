package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/metadata"
	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/sasl"
	"github.com/sluice-io/sluice/internal/server"
)

// boundListener is one configured listener with its socket.
type boundListener struct {
	cfg  config.Listener
	ln   net.Listener
	host string // advertised
	port int32
	sasl server.Authenticator // nil without SASL
	// maxReauth is connections.max.reauth.ms per mechanism (KIP-368).
	maxReauth map[string]time.Duration
	tls       *tls.Config                             // nil: plaintext
	principal func(*x509.Certificate) (string, error) // mutual TLS on SSL
}

// listen binds every listener of the config (closing those already bound
// on an error) and resolves its advertised endpoint (port 0: the bound one).
func (b *Broker) listen() ([]*boundListener, error) {
	ls, err := b.cfg.ListenerList()
	if err != nil {
		return nil, err
	}
	var out []*boundListener
	fail := func(err error) ([]*boundListener, error) {
		for _, l := range out {
			l.ln.Close()
		}
		return nil, err
	}
	for _, l := range ls {
		bl := &boundListener{cfg: l}
		if l.SASL() {
			if bl.sasl, err = b.authenticator(l); err != nil {
				return fail(err)
			}
			bl.maxReauth = map[string]time.Duration{}
			for _, m := range b.cfg.SASLMechanisms(l.Name) {
				if bl.maxReauth[m], err = b.cfg.MaxReauth(l.Name, m); err != nil {
					return fail(err)
				}
			}
		}
		if l.TLS() {
			if bl.tls, bl.principal, err = b.tlsListener(l); err != nil {
				return fail(err)
			}
		}
		host, port, err := b.cfg.AdvertisedEndpoint(l.Name)
		if err != nil {
			return fail(err)
		}
		ln, err := net.Listen("tcp", l.Addr())
		if err != nil {
			return fail(fmt.Errorf("listen %s (%s): %w", l.Addr(), l.Name, err))
		}
		if port == 0 {
			port = int32(ln.Addr().(*net.TCPAddr).Port)
		}
		bl.ln, bl.host, bl.port = ln, host, port
		out = append(out, bl)
	}
	return out, nil
}

// authenticator builds a SASL listener's mechanisms: PLAIN users from the
// JAAS configuration, SCRAM credentials from the current metadata image.
func (b *Broker) authenticator(l config.Listener) (server.Authenticator, error) {
	cfg := sasl.Config{Mechanisms: b.cfg.SASLMechanisms(l.Name), Scram: b.scramCredential}
	if slices.Contains(cfg.Mechanisms, "PLAIN") {
		key, jaas := b.cfg.JAASConfig(l.Name, "PLAIN")
		if jaas == "" {
			return nil, fmt.Errorf("listener %s enables SASL mechanism PLAIN but no JAAS configuration names its users: set listener.name.%s.plain.sasl.jaas.config (or sasl.jaas.config) to %s required user_<name>=\"<password>\";",
				l.Name, strings.ToLower(l.Name), sasl.PlainLoginModule)
		}
		users, err := sasl.PlainUsers(jaas)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if len(users) == 0 {
			b.logger.Warn("PLAIN is enabled but the JAAS configuration defines no user_<name> entry: every PLAIN login will fail", "listener", l.Name, "key", key)
		}
		cfg.PlainUsers = users
	}
	return saslAuth{sasl.New(cfg)}, nil
}

// scramCredential looks a credential up in the current metadata image.
func (b *Broker) scramCredential(user string, mechanism int8) (metadata.ScramCredential, bool) {
	if b.meta == nil {
		return metadata.ScramCredential{}, false
	}
	return b.meta.Image().ScramCredential(user, mechanism)
}

// saslAuth adapts sasl.Authenticator to server.Authenticator.
type saslAuth struct{ a *sasl.Authenticator }

func (s saslAuth) Mechanisms() []string { return s.a.Mechanisms() }

func (s saslAuth) Start(mechanism string) (server.SASLExchange, bool) {
	ex, ok := s.a.Start(mechanism)
	if !ok {
		return nil, false
	}
	return ex, true
}

// onAuth counts every SASL authentication and logs each failure with the
// client's address and the mechanism (never a password).
func (b *Broker) onAuth(c *server.ConnInfo, mechanism string, err error) {
	metrics.Authentication(c.Listener, err == nil)
	if err == nil {
		b.logger.Debug("authenticated", "remote", c.Remote.String(), "listener", c.Listener, "mechanism", mechanism, "user", c.User)
		return
	}
	reason := err.Error()
	var se *sasl.Error
	if errors.As(err, &se) {
		reason = se.Reason
	}
	b.logger.Info("failed authentication", "remote", c.Remote.String(), "listener", c.Listener, "mechanism", mechanism, "reason", reason)
}

// endpoints are the advertised endpoints to register.
func endpoints(ls []*boundListener) []metadata.BrokerEndpoint {
	var out []metadata.BrokerEndpoint
	for _, l := range ls {
		out = append(out, metadata.BrokerEndpoint{Name: l.cfg.Name, Host: l.host, Port: l.port, SecurityProtocol: securityProtocol(l.cfg.Protocol)})
	}
	return out
}

func securityProtocol(p string) int16 {
	switch p {
	case config.ProtocolSSL:
		return metadata.SecuritySSL
	case config.ProtocolSASLPlaintext:
		return metadata.SecuritySASLPlaintext
	case config.ProtocolSASLSSL:
		return metadata.SecuritySASLSSL
	}
	return metadata.SecurityPlaintext
}

// ListenerAddr is the bound address of the listener named name ("" when
// there is none), e.g. ListenerAddr("SASL_PLAINTEXT").
func (b *Broker) ListenerAddr(name string) string {
	for _, l := range b.lns {
		if l.cfg.Name == name {
			return l.ln.Addr().String()
		}
	}
	return ""
}
