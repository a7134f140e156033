package integration

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// runCLIStdin runs the sluice binary with stdin and --brokers addr.
func runCLIStdin(t *testing.T, addr, stdin string, args ...string) cliResult {
	t.Helper()
	return runSluice(t, args, []string{"--brokers", addr}, func(cmd *exec.Cmd) {
		cmd.Stdin = strings.NewReader(stdin)
	})
}

type cliRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64
	Key       *string
	Value     string
	Headers   map[string]string
}

func jsonLines(t *testing.T, out string) []cliRecord {
	t.Helper()
	var rs []cliRecord
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r cliRecord
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bad JSON line %q: %v", line, err)
		}
		rs = append(rs, r)
	}
	return rs
}

// TestCLIProduceConsume produces lines with keys and headers and reads them
// back by offset, template, JSON, timestamp and as a group whose lag
// `sluice group describe` then shows.
func TestCLIProduceConsume(t *testing.T) {
	p := startProc(t, t.TempDir())
	topic := topicName(t, "pc")
	cliOK(t, p.addr, "topic", "create", topic, "-p", "2")

	r := runCLIStdin(t, p.addr, "k1:v1\nk2:v2\nnokey\n", "produce", topic, "-K", ":", "-H", "src=cli", "-H", "n=1", "-p", "1")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "Produced 3 records to "+topic+", acknowledged") {
		t.Fatalf("produce: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	var res struct {
		Acknowledged, Failed int
	}
	r = runCLIStdin(t, p.addr, "a\nb\n", "produce", topic, "-p", "0", "--compression", "zstd", "--acks", "1", "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &res); r.code != 0 || err != nil || res.Acknowledged != 2 || res.Failed != 0 {
		t.Fatalf("produce json: exit %d %q %v", r.code, r.stdout, err)
	}
	r = runCLIStdin(t, p.addr, "x\n", "produce", topic, "-p", "7")
	if msg := strings.TrimSpace(r.stderr); r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, "1 records failed") {
		t.Errorf("produce to a missing partition: exit %d %q", r.code, r.stderr)
	}

	out := cliOK(t, p.addr, "consume", topic, "-p", "1", "--from", "beginning", "-n", "3", "--format", `%p/%o %k=%v [%h]\n`)
	want := "1/0 k1=v1 [src=cli,n=1]\n1/1 k2=v2 [src=cli,n=1]\n1/2 =nokey [src=cli,n=1]\n"
	if out != want {
		t.Errorf("template output:\n%q\nwant\n%q", out, want)
	}
	rs := jsonLines(t, cliOK(t, p.addr, "consume", topic, "-p", "1", "--from", "offset:1", "-n", "1", "--format", "json"))
	if len(rs) != 1 || rs[0].Offset != 1 || rs[0].Key == nil || *rs[0].Key != "k2" || rs[0].Value != "v2" || rs[0].Headers["src"] != "cli" {
		t.Errorf("from offset 1: %+v", rs)
	}
	first := jsonLines(t, cliOK(t, p.addr, "consume", topic, "-p", "0", "--from", "beginning", "-n", "1", "--format", "json"))[0]
	rs = jsonLines(t, cliOK(t, p.addr, "consume", topic, "-p", "0", "--from", "timestamp:"+strconv.FormatInt(first.Timestamp, 10), "-n", "1", "--format", "json"))
	if rs[0].Offset != 0 || rs[0].Value != "a" {
		t.Errorf("from timestamp %d: %+v", first.Timestamp, rs)
	}
	if out := cliOK(t, p.addr, "consume", topic, "-p", "0", "--from", "-1", "-n", "1"); out != "b\n" {
		t.Errorf("from -1: %q", out)
	}

	// A group consumes 4 of the 5 records, commits them, and shows lag 1.
	group := "g-" + topic
	got := cliOK(t, p.addr, "consume", topic, "--group", group, "--from", "beginning", "-n", "4")
	if n := strings.Count(got, "\n"); n != 4 {
		t.Fatalf("group consumed %d lines:\n%s", n, got)
	}
	var desc cliDescribed
	cliJSON(t, p.addr, &desc, "group", "describe", group)
	var lag, committed int64
	for _, pl := range desc.Partitions {
		if pl.Lag != nil {
			lag += *pl.Lag
		}
		if pl.Committed != nil {
			committed += *pl.Committed
		}
	}
	if lag != 1 || committed != 4 {
		t.Errorf("group after 4 of 5: committed %d lag %d: %+v", committed, lag, desc.Partitions)
	}
	// The rest, from the committed offsets.
	if out := cliOK(t, p.addr, "consume", topic, "--group", group, "-n", "1"); strings.Count(out, "\n") != 1 {
		t.Errorf("resume: %q", out)
	}
	cliFails(t, p.addr, "does not exist", "consume", "no-such-topic", "-n", "1")
}

// TestCLIConsumeFollows checks that consume without --num waits for new
// records and exits cleanly on SIGINT.
func TestCLIConsumeFollows(t *testing.T) {
	p := startProc(t, t.TempDir())
	topic := topicName(t, "follow")
	cliOK(t, p.addr, "topic", "create", topic)
	cmd := exec.Command(sluiceBinary(t), "consume", topic, "--brokers", p.addr)
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	waitFor(t, 20*time.Second, "the followed record", func() error {
		runCLIStdin(t, p.addr, "late\n", "produce", topic)
		if !strings.Contains(out.tail(1000), "late") {
			return errors.New("not printed yet")
		}
		return nil
	})
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("consume after SIGINT: %v (%s)", err, out.tail(500))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("consume did not exit on SIGINT")
	}
}
