package server

import (
	"bufio"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

type pending struct {
	req   *Request
	reply Reply
	start time.Time
	frame []byte // returned to the frame pools after the response; nil: not recyclable
	held  int64  // bytes of the memory pool released after the response
}

type conn struct {
	s       *Server
	nc      net.Conn
	br      *bufio.Reader
	info    *ConnInfo
	replies chan pending
	done    chan struct{}
	once    sync.Once
	// mutedUntil (unix nanoseconds, 0: never muted) is when the last
	// quota throttle of this connection ends; the read loop handles no
	// request before then.
	mutedUntil atomic.Int64
	// Idle tracking (idle.go): requests queued and not yet answered, and
	// the last read (read loop only) and write (unix nanoseconds).
	inflight  atomic.Int32
	lastRead  int64
	lastWrite atomic.Int64
	pu        poolUser // the read loop's standing with the memory pool
	// SASL state (sasl.go, reauth.go), read loop only.
	sasl       Authenticator
	auth       authState
	ex         SASLExchange
	maxReauth  map[string]time.Duration // connections.max.reauth.ms per mechanism
	session    time.Time                // when the session ends; zero: never
	lastReauth time.Time                // when the last re-authentication began
	reauth     bool                     // the exchange in progress re-authenticates
	reauthBad  string                   // a re-authentication with another mechanism: why it fails
	// TLS listeners (tls.go): the handshake's bound and, on SSL without
	// SASL, the client certificate's principal.
	hsTimeout time.Duration
	principal func(*x509.Certificate) (string, error)
}

func newConn(s *Server, nc net.Conn, l Listener) *conn {
	c := &conn{
		s:       s,
		nc:      nc,
		br:      bufio.NewReaderSize(nc, 64<<10),
		info:    &ConnInfo{Remote: nc.RemoteAddr(), Done: make(chan struct{}), Listener: l.Name},
		replies: make(chan pending, s.cfg.MaxInFlight),
		done:    make(chan struct{}),
		sasl:    l.SASL,
		// The principal comes from SASL on SASL_SSL, as in Kafka.
		hsTimeout: l.HandshakeTimeout,
	}
	if l.SASL == nil {
		c.principal = l.Principal
	}
	if l.SASL != nil {
		c.auth, c.maxReauth = authHandshake, l.MaxReauth
	}
	return c
}

func (c *conn) run() {
	defer c.s.forget(c)
	if !c.runHandshake() {
		return
	}
	go c.writeLoop()
	err := c.readLoop()
	// Close first so replies still parked (a fetch long poll) see Done
	// and return at once; nothing more can be written anyway.
	c.closeOnce()
	close(c.replies)
	<-c.done
	switch {
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.Is(err, errSessionExpired):
		c.s.log.Debug("closing connection whose SASL session expired", "remote", c.info.Remote.String(), "client_id", c.info.ClientID,
			"user", c.info.User)
	case errors.Is(err, errIdle):
		c.s.log.Debug("closing idle connection", "remote", c.info.Remote.String(), "client_id", c.info.ClientID,
			"idle", c.s.cfg.ConnectionsMaxIdle)
	default:
		c.s.log.Info("connection closed", "remote", c.info.Remote.String(), "client_id", c.info.ClientID, "reason", err.Error())
	}
}

func (c *conn) closeOnce() {
	c.once.Do(func() {
		close(c.info.Done)
		c.nc.Close()
	})
}

// readLoop reads frames, decodes them and calls the handler in arrival
// order. Any framing or decoding error ends the connection: Kafka closes a
// connection it cannot parse rather than guess at a response.
func (c *conn) readLoop() error {
	c.touch()
	c.armIdle(time.Now())
	for {
		f, err := c.readFrame()
		if err != nil {
			return err
		}
		if err := c.serve(f); err != nil {
			return err
		}
	}
}

// serve handles one frame. The frame's memory is released here unless it
// is handed to the write loop with the request.
func (c *conn) serve(f inFrame) (err error) {
	handedOff := false
	defer func() {
		if !handedOff {
			c.s.pool.release(f.held)
		}
	}()
	start := time.Now()
	if c.auth == authRawToken {
		return c.rawToken(f.b, start)
	}
	req, body, err := parseHeader(f.b)
	if err != nil {
		return err
	}
	if req.ClientID != "" {
		c.info.ClientID = req.ClientID
	}
	req.Remote, req.Conn, req.Size = c.info.Remote, c.info, int32(len(f.b))
	if err := c.waitUnmuted(); err != nil {
		return err
	}
	if c.auth != authDone {
		// A SASL listener before authentication (sasl.go).
		if handled, err := c.preAuth(req, body, start); err != nil || handled {
			return err
		}
	} else if !c.session.IsZero() {
		// A session with a lifetime (reauth.go).
		if handled, err := c.inSession(req, body, start); err != nil || handled {
			return err
		}
	}
	if !c.s.h.Supported(req.Key, req.Version) {
		if req.Key != 18 { // ApiVersions is answered whatever its version
			return fmt.Errorf("unsupported request %s (key %d) version %d", kmsg.NameForKey(req.Key), req.Key, req.Version)
		}
	} else if err := decodeBody(req, body); err != nil {
		return err
	}
	var keep []byte
	if recyclable(req.Key) {
		keep = f.b
	}
	handedOff = true
	return c.enqueue(pending{req, c.s.h.Handle(req), start, keep, f.held})
}

// writeLoop runs replies in order and writes them. After a write error it
// keeps draining so handlers can release what they hold.
func (c *conn) writeLoop() {
	defer close(c.done)
	var werr error
	for p := range c.replies {
		werr = c.answer(p, werr)
		c.s.pool.release(p.held)
		if c.s.cfg.ConnectionsMaxIdle > 0 {
			c.lastWrite.Store(time.Now().UnixNano())
		}
		c.inflight.Add(-1)
	}
}

// answer runs one reply and writes its response unless an earlier write
// failed (werr); it returns the connection's write error.
func (c *conn) answer(p pending, werr error) error {
	resp := p.reply()
	if resp == nil {
		return werr
	}
	if werr == nil && resp.Raw != nil {
		if werr = writeRaw(c.nc, resp.Raw); werr != nil {
			c.closeOnce()
		}
	} else if werr == nil && !resp.None {
		if p.req.Body != nil {
			resp.Msg.SetVersion(p.req.Version)
		}
		if resp.Throttle > 0 {
			c.throttle(resp)
		}
		var o *out
		o, werr = encode(p.req, resp)
		if werr == nil {
			werr = writeOut(c.nc, o)
		}
		o.release()
		if werr != nil {
			c.s.log.Info("write failed", "remote", c.info.Remote.String(), "client_id", p.req.ClientID, "api_key", p.req.Key, "api_version", p.req.Version, "err", werr)
			c.closeOnce()
		}
	}
	if obs := c.s.cfg.Observe; obs != nil {
		obs(p.req, resp, time.Since(p.start))
	}
	if resp.Release != nil {
		resp.Release()
	}
	if p.frame != nil {
		putFrame(p.frame)
	}
	if resp.Close && werr == nil {
		werr = net.ErrClosed
		c.closeOnce()
	}
	return werr
}

// throttle applies a quota throttle (KIP-219): the response carries the
// throttle time and the read loop stays muted until it has passed. A request
// version older than KIP-219 gets its response late instead.
func (c *conn) throttle(resp *Response) {
	ms := int32(min(resp.Throttle.Milliseconds(), 1<<31-1))
	until := time.Now().Add(resp.Throttle)
	c.mutedUntil.Store(until.UnixNano())
	if st, ok := resp.Msg.(kmsg.SetThrottleResponse); ok {
		st.SetThrottle(ms)
	}
	if tr, ok := resp.Msg.(kmsg.ThrottleResponse); ok {
		if _, after := tr.Throttle(); !after {
			t := time.NewTimer(resp.Throttle)
			select {
			case <-t.C:
			case <-c.info.Done:
				t.Stop()
			}
		}
	}
}

// waitUnmuted blocks the read loop until the connection's quota throttle
// has passed (a timer; one atomic load when not throttled).
func (c *conn) waitUnmuted() error {
	until := c.mutedUntil.Load()
	if until == 0 {
		return nil
	}
	d := time.Until(time.Unix(0, until))
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		c.touch() // muted by us: not the client's idleness
		return nil
	case <-c.info.Done:
		return net.ErrClosed
	}
}
