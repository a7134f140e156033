package cluster

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluice-io/sluice/internal/record"
)

// Helpers of the SIGKILL failover tests on the process fixture: three
// real `sluice serve` processes, a partition leader SIGKILLed under real
// clients, then every replica's segment files compared.

// startFailoverCluster starts three processes that notice a SIGKILL fast:
// a 1 s broker session (the controller fences the dead broker and elects
// from the ISR), a 1.5 s replica lag (a leader drops a dead follower), no
// initial rebalance delay, three partitions per internal topic (RF 3 by
// Kafka's default on three brokers, transaction.state.log.min.isr 2) and
// timed-out transactions aborted within a second.
func startFailoverCluster(t *testing.T, extra ...string) *testCluster {
	t.Helper()
	props := append([]string{
		"broker.session.timeout.ms=1000", "broker.heartbeat.interval.ms=200",
		"replica.lag.time.max.ms=1500", "group.initial.rebalance.delay.ms=0",
		"offsets.topic.num.partitions=3", "transaction.state.log.num.partitions=3",
		"transaction.abort.timed.out.transaction.cleanup.interval.ms=1000",
	}, extra...)
	c := startClusterConfig(t, 3, electionTimeout, props...)
	waitAllListed(t, c)
	return c
}

// waitAllListed waits until every running node's Metadata lists every
// running broker (registered and unfenced).
func waitAllListed(t *testing.T, c *testCluster) {
	t.Helper()
	waitFor(t, 20*time.Second, "every broker unfenced on every node", func() error {
		var live []int32
		for _, nd := range c.nodes {
			if nd.cmd != nil {
				live = append(live, nd.id)
			}
		}
		for _, nd := range c.nodes {
			if nd.cmd == nil {
				continue
			}
			md, err := metadataOf(t, nd)
			if err != nil {
				return err
			}
			for _, id := range live {
				if !listsID(md.Brokers, id) {
					return fmt.Errorf("node %d does not list broker %d", nd.id, id)
				}
			}
		}
		return nil
	})
}

// nonController is a node that does not lead the metadata quorum: its
// SIGKILL is noticed by its lease running out alone, with no new quorum
// term (whose fresh leases would add a session).
func nonController(t *testing.T, c *testCluster) *node {
	t.Helper()
	ctl := agreedLeader(t, c.nodes, -1)
	for _, nd := range c.nodes {
		if nd.id != ctl {
			return nd
		}
	}
	t.Fatal("every node leads the quorum")
	return nil
}

// others is every node of c but nd.
func others(c *testCluster, nd *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != nd {
			out = append(out, o)
		}
	}
	return out
}

// addrsOf is the client addresses of nodes.
func addrsOf(nodes []*node) []string {
	var out []string
	for _, nd := range nodes {
		out = append(out, nd.addr())
	}
	return out
}

// createReplicated creates topic through nd with one partition per
// assignment (its first replica leads) and configs.
func createReplicated(t *testing.T, nd *node, topic string, assignments [][]int32, configs map[string]string) {
	t.Helper()
	req := kmsg.NewPtrCreateTopicsRequest()
	req.TimeoutMillis = 10000
	rt := kmsg.NewCreateTopicsRequestTopic()
	rt.Topic, rt.NumPartitions, rt.ReplicationFactor = topic, -1, -1
	for p, replicas := range assignments {
		ra := kmsg.NewCreateTopicsRequestTopicReplicaAssignment()
		ra.Partition, ra.Replicas = int32(p), replicas
		rt.ReplicaAssignment = append(rt.ReplicaAssignment, ra)
	}
	for k, v := range configs {
		rc := kmsg.NewCreateTopicsRequestTopicConfig()
		rc.Name, rc.Value = k, kmsg.StringPtr(v)
		rt.Configs = append(rt.Configs, rc)
	}
	req.Topics = append(req.Topics, rt)
	resp := ask(t, direct(t, nd), req).(*kmsg.CreateTopicsResponse)
	if err := kerr.ErrorForCode(resp.Topics[0].ErrorCode); err != nil {
		t.Fatalf("create %s on %v: %v", topic, assignments, err)
	}
}

// waitReplicated waits until every running node names, for each of
// topic's partitions, the leader lead[p] (-1: any live one) and an ISR
// holding every replica.
func waitReplicated(t *testing.T, c *testCluster, topic string, lead map[int32]int32) {
	t.Helper()
	waitFor(t, 20*time.Second, topic+" led and fully in sync on every node", func() error {
		for _, nd := range c.nodes {
			if nd.cmd == nil {
				continue
			}
			md, err := metadataOf(t, nd, topic)
			if err != nil {
				return err
			}
			if len(md.Topics) != 1 || md.Topics[0].ErrorCode != 0 || len(md.Topics[0].Partitions) == 0 {
				return fmt.Errorf("node %d: metadata of %s: %+v", nd.id, topic, md.Topics)
			}
			for _, p := range md.Topics[0].Partitions {
				want, ok := lead[p.Partition]
				if p.Leader < 0 || ok && want >= 0 && p.Leader != want {
					return fmt.Errorf("node %d: %s-%d led by %d", nd.id, topic, p.Partition, p.Leader)
				}
				if !sameSet(p.ISR, p.Replicas) {
					return fmt.Errorf("node %d: %s-%d ISR %v of replicas %v", nd.id, topic, p.Partition, p.ISR, p.Replicas)
				}
			}
		}
		return nil
	})
}

