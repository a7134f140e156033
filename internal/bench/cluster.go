package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ClusterSpec is a local cluster target: Nodes combined broker,controller
// `sluice serve` processes on 127.0.0.1, formatted with one cluster id and
// one static voter set (docs/CLUSTER.md, "Starting three nodes on one
// machine"). Bench topics get replication factor min(Nodes, 3) and
// min.insync.replicas MinInsync.
type ClusterSpec struct {
	Nodes     int
	MinInsync int // 0: replication factor - 1 (at least 1)
	// SessionTimeout and HeartbeatInterval set broker.session.timeout.ms
	// and broker.heartbeat.interval.ms; 0 leaves Kafka's defaults (9000
	// and 2000 ms).
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	Overrides         []string // more key=value properties for every node
}

// rf is the replication factor of the cluster's bench topics.
func (s ClusterSpec) rf() int16 { return int16(min(s.Nodes, 3)) }

func (s ClusterSpec) minInsync() int {
	if s.MinInsync > 0 {
		return min(s.MinInsync, int(s.rf()))
	}
	return max(int(s.rf())-1, 1)
}

// props are the --override properties every node gets from the spec.
func (s ClusterSpec) props() []string {
	var out []string
	if s.SessionTimeout > 0 {
		out = append(out, fmt.Sprintf("broker.session.timeout.ms=%d", s.SessionTimeout.Milliseconds()))
	}
	if s.HeartbeatInterval > 0 {
		out = append(out, fmt.Sprintf("broker.heartbeat.interval.ms=%d", s.HeartbeatInterval.Milliseconds()))
	}
	return append(out, s.Overrides...)
}

// describe is the target's line in the report.
func (s ClusterSpec) describe() string {
	ms := func(d time.Duration, def string) string {
		if d <= 0 {
			return def + " (Kafka's default)"
		}
		return strconv.FormatInt(d.Milliseconds(), 10)
	}
	d := fmt.Sprintf("%d `sluice serve` processes (broker,controller), topics with replication factor %d and min.insync.replicas=%d, "+
		"default config (fsync before ack, followers fsync before they fetch again); broker.session.timeout.ms=%s, broker.heartbeat.interval.ms=%s",
		s.Nodes, s.rf(), s.minInsync(), ms(s.SessionTimeout, "9000"), ms(s.HeartbeatInterval, "2000"))
	if len(s.Overrides) > 0 {
		d += "; " + strings.Join(s.Overrides, ", ")
	}
	return d
}

// localCluster is a started ClusterSpec.
type localCluster struct {
	nodes []*clusterNode
}

// clusterNode is one `sluice serve` process of a localCluster; it keeps
// its ports and data dir across a kill and restart.
type clusterNode struct {
	id   int32
	addr string // client listener
	argv []string
	log  io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd has exited
}

// startCluster formats and starts spec.Nodes processes of sluice (the
// sluice executable: "format" and "serve" are appended) under dir and
// waits until every broker is registered and unfenced.
func startCluster(ctx context.Context, sluice []string, cpus, dir string, spec ClusterSpec, logTo io.Writer) (*localCluster, error) {
	if spec.Nodes < 1 {
		return nil, fmt.Errorf("a cluster needs at least one node, not %d", spec.Nodes)
	}
	if logTo == nil {
		logTo = io.Discard
	}
	ports, err := reusablePorts(2 * spec.Nodes)
	if err != nil {
		return nil, err
	}
	var voters []string
	for i := range spec.Nodes {
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, ports[2*i+1]))
	}
	out, err := exec.CommandContext(ctx, sluice[0], append(sluice[1:], "format", "--random-cluster-id")...).Output()
	if err != nil {
		return nil, fmt.Errorf("format --random-cluster-id: %w", err)
	}
	clusterID := strings.TrimSpace(string(out))
	lc := &localCluster{}
	for i := range spec.Nodes {
		id := int32(i + 1)
		nodeDir := filepath.Join(dir, fmt.Sprintf("node-%d", id))
		if out, err := exec.CommandContext(ctx, sluice[0], append(sluice[1:], "format", "--cluster-id", clusterID,
			"--log-dirs", nodeDir, "--node-id", fmt.Sprint(id))...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("format node %d: %v: %s", id, err, out)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", ports[2*i])
		argv := append(append([]string(nil), sluice...), "serve", "--node-id", fmt.Sprint(id), "--log-dirs", nodeDir,
			"--listeners", fmt.Sprintf("PLAINTEXT://%s,CONTROLLER://127.0.0.1:%d", addr, ports[2*i+1]),
			"--log-level", "warn",
			"--override", "process.roles=broker,controller",
			"--override", "controller.listener.names=CONTROLLER",
			"--override", "controller.quorum.voters="+strings.Join(voters, ","))
		for _, kv := range spec.props() {
			argv = append(argv, "--override", kv)
		}
		if cpus != "" {
			argv = append([]string{"taskset", "-c", cpus}, argv...)
		}
		lc.nodes = append(lc.nodes, &clusterNode{id: id, addr: addr, argv: argv, log: logTo})
	}
	for _, nd := range lc.nodes {
		if err := nd.start(); err != nil {
			return nil, errors.Join(err, lc.stop())
		}
	}
	if err := lc.waitBrokers(ctx, 2*time.Minute); err != nil {
		return nil, errors.Join(err, lc.stop())
	}
	return lc, nil
}

