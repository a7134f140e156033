package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// clusterOverrides are the settings every node of a -cluster run of n
// nodes gets: Kafka's replicated defaults. Data partitions and the
// internal topics (__consumer_offsets, __transaction_state,
// __share_group_state) get clusterRF(n) replicas (3 on three nodes), the
// transaction log a minimum ISR of 2. The broker-wide min.insync.replicas
// is the suite's (suiteMinISR): kafka-go creates its topics with one
// replica and writes acks=all, which min.insync.replicas 2 refuses (as
// Kafka does).
func clusterOverrides(n int) []string {
	rf := clusterRF(n)
	return []string{
		fmt.Sprintf("default.replication.factor=%d", rf),
		fmt.Sprintf("offsets.topic.replication.factor=%d", rf),
		fmt.Sprintf("transaction.state.log.replication.factor=%d", rf),
		fmt.Sprintf("transaction.state.log.min.isr=%d", min(rf, 2)),
		fmt.Sprintf("share.coordinator.state.topic.replication.factor=%d", rf),
	}
}

// suiteMinISR is min.insync.replicas for a suite whose topics have rf
// replicas: 2 when they have more than one (an acks=all write is then on
// two brokers before it is acknowledged), else 1.
func suiteMinISR(rf int) string { return fmt.Sprintf("min.insync.replicas=%d", min(rf, 2)) }

// clusterRF is the replication factor on a cluster of n nodes: Kafka's 3,
// or n when there are fewer.
func clusterRF(n int) int { return min(n, 3) }

// nodeSpec is one node of a cluster as a suite wants it: its client
// listeners (the runner adds the controller's), the PLAINTEXT address
// clients and readiness checks use, and overrides of its own
// (advertised.listeners).
type nodeSpec struct {
	listeners string
	addr      string
	overrides []string
}

// startCluster formats and starts len(specs) combined broker+controller
// nodes (process.roles=broker,controller, one metadata quorum of all of
// them; node ids 1..n), the way test/cluster's fixture and docs/CLUSTER.md
// do, each logging to workDir/broker-<id>.log, and waits until every node
// accepts connections and every node's Metadata lists all n brokers (a
// fenced broker is not listed, so this is "registered and unfenced").
func startCluster(ctx context.Context, bin, workDir string, specs []nodeSpec, overrides ...string) ([]*Broker, error) {
	n := len(specs)
	ctlPorts := make([]int, n)
	var voters []string
	for i := range specs {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		ctlPorts[i] = p
		voters = append(voters, fmt.Sprintf("%d@127.0.0.1:%d", i+1, p))
	}
	out, err := exec.CommandContext(ctx, bin, "format", "--random-cluster-id").Output()
	if err != nil {
		return nil, fmt.Errorf("sluice format --random-cluster-id: %w", err)
	}
	clusterID := strings.TrimSpace(string(out))

	var nodes []*Broker
	stopAll := func() {
		for _, b := range nodes {
			b.Stop()
		}
	}
	for i, s := range specs {
		id := i + 1
		dataDir, err := os.MkdirTemp(workDir, fmt.Sprintf("data-node%d-", id))
		if err != nil {
			stopAll()
			return nil, err
		}
		if out, err := exec.CommandContext(ctx, bin, "format", "--cluster-id", clusterID, "--log-dirs", dataDir,
			"--node-id", fmt.Sprint(id)).CombinedOutput(); err != nil {
			stopAll()
			return nil, fmt.Errorf("sluice format node %d: %v: %s", id, err, out)
		}
		args := []string{"serve", "--node-id", fmt.Sprint(id), "--log-dirs", dataDir,
			"--listeners", fmt.Sprintf("%s,CONTROLLER://127.0.0.1:%d", s.listeners, ctlPorts[i]),
			"--override", "process.roles=broker,controller",
			"--override", "controller.quorum.voters=" + strings.Join(voters, ","),
			"--override", "controller.listener.names=CONTROLLER"}
		for _, o := range append(append(clusterOverrides(n), overrides...), s.overrides...) {
			args = append(args, "--override", o)
		}
		b, err := spawn(bin, args, s.addr, dataDir, filepath.Join(workDir, fmt.Sprintf("broker-%d.log", id)))
		if err != nil {
			stopAll()
			return nil, err
		}
		nodes = append(nodes, b)
	}
	// A node listens once the quorum has a leader and it caught up, which
	// needs a majority of the nodes started: wait for all only now.
	for _, b := range nodes {
		if err := b.waitAccepting(60 * time.Second); err != nil {
			stopAll()
			return nil, err
		}
	}
	if err := waitRegistered(ctx, nodes, 60*time.Second); err != nil {
		stopAll()
		return nil, err
	}
	return nodes, nil
}

// waitRegistered polls Metadata on every node until each lists every node
// as a broker.
func waitRegistered(ctx context.Context, nodes []*Broker, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		if last = allListed(ctx, nodes); last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("brokers not all registered and unfenced after %s: %v (logs: %s)", d, last, filepath.Dir(nodes[0].LogPath))
}

func allListed(ctx context.Context, nodes []*Broker) error {
	for _, b := range nodes {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
		if err != nil {
			return err
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := cl.SeedBrokers()[0].Request(rctx, kmsg.NewPtrMetadataRequest())
		cancel()
		cl.Close()
		if err != nil {
			return fmt.Errorf("metadata from %s: %w", b.Addr, err)
		}
		if got := len(resp.(*kmsg.MetadataResponse).Brokers); got != len(nodes) {
			return fmt.Errorf("%s lists %d of %d brokers", b.Addr, got, len(nodes))
		}
	}
	return nil
}

// seeds is the comma-separated PLAINTEXT addresses of nodes.
func seeds(nodes []*Broker) string {
	var s []string
	for _, b := range nodes {
		s = append(s, b.Addr)
	}
	return strings.Join(s, ",")
}
