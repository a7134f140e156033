// Package cluster holds the multi-node tests: several sluice processes on
// 127.0.0.1 forming one cluster, killed and restarted. Timeouts are tiny
// (an election timeout of a few hundred milliseconds) and independent
// clusters run in parallel, so the package stays fast on two cores.
package cluster

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluice-io/sluice/internal/testcluster"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// sluiceBinary builds cmd/sluice once per test run.
func sluiceBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sluice-cluster-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "sluice")
		goTool, err := exec.LookPath("go")
		if err != nil {
			goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		out, err := exec.Command(goTool, "build", "-o", binPath, "github.com/sluice-io/sluice/cmd/sluice").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// freePorts picks n free loopback ports outside the ephemeral range
// (testcluster.FreePorts), so a restarted node finds its port free.
func freePorts(t testing.TB, n int) []int { return testcluster.FreePorts(t, n) }

// node is one sluice process of a test cluster.
type node struct {
	id       int32
	dir      string
	client   int // PLAINTEXT port
	ctl      int // CONTROLLER port
	cmd      *exec.Cmd
	out      *lockedBuffer
	exited   chan struct{}
	cluster  *testCluster
	extraCfg []string
	observer bool // process.roles=broker: no vote, no controller listener
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testCluster is n combined (broker,controller) nodes sharing one
// metadata quorum.
type testCluster struct {
	t         testing.TB
	bin       string
	nodes     []*node
	voters    string
	election  time.Duration
	clusterID string
}

// electionTimeout is the quorum's election timeout in the tests.
const electionTimeout = 300 * time.Millisecond

func startCluster(t testing.TB, n int) *testCluster {
	return startClusterWith(t, n, electionTimeout)
}

func startClusterWith(t testing.TB, n int, election time.Duration) *testCluster {
	return startClusterConfig(t, n, election)
}

// startClusterConfig starts n nodes with extra properties (key=value,
// passed as --override) on every node.
func startClusterConfig(t testing.TB, n int, election time.Duration, extra ...string) *testCluster {
	t.Helper()
	c := &testCluster{t: t, bin: sluiceBinary(t), election: election}
	ports := freePorts(t, 2*n)
	var voters []string
	for i := range n {
		nd := &node{id: int32(i + 1), dir: t.TempDir(), client: ports[2*i], ctl: ports[2*i+1], cluster: c, extraCfg: extra}
		c.nodes = append(c.nodes, nd)
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", nd.id, nd.ctl))
	}
	c.voters = strings.Join(voters, ",")
	clusterID := run(t, c.bin, "format", "--random-cluster-id")
	c.clusterID = clusterID
	for _, nd := range c.nodes {
		run(t, c.bin, "format", "--cluster-id", clusterID, "--log-dirs", nd.dir, "--node-id", fmt.Sprint(nd.id))
		nd.start()
	}
	t.Cleanup(func() {
		for _, nd := range c.nodes {
			nd.kill()
		}
		if t.Failed() {
			for _, nd := range c.nodes {
				t.Logf("node %d output (tail):\n%s", nd.id, tail(nd.out.String(), 3000))
			}
		}
	})
	for _, nd := range c.nodes {
		nd.waitListening()
	}
	return c
}

// run runs the sluice binary to completion and returns its trimmed output.
func run(t testing.TB, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (nd *node) addr() string { return fmt.Sprintf("127.0.0.1:%d", nd.client) }

func (nd *node) start() {
	c := nd.cluster
	listeners, roles := fmt.Sprintf("PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", nd.client, nd.ctl), "broker,controller"
	if nd.observer {
		listeners, roles = fmt.Sprintf("PLAINTEXT://127.0.0.1:%d", nd.client), "broker"
	}
	args := []string{"serve", "--node-id", fmt.Sprint(nd.id), "--log-dirs", nd.dir,
		"--listeners", listeners,
		"--override", "process.roles=" + roles,
		"--override", "controller.quorum.voters=" + c.voters,
		"--override", "controller.listener.names=CONTROLLER",
		"--override", fmt.Sprintf("controller.quorum.election.timeout.ms=%d", c.election.Milliseconds()),
	}
	for _, kv := range nd.extraCfg {
		args = append(args, "--override", kv)
	}
	cmd := exec.Command(c.bin, args...)
	nd.out = &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = nd.out, nd.out
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	nd.cmd, nd.exited = cmd, make(chan struct{})
	go func() { cmd.Wait(); close(nd.exited) }()
}

// waitListening waits until the node accepts client connections (it does
// once the quorum has a leader and the node caught up).
func (nd *node) waitListening() {
	waitFor(nd.cluster.t, 30*time.Second, fmt.Sprintf("node %d to listen", nd.id), func() error {
		select {
		case <-nd.exited:
			return fmt.Errorf("exited: %s", tail(nd.out.String(), 2000))
		default:
		}
		if !strings.Contains(nd.out.String(), "sluice started") {
			return fmt.Errorf("not started")
		}
		conn, err := net.DialTimeout("tcp", nd.addr(), time.Second)
		if err != nil {
			return err
		}
		return conn.Close()
	})
}

// kill SIGKILLs the node (no clean shutdown) and waits for it to exit.
func (nd *node) kill() {
	if nd.cmd == nil {
		return
	}
	nd.cmd.Process.Signal(syscall.SIGKILL)
	<-nd.exited
	nd.cmd = nil
}

func (nd *node) admin(t testing.TB) *kadm.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(nd.addr()), kgo.RetryTimeout(10*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func waitFor(t testing.TB, d time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		if err = cond(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}