// reusablePorts picks n free loopback ports below the kernel's ephemeral
// range: a killed node restarts on its old ports, and a port from the
// ephemeral range may meanwhile have become some connection's source port.
func reusablePorts(n int) ([]int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err == nil && lo > 11000 {
			low = lo
		}
	}
	seen := map[int]bool{}
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, fmt.Errorf("no free loopback port below %d after %d tries", low, tries)
		}
		port := 10000 + rand.IntN(low-10000)
		if seen[port] {
			continue
		}
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		ln.Close()
		seen[port] = true
		out = append(out, port)
	}
	return out, nil
}

func (lc *localCluster) seeds() []string {
	var s []string
	for _, nd := range lc.nodes {
		s = append(s, nd.addr)
	}
	return s
}

// pids are the running processes' ids (a restarted node has a new one).
func (lc *localCluster) pids() []int {
	var out []int
	for _, nd := range lc.nodes {
		nd.mu.Lock()
		if nd.cmd != nil {
			select {
			case <-nd.done:
			default:
				out = append(out, nd.cmd.Process.Pid)
			}
		}
		nd.mu.Unlock()
	}
	return out
}

func (lc *localCluster) node(id int32) *clusterNode {
	for _, nd := range lc.nodes {
		if nd.id == id {
			return nd
		}
	}
	return nil
}

// waitBrokers polls Metadata until it lists every node as a broker: the
// brokers Metadata names are the registered, unfenced ones.
func (lc *localCluster) waitBrokers(ctx context.Context, limit time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(lc.nodes[0].addr), kgo.RequestRetries(0))
	if err != nil {
		return err
	}
	defer cl.Close()
	return pollUntil(ctx, limit, "every broker registered and unfenced", func(ctx context.Context) error {
		for _, nd := range lc.nodes {
			select {
			case <-nd.done:
				return errStop{fmt.Errorf("node %d exited", nd.id)}
			default:
			}
		}
		resp, err := metadataFrom(ctx, cl)
		if err != nil {
			return err
		}
		if len(resp.Brokers) < len(lc.nodes) {
			return fmt.Errorf("%d of %d brokers listed", len(resp.Brokers), len(lc.nodes))
		}
		return nil
	})
}

// metadataFrom asks cl's (first) seed broker itself for Metadata of
// topics: kgo answers a Metadata request sent the usual way from its own
// recent copy, which would hide the change being awaited.
func metadataFrom(ctx context.Context, cl *kgo.Client, topics ...string) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	seeds := cl.SeedBrokers()
	if len(seeds) == 0 {
		return nil, errors.New("no seed broker")
	}
	return req.RequestWith(ctx, seeds[0])
}

// stop ends every node with SIGTERM (a controlled shutdown), SIGKILL
// after 20 s.
func (lc *localCluster) stop() error {
	var wg sync.WaitGroup
	errs := make([]error, len(lc.nodes))
	for i, nd := range lc.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = nd.stop(20 * time.Second) }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (nd *clusterNode) start() error {
	cmd := exec.Command(nd.argv[0], nd.argv[1:]...)
	cmd.Stdout, cmd.Stderr = nd.log, nd.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("node %d: %w", nd.id, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	nd.mu.Lock()
	nd.cmd, nd.done = cmd, done
	nd.mu.Unlock()
	return nil
}

// signal sends sig to the node's process (SIGKILL: nothing unsynced
// survives; SIGTERM: a controlled shutdown); the channel closes once it
// has exited.
func (nd *clusterNode) signal(sig syscall.Signal) <-chan struct{} {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	return done
}

func (nd *clusterNode) stop(grace time.Duration) error {
	nd.mu.Lock()
	cmd, done := nd.cmd, nd.done
	nd.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return nil // killed and not restarted
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if st, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && st.ExitStatus() != 0 {
			return fmt.Errorf("node %d exited with status %d", nd.id, st.ExitStatus())
		}
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("node %d did not stop within %v; killed", nd.id, grace)
	}
}

// errStop ends a pollUntil at once.
type errStop struct{ error }

// pollUntil calls cond every 20 ms until it returns nil, returns an
// errStop, ctx ends or limit passes; the error says what was awaited and
// cond's last answer.
func pollUntil(ctx context.Context, limit time.Duration, what string, cond func(context.Context) error) error {
	deadline := time.Now().Add(limit)
	for {
		cctx, cancel := context.WithTimeout(ctx, max(time.Until(deadline), time.Millisecond))
		err := cond(cctx)
		cancel()
		if err == nil {
			return nil
		}
		var stop errStop
		if errors.As(err, &stop) {
			return fmt.Errorf("waiting for %s: %w", what, stop.error)
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s (%v): %w", what, limit, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
