package main

// sluice dev-cluster: a local cluster of N combined broker,controller nodes
// in the foreground, for trying replication and failover on one machine.
//
// By default the nodes run in this process (several broker.Broker, as
// internal/testcluster runs them, without its fault network): one process
// to start, one Ctrl-C stops every node, no binary to find. With
// --processes each node is a child `sluice serve` of this same binary, so
// one of them can be killed with kill -9 to watch the others take over.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sluice-io/sluice/internal/broker"
	"github.com/sluice-io/sluice/internal/config"
)

func init() { extraCommands = append(extraCommands, devClusterCmd) }

// bootstrapPrefix starts the line dev-cluster prints on stdout once every
// node is up and unfenced.
const bootstrapPrefix = "bootstrap: "

type devClusterFlags struct {
	nodes          int
	dataDir        string
	host           string
	basePort       int
	controllerBase int
	overrides      []string
	processes      bool
	console        string // console.listener of node 1, "" for none
	logFormat      string
	logLevel       string
}

func devClusterCmd() *cobra.Command {
	var f devClusterFlags
	cmd := &cobra.Command{
		Use:   "dev-cluster",
		Short: "Run a local cluster of N broker,controller nodes in the foreground (Ctrl-C stops them all)",
		Long: `Run a local cluster for development: N combined broker,controller nodes on
one machine, sharing one metadata quorum, each with its data in
<data-dir>/node-N (formatted with one cluster id on the first start, reused
on the next). Node N listens for clients on --base-port+N-1 and for the
quorum on --controller-base-port+N-1. Once every node is up the bootstrap
list is printed on stdout; node logs go to stderr, each line prefixed with
its node. SIGINT (Ctrl-C) or SIGTERM stops every node with a controlled
shutdown.

--processes runs each node as a child "sluice serve" process of this binary
instead of in this process, so that one can be killed (kill -9 PID; the PIDs
are printed) to watch the cluster fail over.`,
		Example: `  sluice dev-cluster --nodes 3
  sluice dev-cluster --nodes 3 --processes --override default.replication.factor=3
  SLUICE_BROKERS=127.0.0.1:9092 sluice topic create orders --replication-factor 3`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDevCluster(cmd, f) },
	}
	fl := cmd.Flags()
	fl.IntVar(&f.nodes, "nodes", 3, "number of nodes (each a broker and a metadata quorum voter)")
	fl.StringVarP(&f.dataDir, "data-dir", "d", "./data", "parent of the nodes' data directories (node-1, node-2, ...)")
	fl.StringVar(&f.host, "host", "127.0.0.1", "address every node listens on")
	fl.IntVar(&f.basePort, "base-port", 9092, "client port of node 1; node N gets base-port+N-1")
	fl.IntVar(&f.controllerBase, "controller-base-port", 0, "controller (quorum) port of node 1 (default base-port+100)")
	fl.StringArrayVar(&f.overrides, "override", nil, "set a broker config key=value on every node (repeatable)")
	fl.StringVar(&f.console, "console", "http://127.0.0.1:8080", "the web console's console.listener on node 1 (\"\" for none; docs/CONSOLE.md)")
	fl.BoolVar(&f.processes, "processes", false, "run each node as a child process (kill -9 one to see failover)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	return cmd
}

// devNode is one node of the dev cluster: its id, ports and properties.
type devNode struct {
	id       int32
	dir      string
	addr     string // client listener host:port
	ctlAddr  string
	props    map[string]string
	cfg      *config.Broker
	logLines io.Writer // its log, each line prefixed with the node
}

func runDevCluster(cmd *cobra.Command, f devClusterFlags) error {
	if f.nodes < 1 {
		return fmt.Errorf("--nodes %d: want at least 1", f.nodes)
	}
	if f.controllerBase == 0 {
		f.controllerBase = f.basePort + 100
	}
	if _, err := newLogger(f.logFormat, f.logLevel); err != nil {
		return err
	}
	nodes, err := planDevCluster(f, cmd.ErrOrStderr())
	if err != nil {
		return err
	}
	if err := formatDevCluster(nodes, cmd.OutOrStdout()); err != nil {
		return err
	}
	// Listen for the signal before any node starts: a Ctrl-C during the
	// start still stops every node cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sig)
	if f.processes {
		return runDevProcesses(cmd, f, nodes, sig)
	}
	return runDevInProcess(cmd, f, nodes, sig)
}

