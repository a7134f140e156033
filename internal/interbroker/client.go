package interbroker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/sasl"
)

// Resolver returns host:port of a broker's inter-broker listener. It is
// called before every request (so a re-registered broker is found at its
// new address) and must be cheap and safe for concurrent use. An error
// means the node cannot be reached by id; Request reports it wrapped in
// ErrUnknownNode.
type Resolver func(nodeID int32) (addr string, err error)

// Config configures a Client. Zero values take the defaults named.
type Config struct {
	// NodeID is this broker's node.id; requests carry the client id
	// "sluice-interbroker-<NodeID>".
	NodeID int32
	// Resolve maps a node id to an address (required).
	Resolve Resolver
	// MaxInFlight bounds the requests written and not yet answered on
	// one connection (default 100); Request blocks for a slot.
	MaxInFlight int
	// MaxResponseBytes bounds one response's size (default 100 MiB).
	MaxResponseBytes int32
	// DialTimeout bounds connecting plus the ApiVersions exchange
	// (default 10 s, Kafka's socket.connection.setup.timeout.ms).
	DialTimeout time.Duration
	// RequestTimeout is how long the oldest request on a connection may
	// go unanswered beyond its own timeout field (Produce, CreateTopics,
	// ...) or fetch wait before the connection is declared dead (default
	// 30 s, Kafka's request.timeout.ms). It also bounds a blocked write.
	RequestTimeout time.Duration
	// BackoffMin and BackoffMax bound the wait before dialing a broker
	// again after a failed dial or a broken connection: BackoffMin
	// doubling per failed dial up to BackoffMax, with ±20% jitter
	// (defaults 50 ms and 1 s, Kafka's reconnect.backoff.ms and
	// reconnect.backoff.max.ms).
	BackoffMin, BackoffMax time.Duration
	// IdleTimeout closes a connection with nothing in flight for this
	// long (default 9 min: below the brokers' connections.max.idle.ms of
	// 10 min, so this side closes first and no request is written into
	// a socket the server is closing).
	IdleTimeout time.Duration
	// Logger receives connection events (default: discarded).
	Logger *slog.Logger
	// Dial opens connections (default: net.Dialer's DialContext). Tests
	// pass a network they can cut or stall (internal/testcluster).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// SASL, when set, authenticates every connection with this mechanism
	// after ApiVersions (a SASL_PLAINTEXT or SASL_SSL listener; TLS comes
	// from Dial). A failed login fails the dial like a refused connection.
	SASL sasl.Mechanism
}

func (c *Config) setDefaults() {
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 100
	}
	if c.MaxResponseBytes <= 0 {
		c.MaxResponseBytes = 100 << 20
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.BackoffMin <= 0 {
		c.BackoffMin = 50 * time.Millisecond
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = max(time.Second, c.BackoffMin)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 9 * time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.Dial == nil {
		var d net.Dialer
		c.Dial = d.DialContext
	}
}

// Client sends requests to other brokers by node id over one pipelined
// connection per destination. It is safe for concurrent use.
type Client struct {
	cfg       Config
	formatter *kmsg.RequestFormatter

	// ctx is cancelled by Close; dials and handshakes run under it.
	ctx    context.Context
	cancel context.CancelFunc
	// closed is set before Close sweeps the nodes, so a dial that
	// completes after the sweep sees it and closes its connection.
	closed atomic.Bool

	mu    sync.Mutex
	nodes map[int32]*node

	// wg counts every goroutine the client started (dials, each
	// connection's reader and writer); Close waits for all of them.
	wg sync.WaitGroup
}

// New returns a Client. It dials nothing until the first request.
func New(cfg Config) (*Client, error) {
	if cfg.Resolve == nil {
		return nil, errors.New("interbroker: Config.Resolve is required")
	}
	cfg.setDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Client{
		cfg:       cfg,
		formatter: kmsg.NewRequestFormatter(kmsg.FormatterClientID("sluice-interbroker-" + strconv.Itoa(int(cfg.NodeID)))),
		ctx:       ctx,
		cancel:    cancel,
		nodes:     map[int32]*node{},
	}, nil
}

// maxNotSentRetries bounds how often Request moves a request that was
// never written to a fresh connection (a connection that died, or was
// closed as idle, between being picked and taking the request).
const maxNotSentRetries = 3

// Request sends req to broker nodeID and returns its typed response. The
// version is set on req: the highest both kmsg and the broker know (so
// one req must not be in two Requests at once). A
// Produce request with acks 0 gets no answer from Kafka; it returns an
// empty ProduceResponse once written.
//
// Errors wrap ErrConnection (retriable; the request may have been
// processed), ErrUnknownNode, ErrUnsupportedRequest, ErrResponseTooLarge,
// ErrClosed, or are ctx's error. Cancelling ctx abandons only this
// request: if it was written, its response is read and discarded and the
// connection stays up for the others.
func (c *Client) Request(ctx context.Context, nodeID int32, req kmsg.Request) (kmsg.Response, error) {
	for attempt := 0; ; attempt++ {
		if c.closed.Load() {
			return nil, ErrClosed
		}
		cn, err := c.node(nodeID).get(ctx)
		if err != nil {
			return nil, err
		}
		if err := cn.setVersion(req); err != nil {
			return nil, err
		}
		resp, err := cn.do(ctx, req)
		if ns := (*notSentError)(nil); errors.As(err, &ns) && attempt < maxNotSentRetries && ctx.Err() == nil {
			continue
		}
		return resp, err
	}
}

// Node returns a kmsg.Requestor for one broker, so the typed helpers work:
// kmsg.NewPtrMetadataRequest().RequestWith(ctx, cl.Node(2)).
func (c *Client) Node(nodeID int32) kmsg.Requestor { return nodeRequestor{c, nodeID} }

type nodeRequestor struct {
	c  *Client
	id int32
}

func (r nodeRequestor) Request(ctx context.Context, req kmsg.Request) (kmsg.Response, error) {
	return r.c.Request(ctx, r.id, req)
}

// node returns the state for one destination, creating it on first use.
// Nodes are never removed: one small struct per broker id ever addressed.
func (c *Client) node(id int32) *node {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.nodes[id]
	if n == nil {
		n = &node{c: c, id: id}
		c.nodes[id] = n
	}
	return n
}

// Close fails every queued and in-flight request with ErrClosed, closes
// every connection, aborts dials in progress and returns once all of the
// client's goroutines have exited. Requests after Close fail with
// ErrClosed. Safe to call more than once.
func (c *Client) Close() error {
	c.closed.Store(true)
	c.cancel()
	c.mu.Lock()
	nodes := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.Unlock()
	for _, n := range nodes {
		n.shutdown()
	}
	c.wg.Wait()
	return nil
}

// errUnknownNode wraps a resolver failure.
func errUnknownNode(id int32, cause error) error {
	return fmt.Errorf("%w %d: %w", ErrUnknownNode, id, cause)
}
