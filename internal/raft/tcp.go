package raft

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"google.golang.org/protobuf/proto"
)

// TCP is the transport between controllers, on the listener named by
// controller.listener.names. Raft messages are not Kafka APIs: each
// connection starts with tcpMagic and the cluster id (a frame; a member of
// another cluster is refused, as KRaft checks the cluster id), then carries frames of a 4-byte big
// endian length and a protobuf raftpb.Message. Each peer has one outbound
// connection, written by its own goroutine from a bounded queue; a full
// queue or a broken connection drops messages (raft resends) and reports
// the peer unreachable.
type TCP struct {
	id      uint64
	cluster string // every connection names it; a peer of another cluster is refused
	ln      net.Listener
	recv    Receiver
	logger  *slog.Logger

	fwd  func(ctx context.Context, req []byte) []byte
	dial Dialer // how connections to peers are opened

	mu     sync.Mutex
	peers  map[uint64]*tcpPeer
	conns  map[net.Conn]struct{}
	closed bool
	stop   chan struct{} // closed by Close: ends observers' long polls
	wg     sync.WaitGroup
}

const (
	tcpMagic    = "SLRAFT1\n"
	fwdMagic    = "SLFWD01\n"
	maxFrame    = 256 << 20
	peerQueue   = 4096
	dialTimeout = time.Second
)

// Dialer opens a connection to a peer, as net.Dialer.DialContext does.
// It is the seam tests use to put the transport on a network they can
// cut or stall (internal/testcluster).
type Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

// NewTCP serves raft on ln and sends to peers (node id to host:port, this
// node's own entry ignored). recv is the local node. With ln nil nothing
// is served: an observer uses the transport only to Forward.
func NewTCP(id uint64, clusterID string, ln net.Listener, peers map[uint64]string, recv Receiver, logger *slog.Logger) *TCP {
	return NewTCPDialer(id, clusterID, ln, peers, recv, logger, nil)
}

// NewTCPDialer is NewTCP with the peer connections (raft stream and
// forwarded requests) opened by dial; nil dials with net.Dialer.
func NewTCPDialer(id uint64, clusterID string, ln net.Listener, peers map[uint64]string, recv Receiver, logger *slog.Logger, dial Dialer) *TCP {
	if logger == nil {
		logger = slog.Default()
	}
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	t := &TCP{id: id, cluster: clusterID, ln: ln, recv: recv, logger: logger, dial: dial, peers: map[uint64]*tcpPeer{}, conns: map[net.Conn]struct{}{}, stop: make(chan struct{})}
	for pid, addr := range peers {
		if pid == id {
			continue
		}
		p := &tcpPeer{t: t, id: pid, addr: addr, q: make(chan *raftpb.Message, peerQueue), stop: make(chan struct{})}
		t.peers[pid] = p
		t.wg.Add(1)
		go p.run()
	}
	if ln != nil { // an observer's transport only dials (Forward)
		t.wg.Add(1)
		go t.accept()
	}
	return t
}

// Addr is the address the transport listens on.
func (t *TCP) Addr() net.Addr { return t.ln.Addr() }

// Send queues msgs for their peers without blocking.
func (t *TCP) Send(msgs []*raftpb.Message) {
	for _, m := range msgs {
		t.mu.Lock()
		p := t.peers[m.GetTo()]
		t.mu.Unlock()
		if p == nil {
			continue
		}
		select {
		case p.q <- m:
		default:
			t.recv.ReportUnreachable(p.id)
			if m.GetType() == raftpb.MessageType_MsgSnap {
				t.recv.ReportSnapshot(p.id, false)
			}
		}
	}
}

// Close stops listening, closes every connection and waits for the
// transport's goroutines.
func (t *TCP) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	close(t.stop)
	var err error
	if t.ln != nil {
		err = t.ln.Close()
	}
	for c := range t.conns {
		c.Close()
	}
	for _, p := range t.peers {
		close(p.stop)
	}
	t.mu.Unlock()
	t.wg.Wait()
	return err
}

func (t *TCP) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		c.Close()
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *TCP) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
	c.Close()
}

func (t *TCP) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			return
		}
		if !t.track(c) {
			return
		}
		t.wg.Add(1)
		go t.serve(c)
	}
}