// waitNewLeader waits until every running node names a live leader of
// topic-p other than old and returns it.
func waitNewLeader(t *testing.T, c *testCluster, topic string, p int32, old int32) int32 {
	t.Helper()
	var lead int32
	waitFor(t, 20*time.Second, fmt.Sprintf("a leader of %s-%d other than %d", topic, p, old), func() error {
		lead = -1
		for _, nd := range c.nodes {
			if nd.cmd == nil {
				continue
			}
			md, err := metadataOf(t, nd, topic)
			if err != nil {
				return err
			}
			l := int32(-1)
			for _, mp := range md.Topics[0].Partitions {
				if mp.Partition == p {
					l = mp.Leader
				}
			}
			if l < 0 || l == old || lead >= 0 && l != lead {
				return fmt.Errorf("node %d names %d", nd.id, l)
			}
			lead = l
		}
		return nil
	})
	return lead
}

// restart starts a killed node again on its ports and data directory
// and waits until it serves.
func (nd *node) restart() {
	nd.start()
	nd.waitListening()
}

// replicasAgree waits until every node holds the same batches of topic-p
// below the leader's high watermark, byte for byte, in its segment files,
// with the HW at most every replica's log end (every replica caught up),
// and returns those batches. Every node must be a replica.
func replicasAgree(t *testing.T, c *testCluster, topic string, p int32) []batch {
	t.Helper()
	adm := kadm.NewClient(newClient(t, addrsOf(c.nodes)))
	var ref []batch
	waitFor(t, 20*time.Second, fmt.Sprintf("every replica of %s-%d equal below the HW", topic, p), func() error {
		ends, err := adm.ListEndOffsets(ctx(t), topic)
		if err != nil {
			return err
		}
		end, ok := ends.Lookup(topic, p)
		if !ok || end.Err != nil {
			return fmt.Errorf("end offset of %s-%d: %v", topic, p, end.Err)
		}
		hw := end.Offset
		ref = nil
		for i, nd := range c.nodes {
			log, err := logInDir(nd.dir, nd.id, topic, p)
			if err != nil {
				return err
			}
			var below []batch
			leo := int64(0)
			for _, b := range log {
				leo = b.last + 1
				if b.last < hw {
					below = append(below, b)
				}
			}
			if leo < hw {
				return fmt.Errorf("replica %d ends at %d, below HW %d", nd.id, leo, hw)
			}
			if i == 0 {
				ref = below
				continue
			}
			if len(below) != len(ref) {
				return fmt.Errorf("replica %d holds %d batches below HW %d, replica %d %d", nd.id, len(below), hw, c.nodes[0].id, len(ref))
			}
			for j := range below {
				if !bytes.Equal(below[j].raw, ref[j].raw) {
					return fmt.Errorf("batch %d..%d differs between replicas %d and %d", below[j].base, below[j].last, c.nodes[0].id, nd.id)
				}
			}
		}
		return nil
	})
	return ref
}

// loggedValue is one data record of a log on disk.
type loggedValue struct {
	offset int64
	value  string
}

// valuesOf decodes the data records of batches (control batches left out).
func valuesOf(t *testing.T, batches []batch) []loggedValue {
	t.Helper()
	var out []loggedValue
	for _, b := range batches {
		if b.control {
			continue
		}
		err := record.Records(b.raw, func(r *record.Record) error {
			out = append(out, loggedValue{b.base + int64(r.OffsetDelta), string(r.Value)})
			return nil
		})
		if err != nil {
			t.Fatalf("batch at %d: %v", b.base, err)
		}
	}
	return out
}

// checkOnceInOrder fails the test unless every value of acked (in the
// order it was acknowledged) is in log exactly once, in that order, and
// no value is in log twice.
func checkOnceInOrder(t *testing.T, what string, log []loggedValue, acked []string) {
	t.Helper()
	at := map[string]int64{}
	for _, lv := range log {
		if prev, dup := at[lv.value]; dup {
			t.Errorf("%s: %q at offsets %d and %d", what, lv.value, prev, lv.offset)
		}
		at[lv.value] = lv.offset
	}
	last, lastV, missing := int64(-1), "", 0
	for _, v := range acked {
		off, ok := at[v]
		if !ok {
			if missing < 5 {
				t.Errorf("%s: acknowledged %q is not in the log", what, v)
			}
			missing++
			continue
		}
		if off <= last {
			t.Errorf("%s: acknowledged %q at offset %d, before %q at %d", what, v, off, lastV, last)
		}
		last, lastV = off, v
	}
	if missing > 0 {
		t.Errorf("%s: %d of %d acknowledged records missing", what, missing, len(acked))
	}
}

// newClient is a kgo client seeded with addrs that follows a leader
// change within a few hundred milliseconds, closed by t.Cleanup.
func newClient(t *testing.T, addrs []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	base := []kgo.Opt{
		kgo.SeedBrokers(addrs...),
		kgo.MetadataMinAge(100 * time.Millisecond),
		kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}
