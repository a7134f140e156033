package testcluster

import (
	"bytes"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
	"github.com/sluice-io/sluice/internal/interbroker"
)

// Timeouts every node gets unless an option overrides them: small enough
// that a fault test takes seconds, large enough that two cores shared by
// parallel tests do not fence a busy broker.
const (
	ElectionTimeout   = 300 * time.Millisecond // controller.quorum.election.timeout.ms
	HeartbeatInterval = 100 * time.Millisecond // broker.heartbeat.interval.ms
	SessionTimeout    = time.Second            // broker.session.timeout.ms
	// ReplicaLagTimeMax is replica.lag.time.max.ms: how long a follower
	// may lag before its leader drops it from the ISR.
	ReplicaLagTimeMax = 1500 * time.Millisecond
	// WaitTimeout bounds every WaitFor helper.
	WaitTimeout = 20 * time.Second
)

// Option changes how New builds the cluster.
type Option func(*settings)

type settings struct {
	props     map[string]string
	nodeProps map[int]map[string]string
	listeners []string // extra listener names (WithListener)
}

// WithListener gives every node one more listener, name, on a port of
// its own (after PLAINTEXT and CONTROLLER in listeners), on the test's
// network like the others; its protocol, and whether it is the
// inter-broker listener, are the test's props
// (listener.security.protocol.map, inter.broker.listener.name).
func WithListener(name string) Option {
	return func(s *settings) { s.listeners = append(s.listeners, strings.ToUpper(name)) }
}

// WithProp sets a broker property (Kafka's name) on every node.
func WithProp(key, value string) Option {
	return func(s *settings) { s.props[key] = value }
}

// WithNodeProp sets a broker property on node i (its index, 0-based)
// only; it wins over WithProp.
func WithNodeProp(i int, key, value string) Option {
	return func(s *settings) {
		if s.nodeProps[i] == nil {
			s.nodeProps[i] = map[string]string{}
		}
		s.nodeProps[i][key] = value
	}
}

// Cluster is N combined (broker, controller) nodes in this process,
// sharing one metadata quorum, on a network the test controls.
type Cluster struct {
	t         testing.TB
	net       *network
	clusterID string
	nodes     []*Node
	voters    int                 // the first nodes, New's; AddNode's come after
	props     map[string]string   // WithProp's, for AddNode
	probe     *interbroker.Client // the fixture's own kmsg requests (wait.go)
}

// Node is one member of the cluster. Its index (0-based, as the
// Cluster's methods take it) and node.id (index+1) never change; its
// broker is replaced by each Restart.
type Node struct {
	c       *Cluster
	index   int
	id      int32
	dir     string
	addr    string // PLAINTEXT listener, 127.0.0.1:port
	ctlAddr string // CONTROLLER listener
	props   map[string]string
	logs    *logBuffer
	// extra are WithListener's listeners: name -> address.
	extra map[string]string
	// observer: process.roles=broker, no vote (AddNode).
	observer bool

	mu sync.Mutex
	b  *broker.Broker // nil while stopped
}

