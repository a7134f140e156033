package cluster

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// `sluice dev-cluster` (cmd/sluice/devcluster.go): the one-command local
// cluster, run as a process as a user runs it.

// freeRun picks n consecutive loopback ports that are free now, below the
// ephemeral range (as testcluster.FreePorts, which picks scattered ones).
func freeRun(t *testing.T, n int) int {
	t.Helper()
	for tries := 0; tries < 1000; tries++ {
		base := 10000 + rand.IntN(20000)
		ok := true
		for p := base; p < base+n && ok; p++ {
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				ok = false
				continue
			}
			ln.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

// devCluster is a running `sluice dev-cluster`.
type devCluster struct {
	cmd       *exec.Cmd
	out       *lockedBuffer // stderr: the nodes' logs
	bootstrap chan string
	exited    chan struct{}
}

func startDevCluster(t *testing.T, bin, dataDir string, base, ctlBase int, extra ...string) *devCluster {
	t.Helper()
	args := append([]string{"dev-cluster", "--nodes", "3", "--data-dir", dataDir,
		"--base-port", fmt.Sprint(base), "--controller-base-port", fmt.Sprint(ctlBase), "--console=",
		"--override", "controller.quorum.election.timeout.ms=300",
		"--override", "broker.heartbeat.interval.ms=100",
		"--override", "broker.session.timeout.ms=1000"}, extra...)
	d := &devCluster{cmd: exec.Command(bin, args...), out: &lockedBuffer{}, bootstrap: make(chan string, 1), exited: make(chan struct{})}
	d.cmd.Stderr = d.out
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var read sync.WaitGroup
	read.Add(1)
	go func() {
		defer read.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "bootstrap: "); ok {
				d.bootstrap <- s
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	go func() { read.Wait(); d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Signal(syscall.SIGKILL)
			<-d.exited
		}
		if t.Failed() {
			t.Logf("dev-cluster output (tail):\n%s", tail(d.out.String(), 6000))
		}
	})
	return d
}

// waitBootstrap returns the bootstrap list once dev-cluster prints it.
func (d *devCluster) waitBootstrap(t *testing.T) []string {
	t.Helper()
	select {
	case s := <-d.bootstrap:
		return strings.Split(s, ",")
	case <-d.exited:
		t.Fatalf("dev-cluster exited before it was up: %v", d.cmd.ProcessState)
	case <-time.After(60 * time.Second):
		t.Fatal("no bootstrap line within 60 s")
	}
	return nil
}

// interrupt sends SIGINT (a Ctrl-C) and requires a clean exit (status 0,
// every node stopped) within the deadline.
func (d *devCluster) interrupt(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("dev-cluster did not exit within 30 s of SIGINT")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("dev-cluster exited with %d", code)
	}
	if !strings.Contains(d.out.String(), "every node stopped cleanly") {
		t.Fatal("dev-cluster did not report a clean stop")
	}
}

// TestDevCluster: `sluice dev-cluster --nodes 3` (in process, and with
// --processes) comes up, prints its bootstrap list, serves an RF 3 topic
// through franz-go, and stops every node cleanly on SIGINT; started again
// on the same data directory it still has the topic and its records.
func TestDevCluster(t *testing.T) {
	t.Parallel()
	bin := sluiceBinary(t)
	for _, mode := range []string{"in-process", "processes"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			var extra []string
			if mode == "processes" {
				extra = []string{"--processes"}
			}
			dir := t.TempDir()
			base, ctlBase := freeRun(t, 3), freeRun(t, 3)
			for ctlBase > base-3 && ctlBase < base+3 {
				ctlBase = freeRun(t, 3)
			}
			d := startDevCluster(t, bin, dir, base, ctlBase, extra...)
			seeds := d.waitBootstrap(t)
			if want := fmt.Sprintf("127.0.0.1:%d", base); len(seeds) != 3 || seeds[0] != want {
				t.Fatalf("bootstrap %v, want 3 nodes from %s", seeds, want)
			}
			const topic, n = "dev", 20
			cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequiredAcks(kgo.AllISRAcks()),
				kgo.DefaultProduceTopic(topic), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			adm := kadm.NewClient(cl)
			if _, err := adm.CreateTopic(ctx(t), 3, 3, nil, topic); err != nil {
				cl.Close()
				t.Fatal(err)
			}
			for i := range n {
				if err := cl.ProduceSync(ctx(t), &kgo.Record{Value: []byte(fmt.Sprint(i))}).FirstErr(); err != nil {
					cl.Close()
					t.Fatal(err)
				}
			}
			got := consumeN(t, cl, n)
			cl.Close()
			td, err := describeDev(t, seeds, topic)
			if err != nil || len(td.Partitions) != 3 {
				t.Fatalf("describe: %v %+v", err, td)
			}
			for _, p := range td.Partitions {
				if len(p.Replicas) != 3 || len(p.ISR) != 3 {
					t.Fatalf("partition %d: replicas %v isr %v", p.Partition, p.Replicas, p.ISR)
				}
			}
			d.interrupt(t)
			if mode != "in-process" {
				return
			}

			// The next start reuses the data (one cluster id, formatted once).
			d = startDevCluster(t, bin, dir, base, ctlBase, extra...)
			seeds = d.waitBootstrap(t)
			cl, err = kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			if err != nil {
				t.Fatal(err)
			}
			again := consumeN(t, cl, n)
			cl.Close()
			if len(again) != len(got) {
				t.Fatalf("after restart %d records, want %d", len(again), len(got))
			}
			d.interrupt(t)
		})
	}
}

// consumeN polls until n records arrived (within 20 s).
func consumeN(t *testing.T, cl *kgo.Client, n int) []*kgo.Record {
	t.Helper()
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(c)
		if c.Err() != nil {
			t.Fatalf("consumed %d of %d records", len(out), n)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func describeDev(t *testing.T, seeds []string, topic string) (kadm.TopicDetail, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	defer cl.Close()
	md, err := kadm.NewClient(cl).Metadata(ctx(t), topic)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	return md.Topics[topic], md.Topics[topic].Err
}
