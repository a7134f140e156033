package testcluster

import (
	"context"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Endpoints of a connection: a node's index, or one of these.
const (
	client  = -1 // a test's kgo client or the fixture's probe
	outside = -2 // an address no node listens on
)

// network is the fixture's dialer-level network. Every connection in a
// cluster is opened by one of its dialers (brokers through broker.Options
// .Dial, clients through kgo.Dialer), which knows the dialing end; the
// destination is looked up by listener address. The dialing end's
// net.Conn is wrapped, and faults act on the wrappers:
//
//   - a cut link refuses new dials (ECONNREFUSED) and closes the open
//     connections between its two ends (the peer reads EOF);
//   - a paused node's connections stall: reads and writes through their
//     wrappers block (until Resume, Close or their deadline), so no new
//     byte crosses in either direction while the sockets stay open.
//
// Accepted connections are never wrapped: both directions of a TCP
// connection pass through the dialing end's wrapper.
type network struct {
	mu         sync.Mutex
	addrs      map[string]int        // listener address -> node index
	cut        map[[2]int]bool       // both orders stored
	clientsCut map[int]bool          // node index -> cut from clients
	down       map[int]bool          // crashed: every connection refused
	paused     map[int]chan struct{} // closed by Resume
	conns      map[*netConn]struct{}
}

func newNetwork() *network {
	return &network{addrs: map[string]int{}, cut: map[[2]int]bool{}, clientsCut: map[int]bool{}, down: map[int]bool{},
		paused: map[int]chan struct{}{}, conns: map[*netConn]struct{}{}}
}

// register maps a listener address to node i.
func (n *network) register(addr string, i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.addrs[addr] = i
}

// blocked reports whether traffic between a and b is cut. Under mu.
func (n *network) blocked(a, b int) bool {
	switch {
	case n.down[a] || n.down[b]:
		return true
	case a == b || a == outside || b == outside:
		return false
	case a == client:
		return n.clientsCut[b]
	case b == client:
		return n.clientsCut[a]
	}
	return n.cut[[2]int{a, b}]
}

// dialer is node src's (or the clients') way to open connections.
func (n *network) dialer(src int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, netw, addr string) (net.Conn, error) {
		n.mu.Lock()
		dst, ok := n.addrs[addr]
		if !ok {
			dst = outside
		}
		refused := n.blocked(src, dst)
		n.mu.Unlock()
		if refused {
			return nil, &net.OpError{Op: "dial", Net: netw, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		var d net.Dialer
		nc, err := d.DialContext(ctx, netw, addr)
		if err != nil {
			return nil, err
		}
		c := &netConn{Conn: nc, n: n, src: src, dst: dst, closed: make(chan struct{}), kick: make(chan struct{})}
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.blocked(src, dst) { // cut while dialing
			nc.Close()
			return nil, &net.OpError{Op: "dial", Net: netw, Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
		}
		n.conns[c] = struct{}{}
		return c, nil
	}
}

// setCut cuts (or heals) the link between a and b and closes the
// connections that cross it.
func (n *network) setCut(a, b int, on bool) {
	n.mu.Lock()
	if on {
		n.cut[[2]int{a, b}], n.cut[[2]int{b, a}] = true, true
	} else {
		delete(n.cut, [2]int{a, b})
		delete(n.cut, [2]int{b, a})
	}
	n.mu.Unlock()
	if on {
		n.closeBlocked()
	}
}

// setClientsCut cuts (or heals) node i from every client.
func (n *network) setClientsCut(i int, on bool) {
	n.mu.Lock()
	if on {
		n.clientsCut[i] = true
	} else {
		delete(n.clientsCut, i)
	}
	n.mu.Unlock()
	if on {
		n.closeBlocked()
	}
}

// healAll restores every link (pauses stay).
func (n *network) healAll() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.cut)
	clear(n.clientsCut)
}

// closeBlocked closes every open connection whose link is cut.
func (n *network) closeBlocked() {
	n.mu.Lock()
	var victims []*netConn
	for c := range n.conns {
		if n.blocked(c.src, c.dst) {
			victims = append(victims, c)
		}
	}
	n.mu.Unlock()
	for _, c := range victims {
		c.Close()
	}
}

// setDown marks node i crashed (or back): while down, every connection
// to or from it is refused and those open are closed, as the kernel
// resets a killed process's sockets.
func (n *network) setDown(i int, on bool) {
	n.mu.Lock()
	if on {
		n.down[i] = true
	} else {
		delete(n.down, i)
	}
	n.mu.Unlock()
	if on {
		n.closeBlocked()
	}
}

// pause stalls node i's connections until resume.
func (n *network) pause(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.paused[i] == nil {
		n.paused[i] = make(chan struct{})
	}
}

func (n *network) resume(i int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if ch := n.paused[i]; ch != nil {
		close(ch)
		delete(n.paused, i)
	}
}

func (n *network) isPaused(i int) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.paused[i] != nil
}

