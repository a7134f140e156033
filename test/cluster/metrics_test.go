package cluster

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/sluice-io/sluice/internal/metrics"
	"github.com/sluice-io/sluice/internal/testcluster"
)

// Replication metrics through real brokers (docs/METRICS.md): a follower
// paused past replica.lag.time.max.ms leaves the ISR of a partition with
// min.insync.replicas=3 on RF 3 (while the leader's log grows), so its leader reports the partition under
// min ISR and counts a shrink; resumed, it rejoins and the leader counts
// an expansion. Counters are process-wide (every cluster of the test
// binary adds to them), so the test asserts only that they grew; gauges
// are per broker, read from each node's metrics.listener.
func TestReplicationMetrics(t *testing.T) {
	t.Parallel()
	c := testcluster.New(t, 3, testcluster.WithProp("broker.session.timeout.ms", "5000"),
		testcluster.WithProp("metrics.listener", "http://127.0.0.1:0"))
	ctl := c.WaitLeader().Index()
	paused, other := (ctl+1)%3, (ctl+2)%3
	lid, pid, oid := c.Node(ctl).ID(), c.Node(paused).ID(), c.Node(other).ID()
	const topic = "metrics-isr"
	tcCreateAssigned(t, c, topic, []int32{lid, oid, pid}, map[string]string{"min.insync.replicas": "3"})
	if l := c.WaitPartitionLeader(topic, 0); l != lid {
		t.Fatalf("leader %d, want %d", l, lid)
	}
	waitState(c, -1, topic, func(l int32, isr []int32) error {
		if len(isr) != 3 {
			return fmt.Errorf("isr %v, want all three", isr)
		}
		return nil
	})
	if code := produceOnce(t, c, ctl, topic, -1, 5*time.Second); code != 0 {
		t.Fatalf("acks=all with the ISR whole: %v", kerr.ErrorForCode(code))
	}
	c.WaitFor("the leader at min ISR, a follower's lag series", func() error {
		lm, err := scrape(c, ctl)
		if err != nil {
			return err
		}
		if v := lm["kafka_server_replicamanager_atminisrpartitioncount"]; v < 1 {
			return fmt.Errorf("atminisrpartitioncount %v on the leader", v)
		}
		if v := lm["kafka_controller_kafkacontroller_activecontrollercount"]; v != 1 {
			return fmt.Errorf("activecontrollercount %v on the controller", v)
		}
		if _, ok := lm["kafka_controller_kafkacontroller_offlinepartitionscount"]; !ok {
			return fmt.Errorf("no offlinepartitionscount on the controller")
		}
		om, err := scrape(c, other)
		if err != nil {
			return err
		}
		key := `kafka_server_fetcherlagmetrics_consumerlag{partition="0",topic="` + topic + `"}`
		if _, ok := om[key]; !ok {
			return fmt.Errorf("no %s on follower %d", key, oid)
		}
		return nil
	})

	shrinks, expands := counterValue(t, "kafka_server_replicamanager_isrshrinks_total"),
		counterValue(t, "kafka_server_replicamanager_isrexpands_total")
	c.Pause(paused)
	t.Cleanup(func() { c.Resume(paused) })
	// A caught-up follower stays in sync however long it is silent
	// (Kafka's isCaughtUp): the leader's log must grow past it.
	if code := produceOnce(t, c, ctl, topic, 1, 5*time.Second); code != 0 {
		t.Fatalf("acks=1 while paused: %v", kerr.ErrorForCode(code))
	}
	c.WaitFor("the leader to shrink the ISR below min.insync.replicas", func() error {
		if v := counterValue(t, "kafka_server_replicamanager_isrshrinks_total"); v <= shrinks {
			return fmt.Errorf("isrshrinks_total %v, was %v", v, shrinks)
		}
		lm, err := scrape(c, ctl)
		if err != nil {
			return err
		}
		if v := lm["kafka_server_replicamanager_underminisrpartitioncount"]; v < 1 {
			return fmt.Errorf("underminisrpartitioncount %v on the leader", v)
		}
		if v := lm["kafka_server_replicamanager_underreplicatedpartitions"]; v < 1 {
			return fmt.Errorf("underreplicatedpartitions %v on the leader", v)
		}
		return nil
	})
	t.Logf("paused follower %d left the ISR", pid)

	c.Resume(paused)
	c.WaitFor("the leader to expand the ISR again", func() error {
		if v := counterValue(t, "kafka_server_replicamanager_isrexpands_total"); v <= expands {
			return fmt.Errorf("isrexpands_total %v, was %v", v, expands)
		}
		lm, err := scrape(c, ctl)
		if err != nil {
			return err
		}
		if v := lm["kafka_server_replicamanager_underminisrpartitioncount"]; v != 0 {
			return fmt.Errorf("underminisrpartitioncount %v on the leader", v)
		}
		return nil
	})
}

// scrape reads node i's /metrics into series (name{labels} as printed)
// and their values.
func scrape(c *testcluster.Cluster, i int) (map[string]float64, error) {
	b := c.Node(i).Broker()
	if b == nil || b.MetricsAddr() == "" {
		return nil, fmt.Errorf("node %d serves no metrics", i)
	}
	cl := http.Client{Timeout: 5 * time.Second}
	resp, err := cl.Get("http://" + b.MetricsAddr() + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[sp+1:], 64); err == nil {
			out[line[:sp]] = v
		}
	}
	return out, sc.Err()
}

// counterValue reads a process-wide counter without labels.
func counterValue(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("no counter %s", name)
	return 0
}
