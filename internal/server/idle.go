package server

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// Idle connections (Kafka's connections.max.idle.ms). A connection is idle
// when no request is in flight (read but not yet answered) and nothing was
// received or written for the idle time; the broker then closes it. A frame
// received in part counts as idle once its bytes stop coming, so a client
// cannot hold a partial frame's memory forever by going quiet.
//
// No timer per connection: the read loop's socket read deadline is armed
// at the moment the connection would become idle, and only when it fires
// does the loop look at the clocks: a request in flight or a later read or
// write re-arms it, otherwise the connection is closed. Waits of the broker's
// own making (memory pool, quota mute) count as activity.

// errIdle ends a connection closed for being idle.
var errIdle = errors.New("idle for connections.max.idle.ms")

// armIdle sets the read deadline to when the connection becomes idle if
// nothing happens before; a no-op when idle connections are kept.
func (c *conn) armIdle(at time.Time) {
	if c.s.cfg.ConnectionsMaxIdle > 0 {
		_ = c.nc.SetReadDeadline(at.Add(c.s.cfg.ConnectionsMaxIdle))
	}
}

// touch records activity of the read loop.
func (c *conn) touch() {
	if c.s.cfg.ConnectionsMaxIdle > 0 {
		c.lastRead = time.Now().UnixNano()
	}
}

// stillBusy is called when a read hit its deadline. It re-arms the deadline
// and reports true unless the connection has been idle for the whole
// idle time, and reports false for any other error.
func (c *conn) stillBusy(err error) bool {
	var ne net.Error
	if c.s.cfg.ConnectionsMaxIdle <= 0 || !errors.As(err, &ne) || !ne.Timeout() {
		return false
	}
	now := time.Now()
	if c.inflight.Load() > 0 {
		c.armIdle(now)
		return true
	}
	last := time.Unix(0, max(c.lastRead, c.lastWrite.Load()))
	if now.Sub(last) < c.s.cfg.ConnectionsMaxIdle {
		c.armIdle(last)
		return true
	}
	return false
}

// read reads into p from the connection's buffered reader, closing the
// connection (errIdle) once it has been idle for connections.max.idle.ms.
func (c *conn) read(p []byte) (int, error) {
	for {
		n, err := c.br.Read(p)
		if n > 0 {
			c.touch()
			return n, nil
		}
		if err == nil {
			continue
		}
		if !c.stillBusy(err) {
			return 0, idleOr(err)
		}
	}
}

// waitData blocks until at least one byte is buffered, with read's idle rule.
func (c *conn) waitData() error {
	for {
		_, err := c.br.Peek(1)
		if err == nil {
			c.touch()
			return nil
		}
		if !c.stillBusy(err) {
			return idleOr(err)
		}
	}
}

func idleOr(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %v", errIdle, err)
	}
	return err
}