// planDevCluster lays out the nodes: directories, ports, the static voter
// set, and the properties of each (the --override pairs last, so they win).
func planDevCluster(f devClusterFlags, logs io.Writer) ([]*devNode, error) {
	var nodes []*devNode
	var voters []string
	for i := range f.nodes {
		id := int32(i + 1)
		nd := &devNode{id: id, dir: filepath.Join(f.dataDir, fmt.Sprintf("node-%d", id)),
			addr:    fmt.Sprintf("%s:%d", f.host, f.basePort+i),
			ctlAddr: fmt.Sprintf("%s:%d", f.host, f.controllerBase+i)}
		nd.logLines = &linePrefixer{out: logs, mu: &devLogMu, prefix: fmt.Sprintf("node-%d | ", id)}
		nodes = append(nodes, nd)
		voters = append(voters, fmt.Sprintf("%d@%s", id, nd.ctlAddr))
	}
	for _, nd := range nodes {
		nd.props = map[string]string{
			"node.id":                   strconv.Itoa(int(nd.id)),
			"log.dirs":                  nd.dir,
			"listeners":                 fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://%s", nd.addr, nd.ctlAddr),
			"process.roles":             "broker,controller",
			"controller.listener.names": "CONTROLLER",
			"controller.quorum.voters":  strings.Join(voters, ","),
		}
		if f.nodes < 3 {
			// Kafka's internal-topic defaults (3 replicas, min ISR 2)
			// need three brokers; fewer get what they can hold.
			rf := strconv.Itoa(f.nodes)
			nd.props["offsets.topic.replication.factor"] = rf
			nd.props["transaction.state.log.replication.factor"] = rf
			nd.props["transaction.state.log.min.isr"] = "1"
			nd.props["share.coordinator.state.topic.replication.factor"] = rf
		}
		if nd.id == 1 && f.console != "" {
			// One console is enough: it is a client of the whole cluster.
			nd.props["console.listener"] = f.console
		}
		for _, o := range f.overrides {
			k, v, ok := strings.Cut(o, "=")
			if !ok || strings.TrimSpace(k) == "" {
				return nil, fmt.Errorf("--override %q: want key=value", o)
			}
			nd.props[strings.TrimSpace(k)] = v
		}
		cfg, err := config.Build(cloneProps(nd.props))
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", nd.id, err)
		}
		nd.cfg = cfg
	}
	return nodes, nil
}

func cloneProps(p map[string]string) map[string]string {
	out := make(map[string]string, len(p))
	for k, v := range p {
		out[k] = v
	}
	return out
}

// formatDevCluster formats every node's directories with one cluster id,
// as `sluice format` does: the id an earlier run wrote, else a new one.
func formatDevCluster(nodes []*devNode, out io.Writer) error {
	clusterID := ""
	for _, nd := range nodes {
		if _, err := os.Stat(filepath.Join(nd.dir, "meta.properties")); err != nil {
			continue
		}
		// Formatted before: FormatDir with no id only reads it back.
		id, err := broker.FormatDir(nd.dir, "", nd.id)
		if err != nil {
			return err
		}
		clusterID = id
		break
	}
	if clusterID == "" {
		clusterID = broker.NewClusterID()
	}
	for _, nd := range nodes {
		if err := formatNode(nd.cfg, clusterID, io.Discard); err != nil {
			return fmt.Errorf("node %d: %w", nd.id, err)
		}
	}
	fmt.Fprintf(out, "cluster %s: %d nodes, data in %s\n", clusterID, len(nodes), filepath.Dir(nodes[0].dir))
	return nil
}

