package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// TestCLICluster checks sluice cluster info and cluster config get|set.
func TestCLICluster(t *testing.T) {
	p := startProc(t, t.TempDir(), "log.retention.ms=123456")
	var info struct {
		ClusterID  string `json:"cluster_id"`
		Controller int32
		Brokers    []struct {
			ID         int32
			Host       string
			Port       int32
			Controller bool
		}
		Quorum struct {
			Leader        int32
			HighWatermark int64 `json:"high_watermark"`
			Voters        []struct {
				ID           int32
				LogEndOffset int64 `json:"log_end_offset"`
				Lag          int64
			}
		}
	}
	cliJSON(t, p.addr, &info, "cluster", "info")
	if info.ClusterID == "" || info.Controller != 1 || len(info.Brokers) != 1 || !info.Brokers[0].Controller ||
		info.Brokers[0].Host+":"+strconv.Itoa(int(info.Brokers[0].Port)) != p.addr {
		t.Errorf("cluster info: %+v (broker at %s)", info, p.addr)
	}
	// A one-voter quorum: this node leads and has committed its whole
	// metadata log (at least the broker registration).
	if q := info.Quorum; q.Leader != 1 || q.HighWatermark < 1 || len(q.Voters) != 1 || q.Voters[0].ID != 1 ||
		q.Voters[0].LogEndOffset != q.HighWatermark || q.Voters[0].Lag != 0 {
		t.Errorf("quorum: %+v", q)
	}
	out := cliOK(t, p.addr, "cluster", "info")
	// The epoch is the raft term: 2 after the first election (a quorum
	// starts from its bootstrap entry at term 1), more after restarts.
	if !regexp.MustCompile(`^CLUSTER      `+info.ClusterID+`\nCONTROLLER   1\nQUORUM       leader 1, epoch [1-9][0-9]*, high watermark `).MatchString(out) ||
		!strings.Contains(out, "voters 1 (lag 0)") || !strings.Contains(out, "ID  HOST") {
		t.Errorf("cluster info table:\n%s", out)
	}

	var cfg struct {
		Broker  int32
		Configs []struct {
			Name   string
			Value  *string
			Source string
		}
	}
	cliJSON(t, p.addr, &cfg, "cluster", "config", "get", "log.retention.ms", "num.partitions")
	if len(cfg.Configs) != 2 {
		t.Fatalf("config get: %+v", cfg)
	}
	for _, c := range cfg.Configs {
		switch {
		case c.Name == "log.retention.ms" && (c.Value == nil || *c.Value != "123456" || c.Source != "STATIC_BROKER_CONFIG"):
			t.Errorf("log.retention.ms: %+v", c)
		case c.Name == "num.partitions" && c.Source != "DEFAULT_CONFIG":
			t.Errorf("num.partitions: %+v", c)
		}
	}
	if rows := tableRows(cliOK(t, p.addr, "cluster", "config", "get", "log.retention.ms")); !hasRow(rows, "CONFIG", "VALUE", "SOURCE") ||
		!hasRow(rows, "log.retention.ms", "123456", "STATIC_BROKER_CONFIG") {
		t.Errorf("config get table: %v", rows)
	}
	cliFails(t, p.addr, "has no config", "cluster", "config", "get", "no.such.key")
	cliFails(t, p.addr, "Cannot update these configs dynamically", "cluster", "config", "set", "--set", "num.partitions=3")
	cliOK(t, p.addr, "cluster", "config", "set", "--set", "no.such.key=1") // a custom config, as in Kafka

	// A per-broker dynamic value beats the static one; a cluster default
	// shows under the default resource and, where no per-broker value
	// exists, as the broker's effective value.
	cliOK(t, p.addr, "cluster", "config", "set", "--set", "log.retention.ms=1000")
	cliOK(t, p.addr, "cluster", "config", "set", "--cluster-default", "--set", "log.segment.bytes=4096")
	rows := tableRows(cliOK(t, p.addr, "cluster", "config", "get", "log.retention.ms", "log.segment.bytes"))
	if !hasRow(rows, "log.retention.ms", "1000", "DYNAMIC_BROKER_CONFIG") ||
		!hasRow(rows, "log.segment.bytes", "4096", "DYNAMIC_DEFAULT_BROKER_CONFIG") {
		t.Errorf("config get after set: %v", rows)
	}
	rows = tableRows(cliOK(t, p.addr, "cluster", "config", "get", "--cluster-default"))
	if !hasRow(rows, "log.segment.bytes", "4096", "DYNAMIC_DEFAULT_BROKER_CONFIG") || hasRow(rows, "log.retention.ms", "1000", "DYNAMIC_BROKER_CONFIG") {
		t.Errorf("config get --cluster-default: %v", rows)
	}
	cliOK(t, p.addr, "cluster", "config", "set", "--delete", "log.retention.ms")
	if rows := tableRows(cliOK(t, p.addr, "cluster", "config", "get", "log.retention.ms")); !hasRow(rows, "log.retention.ms", "123456", "STATIC_BROKER_CONFIG") {
		t.Errorf("config get after delete: %v", rows)
	}
}

// TestCLICompletion checks the completion scripts for each shell.
func TestCLICompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "__start_sluice", "zsh": "#compdef sluice", "fish": "complete -c sluice"} {
		r := runCLI(t, nil, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: exit %d, %d bytes, lacks %q; stderr %q", shell, r.code, len(r.stdout), want, r.stderr)
		}
	}
}

// TestCLIDocsUpToDate checks docs/CLI.md is what `sluice gen-docs` writes
// (regenerate with `go generate ./cmd/sluice`).
func TestCLIDocsUpToDate(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "..", "docs", "CLI.md")
	have, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, []string{"SLUICE_BROKERS=elsewhere:1"}, "gen-docs")
	if r.code != 0 {
		t.Fatalf("gen-docs: exit %d: %s", r.code, r.stderr)
	}
	if r.stdout != string(have) {
		t.Errorf("docs/CLI.md is stale: run `go generate ./cmd/sluice`")
	}
	for _, cmd := range []string{"## sluice topic describe", "## sluice produce", "## sluice consume", "## sluice cluster info", "## sluice completion bash"} {
		if !strings.Contains(r.stdout, cmd+"\n") {
			t.Errorf("docs lack %q", cmd)
		}
	}
}
