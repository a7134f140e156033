package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/tlsconf"
)

// dialFunc opens a connection to another node.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// peerDialers are how this node dials other nodes: brokers on
// inter.broker.listener.name (every inter-broker client) and controllers
// on the first of controller.listener.names (the raft transport, forwarded
// metadata changes, an observer's fetches). On an SSL listener each is
// the client side of that listener's TLS config, as Kafka builds its
// inter-broker and controller channels; else the plain dialer. Nil means
// net.Dialer.
type peerDialers struct {
	broker     dialFunc
	controller dialFunc
	// brokerSASL logs inter-broker connections in on a SASL_PLAINTEXT or
	// SASL_SSL inter-broker listener (sasl_peers.go); nil on the others.
	brokerSASL sasl.Mechanism
}

// setupPeerDialers builds b.peers from the listeners' configs; an SSL
// listener whose client side cannot be built (no keystore, a bad
// ssl.endpoint.identification.algorithm) stops the start with the key to
// fix.
func (b *Broker) setupPeerDialers() error {
	inter, err := b.cfg.InterBrokerListenerName()
	if err != nil {
		return err
	}
	if b.peers.broker, err = b.peerDial(inter, "inter-broker"); err != nil {
		return err
	}
	if proto, _ := b.cfg.ListenerProtocol(inter); proto == config.ProtocolSASLPlaintext || proto == config.ProtocolSASLSSL {
		if b.peers.brokerSASL, err = b.interBrokerSASL(inter); err != nil {
			return err
		}
	}
	if names := b.cfg.ControllerListenerNames(); len(names) > 0 {
		if b.peers.controller, err = b.peerDial(names[0], "controller"); err != nil {
			return err
		}
	} else {
		b.peers.controller = b.opts.Dial
	}
	return nil
}

// peerDial is the dialer for listener name: b.opts.Dial (the test seam)
// or net.Dialer, wrapped in TLS when the listener's protocol is SSL.
func (b *Broker) peerDial(name, role string) (dialFunc, error) {
	proto, err := b.cfg.ListenerProtocol(name)
	if err != nil {
		return nil, err
	}
	base := b.opts.Dial
	if proto != config.ProtocolSSL && proto != config.ProtocolSASLSSL {
		// SASL_SSL controller listeners are refused by config validation.
		return base, nil
	}
	cc, err := tlsconf.Client(func(key string) (string, string, bool) { return b.cfg.SSL(name, key) })
	if err != nil {
		return nil, fmt.Errorf("%s listener %s (SSL), client side: %w", role, name, err)
	}
	if base == nil {
		var d net.Dialer
		base = d.DialContext
	}
	dial := cc.Dial(base)
	logs := &onceLog{logger: b.logger.With("component", "tls-"+role), seen: map[string]string{}}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		var he *tlsconf.HandshakeError
		switch {
		case err == nil:
			logs.ok(addr)
		case errors.As(err, &he):
			logs.failed(addr, fmt.Sprintf("TLS handshake with %s listener %s failed", role, name), he.Err)
		}
		return c, err
	}, nil
}

// onceLog logs a failed TLS handshake once per peer and reason, not on
// every retry: a peer that keeps failing for the same reason (an
// untrusted certificate) would otherwise fill the log at the retry rate.
type onceLog struct {
	logger *slog.Logger
	mu     sync.Mutex
	seen   map[string]string // peer -> last reason logged
}

func (l *onceLog) failed(peer, msg string, err error, attrs ...any) {
	reason := err.Error()
	l.mu.Lock()
	if l.seen[peer] == reason {
		l.mu.Unlock()
		return
	}
	if len(l.seen) > 1024 { // many distinct peers: forget, stay bounded
		clear(l.seen)
	}
	l.seen[peer] = reason
	l.mu.Unlock()
	l.logger.Warn(msg, append([]any{"peer", peer, "reason", reason}, attrs...)...)
}

func (l *onceLog) ok(peer string) {
	l.mu.Lock()
	delete(l.seen, peer)
	l.mu.Unlock()
}

// tlsPeerListener serves the controller listener with TLS: the raft
// transport reads and writes plain bytes on what Accept returns, and the
// handshake runs on the connection's own goroutine at its first read or
// write, bounded by timeout, so a stuck peer never holds the accept loop.
type tlsPeerListener struct {
	net.Listener
	cfg     *tls.Config
	timeout time.Duration
	logs    *onceLog
}

func (l *tlsPeerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &handshakeConn{Conn: tls.Server(c, l.cfg), l: l}, nil
}

// handshakeConn completes its handshake once, before any byte moves; a
// failure is logged (once per peer address and reason) and every read or
// write then fails with it.
type handshakeConn struct {
	*tls.Conn
	l    *tlsPeerListener
	once sync.Once
	err  error
}

func (c *handshakeConn) handshake() error {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), c.l.timeout)
		defer cancel()
		if c.err = c.Conn.HandshakeContext(ctx); c.err != nil && !errors.Is(c.err, net.ErrClosed) {
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			c.l.logs.failed(host, "controller listener: TLS handshake failed", c.err, "remote", c.RemoteAddr().String())
		}
	})
	return c.err
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *handshakeConn) Write(p []byte) (int, error) {
	if err := c.handshake(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}
