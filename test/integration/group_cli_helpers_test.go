package integration

// Helpers for running the sluice binary's client commands in tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// cliResult is one run of the sluice binary.
type cliResult struct {
	stdout, stderr string
	code           int
}

// runCLI runs the sluice binary with args; env entries are added to the
// environment (from which SLUICE_BROKERS is removed first).
func runCLI(t *testing.T, env []string, args ...string) cliResult {
	t.Helper()
	return runSluice(t, args, nil, func(cmd *exec.Cmd) {
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "SLUICE_BROKERS=") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		cmd.Env = append(cmd.Env, env...)
	})
}

// runSluice runs the sluice binary with args and then extra (which a
// failure message leaves out), once setup has adjusted the command, and
// returns its output and exit code; it fails t if the binary cannot run.
func runSluice(t *testing.T, args, extra []string, setup func(*exec.Cmd)) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sluiceBinary(t), append(args, extra...)...)
	setup(cmd)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := cliResult{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		res.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("sluice %v: %v", args, err)
	}
	return res
}

// cliOK runs sluice with --brokers addr and fails unless it exits 0.
func cliOK(t *testing.T, addr string, args ...string) string {
	t.Helper()
	r := runCLI(t, nil, append(args, "--brokers", addr)...)
	if r.code != 0 {
		t.Fatalf("sluice %v: exit %d: %s", args, r.code, r.stderr)
	}
	return r.stdout
}

// cliJSON runs sluice with --format json and decodes its output into v.
func cliJSON(t *testing.T, addr string, v any, args ...string) {
	t.Helper()
	out := cliOK(t, addr, append(args, "--format", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("sluice %v: bad JSON %v:\n%s", args, err, out)
	}
}

// cliFails runs sluice and checks it exits non-zero with one line on
// stderr containing want.
func cliFails(t *testing.T, addr, want string, args ...string) {
	t.Helper()
	r := runCLI(t, nil, append(args, "--brokers", addr)...)
	msg := strings.TrimSpace(r.stderr)
	if r.code == 0 || strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("sluice %v: exit %d, stderr %q; want non-zero and one line containing %q", args, r.code, r.stderr, want)
	}
}

// tableRows splits table output into lines of fields.
func tableRows(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// hasRow reports whether rows contain exactly the fields want.
func hasRow(rows [][]string, want ...string) bool {
	for _, r := range rows {
		if slices.Equal(r, want) {
			return true
		}
	}
	return false
}

type cliListed struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
}

type cliDescribed struct {
	Group, State, Protocol string
	ProtocolType           string `json:"protocol_type"`
	Members                []struct {
		MemberID    string `json:"member_id"`
		ClientID    string `json:"client_id"`
		Host        string `json:"host"`
		Assignments []struct {
			Topic      string  `json:"topic"`
			Partitions []int32 `json:"partitions"`
		} `json:"assignments"`
	}
	Partitions []struct {
		Topic     string
		Partition int32
		Committed *int64
		End       int64
		Lag       *int64
		Owner     string
	}
}

type cliReset struct {
	Group   string `json:"group"`
	DryRun  bool   `json:"dry_run"`
	Offsets []struct {
		Topic     string
		Partition int32
		Previous  *int64
		New       int64
	}
}

// produceToPartitions produces n records to each of partitions of topic.
func produceToPartitions(t *testing.T, addr, topic string, n int, partitions ...int32) {
	t.Helper()
	prod := newClient(t, addr, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var rs []*kgo.Record
	for _, p := range partitions {
		for range n {
			rs = append(rs, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")})
		}
	}
	produceSync(t, prod, rs...)
}

func ptrIs(p *int64, want int64) bool { return p != nil && *p == want }
