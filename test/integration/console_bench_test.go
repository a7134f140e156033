package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// BenchmarkConsolePages10kPartitions renders the console's pages on a
// two-node `sluice dev-cluster` (real processes) holding one topic of
// 10,000 partitions: ns/op is one page, the HTTP round trip and the Kafka
// requests behind it included. Two processes (--processes) because each hosted
// partition keeps three files open, and 10,000 in one process would need
// more than a common 20,000 open-file limit.
//
//	go test -run '^$' -bench BenchmarkConsolePages10kPartitions -benchtime 50x ./test/integration
func BenchmarkConsolePages10kPartitions(b *testing.B) {
	const partitions = 10000
	// Partition directories on tmpfs when there is one, so the set-up
	// measures neither the disk nor its fsyncs.
	dir := b.TempDir()
	if d, err := os.MkdirTemp("/dev/shm", "sluice-console-bench"); err == nil {
		dir = d
		b.Cleanup(func() { os.RemoveAll(d) })
	}
	base, consoleAddr := freeDevClusterPorts(b)
	cmd := exec.Command(sluiceBinary(b), "dev-cluster", "--nodes", "2", "--data-dir", dir,
		"--base-port", fmt.Sprint(base), "--controller-base-port", fmt.Sprint(base+100),
		"--console", "http://"+consoleAddr, "--processes")
	logs := &lockedBuffer{}
	cmd.Stderr = logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	bootstrap := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), "bootstrap: "); ok {
				bootstrap <- s
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if b.Failed() {
			b.Logf("dev-cluster log (tail):\n%s", logs.tail(6000))
		}
	})
	var seeds string
	select {
	case seeds = <-bootstrap:
	case <-exited:
		b.Fatalf("dev-cluster exited:\n%s", logs.tail(4000))
	case <-time.After(60 * time.Second):
		b.Fatal("dev-cluster: no bootstrap line within 60 s")
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(seeds, ",")...))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cl.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	adm := kadm.NewClient(cl)
	start := time.Now()
	resp, err := adm.CreateTopic(ctx, partitions, 1, nil, "big")
	// The broker answers REQUEST_TIMED_OUT when opening the partitions
	// outlasts the request; the topic is created all the same.
	if err != nil && !errors.Is(err, kerr.RequestTimedOut) || resp.Err != nil && !errors.Is(resp.Err, kerr.RequestTimedOut) {
		b.Fatalf("create: %v %v", err, resp.Err)
	}
	for {
		ends, err := adm.ListEndOffsets(ctx, "big")
		n := 0
		ends.Each(func(o kadm.ListedOffset) {
			if o.Err == nil {
				n++
			}
		})
		if err == nil && n == partitions {
			break
		}
		if ctx.Err() != nil {
			b.Fatalf("%d partitions not ready: %d (%v)", partitions, n, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.Logf("created %d partitions in %v", partitions, time.Since(start))
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"topics", "/topics"},
		{"topic", "/topics/big?page=100"},
		{"messages", "/topics/big/messages?partition=9999"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				r, err := http.Get("http://" + consoleAddr + p.path)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != http.StatusOK {
					b.Fatalf("%s: status %d", p.path, r.StatusCode)
				}
			}
		})
	}
}

// freeDevClusterPorts finds a base port with base, base+1 (clients) and
// base+100, base+101 (quorum) free, and a free console address.
func freeDevClusterPorts(b *testing.B) (int, string) {
	free := func(port int) bool {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			return false
		}
		ln.Close()
		return true
	}
	for range 100 {
		base := 20000 + rand.IntN(30000)
		if free(base) && free(base+1) && free(base+100) && free(base+101) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return base, addr
		}
	}
	b.Fatal("no free ports for a dev-cluster")
	return 0, ""
}
