package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Config holds the listener limits.
type Config struct {
	// MaxRequestBytes is socket.request.max.bytes: a frame announcing more is
	// refused by closing the connection, before reading or allocating it.
	MaxRequestBytes int32
	// MaxInFlight bounds the requests read but not yet answered per connection.
	MaxInFlight int
	// QueuedMaxRequestBytes is queued.max.request.bytes: the request bytes
	// all connections may hold in memory, read or being read and not yet
	// answered (mempool.go); <= 0: unbounded.
	QueuedMaxRequestBytes int64
	// ConnectionsMaxIdle is connections.max.idle.ms: a connection with no
	// request in flight and nothing read or written for this long is
	// closed (idle.go); <= 0: never.
	ConnectionsMaxIdle time.Duration
	// Observe, when set, is called after each response is written (or
	// dropped), with the time since the request was read (metrics).
	Observe func(req *Request, resp *Response, elapsed time.Duration)
	// Admit, when set, is asked about every accepted connection; a
	// throttle > 0 (connection_creation_rate exceeded) refuses it: the
	// connection is closed once the throttle has passed, nothing read.
	Admit func(remote net.Addr) (throttle time.Duration)
	// OnAuth, when set, is told the outcome of every SASL authentication
	// (err nil: success, the user is in c.User) after the answer is
	// queued: metrics and the failed-authentication log line.
	OnAuth func(c *ConnInfo, mechanism string, err error)
}

// Listener is what a listener serves: its name and, on a SASL listener,
// the authenticator every connection must pass before any request other
// than ApiVersions is handled.
type Listener struct {
	Name string
	SASL Authenticator // nil: no authentication (PLAINTEXT)
	// MaxReauth is connections.max.reauth.ms per SASL mechanism: a
	// session lasts at most this long before the client must
	// re-authenticate (KIP-368); absent or 0: no limit.
	MaxReauth map[string]time.Duration
	// TLS, when set, makes every connection TLS (SSL, SASL_SSL): the
	// handshake runs on the connection's goroutine, bounded by
	// HandshakeTimeout (<= 0: DefaultHandshakeTimeout). Fetch responses
	// on it are copied through TLS, never spliced with sendfile.
	TLS              *tls.Config
	HandshakeTimeout time.Duration
	// Principal, when set on a listener without SASL, names the user of a
	// connection that presented a client certificate (mutual TLS); an
	// error closes the connection.
	Principal func(leaf *x509.Certificate) (string, error)
}

// Authenticator starts SASL exchanges for the mechanisms of one listener.
type Authenticator interface {
	// Mechanisms lists the enabled mechanisms (SaslHandshake's answer).
	Mechanisms() []string
	// Start begins an exchange; ok is false for a mechanism not enabled.
	Start(mechanism string) (ex SASLExchange, ok bool)
}

// SASLExchange is one authentication in progress.
type SASLExchange interface {
	// Step takes a client token and returns the server's; done reports
	// success. An error fails the authentication: its Error() is what
	// the client is told.
	Step(token []byte) (reply []byte, done bool, err error)
	// User is the authenticated user once Step reported done.
	User() string
}

// Server accepts Kafka connections and serves them with a Handler.
type Server struct {
	cfg    Config
	h      Handler
	pool   *memPool
	log    *slog.Logger
	lns    []net.Listener
	mu     sync.Mutex
	conns  map[*conn]struct{}
	closed bool
	wg     sync.WaitGroup
}

// New returns a server; call Serve with a listener.
func New(cfg Config, h Handler, logger *slog.Logger) *Server {
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = 64
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = 100 << 20
	}
	return &Server{cfg: cfg, h: h, log: logger, pool: newMemPool(cfg.QueuedMaxRequestBytes), conns: map[*conn]struct{}{}}
}

// PoolStats reports the request memory pool (metrics).
func (s *Server) PoolStats() PoolStats { return s.pool.stats() }

// Serve accepts until the listener is closed, as a PLAINTEXT listener.
func (s *Server) Serve(ln net.Listener) error {
	return s.ServeListener(ln, Listener{Name: "PLAINTEXT"})
}

// ServeListener accepts on ln until it is closed, serving l. A server may
// serve several listeners at once (one call each).
func (s *Server) ServeListener(ln net.Listener, l Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns = append(s.lns, ln)
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return nil
			}
			s.log.Warn("accept failed", "err", err)
			continue
		}
		if s.cfg.Admit != nil {
			if d := s.cfg.Admit(nc.RemoteAddr()); d > 0 {
				s.log.Debug("connection throttled: connection_creation_rate exceeded", "remote", nc.RemoteAddr().String(), "close_after", d)
				time.AfterFunc(d, func() { nc.Close() })
				continue
			}
		}
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetNoDelay(true)
		}
		if l.TLS != nil {
			// No I/O yet: the handshake runs in the connection's goroutine.
			nc = tls.Server(nc, l.TLS)
		}
		c := newConn(s, nc, l)
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.run()
	}
}

// Close stops accepting, closes every connection and waits for them.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	lns := s.lns
	for c := range s.conns {
		c.closeOnce()
	}
	s.mu.Unlock()
	var err error
	for _, ln := range lns {
		if cerr := ln.Close(); err == nil {
			err = cerr
		}
	}
	s.wg.Wait()
	return err
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.wg.Done()
}

// NumConns is the number of open client connections (metrics).
func (s *Server) NumConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}
