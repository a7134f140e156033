package main

// dev-cluster --processes: each node a child `sluice serve` of this binary.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// devChild is a running node process.
type devChild struct {
	nd     *devNode
	cmd    *exec.Cmd
	exited chan struct{}
	err    error // the process's exit, once exited is closed
}

// serveArgs are the `sluice serve` arguments that give a child the node's
// properties, every one as an --override (sorted, for a readable ps).
func (nd *devNode) serveArgs(f devClusterFlags) []string {
	args := []string{"serve", "--log-format", f.logFormat, "--log-level", f.logLevel}
	keys := make([]string, 0, len(nd.props))
	for k := range nd.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--override", k+"="+nd.props[k])
	}
	return args
}

func runDevProcesses(cmd *cobra.Command, f devClusterFlags, nodes []*devNode, sig <-chan os.Signal) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--processes: find this binary: %w", err)
	}
	var children []*devChild
	for _, nd := range nodes {
		c := exec.Command(exe, nd.serveArgs(f)...)
		c.Stdout, c.Stderr = nd.logLines, nd.logLines
		if err := c.Start(); err != nil {
			stopChildren(children, syscall.SIGKILL)
			return fmt.Errorf("node %d: %w", nd.id, err)
		}
		ch := &devChild{nd: nd, cmd: c, exited: make(chan struct{})}
		go func() { ch.err = c.Wait(); close(ch.exited) }()
		children = append(children, ch)
		fmt.Fprintf(cmd.ErrOrStderr(), "node-%d: pid %d, client %s, controller %s\n", nd.id, c.Process.Pid, nd.addr, nd.ctlAddr)
	}

	ready := make(chan error, 1)
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	go func() { ready <- waitDevBrokers(ctx, nodes) }()
	died := make(chan *devChild, len(children))
	for _, ch := range children {
		go func() { <-ch.exited; died <- ch }()
	}
	live := len(children)
	for {
		select {
		case err := <-ready:
			if err != nil {
				stopChildren(children, syscall.SIGTERM)
				return err
			}
			printBootstrap(cmd.OutOrStdout(), nodes)
		case ch := <-died:
			live--
			fmt.Fprintf(cmd.ErrOrStderr(), "node-%d (pid %d) exited: %v; %d nodes still running\n",
				ch.nd.id, ch.cmd.Process.Pid, exitText(ch.err), live)
			if live == 0 {
				return fmt.Errorf("every node exited")
			}
		case s := <-sig:
			cancel()
			fmt.Fprintf(cmd.ErrOrStderr(), "%s: stopping %d nodes (again to kill them)\n", s, live)
			return shutdownChildren(cmd, children, sig)
		}
	}
}

// shutdownChildren sends SIGTERM to every running child (each shuts down
// the controlled way, at once, while the quorum has its majority) and
// waits for them; a second signal kills them. It fails when a child that
// was running did not exit cleanly.
func shutdownChildren(cmd *cobra.Command, children []*devChild, sig <-chan os.Signal) error {
	var running []*devChild
	for _, ch := range children {
		select {
		case <-ch.exited:
		default:
			running = append(running, ch)
		}
	}
	stopChildren(running, syscall.SIGTERM)
	var failed []string
	for _, ch := range running {
		select {
		case <-ch.exited:
		case <-sig:
			stopChildren(running, syscall.SIGKILL)
			<-ch.exited
		}
		if ch.err != nil {
			failed = append(failed, fmt.Sprintf("node-%d: %s", ch.nd.id, exitText(ch.err)))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("nodes did not stop cleanly: %s", strings.Join(failed, "; "))
	}
	fmt.Fprintln(cmd.ErrOrStderr(), "every node stopped cleanly")
	return nil
}

func stopChildren(children []*devChild, s syscall.Signal) {
	for _, ch := range children {
		select {
		case <-ch.exited:
		default:
			_ = ch.cmd.Process.Signal(s)
		}
	}
}

func exitText(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// waitDevBrokers polls the cluster's metadata until every node is listed
// (registered and unfenced), as `sluice serve` itself returns from its
// start only once unfenced. Each poll is a new client: one that first met
// a node still alone would keep being answered from what it learnt then.
func waitDevBrokers(ctx context.Context, nodes []*devNode) error {
	seeds := make([]string, len(nodes))
	for i, nd := range nodes {
		seeds[i] = nd.addr
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		n, err := countDevBrokers(ctx, seeds)
		if err == nil && n == len(nodes) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the nodes did not all come up within 2 minutes (last: %d brokers, %v)", n, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// countDevBrokers is how many brokers a Metadata request lists.
func countDevBrokers(ctx context.Context, seeds []string) (int, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	md, err := kadm.NewClient(cl).BrokerMetadata(ctx)
	return len(md.Brokers), err
}
