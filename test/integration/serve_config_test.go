package integration

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestServeConfigFile runs `sluice serve --config` with the minimal Kafka
// config (node.id, listeners, advertised.listeners, log.dirs) plus an
// --override, and checks a client sees exactly that configuration; SIGTERM
// then stops the broker cleanly.
func TestServeConfigFile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	dir := t.TempDir()
	props := fmt.Sprintf(`# minimal Kafka server.properties
node.id=7
listeners=PLAINTEXT://127.0.0.1:%d
advertised.listeners=PLAINTEXT://localhost:%d
log.dirs=%s
`, port, port, filepath.Join(dir, "data"))
	cfgPath := filepath.Join(dir, "server.properties")
	if err := os.WriteFile(cfgPath, []byte(props), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sluiceBinary(t), "serve", "--config", cfgPath, "--override", "num.partitions=4")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	started := make(chan struct{})
	exited := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			fmt.Fprintln(logs, sc.Text())
			if !once && listenerRE.MatchString(sc.Text()) {
				once = true
				close(started)
			}
		}
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { cmd.Process.Kill() })
	select {
	case <-started:
	case err := <-exited:
		t.Fatalf("sluice exited: %v\n%s", err, logs.tail(4000))
	case <-time.After(30 * time.Second):
		t.Fatalf("not started:\n%s", logs.tail(4000))
	}

	addr := fmt.Sprintf("127.0.0.1:%d", port)
	adm := newAdmin(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(meta.Brokers) != 1 || meta.Brokers[0].NodeID != 7 || meta.Brokers[0].Host != "localhost" || meta.Brokers[0].Port != int32(port) {
		t.Fatalf("brokers = %+v, want node 7 at localhost:%d", meta.Brokers, port)
	}
	if _, err := adm.CreateTopic(ctx, -1, -1, nil, "defaults"); err != nil {
		t.Fatal(err)
	}
	td, err := adm.ListTopics(ctx, "defaults")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(td["defaults"].Partitions); n != 4 {
		t.Fatalf("topic created with %d partitions, want num.partitions=4 from --override", n)
	}
	rcs, err := adm.DescribeBrokerConfigs(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := rcs.On("7", nil)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rc.Configs {
		if c.Key == "num.partitions" {
			found = true
			if c.MaybeValue() != "4" || c.Source != 4 /* STATIC_BROKER_CONFIG */ {
				t.Fatalf("num.partitions = %q source %v", c.MaybeValue(), c.Source)
			}
		}
	}
	if !found {
		t.Fatal("num.partitions missing from broker DescribeConfigs")
	}
	adm.Close()

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.tail(4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30s of SIGTERM")
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "meta.properties")); err != nil {
		t.Fatalf("log.dirs from the config file not used: %v", err)
	}
}