// stall is the channel a connection between a and b waits on, nil when
// neither end is paused. Under mu.
func (n *network) stall(a, b int) chan struct{} {
	if ch := n.paused[a]; ch != nil {
		return ch
	}
	return n.paused[b] // a nil map entry for client/outside
}

// open counts the wrapped connections still open.
func (n *network) open() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.conns)
}

// netConn is the dialing end of a connection on the network.
type netConn struct {
	net.Conn // only net.Conn's methods: io.Copy cannot bypass Read/Write
	n        *network
	src, dst int

	closeOnce sync.Once
	closed    chan struct{}

	mu      sync.Mutex
	rdl     time.Time     // read deadline
	wdl     time.Time     // write deadline
	kick    chan struct{} // closed and replaced when a deadline changes
	pending []byte        // read while stalled, handed out after
}

// gate waits while either end is paused. It fails once the connection is
// closed or the deadline (read or write, as SetDeadline set it) passes.
func (c *netConn) gate(read bool) error {
	for {
		c.n.mu.Lock()
		ch := c.n.stall(c.src, c.dst)
		c.n.mu.Unlock()
		if ch == nil {
			select {
			case <-c.closed:
				return net.ErrClosed
			default:
				return nil
			}
		}
		c.mu.Lock()
		dl, kick := c.wdl, c.kick
		if read {
			dl = c.rdl
		}
		c.mu.Unlock()
		var timer *time.Timer
		var timeout <-chan time.Time
		if !dl.IsZero() {
			d := time.Until(dl)
			if d <= 0 {
				return os.ErrDeadlineExceeded
			}
			timer = time.NewTimer(d)
			timeout = timer.C
		}
		var err error
		select {
		case <-ch:
		case <-c.closed:
			err = net.ErrClosed
		case <-timeout:
			err = os.ErrDeadlineExceeded
		case <-kick:
		}
		if timer != nil {
			timer.Stop()
		}
		if err != nil {
			return err
		}
	}
}

// Read holds bytes that arrive while an end is paused (a Read already
// blocked in the kernel when the pause began) until the pause ends, so a
// paused node's answer never reaches its peer during the pause.
func (c *netConn) Read(p []byte) (int, error) {
	if err := c.gate(true); err != nil {
		return 0, err
	}
	c.mu.Lock()
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		c.mu.Unlock()
		return n, nil
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	if n > 0 {
		if gerr := c.gate(true); gerr != nil {
			c.mu.Lock()
			c.pending = append(c.pending, p[:n]...)
			c.mu.Unlock()
			return 0, gerr
		}
	}
	return n, err
}

func (c *netConn) Write(p []byte) (int, error) {
	if err := c.gate(false); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

func (c *netConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		c.n.mu.Lock()
		delete(c.n.conns, c)
		c.n.mu.Unlock()
		err = c.Conn.Close()
	})
	return err
}

func (c *netConn) SetDeadline(t time.Time) error {
	c.setDeadline(&t, &t)
	return c.Conn.SetDeadline(t)
}

func (c *netConn) SetReadDeadline(t time.Time) error {
	c.setDeadline(&t, nil)
	return c.Conn.SetReadDeadline(t)
}

func (c *netConn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(nil, &t)
	return c.Conn.SetWriteDeadline(t)
}

// setDeadline records deadlines and wakes a stalled Read or Write to
// look at them again.
func (c *netConn) setDeadline(r, w *time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r != nil {
		c.rdl = *r
	}
	if w != nil {
		c.wdl = *w
	}
	close(c.kick)
	c.kick = make(chan struct{})
}