// New starts n nodes, each formatted as `sluice format` does
// (meta.properties with one cluster id) in its own t.TempDir(), with the
// static voter set controller.quorum.voters, on fixed 127.0.0.1 ports,
// and returns once the quorum has a leader and every broker is
// registered and unfenced. Everything is stopped by t.Cleanup.
func New(t testing.TB, n int, opts ...Option) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("testcluster: %d nodes", n)
	}
	s := &settings{props: map[string]string{}, nodeProps: map[int]map[string]string{}}
	for _, o := range opts {
		o(s)
	}
	c := &Cluster{t: t, net: newNetwork(), clusterID: broker.NewClusterID(), voters: n, props: s.props}
	ports := FreePorts(t, (2+len(s.listeners))*n)
	var voters []string
	for i := range n {
		nd := &Node{c: c, index: i, id: int32(i + 1), dir: t.TempDir(), logs: &logBuffer{},
			addr: fmt.Sprintf("127.0.0.1:%d", ports[2*i]), ctlAddr: fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])}
		c.nodes = append(c.nodes, nd)
		c.net.register(nd.addr, i)
		c.net.register(nd.ctlAddr, i)
		nd.extra = map[string]string{}
		for j, name := range s.listeners {
			nd.extra[name] = fmt.Sprintf("127.0.0.1:%d", ports[2*n+j*n+i])
			c.net.register(nd.extra[name], i)
		}
		voters = append(voters, fmt.Sprintf("%d@%s", nd.id, nd.ctlAddr))
	}
	for _, nd := range c.nodes {
		nd.props = defaultProps(n)
		nd.props["node.id"] = strconv.Itoa(int(nd.id))
		nd.props["log.dirs"] = nd.dir
		nd.props["listeners"] = fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://%s", nd.addr, nd.ctlAddr)
		for _, name := range s.listeners {
			nd.props["listeners"] += fmt.Sprintf(",%s://%s", name, nd.extra[name])
		}
		nd.props["controller.quorum.voters"] = strings.Join(voters, ",")
		maps.Copy(nd.props, s.props)
		maps.Copy(nd.props, s.nodeProps[nd.index])
		if _, err := broker.FormatDir(nd.dir, c.clusterID, nd.id); err != nil {
			t.Fatalf("format node %d: %v", nd.id, err)
		}
	}
	probe, err := interbroker.New(interbroker.Config{NodeID: -1, Resolve: c.resolve, Dial: c.net.dialer(client),
		DialTimeout: 2 * time.Second, RequestTimeout: 2 * time.Second,
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c.probe = probe
	t.Cleanup(c.shutdown)

	// A multi-voter broker's Start waits for the quorum: start them all
	// at once.
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, nd := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nd.start() }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("start node %d: %v", c.nodes[i].id, err)
		}
	}
	c.WaitLeader()
	for i := range c.nodes {
		c.WaitUnfenced(i)
	}
	return c
}

// defaultProps are the properties every node starts from.
func defaultProps(n int) map[string]string {
	p := map[string]string{
		"process.roles":                         "broker,controller",
		"controller.listener.names":             "CONTROLLER",
		"controller.quorum.election.timeout.ms": strconv.Itoa(int(ElectionTimeout.Milliseconds())),
		"broker.heartbeat.interval.ms":          strconv.Itoa(int(HeartbeatInterval.Milliseconds())),
		"broker.session.timeout.ms":             strconv.Itoa(int(SessionTimeout.Milliseconds())),
		// A group's first rebalance waits for nothing, and the internal
		// topics are small: fewer partitions to create and to replay.
		"group.initial.rebalance.delay.ms":     "0",
		"offsets.topic.num.partitions":         "6",
		"transaction.state.log.num.partitions": "6",
		// A paused or crashed follower leaves the ISR in seconds, not
		// Kafka's 30 s (the leader checks every half of it).
		"replica.lag.time.max.ms": strconv.Itoa(int(ReplicaLagTimeMax.Milliseconds())),
	}
	if n < 3 {
		// Kafka's internal-topic defaults (3 replicas, min ISR 2) need
		// three brokers; fewer get what they can hold, as a single-node
		// quickstart config sets.
		rf := strconv.Itoa(n)
		p["offsets.topic.replication.factor"] = rf
		p["transaction.state.log.replication.factor"] = rf
		p["transaction.state.log.min.isr"] = "1"
		p["share.coordinator.state.topic.replication.factor"] = rf
	}
	return p
}

// start builds and starts the node's broker on its ports and directory.
func (nd *Node) start() error {
	cfg, err := config.Build(maps.Clone(nd.props))
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(nd.logs, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", nd.id)
	b := broker.NewWithOptions(cfg, logger, broker.Options{Dial: nd.c.net.dialer(nd.index)})
	if err := b.Start(); err != nil {
		return err
	}
	nd.mu.Lock()
	nd.b = b
	nd.mu.Unlock()
	return nil
}

// stop closes the node's broker (a no-op when stopped).
func (nd *Node) stop() error { return nd.stopWith(true) }

// stopWith closes the node's broker, with a controlled shutdown or
// without (a crash).
func (nd *Node) stopWith(handover bool) error {
	nd.mu.Lock()
	b := nd.b
	nd.b = nil
	nd.mu.Unlock()
	if b == nil {
		return nil
	}
	if !handover {
		return b.CloseWithoutHandover()
	}
	return b.Close()
}

// shutdown is the cluster's cleanup: every fault lifted, every broker
// closed, the probe closed; logs printed when the test failed.
func (c *Cluster) shutdown() {
	c.HealAll()
	for i := range c.nodes {
		c.net.resume(i)
	}
	c.probe.Close()
	var wg sync.WaitGroup
	for _, nd := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// No controlled shutdowns: all nodes go at once, so they would
			// only wait on each other's closing controllers.
			if err := nd.stopWith(false); err != nil {
				c.t.Errorf("close node %d: %v", nd.id, err)
			}
		}()
	}
	wg.Wait()
	// Every connection of the cluster was dialed through the network and
	// every dialer (brokers, probe, the test's clients, closed by their
	// own earlier cleanups) is closed: one still open is a leak.
	deadline := time.Now().Add(5 * time.Second)
	for c.net.open() > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := c.net.open(); n > 0 {
		c.t.Errorf("testcluster: %d connections still open after every node and client closed", n)
	}
	if c.t.Failed() {
		for _, nd := range c.nodes {
			c.t.Logf("node %d log (tail):\n%s", nd.id, nd.logs.tail(6000))
		}
		c.saveLogs()
	}
}

