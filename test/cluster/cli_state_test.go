package cluster

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// `sluice cluster info` and `sluice topic describe` against a cluster with
// one node stopped: the broker's state, the leaders moved off it, the
// under-replicated and offline partitions.

// cliJSONAt runs a sluice command against addr with --format json and
// decodes its output into v.
func cliJSONAt(t *testing.T, addr string, v any, args ...string) {
	t.Helper()
	if err := cliJSONErr(t, addr, v, args...); err != nil {
		t.Fatal(err)
	}
}

// cliJSONErr is cliJSONAt returning its error, for polling.
func cliJSONErr(t *testing.T, addr string, v any, args ...string) error {
	args = append(args, "--brokers", addr, "--format", "json")
	out, err := exec.Command(sluiceBinary(t), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		return fmt.Errorf("sluice %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func TestCLIShowsAStoppedBroker(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("auto.leader.rebalance.enable", "false"))
	v := victim(t, c)
	vid := c.Node(v).ID()
	var replicas []int32
	for j := range c.N() {
		replicas = append(replicas, c.Node((v+j)%c.N()).ID()) // the victim first: it leads
	}
	tcCreateAssigned(t, c, "spread", replicas, nil)
	tcCreateAssigned(t, c, "solo", []int32{vid}, nil)
	if l := c.WaitPartitionLeader("spread", 0); l != vid {
		t.Fatalf("spread-0 led by %d, want %d", l, vid)
	}
	addr := c.Node((v + 1) % c.N()).Addr()

	type brokerRow struct {
		ID              int32  `json:"id"`
		State           string `json:"state"`
		Leaders         int    `json:"leaders"`
		Replicas        int    `json:"replicas"`
		UnderReplicated int    `json:"under_replicated"`
	}
	var info struct {
		Brokers    []brokerRow `json:"brokers"`
		Partitions struct {
			Total           int `json:"total"`
			UnderReplicated int `json:"under_replicated"`
			Offline         int `json:"offline"`
		} `json:"partitions"`
	}
	cliJSONAt(t, addr, &info, "cluster", "info")
	if len(info.Brokers) != 3 || info.Partitions.Offline != 0 || info.Partitions.UnderReplicated != 0 {
		t.Fatalf("before the stop: %+v", info)
	}
	for _, b := range info.Brokers {
		if b.State != "running" || b.ID == vid && b.Leaders < 2 {
			t.Fatalf("before the stop: %+v", info.Brokers)
		}
	}

	c.Stop(v) // controlled shutdown: spread-0 moves, solo-0 goes offline
	c.WaitFenced(v)
	c.WaitFor("the stopped broker out of spread-0's ISR", func() error {
		l, isr, err := partitionState(c, (v+1)%c.N(), "spread")
		if err != nil || l == vid || slices.Contains(isr, vid) {
			return fmt.Errorf("leader %d isr %v %v", l, isr, err)
		}
		return nil
	})
	cliJSONAt(t, addr, &info, "cluster", "info")
	if len(info.Brokers) != 3 || info.Partitions.Offline != 1 || info.Partitions.UnderReplicated != 1 {
		t.Fatalf("after the stop: %+v", info)
	}
	for _, b := range info.Brokers {
		switch {
		case b.ID == vid && (b.State != "fenced" || b.Leaders != 0 || b.Replicas != 2):
			t.Errorf("stopped broker: %+v", b)
		case b.ID != vid && b.State != "running":
			t.Errorf("running broker: %+v", b)
		}
	}

	type partRow struct {
		Leader  int32   `json:"leader"`
		ISR     []int32 `json:"isr"`
		Offline []int32 `json:"offline_replicas"`
		Status  string  `json:"status"`
	}
	var solo, spread struct {
		Partitions []partRow `json:"partitions"`
	}
	cliJSONAt(t, addr, &solo, "topic", "describe", "solo")
	if p := solo.Partitions; len(p) != 1 || p[0].Leader != -1 || p[0].Status != "offline" || !slices.Equal(p[0].Offline, []int32{vid}) {
		t.Errorf("solo: %+v", p)
	}
	cliJSONAt(t, addr, &spread, "topic", "describe", "spread")
	if p := spread.Partitions; len(p) != 1 || p[0].Leader == vid || p[0].Status != "under-replicated" ||
		len(p[0].ISR) != 2 || !slices.Equal(p[0].Offline, []int32{vid}) {
		t.Errorf("spread: %+v", p)
	}
	// The table: the offline partition's leader is "none", its offline
	// replica listed; the filter keeps only unavailable partitions.
	out, err := exec.Command(sluiceBinary(t), "topic", "describe", "solo", "--brokers", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), " none ") || !strings.Contains(string(out), fmt.Sprintf("[%d]", vid)) ||
		!strings.Contains(string(out), "offline") {
		t.Errorf("solo table: %v\n%s", err, out)
	}
	var filtered struct {
		Partitions []partRow `json:"partitions"`
	}
	cliJSONAt(t, addr, &filtered, "topic", "describe", "spread", "--unavailable-partitions")
	if len(filtered.Partitions) != 0 {
		t.Errorf("spread has no unavailable partition: %+v", filtered.Partitions)
	}
	cliJSONAt(t, addr, &filtered, "topic", "describe", "spread", "--under-replicated-partitions")
	if len(filtered.Partitions) != 1 {
		t.Errorf("spread's under-replicated partitions: %+v", filtered.Partitions)
	}
}
