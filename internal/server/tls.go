package server

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"time"
)

// DefaultHandshakeTimeout bounds a TLS handshake when the listener sets
// none. Kafka has no such setting (a stuck handshake waits for
// connections.max.idle.ms, 10 minutes by default); a fixed bound keeps
// half-open handshakes from holding a goroutine and a socket that long.
const DefaultHandshakeTimeout = 10 * time.Second

// tlsHandshake completes the TLS handshake of a connection on a TLS listener
// within the listener's bound, then derives the mutual-TLS principal. It
// runs on the connection's goroutine, so a slow client never holds up
// the accept loop. An error is logged here, once, by the caller's close.
func (c *conn) tlsHandshake(tc *tls.Conn) error {
	d := c.hsTimeout
	if d <= 0 {
		d = DefaultHandshakeTimeout
	}
	_ = tc.SetDeadline(time.Now().Add(d))
	err := tc.Handshake()
	_ = tc.SetDeadline(time.Time{})
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("handshake not finished within %v", d)
		}
		return err
	}
	if c.principal == nil {
		return nil
	}
	cs := tc.ConnectionState()
	if len(cs.PeerCertificates) == 0 {
		return nil // no client certificate: User:ANONYMOUS, as Kafka
	}
	user, err := c.principal(cs.PeerCertificates[0])
	if err != nil {
		return fmt.Errorf("client certificate maps to no principal: %w", err)
	}
	c.info.User = user
	return nil
}

// runHandshake is run's first step on a TLS connection: false means the
// handshake failed, the reason is logged and the connection closed.
func (c *conn) runHandshake() bool {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return true
	}
	err := c.tlsHandshake(tc)
	if err == nil {
		return true
	}
	if !errors.Is(err, net.ErrClosed) { // closed by shutdown: nothing to say
		c.s.log.Info("TLS handshake failed", "remote", c.info.Remote.String(), "listener", c.info.Listener, "reason", err.Error())
	}
	c.closeOnce()
	return false
}
