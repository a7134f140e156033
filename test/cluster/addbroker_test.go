package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/testcluster"
)

// `sluice cluster add-broker` and `sluice cluster decommission` (issue
// #18) on a 4-node cluster whose topic lives on the first three: the
// fourth gets its share of replicas, then the second is emptied, with
// every record readable after each step and a decommission that cannot
// be done refused.

// tcCreateReplicas creates topic with one partition per assignment.
func tcCreateReplicas(t *testing.T, c *testcluster.Cluster, topic string, assignment [][]int32) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, replicas := range assignment {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx(t), c.Client(t))
	if err != nil || resp.Topics[0].ErrorCode != 0 {
		t.Fatalf("create %s: %v %+v", topic, err, resp)
	}
	for p := range assignment {
		c.WaitPartitionLeader(topic, int32(p))
	}
}

// replicaSets is every partition's replicas of topic in node via's view.
func replicaSets(t *testing.T, c *testcluster.Cluster, via int, topic string) map[int32][]int32 {
	t.Helper()
	m, err := c.Metadata(via, topic)
	if err != nil || len(m.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	out := map[int32][]int32{}
	for _, p := range m.Topics[0].Partitions {
		out[p.Partition] = p.Replicas
	}
	return out
}

func TestAddBrokerAndDecommission(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 4)
	const topic, parts, n = "grow", 6, 30
	var assignment [][]int32
	for p := range parts {
		assignment = append(assignment, []int32{int32(p%3 + 1), int32((p+1)%3 + 1)})
	}
	tcCreateReplicas(t, c, topic, assignment)
	cl := producer(t, c)
	for p := range int32(parts) {
		produceTo(t, cl, topic, p, values(fmt.Sprintf("p%d-", p), n)...)
	}
	prefix := func(p int32) string { return fmt.Sprintf("p%d-", p) }

	// The dry run prints kafka-reassign-partitions' format and moves
	// nothing.
	out := runSluiceCLI(t, c, "cluster", "add-broker", "--broker", "4", "--dry-run")
	var plan struct {
		Version    int `json:"version"`
		Partitions []struct {
			Topic     string   `json:"topic"`
			Partition int32    `json:"partition"`
			Replicas  []int32  `json:"replicas"`
			LogDirs   []string `json:"log_dirs"`
		} `json:"partitions"`
	}
	if err := json.Unmarshal([]byte(out), &plan); err != nil || plan.Version != 1 {
		t.Fatalf("--dry-run output %q: %v", out, err)
	}
	// 12 replicas over 4 brokers: 3 of them move to broker 4.
	if len(plan.Partitions) != 3 {
		t.Fatalf("plan moves %d partitions, want 3:\n%s", len(plan.Partitions), out)
	}
	for _, p := range plan.Partitions {
		if p.Topic != topic || !slices.Contains(p.Replicas, 4) || len(p.Replicas) != 2 || len(p.LogDirs) != 2 {
			t.Fatalf("plan entry %+v", p)
		}
	}
	if sets := replicaSets(t, c, 0, topic); slices.ContainsFunc(slices.Collect(maps.Values(sets)), func(r []int32) bool { return slices.Contains(r, 4) }) {
		t.Fatalf("the dry run moved something: %v", sets)
	}

	out = runSluiceCLI(t, c, "cluster", "add-broker", "--broker", "4", "--wait", "--interval", "100ms")
	t.Logf("add-broker:\n%s", out)
	if !strings.Contains(out, "Reassignment started for 3 partitions") {
		t.Fatalf("add-broker output:\n%s", out)
	}
	c.WaitFor("three replicas on broker 4, two on every other", func() error {
		per := map[int32]int{}
		for _, r := range replicaSets(t, c, 3, topic) {
			for _, b := range r {
				per[b]++
			}
		}
		for b := int32(1); b <= 4; b++ {
			if per[b] != 3 {
				return fmt.Errorf("replicas per broker %v", per)
			}
		}
		return nil
	})
	wantValues(t, consumeAll(t, c, topic, parts, n), prefix, n)

	// Broker 2 is emptied: its replicas go to the others, its logs are
	// deleted, every record is still there.
	out = runSluiceCLI(t, c, "cluster", "decommission", "--broker", "2", "--wait", "--interval", "100ms")
	t.Logf("decommission:\n%s", out)
	c.WaitFor("no replica on broker 2", func() error {
		for p, r := range replicaSets(t, c, 0, topic) {
			if slices.Contains(r, 2) || len(r) != 2 {
				return fmt.Errorf("partition %d replicas %v", p, r)
			}
		}
		return nil
	})
	for p := range parts {
		dir := filepath.Join(c.NodeByID(2).Dir(), fmt.Sprintf("%s-%d", topic, p))
		c.WaitFor("broker 2's copy deleted", func() error {
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%s: %v", dir, err)
			}
			return nil
		})
	}
	wantValues(t, consumeAll(t, c, topic, parts, n), prefix, n)

	// A partition on all four brokers cannot lose one: refused, nothing
	// submitted.
	tcCreateReplicas(t, c, "wide", [][]int32{{1, 2, 3, 4}})
	bctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := exec.CommandContext(bctx, sluiceBinary(t), "cluster", "decommission", "--broker", "3",
		"--brokers", strings.Join(c.Bootstrap(), ",")).CombinedOutput()
	if err == nil || !strings.Contains(string(res), "cannot decommission broker 3") || !strings.Contains(string(res), "wide-0") {
		t.Fatalf("decommission below the replication factor: %v\n%s", err, res)
	}
	if l, err := c.Admin(t).ListPartitionReassignments(ctx(t), nil); err != nil || len(l) != 0 {
		t.Fatalf("after a refused decommission: ongoing %v %v", l, err)
	}
}
