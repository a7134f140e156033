package server

import (
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
	// Observe, when set, is called after each response is written (or
	// dropped), with the time since the request was read (metrics).
	Observe func(req *Request, resp *Response, elapsed time.Duration)
	// Admit, when set, is asked about every accepted connection; a
	// throttle > 0 (connection_creation_rate exceeded) refuses it: the
	// connection is closed once the throttle has passed, nothing read.
	Admit func(remote net.Addr) (throttle time.Duration)
}

// Server accepts Kafka connections and serves them with a Handler.
type Server struct {
	cfg    Config
	h      Handler
	log    *slog.Logger
	ln     net.Listener
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
	return &Server{cfg: cfg, h: h, log: logger, conns: map[*conn]struct{}{}}
}

// Serve accepts until the listener is closed.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
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
		c := newConn(s, nc)
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
	ln := s.ln
	for c := range s.conns {
		c.closeOnce()
	}
	s.mu.Unlock()
	var err error
	if ln != nil {
		err = ln.Close()
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
