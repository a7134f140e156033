package interbroker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"
)

// node is one destination broker: its current connection and the dial
// state. Invariants (under mu): at most one dial runs at a time (dialing
// is non-nil exactly while it runs); cur, when set, has finished its
// ApiVersions exchange; retryAt is the earliest time the next dial may
// start.
type node struct {
	c  *Client
	id int32

	mu      sync.Mutex
	cur     *conn
	dialing chan struct{} // closed when the running dial ends
	lastErr error         // the last dial's failure, for its waiters
	backoff time.Duration // the wait after the next failure is twice this
	retryAt time.Time
}

// get returns a live connection to the node's current address, dialing
// when there is none. Waiters share one dial; a dial that fails is
// reported to everyone who waited for it, and the next get dials again
// after the backoff. A dial starts only while cur is nil, so dial never
// replaces a live connection.
func (n *node) get(ctx context.Context) (*conn, error) {
	for {
		addr, err := n.c.cfg.Resolve(n.id)
		if err != nil {
			return nil, errUnknownNode(n.id, err)
		}
		n.mu.Lock()
		if n.c.closed.Load() {
			n.mu.Unlock()
			return nil, ErrClosed
		}
		if cn := n.cur; cn != nil {
			if cn.addr != addr {
				// The broker registered a new address: it restarted, so
				// the old connection leads to a dead or dying process.
				n.cur = nil
				n.mu.Unlock()
				cn.die(connError(n.id, cn.addr, fmt.Errorf("broker moved to %s", addr)))
				continue
			}
			if !cn.isDead() {
				n.mu.Unlock()
				return cn, nil
			}
			n.cur = nil
		}
		if n.dialing == nil {
			n.dialing = make(chan struct{})
			n.c.wg.Add(1)
			go n.dial(addr, n.dialing, n.retryAt)
		}
		ch := n.dialing
		n.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		n.mu.Lock()
		cn, err := n.cur, n.lastErr
		n.mu.Unlock()
		if cn == nil && err != nil {
			return nil, err
		}
	}
}

// dial connects to addr once retryAt has passed, exchanges ApiVersions
// and publishes the connection, or records the failure and doubles the
// backoff. It runs under the client's context, not a caller's: one
// caller giving up must not abort the dial others wait for.
func (n *node) dial(addr string, done chan struct{}, retryAt time.Time) {
	defer n.c.wg.Done()
	var cn *conn
	err := n.c.ctx.Err()
	if wait := time.Until(retryAt); wait > 0 && err == nil {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-n.c.ctx.Done():
			t.Stop()
			err = n.c.ctx.Err()
		}
	}
	if err == nil {
		cn, err = n.c.open(n.id, addr, n.connDied)
	}
	n.mu.Lock()
	n.dialing = nil
	closed := n.c.closed.Load()
	switch {
	case closed:
		// Close may have swept this node already: the connection must
		// not outlive it.
		n.lastErr = ErrClosed
	case err != nil:
		n.lastErr = err
		n.backoff = min(max(2*n.backoff, n.c.cfg.BackoffMin), n.c.cfg.BackoffMax)
		n.retryAt = time.Now().Add(jitter(n.backoff))
		n.c.cfg.Logger.Debug("inter-broker dial failed", "broker", n.id, "addr", addr, "retry_in", n.backoff, "err", err)
	default:
		n.lastErr = nil
		n.backoff = 0
		n.cur = cn
		n.c.cfg.Logger.Debug("inter-broker connection up", "broker", n.id, "addr", addr)
	}
	n.mu.Unlock()
	close(done)
	if closed && cn != nil {
		cn.die(ErrClosed)
	}
}

// connDied is called once by a connection when it dies: the next request
// dials a fresh one after BackoffMin, so a broker that closes every
// connection at once is not hammered.
func (n *node) connDied(cn *conn, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cur == cn {
		n.cur = nil
		n.backoff = n.c.cfg.BackoffMin
		n.retryAt = time.Now().Add(jitter(n.backoff))
	}
}

// shutdown closes the node's connection for Close.
func (n *node) shutdown() {
	n.mu.Lock()
	cn := n.cur
	n.cur = nil
	n.mu.Unlock()
	if cn != nil {
		cn.die(ErrClosed)
	}
}

// jitter spreads d by ±20% so brokers reconnecting to a restarted peer do
// not dial in lockstep.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}