func (t *TCP) serve(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	r := bufio.NewReaderSize(c, 64<<10)
	magic := make([]byte, len(tcpMagic))
	if _, err := io.ReadFull(r, magic); err != nil {
		return
	}
	if string(magic) != tcpMagic && string(magic) != fwdMagic && string(magic) != obsMagic {
		t.logger.Warn("raft transport: refused a connection that does not speak raft", "remote", c.RemoteAddr())
		return
	}
	if cl, err := readFrame(r); err != nil || string(cl) != t.cluster {
		t.logger.Error("raft transport: refused a member of another cluster", "remote", c.RemoteAddr(), "cluster", string(cl), "ours", t.cluster)
		return
	}
	if string(magic) == fwdMagic {
		t.serveForward(c, r)
		return
	}
	if string(magic) == obsMagic {
		t.serveObserver(c, r)
		return
	}
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrame {
			t.logger.Warn("raft transport: frame too large", "remote", c.RemoteAddr(), "bytes", n)
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		m := &raftpb.Message{}
		if err := proto.Unmarshal(buf, m); err != nil {
			t.logger.Warn("raft transport: bad message", "remote", c.RemoteAddr(), "err", err)
			return
		}
		t.recv.Step(m)
	}
}

type tcpPeer struct {
	t    *TCP
	id   uint64
	addr string
	q    chan *raftpb.Message
	stop chan struct{}

	conn net.Conn
	w    *bufio.Writer
}

func (p *tcpPeer) run() {
	defer p.t.wg.Done()
	defer p.disconnect()
	for {
		select {
		case <-p.stop:
			return
		case m := <-p.q:
			err := p.write(m)
			// Flush once the queue is drained: one syscall per burst.
			for err == nil && len(p.q) > 0 {
				err = p.write(<-p.q)
			}
			if err == nil {
				err = p.w.Flush()
			}
			if err != nil {
				p.disconnect()
				p.t.recv.ReportUnreachable(p.id)
				if m.GetType() == raftpb.MessageType_MsgSnap {
					p.t.recv.ReportSnapshot(p.id, false)
				}
				continue
			}
			if m.GetType() == raftpb.MessageType_MsgSnap {
				p.t.recv.ReportSnapshot(p.id, true)
			}
		}
	}
}

func (p *tcpPeer) write(m *raftpb.Message) error {
	if p.conn == nil {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		c, err := p.t.dial(ctx, "tcp", p.addr)
		cancel()
		if err != nil {
			return err
		}
		if !p.t.track(c) {
			return errors.New("raft transport closed")
		}
		p.conn, p.w = c, bufio.NewWriterSize(c, 64<<10)
		if _, err := p.w.Write(p.t.hello(tcpMagic)); err != nil {
			return err
		}
	}
	b, err := proto.Marshal(m)
	if err != nil {
		return fmt.Errorf("raft transport: encode: %w", err)
	}
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(b)))
	if _, err := p.w.Write(hdr[:]); err != nil {
		return err
	}
	_, err = p.w.Write(b)
	return err
}

func (p *tcpPeer) disconnect() {
	if p.conn != nil {
		p.t.untrack(p.conn)
		p.conn, p.w = nil, nil
	}
}

// HandleForward sets the handler for forwarded requests.
func (t *TCP) HandleForward(h func(ctx context.Context, req []byte) []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fwd = h
}

// Forward sends req to member to on a connection of its own (forwarded
// metadata changes are rare; a connection per call keeps them apart from
// the raft stream) and returns the answer.
func (t *TCP) Forward(ctx context.Context, to uint64, req []byte) ([]byte, error) {
	t.mu.Lock()
	p := t.peers[to]
	t.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("%w: no address for member %d", ErrUnreachable, to)
	}
	c, err := t.dial(ctx, "tcp", p.addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	b := t.hello(fwdMagic)
	b = binary.BigEndian.AppendUint32(b, uint32(len(req)))
	b = append(b, req...)
	if _, err := c.Write(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return readFrame(bufio.NewReader(c))
}

func (t *TCP) serveForward(c net.Conn, r *bufio.Reader) {
	req, err := readFrame(r)
	if err != nil {
		return
	}
	t.mu.Lock()
	h := t.fwd
	t.mu.Unlock()
	var resp []byte
	if h != nil {
		resp = h(context.Background(), req)
	}
	out := binary.BigEndian.AppendUint32(nil, uint32(len(resp)))
	c.Write(append(out, resp...))
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("raft transport: frame of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, err
}

// hello opens a connection: the kind of stream, then the cluster id as a
// frame.
func (t *TCP) hello(magic string) []byte {
	b := append([]byte(magic), 0, 0, 0, 0)
	binary.BigEndian.PutUint32(b[len(magic):], uint32(len(t.cluster)))
	return append(b, t.cluster...)
}