// printBootstrap prints the line a client needs, once every node is up.
func printBootstrap(out io.Writer, nodes []*devNode) {
	addrs := make([]string, len(nodes))
	for i, nd := range nodes {
		addrs[i] = nd.addr
	}
	fmt.Fprintf(out, "%s%s\n", bootstrapPrefix, strings.Join(addrs, ","))
	if l := nodes[0].props["console.listener"]; l != "" {
		fmt.Fprintf(out, "console: %s\n", l)
	}
	fmt.Fprintf(out, "try:  SLUICE_BROKERS=%s sluice cluster info    (Ctrl-C stops every node)\n", addrs[0])
}

// runDevInProcess runs every node as a broker.Broker in this process until
// a signal, then closes them all at once: each hands its leaderships over
// in a controlled shutdown while the quorum still has its majority.
//
// A node's Start waits for a quorum leader without end, so when a start
// fails (a port in use) or a signal comes during the start, the nodes that
// started are closed and those still waiting are left to the process's
// exit: they serve nothing yet, and their next start recovers their logs.
func runDevInProcess(cmd *cobra.Command, f devClusterFlags, nodes []*devNode, sig <-chan os.Signal) error {
	type result struct {
		i   int
		err error
	}
	brokers := make([]*broker.Broker, len(nodes))
	for i, nd := range nodes {
		logger, err := newLoggerTo(nd.logLines, f.logFormat, f.logLevel)
		if err != nil {
			return err
		}
		brokers[i] = broker.New(nd.cfg, logger)
	}
	// A multi-voter broker's Start waits for the quorum: start them all
	// at once.
	results := make(chan result, len(nodes))
	for i, b := range brokers {
		go func() { results <- result{i, b.Start()} }()
	}
	fatal := make(chan error, len(nodes))
	started := make([]bool, len(nodes))
	var stopErr error
	for n := 0; n < len(nodes) && stopErr == nil; {
		select {
		case r := <-results:
			n++
			if r.err != nil {
				stopErr = fmt.Errorf("node %d: %w", nodes[r.i].id, r.err)
				break
			}
			started[r.i] = true
			go func() {
				if err, ok := <-brokers[r.i].Fatal(); ok && err != nil {
					fatal <- fmt.Errorf("node %d: %w", nodes[r.i].id, err)
				}
			}()
		case s := <-sig:
			fmt.Fprintf(cmd.ErrOrStderr(), "%s during the start: stopping\n", s)
			stopErr = errInterrupted
		}
	}
	if stopErr == nil {
		printBootstrap(cmd.OutOrStdout(), nodes)
		select {
		case s := <-sig:
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: stopping %d nodes\n", s, len(nodes))
		case stopErr = <-fatal:
		}
	}
	closeErrs := make([]error, len(brokers))
	var wg sync.WaitGroup
	for i, b := range brokers {
		if !started[i] {
			continue
		}
		wg.Add(1)
		go func() { defer wg.Done(); closeErrs[i] = b.Close() }()
	}
	wg.Wait()
	for i, err := range closeErrs {
		if err != nil && stopErr == nil {
			stopErr = fmt.Errorf("node %d: close: %w", nodes[i].id, err)
		}
	}
	if stopErr == nil {
		fmt.Fprintln(cmd.ErrOrStderr(), "every node stopped cleanly")
	}
	return stopErr
}

// errInterrupted: a signal came before every node was up.
var errInterrupted = errors.New("interrupted before every node was up")

// devLogMu keeps the nodes' log lines whole on the shared stderr.
var devLogMu sync.Mutex

// linePrefixer writes each line it is given to out with prefix in front.
// INVARIANT: a partial line is held until its newline, so lines of
// different nodes never interleave.
type linePrefixer struct {
	out     io.Writer
	mu      *sync.Mutex
	prefix  string
	pending []byte
}

func (l *linePrefixer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending = append(l.pending, p...)
	for {
		i := bytes.IndexByte(l.pending, '\n')
		if i < 0 {
			return len(p), nil
		}
		if _, err := io.WriteString(l.out, l.prefix+string(l.pending[:i+1])); err != nil {
			return 0, err
		}
		l.pending = l.pending[i+1:]
	}
}