// N is the number of nodes.
func (c *Cluster) N() int { return len(c.nodes) }

// Node is node i (0-based index; its node.id is i+1).
func (c *Cluster) Node(i int) *Node { return c.nodes[i] }

// ClusterID is the cluster id every node was formatted with.
func (c *Cluster) ClusterID() string { return c.clusterID }

// Bootstrap is every node's client address.
func (c *Cluster) Bootstrap() []string {
	var out []string
	for _, nd := range c.nodes {
		out = append(out, nd.addr)
	}
	return out
}

// NodeByID is the node with node.id id, nil when there is none.
func (c *Cluster) NodeByID(id int32) *Node {
	for _, nd := range c.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// resolve is the probe's address book.
func (c *Cluster) resolve(id int32) (string, error) {
	if nd := c.NodeByID(id); nd != nil {
		return nd.addr, nil
	}
	return "", fmt.Errorf("no node %d in this cluster", id)
}

// Index is the node's index in the cluster (0-based).
func (nd *Node) Index() int { return nd.index }

// ID is the node's node.id.
func (nd *Node) ID() int32 { return nd.id }

// Addr is the node's client (PLAINTEXT) listener, host:port.
func (nd *Node) Addr() string { return nd.addr }

// ControllerAddr is the node's CONTROLLER listener (raft), host:port.
func (nd *Node) ControllerAddr() string { return nd.ctlAddr }

// ListenerAddr is the address of the node's listener name (WithListener).
func (nd *Node) ListenerAddr(name string) string { return nd.extra[strings.ToUpper(name)] }

// Dir is the node's data directory (log.dirs, also the metadata log's).
func (nd *Node) Dir() string { return nd.dir }

// Broker is the running broker, nil while the node is stopped.
func (nd *Node) Broker() *broker.Broker {
	nd.mu.Lock()
	defer nd.mu.Unlock()
	return nd.b
}

// Running reports whether the node's broker is started.
func (nd *Node) Running() bool { return nd.Broker() != nil }

// Logs is the node's log so far (every incarnation).
func (nd *Node) Logs() string { return nd.logs.String() }

// cleanShutdownMarker is the broker's .kafka_cleanshutdown: Crash removes
// it so the next start recovers the logs as after a crash.
const cleanShutdownMarker = ".kafka_cleanshutdown"

func removeCleanShutdownMarker(dir string) error {
	err := os.Remove(filepath.Join(dir, cleanShutdownMarker))
	if os.IsNotExist(err) {
		return nil
	}
	return err
}

// logBuffer collects a node's log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func (l *logBuffer) tail(n int) string {
	s := l.String()
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// saveLogs writes every node's whole log to $SLUICE_TESTCLUSTER_LOGS/
// <test>/node-N.log when that variable names a directory: the failure
// message holds only their tails.
func (c *Cluster) saveLogs() {
	root := os.Getenv("SLUICE_TESTCLUSTER_LOGS")
	if root == "" {
		return
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "_", " ", "_").Replace(c.t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Logf("testcluster: save logs: %v", err)
		return
	}
	for _, nd := range c.nodes {
		name := filepath.Join(dir, fmt.Sprintf("node-%d.log", nd.id))
		if err := os.WriteFile(name, []byte(nd.logs.String()), 0o644); err != nil {
			c.t.Logf("testcluster: save logs: %v", err)
			return
		}
	}
	c.t.Logf("testcluster: whole node logs in %s", dir)
}
