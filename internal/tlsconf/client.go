package tlsconf

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ClientConfig is the client side of a listener's TLS configuration: what
// a broker uses to dial another broker's (or controller's) listener of
// the same name, as Kafka's inter-broker and controller channels do. The
// listener's keystore is the client certificate, its truststore verifies
// the peer, and ssl.endpoint.identification.algorithm says whether the
// peer's certificate must name the host dialed.
type ClientConfig struct {
	base       *tls.Config
	verifyHost bool
}

// Client builds the client side of a listener's TLS configuration from
// the same ssl.* properties Server reads.
func Client(get Lookup) (*ClientConfig, error) {
	cert, err := keystore(get)
	if err != nil {
		return nil, err
	}
	return client(get, &cert)
}

// ToolClient builds a client's TLS configuration from Kafka's client
// ssl.* keys (a client.properties), as Kafka's command-line tools take
// them: the keystore is optional (no client certificate without one),
// and the stores are read as a listener's are.
func ToolClient(get Lookup) (*ClientConfig, error) {
	var cert *tls.Certificate
	if hasKeystore(get) {
		c, err := keystore(get)
		if err != nil {
			return nil, err
		}
		cert = &c
	}
	return client(get, cert)
}

// client builds the configuration around cert (nil: none to present).
func client(get Lookup, cert *tls.Certificate) (*ClientConfig, error) {
	roots, err := truststore(get)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{RootCAs: roots}
	if cert != nil {
		// The keystore's certificate is always presented when asked for,
		// even when the server names CAs it does not come from (Go's
		// default then sends none): the server's refusal then says the
		// certificate is untrusted, not that none was sent.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	if cfg.MinVersion, cfg.MaxVersion, err = versions(get); err != nil {
		return nil, err
	}
	if cfg.CipherSuites, err = cipherSuites(get); err != nil {
		return nil, err
	}
	verifyHost, err := endpointIdentification(get)
	if err != nil {
		return nil, err
	}
	if !verifyHost {
		// Go ties chain and host verification together: turn both off
		// and verify the chain alone, against the same roots.
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyChain(cs, roots) }
	}
	return &ClientConfig{base: cfg, verifyHost: verifyHost}, nil
}

// endpointIdentification is ssl.endpoint.identification.algorithm: https
// (Kafka's default) checks the dialed host name or IP against the peer
// certificate's subject alternative names; empty skips that check.
func endpointIdentification(get Lookup) (bool, error) {
	v, from, ok := get("ssl.endpoint.identification.algorithm")
	if !ok {
		return true, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "https":
		return true, nil
	case "":
		return false, nil
	}
	return false, fmt.Errorf("%s=%s: must be https or empty", from, v)
}

// verifyChain checks the peer's chain against roots (nil: the system
// roots) without looking at host names.
func verifyChain(cs tls.ConnectionState, roots *x509.CertPool) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tls: the server sent no certificate")
	}
	opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(opts)
	return err
}

// Config returns the configuration without a server name, for a dialer
// that sets it from the address it dials (franz-go's kgo.DialTLSConfig).
func (c *ClientConfig) Config() *tls.Config { return c.base.Clone() }

// For returns the configuration to dial addr (host:port) with: with host
// verification on, the peer's certificate must name host.
func (c *ClientConfig) For(addr string) *tls.Config {
	cfg := c.base.Clone()
	if c.verifyHost {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		cfg.ServerName = host
	}
	return cfg
}

// Dialer opens a connection as net.Dialer.DialContext does.
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// Dial returns a dialer that opens a connection with dial and completes a
// TLS handshake on it within ctx, so the connection it returns is
// authenticated both ways as far as the client can tell (with TLS 1.3 a
// server that refuses the client certificate says so on the first read).
func (c *ClientConfig) Dial(dial Dialer) Dialer {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(nc, c.For(addr))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, &HandshakeError{Addr: addr, Err: err}
		}
		return tc, nil
	}
}

// HandshakeError is a TLS handshake with addr that failed: an untrusted or
// wrong-host certificate, a refused client certificate, a peer that does
// not speak TLS.
type HandshakeError struct {
	Addr string
	Err  error
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("TLS handshake with %s failed: %v", e.Addr, e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }
