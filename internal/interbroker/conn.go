package interbroker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// conn is one TCP connection to one broker, pipelined: callers queue
// calls, one writer goroutine writes them in batches, one reader goroutine
// matches responses to them in write order (Kafka answers a connection's
// requests in the order it received them).
//
// Invariants, under mu:
//   - every unfinished call is in exactly one of pending (not yet handed
//     to the socket) and inflight (written, awaiting its response), or held
//     by the writer between the two for one batch;
//   - inflight is in correlation-id order, which is write order;
//   - once dead, pending and inflight are empty and stay empty: die
//     finished every call they held, and nothing is queued after.
//
// A call holds one token of slots from enqueue to finish, so at most
// MaxInFlight calls are queued or unanswered on the connection.
type conn struct {
	cl     *Client
	node   int32
	addr   string
	nc     net.Conn
	onDead func(*conn, error)

	// versions is filled by the handshake before the connection is
	// published to other goroutines, and only read afterwards.
	versions map[int16]kmsg.ApiVersionsResponseApiKey

	slots  chan struct{}
	wake   chan struct{} // cap 1: pending has calls for the writer
	deadCh chan struct{} // closed by die

	mu       sync.Mutex
	pending  []*call
	inflight []*call
	dead     bool
	deadErr  error
	lastUsed time.Time

	corr int32 // the last correlation id used; writer goroutine only
}

// open dials addr, starts the connection's goroutines and exchanges
// ApiVersions, all within DialTimeout.
func (c *Client) open(node int32, addr string, onDead func(*conn, error)) (*conn, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.DialTimeout)
	defer cancel()
	nc, err := c.cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, connError(node, addr, err)
	}
	cn := &conn{
		cl: c, node: node, addr: addr, nc: nc, onDead: onDead,
		slots:    make(chan struct{}, c.cfg.MaxInFlight),
		wake:     make(chan struct{}, 1),
		deadCh:   make(chan struct{}),
		lastUsed: time.Now(),
	}
	c.wg.Add(2)
	go cn.writeLoop()
	go cn.readLoop()
	versions, err := cn.handshake(ctx)
	if err != nil {
		if !errors.Is(err, ErrConnection) {
			err = connError(node, addr, fmt.Errorf("ApiVersions: %w", err))
		}
		cn.die(err)
		return nil, err
	}
	cn.versions = versions
	if mech := c.cfg.SASL; mech != nil {
		if err := cn.authenticate(ctx, mech); err != nil {
			cn.die(err)
			return nil, err
		}
	}
	return cn, nil
}

func (cn *conn) isDead() bool {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.dead
}

// do queues req (its version already set) and waits for its response.
// A failure before the call was queued or written is a *notSentError.
func (cn *conn) do(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	select {
	case cn.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-cn.deadCh:
		return nil, &notSentError{cn.deathErr()}
	}
	cl := cn.cl.encode(req, cn.slots)
	cn.mu.Lock()
	if cn.dead {
		err := cn.deadErr
		cn.mu.Unlock()
		cl.finish(nil, err)
		return nil, &notSentError{err}
	}
	cn.pending = append(cn.pending, cl)
	cn.lastUsed = time.Now()
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default: // the writer is already due to look
	}
	select {
	case <-cl.done:
	case <-ctx.Done():
		// The writer skips the call if it has not written it yet; else
		// the reader drops its response. The connection stays up.
		cl.abandoned.Store(true)
		return nil, ctx.Err()
	}
	if cl.err != nil {
		return nil, cl.err
	}
	return decode(cn.node, req, cl)
}

func (cn *conn) deathErr() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	return cn.deadErr
}

// writeLoop writes queued calls and, on a tick, enforces the request
// timeout on the oldest unanswered call and closes an idle connection.
func (cn *conn) writeLoop() {
	defer cn.cl.wg.Done()
	cfg := &cn.cl.cfg
	tick := time.NewTicker(min(max(min(cfg.RequestTimeout, cfg.IdleTimeout)/4, 5*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-cn.deadCh:
			return
		case <-cn.wake:
			cn.flush()
		case now := <-tick.C:
			cn.watchdog(now)
		}
	}
}

// flush moves every pending call to inflight with the next correlation
// ids and writes them in one writev. The move happens before the write so
// the reader can always match a response to its call.
func (cn *conn) flush() {
	var bufs net.Buffers
	var written, skipped, noResp []*call
	now := time.Now()
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	for _, cl := range cn.pending {
		if cl.abandoned.Load() {
			skipped = append(skipped, cl)
			continue
		}
		cn.corr++
		cl.corr = cn.corr
		setCorrelation(cl.buf, cl.corr)
		bufs = append(bufs, cl.buf)
		written = append(written, cl)
		if cl.noResponse {
			noResp = append(noResp, cl)
		} else {
			cl.deadline = now.Add(cl.allowance)
			cn.inflight = append(cn.inflight, cl)
		}
	}
	cn.pending = nil
	cn.mu.Unlock()
	for _, cl := range skipped {
		cl.finish(nil, context.Canceled)
	}
	if len(bufs) == 0 {
		return
	}
	_ = cn.nc.SetWriteDeadline(now.Add(cn.cl.cfg.RequestTimeout))
	_, err := bufs.WriteTo(cn.nc)
	for _, cl := range written {
		cl.buf = nil // the frame may be large (Produce); free it now
	}
	if err != nil {
		err = connError(cn.node, cn.addr, err)
		for _, cl := range noResp {
			cl.finish(nil, err)
		}
		cn.die(err)
		return
	}
	for _, cl := range noResp {
		cl.finish(nil, nil)
	}
}

// watchdog declares the connection dead when its oldest unanswered call
// has waited longer than its allowance (the broker or the path to it is
// stuck), and closes it when nothing has used it for IdleTimeout.
func (cn *conn) watchdog(now time.Time) {
	cn.mu.Lock()
	var err error
	switch {
	case cn.dead:
	case len(cn.inflight) > 0:
		if head := cn.inflight[0]; now.After(head.deadline) {
			err = connError(cn.node, cn.addr, fmt.Errorf("no response to %s v%d within %s",
				kmsg.NameForKey(head.key), head.version, head.allowance))
		}
	case len(cn.pending) == 0 && now.Sub(cn.lastUsed) >= cn.cl.cfg.IdleTimeout:
		err = connError(cn.node, cn.addr, fmt.Errorf("closed after %s idle", cn.cl.cfg.IdleTimeout))
	}
	cn.mu.Unlock()
	if err != nil {
		cn.die(err)
	}
}

// readLoop reads responses and completes their calls in order.
func (cn *conn) readLoop() {
	defer cn.cl.wg.Done()
	br := bufio.NewReaderSize(cn.nc, 32<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(br, hdr[:4]); err != nil {
			cn.die(connError(cn.node, cn.addr, err))
			return
		}
		size := int32(binary.BigEndian.Uint32(hdr[:4]))
		if size < 4 {
			cn.die(connError(cn.node, cn.addr, fmt.Errorf("invalid response size %d", size)))
			return
		}
		if limit := cn.cl.cfg.MaxResponseBytes; size > limit {
			err := fmt.Errorf("%w: broker %d at %s sent %d bytes, the limit is %d", ErrResponseTooLarge, cn.node, cn.addr, size, limit)
			if head := cn.popHead(); head != nil {
				head.finish(nil, err)
			}
			cn.die(connError(cn.node, cn.addr, err))
			return
		}
		if _, err := io.ReadFull(br, hdr[4:]); err != nil {
			cn.die(connError(cn.node, cn.addr, err))
			return
		}
		corr := int32(binary.BigEndian.Uint32(hdr[4:]))
		head := cn.popHead()
		if head == nil || head.corr != corr {
			err := connError(cn.node, cn.addr, fmt.Errorf("response with correlation id %d does not match the oldest request", corr))
			if head != nil {
				head.finish(nil, err)
			}
			cn.die(err)
			return
		}
		var body []byte
		var err error
		if head.abandoned.Load() {
			_, err = io.CopyN(io.Discard, br, int64(size-4))
		} else {
			body = make([]byte, size-4)
			_, err = io.ReadFull(br, body)
		}
		if err != nil {
			err = connError(cn.node, cn.addr, err)
			head.finish(nil, err)
			cn.die(err)
			return
		}
		head.finish(body, nil)
	}
}

// popHead removes and returns the oldest unanswered call, nil if none.
func (cn *conn) popHead() *call {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if len(cn.inflight) == 0 {
		return nil
	}
	head := cn.inflight[0]
	cn.inflight[0] = nil
	cn.inflight = cn.inflight[1:]
	cn.lastUsed = time.Now()
	return head
}

// die closes the connection once: calls not yet written fail with a
// *notSentError (Request may move them to a new connection), calls in
// flight with err; both goroutines exit; the node forgets it.
func (cn *conn) die(err error) {
	cn.mu.Lock()
	if cn.dead {
		cn.mu.Unlock()
		return
	}
	cn.dead, cn.deadErr = true, err
	pending, inflight := cn.pending, cn.inflight
	cn.pending, cn.inflight = nil, nil
	cn.mu.Unlock()
	close(cn.deadCh)
	_ = cn.nc.Close()
	for _, cl := range pending {
		cl.finish(nil, &notSentError{err})
	}
	for _, cl := range inflight {
		cl.finish(nil, err)
	}
	if len(inflight) > 0 {
		cn.cl.cfg.Logger.Info("inter-broker connection closed with requests in flight", "broker", cn.node, "addr", cn.addr, "in_flight", len(inflight), "err", err)
	} else {
		cn.cl.cfg.Logger.Debug("inter-broker connection closed", "broker", cn.node, "addr", cn.addr, "err", err)
	}
	cn.onDead(cn, err)
}
