package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Separate-process targets. With Config.Spawn each Sluice or kfake target
// runs in a child process ("sluice bench serve-peer KIND"), optionally
// pinned with taskset to Config.BrokerCPUs, so broker and load generator
// do not share a garbage collector or, with `taskset -c 1 sluice bench
// --spawn --broker-cpus 0`, a CPU. The child's RSS and CPU time are read
// from /proc.

// PeerKinds are the target names serve-peer accepts.
// "loopback" is not a broker: it is the loopback floor's server (netfloor.go).
var PeerKinds = []string{"sluice", "sluice-nosync", "kfake-sync", "kfake-disk", "kfake-mem", "loopback", DurablePeer}

// peerTarget maps a serve-peer kind to the in-process target it runs.
func peerTarget(kind string) (Target, error) {
	switch kind {
	case "sluice":
		return Target{Name: kind, Kind: Sluice}, nil
	case "sluice-nosync":
		return Target{Name: kind, Kind: Sluice, NoSync: true}, nil
	case "kfake-sync", "kfake-disk", "kfake-mem":
		return Target{Name: kind, Kind: KFake, KFakeMode: strings.TrimPrefix(kind, "kfake-")}, nil
	}
	return Target{}, fmt.Errorf("peer %q: want one of %s", kind, strings.Join(PeerKinds, ", "))
}

// peerKind is the serve-peer kind of an in-process target.
func (t Target) peerKind() string {
	if t.peer != "" {
		return t.peer
	}
	switch t.Kind {
	case Sluice:
		if t.NoSync {
			return "sluice-nosync"
		}
		return "sluice"
	case KFake:
		return "kfake-" + t.KFakeMode
	}
	return ""
}

// listeningPrefix starts the line serve-peer prints on stdout once it
// accepts connections.
const listeningPrefix = "listening "

// ServePeer runs one in-process target (a PeerKinds name) under parent
// until ctx ends, after printing "listening host:port" on out. topics are
// seeded into kfake with partitions each, as the in-process targets are.
func ServePeer(ctx context.Context, kind, parent string, topics []string, partitions int32, out, brokerLog io.Writer) error {
	if kind == "loopback" || kind == DurablePeer {
		return ServeNetFloor(ctx, kind, parent, int(partitions), out)
	}
	t, err := peerTarget(kind)
	if err != nil {
		return err
	}
	rt, err := t.start(parent, topics, partitions, brokerLog)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(out, "%s%s\n", listeningPrefix, strings.Join(rt.seeds, ",")); err != nil {
		return errors.Join(err, rt.close())
	}
	<-ctx.Done()
	return rt.close()
}

// tracePath is where t's peer writes its execution trace: Config.Trace,
// or with several targets Config.Trace with "-<kind>" before its extension.
func (c *Config) tracePath(t Target) string {
	if len(c.Targets) <= 1 {
		return c.Trace
	}
	ext := filepath.Ext(c.Trace)
	return strings.TrimSuffix(c.Trace, ext) + "-" + t.peerKind() + ext
}

// startProcess runs t as a child process: cmd (the serve-peer command
// line, default this executable's) with the kind and flags appended,
// prefixed by taskset when cpus is set.
func (t Target) startProcess(c *Config, topics []string) (*running, error) {
	argv := c.PeerCommand
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		argv = []string{exe, "bench", "serve-peer"}
	}
	argv = append(append([]string(nil), argv...), t.peerKind(), "--partitions", fmt.Sprint(c.Partitions))
	if c.DataDir != "" {
		argv = append(argv, "--data-dir", c.DataDir)
	}
	if len(topics) > 0 {
		argv = append(argv, "--topics", strings.Join(topics, ","))
	}
	if c.Trace != "" {
		argv = append(argv, "--trace", c.tracePath(t))
	}
	if c.BrokerCPUs != "" {
		argv = append([]string{"taskset", "-c", c.BrokerCPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = c.BrokerLog
	if cmd.Stderr == nil {
		cmd.Stderr = io.Discard
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop := func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled() {
				return fmt.Errorf("peer process: %w", err)
			}
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			return errors.Join(errors.New("peer process did not stop within 30s; killed"), <-done)
		}
	}
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s := sc.Text(); strings.HasPrefix(s, listeningPrefix) {
				line <- strings.TrimPrefix(s, listeningPrefix)
				break
			}
		}
		close(line)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	var addrs string
	select {
	case a, ok := <-line:
		if !ok {
			return nil, errors.Join(fmt.Errorf("%s exited before listening", strings.Join(argv, " ")), stop())
		}
		addrs = a
	case <-time.After(60 * time.Second):
		return nil, errors.Join(errors.New("peer process not listening after 60s"), stop())
	}
	pid := cmd.Process.Pid
	return &running{seeds: strings.Split(addrs, ","), pids: func() []int { return []int{pid} }, close: stop}, nil
}
